// Compact embeddings (embedding_b64) and similarity ranking (rank_by).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCore, unitVector, type TestCore } from '../test-support.ts';

const b64 = (v: number[]) => Buffer.from(Float32Array.from(v).buffer).toString('base64');

describe('embedding_b64', () => {
  let core: TestCore;
  before(async () => {
    core = await startCore();
  });
  after(() => core.destroy());

  test('stores and searches with base64 float32 embeddings, identical to JSON numbers', async () => {
    const v = unitVector(11);
    const one = await core.request('POST', '/v1/memories', { content: 'compact', embedding_b64: b64(v) });
    assert.equal(one.status, 201);
    const batch = await core.request('POST', '/v1/memories/batch', {
      memories: [{ content: 'compact two', embedding_b64: b64(unitVector(12)) }],
    });
    assert.equal(batch.status, 201);
    const got = await core.request('GET', `/v1/memories/${one.body.id}?include_embedding=true`);
    const stored = got.body.embedding as number[];
    const cos = stored.reduce((s, x, i) => s + x * v[i]!, 0);
    assert.ok(Math.abs(cos - 1) < 1e-6, `cosine ${cos}`);
    const search = await core.request('POST', '/v1/search', {
      embedding_b64: b64(v),
      mode: 'vector',
      top_k: 1,
    });
    assert.equal(search.body.results[0].id, one.body.id);
  });

  test('bad base64 embeddings are refused and change nothing', async () => {
    const before = (await core.request('GET', '/v1/stats')).body.memory_count;
    const cases: unknown[] = [
      { content: 'x', embedding_b64: b64(unitVector(1).slice(0, 100)) },
      { content: 'x', embedding_b64: '***not base64***' },
      { content: 'x', embedding_b64: b64(new Array(768).fill(0)) },
      { content: 'x', embedding_b64: b64([Number.NaN, ...unitVector(1).slice(1)]) },
      { content: 'x', embedding: unitVector(1), embedding_b64: b64(unitVector(1)) },
    ];
    for (const body of cases) {
      const res = await core.request('POST', '/v1/memories', body);
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'invalid_embedding');
    }
    assert.equal((await core.request('GET', '/v1/stats')).body.memory_count, before);
  });
});

describe('rank_by', () => {
  let core: TestCore;
  before(async () => {
    core = await startCore();
  });
  after(() => core.destroy());

  test('similarity ranking orders by cosine; relevance may reorder by QuickRecal', async () => {
    const base = unitVector(3);
    const near = (eps: number, seed: number) => {
      const noise = unitVector(seed);
      const v = base.map((x, i) => x + eps * noise[i]!);
      const n = Math.hypot(...v);
      return v.map((x) => x / n);
    };
    const created = await core.request('POST', '/v1/memories/batch', {
      memories: [
        { content: 'closest', embedding: near(0.05, 100) },
        {
          content: 'Important! never forget: my name is Ana and my phone is 555 123 4567',
          embedding: near(0.3, 101),
          importance: 1,
        },
      ],
    });
    const [closest, important] = created.body.items.map((i: { id: string }) => i.id);
    const bySimilarity = await core.request('POST', '/v1/search', {
      embedding: base,
      mode: 'vector',
      top_k: 2,
      rank_by: 'similarity',
    });
    assert.deepEqual(
      bySimilarity.body.results.map((r: { id: string }) => r.id),
      [closest, important],
    );
    const sims = bySimilarity.body.results.map((r: { similarity: number }) => r.similarity);
    assert.ok(sims[0] >= sims[1], 'sorted by similarity');
    const bad = await core.request('POST', '/v1/search', {
      embedding: base,
      mode: 'vector',
      rank_by: 'mood',
    });
    assert.equal(bad.status, 400);
  });
});
