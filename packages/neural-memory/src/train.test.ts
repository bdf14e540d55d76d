// /train_outer: training from body sequences and from a real memory core (with failover and an unreachable one).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCore, type TestCore } from '../../memory-core/src/test-support.ts';
import { DIM, startNm, vec, type TestNm } from './service-test-support.ts';

/** Sequences of clustered embeddings: each sequence walks through a few fixed points with noise. */
function sequences(count: number, length: number): number[][][] {
  const out: number[][][] = [];
  for (let s = 0; s < count; s++) {
    const seq: number[][] = [];
    for (let t = 0; t < length; t++) {
      const base = vec(1 + ((s + t) % 5));
      const noise = vec(1000 + s * length + t);
      const v = base.map((x, i) => x + 0.2 * noise[i]!);
      const n = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
      seq.push(v.map((x) => x / n));
    }
    out.push(seq);
  }
  return out;
}

// A port nothing listens on: connections are refused at once.
const DEAD = 'http://127.0.0.1:9';

describe('train_outer', () => {
  let core: TestCore;
  let nm: TestNm;
  before(async () => {
    core = await startCore({ EMBEDDING_DIM: String(DIM) });
    nm = await startNm({ MEMORY_CORE_URL: `${DEAD},${core.url}`, MEMORY_CORE_TIMEOUT_MS: '2000' });
  });
  after(async () => {
    await nm?.destroy();
    await core?.destroy();
  });

  test('with body sequences: loss goes down, the memory is reset, projections change', async () => {
    await nm.request('POST', '/update_memory', { namespace: 't', input_embedding: vec(1) });
    const before = await nm.request('POST', '/get_projections', { namespace: 't', full: true });
    const r = await nm.request('POST', '/train_outer', {
      namespace: 't',
      sequences: sequences(4, 24),
      epochs: 3,
      learning_rate: 0.01,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'success');
    assert.equal(r.body.sequences, 4);
    assert.equal(r.body.embeddings, 96);
    assert.ok(r.body.steps > 0, 'Adam steps taken');
    assert.ok(r.body.took_ms >= 0, 'took_ms reported');
    assert.ok(
      r.body.loss_after < r.body.loss_before,
      `loss fell: ${r.body.loss_before} → ${r.body.loss_after}`,
    );
    const afterP = await nm.request('POST', '/get_projections', { namespace: 't', full: true });
    assert.notDeepEqual(afterP.body.W_K.values, before.body.W_K.values, 'W_K was trained');
    const s = await nm.request('GET', '/status');
    const e = (s.body.namespaces as { namespace: string; step: number; dirty: boolean }[]).find(
      (n) => n.namespace === 't',
    );
    assert.equal(e?.step, 0, 'memory reset after outer training');
    assert.equal(e?.dirty, false, 'the trained state was snapshotted before the reply');
    assert.equal(r.body.durable, true);
  });

  test('bad sequences are 400 and change nothing', async () => {
    const p0 = await nm.request('POST', '/get_projections', { namespace: 'tb', full: true });
    const cases: [unknown, string][] = [
      [{ sequences: 'x' }, 'invalid_sequences'],
      [{ sequences: [[vec(1)], 'x'] }, 'invalid_sequences'],
      [{ sequences: [[vec(1), vec(2, DIM + 1)]] }, 'invalid_embedding'],
      [{ sequences: [[vec(1), [...vec(2).slice(1), 'a']]] }, 'invalid_embedding'],
      [{ sequences: [] }, 'no_training_data'],
      [{ sequences: [[vec(1)]], epochs: 0 }, 'invalid_options'],
      [{ sequences: [[vec(1)]], learning_rate: -1 }, 'invalid_options'],
    ];
    for (const [body, code] of cases) {
      const r = await nm.request('POST', '/train_outer', { namespace: 'tb', ...(body as object) });
      assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 60)}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, code, `code for ${JSON.stringify(body).slice(0, 60)}`);
    }
    const p1 = await nm.request('POST', '/get_projections', { namespace: 'tb', full: true });
    assert.deepEqual(p1.body.W_K.values, p0.body.W_K.values, 'projections unchanged');
  });

  test('without sequences: reads time-ordered embeddings from the memory core (after a dead URL)', async () => {
    const memories = [];
    for (const [session, seq] of sequences(3, 10).entries())
      for (const [t, embedding] of seq.entries())
        memories.push({
          content: `s${session} t${t}`,
          embedding,
          user_id: 'u1',
          session_id: `session-${session}`,
        });
    memories.push({ content: 'other user', embedding: vec(77), user_id: 'u2', session_id: 'x' });
    const stored = await core.request('POST', '/v1/memories/batch', { memories });
    assert.equal(stored.status, 201, JSON.stringify(stored.body));
    const r = await nm.request('POST', '/train_outer', {
      namespace: 'from-core',
      epochs: 2,
      learning_rate: 0.01,
      memory_core: { user_id: 'u1' },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.source.kind, 'memory_core');
    assert.equal(r.body.source.url, core.url, 'fell over to the live memory core');
    assert.equal(r.body.embeddings, 30, 'only u1’s memories');
    assert.equal(r.body.sequences, 3, 'one sequence per session');
    assert.ok(r.body.loss_after < r.body.loss_before, 'loss fell');
    const limited = await nm.request('POST', '/train_outer', {
      namespace: 'from-core',
      memory_core: { user_id: 'u1', limit: 5 },
    });
    assert.equal(limited.status, 200);
    assert.equal(limited.body.embeddings, 5, 'limit respected');
    const none = await nm.request('POST', '/train_outer', {
      namespace: 'from-core',
      memory_core: { user_id: 'nobody' },
    });
    assert.equal(none.status, 400);
    assert.equal(none.body.error.code, 'no_training_data');
  });

  test('paginates through next_cursor', async () => {
    const memories = Array.from({ length: 1200 }, (_, i) => ({
      content: `bulk ${i}`,
      embedding: vec(5000 + i),
      user_id: 'bulk',
      session_id: `b${i % 3}`,
    }));
    for (let i = 0; i < memories.length; i += 600) {
      const r = await core.request('POST', '/v1/memories/batch', { memories: memories.slice(i, i + 600) });
      assert.equal(r.status, 201, JSON.stringify(r.body).slice(0, 200));
    }
    const r = await nm.request('POST', '/train_outer', {
      namespace: 'bulk',
      memory_core: { user_id: 'bulk', limit: 1100 },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.embeddings, 1100);
    assert.ok(r.body.source.pages >= 2, 'more than one page read');
  });
});

describe('train_outer with no reachable memory core', () => {
  let nm: TestNm;
  before(async () => {
    nm = await startNm({ MEMORY_CORE_URL: `${DEAD},http://127.0.0.1:10`, MEMORY_CORE_TIMEOUT_MS: '1000' });
  });
  after(async () => {
    await nm?.destroy();
  });

  test('503 memory_core_unavailable, nothing changes', async () => {
    const r = await nm.request('POST', '/train_outer', { memory_core: { user_id: 'u1' } });
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'memory_core_unavailable');
    assert.equal(r.body.error.details.tried.length, 2, 'both URLs tried');
  });
});
