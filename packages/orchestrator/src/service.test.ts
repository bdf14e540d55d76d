// The orchestrator against real services: the full cascade, the boost and its audit trail, bad input, failover to a
// standby, degraded answers, the memory core down, concurrency across namespaces, /status, /health and /metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { vec } from '../../neural-memory/src/service-test-support.ts';
import { startOrchestrator, startStack, DIM, type Stack } from './test-support.ts';

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const stepOf = (body: { steps: { name: string }[] }, name: string) =>
  body.steps.find((s) => s.name === name) as
    { name: string; ok: boolean; ms: number; error?: string; note?: string; skipped?: boolean } | undefined;

describe('orchestrator: the full cascade against a real memory core and neural memory', () => {
  let s: Stack;
  before(async () => {
    s = await startStack();
  });
  after(async () => {
    await s?.destroy();
  });

  test('one cycle stores, learns, boosts by the documented amount with an audit event, retrieves and recalls', async () => {
    const seed = await s.orch.request('POST', '/process_memory', {
      content: 'the garden roses bloom in June',
      metadata: { user_id: 'alice' },
    });
    assert.equal(seed.status, 200, JSON.stringify(seed.body));
    const r = await s.orch.request('POST', '/process_memory', {
      content: 'we planted roses in the garden',
      metadata: { user_id: 'alice', topic: 'garden' },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const b = r.body;
    assert.equal(b.status, 'success', JSON.stringify(b.steps));
    assert.equal(b.namespace, 'alice');
    assert.equal(typeof b.memory_id, 'string');
    for (const k of ['loss', 'grad_norm', 'surprise'])
      assert.ok(Number.isFinite(b.neural_memory_update[k]), `neural_memory_update.${k} is a number`);
    assert.equal(b.neural_memory_retrieval.retrieved_embedding.length, DIM);
    assert.equal(b.variant.name, 'MAG');
    assert.equal(b.variant.source, 'policy');
    assert.ok(
      Array.isArray(b.variant_output) && b.variant_output.length === DIM,
      'MAG gives a variant output',
    );
    assert.deepEqual(b.neural_memory_prediction, {
      skipped: true,
      note: 'namespace in associative mode: no next-embedding prediction',
    });
    assert.equal(stepOf(b, 'nm_predict')?.ok, true);
    assert.equal(stepOf(b, 'nm_config')?.skipped, true, 'the variant did not change: no /config call');
    for (const name of ['store', 'variant', 'nm_update', 'nm_retrieve', 'recall_content', 'recall_nm'])
      assert.ok(stepOf(b, name)?.ok === true && stepOf(b, name)!.ms >= 0, `step ${name} ok with a time`);
    assert.ok(b.processing_time_ms > 0, 'processing time');

    // The boost: delta = min(0.2, 0.4 · max(0, surprise − 0.5)).
    const expected =
      Math.round(Math.min(0.2, 0.4 * Math.max(0, b.neural_memory_update.surprise - 0.5)) * 1e6) / 1e6;
    const q = b.quickrecal;
    assert.ok(Math.abs(q.boost_applied - expected) < 1e-6, `boost ${q.boost_applied} = ${expected}`);
    assert.ok(
      Math.abs(q.score_after - Math.min(1, q.score_before + expected)) < 1e-6,
      'score rose by the delta',
    );
    const stored = await s.core.request('GET', `/v1/memories/${b.memory_id}`);
    assert.equal(stored.status, 200);
    assert.ok(
      Math.abs(stored.body.quickrecal_stored - q.score_after) < 1e-6,
      'the core stored the boosted score',
    );
    if (expected > 0) {
      const events = stored.body.surprise_events as { delta: number; reason: string }[];
      assert.equal(events.length, 1);
      assert.equal(events[0]!.delta, expected);
      assert.match(events[0]!.reason, /^surprise:\d\.\d\d \(loss \d+\.\d\d, variant MAG\)$/);
      assert.equal(events[0]!.reason, q.reason);
    }
    // The first memory of a namespace has surprise 1 → the largest boost.
    assert.equal(seed.body.neural_memory_update.surprise, 1);
    assert.equal(seed.body.quickrecal.boost_applied, 0.2);
    const seedEvents = (await s.core.request('GET', `/v1/memories/${seed.body.memory_id}`)).body
      .surprise_events;
    assert.equal(
      seedEvents[0].reason,
      `surprise:1.00 (loss ${seed.body.neural_memory_update.loss.toFixed(2)}, variant MAG)`,
    );

    // Related memories: the earlier one, never the memory just stored.
    const ids = (b.related_memories as { id: string; via: string[] }[]).map((m) => m.id);
    assert.ok(ids.includes(seed.body.memory_id), 'the earlier memory is related');
    assert.ok(!ids.includes(b.memory_id), 'the memory just stored is excluded');
    assert.ok(b.related_memories.length <= 5, 'top_k 5');
  });

  test('the variant policy drives /config only when the variant changes', async () => {
    const a = await s.orch.request('POST', '/process_memory', {
      content: 'meeting notes',
      namespace: 'policy-ns',
      metadata: { task_type: 'planning' },
    });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.variant.name, 'MAL');
    assert.equal(a.body.variant.reason, 'task_type planning');
    assert.equal(stepOf(a.body, 'nm_config')?.ok, true);
    assert.ok(!stepOf(a.body, 'nm_config')?.skipped, 'a new namespace gets its variant set');
    const b = await s.orch.request('POST', '/process_memory', {
      content: 'more notes',
      namespace: 'policy-ns',
      metadata: { task_type: 'planning' },
    });
    assert.equal(stepOf(b.body, 'nm_config')?.skipped, true, 'unchanged: no /config call');
    const nmStatus = await s.nm.request('GET', '/status');
    const entry = nmStatus.body.namespaces.find((n: { namespace: string }) => n.namespace === 'policy-ns');
    assert.equal(entry.variant, 'MAL');
    const c = await s.orch.request('POST', '/process_memory', {
      content: 'do you remember what I said earlier?',
      namespace: 'policy-ns',
    });
    assert.equal(c.body.variant.name, 'MAC');
    assert.equal(c.body.variant.rule, 'keywords');
    assert.equal(stepOf(c.body, 'nm_config')?.skipped, undefined);
  });

  test('bad input: 400 and nothing stored anywhere', async () => {
    const before = (await s.core.request('GET', '/v1/stats')).body;
    const nmBefore = await s.nm.request('GET', '/status');
    const cases: [unknown, number, string][] = [
      [{ content: 42 }, 400, 'validation_error'],
      [{}, 400, 'missing_content'],
      [{ content: '  ' }, 400, 'missing_content'],
      [{ content: 'x', embedding: [1, 2, 3] }, 400, 'invalid_embedding'],
      [{ content: 'x', embedding: vec(1).map((v, i) => (i === 3 ? 'a' : v)) }, 400, 'invalid_embedding'],
      [{ content: 'x', namespace: 'bad namespace!' }, 400, 'validation_error'],
      ['not json', 400, 'invalid_json'],
    ];
    for (const [body, status, code] of cases) {
      const r = await s.orch.request('POST', '/process_memory', body);
      assert.equal(r.status, status, `${JSON.stringify(body)} → ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, code, JSON.stringify(r.body));
    }
    const after = (await s.core.request('GET', '/v1/stats')).body;
    assert.equal(after.head_seq, before.head_seq, 'nothing stored in the memory core');
    const nmAfter = await s.nm.request('GET', '/status');
    assert.deepEqual(
      nmAfter.body.namespaces,
      nmBefore.body.namespaces,
      'nothing written to the neural memory',
    );
  });

  test('a given embedding is used as is', async () => {
    const r = await s.orch.request('POST', '/process_memory', { embedding: vec(77), namespace: 'emb' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const got = await s.core.request('GET', `/v1/memories/${r.body.memory_id}?include_embedding=true`);
    const e = got.body.embedding as number[];
    assert.ok(
      e.every((x, i) => Math.abs(x - vec(77)[i]!) < 1e-5),
      'the stored embedding is the given one',
    );
  });

  test('two namespaces run concurrently; order is kept within one namespace', async () => {
    const N = 6;
    const all = await Promise.all(
      ['ns-a', 'ns-b'].flatMap((ns) =>
        Array.from({ length: N }, (_, i) =>
          s.orch.request('POST', '/process_memory', { content: `${ns} message number ${i}`, namespace: ns }),
        ),
      ),
    );
    for (const r of all) assert.equal(r.status, 200, JSON.stringify(r.body));
    for (const ns of ['ns-a', 'ns-b']) {
      const mine = all.filter((r) => r.body.namespace === ns);
      assert.equal(mine.length, N);
      assert.equal(
        mine[0]!.body.neural_memory_update.surprise,
        1,
        'the first request of a namespace ran first',
      );
    }
    const status = await s.nm.request('GET', '/status');
    for (const ns of ['ns-a', 'ns-b']) {
      const entry = status.body.namespaces.find((n: { namespace: string }) => n.namespace === ns);
      assert.equal(entry.step, N, `${ns}: ${N} updates`);
    }
  });

  test('/status, /health and /metrics', async () => {
    const st = await s.orch.request('GET', '/status');
    assert.equal(st.status, 200);
    assert.ok(st.body.counts.cycles >= 2, 'cycles counted');
    const alice = st.body.namespaces.find((n: { namespace: string }) => n.namespace === 'alice');
    assert.equal(alice.variant, 'MAG');
    assert.equal(alice.recent_surprises.length, 2);
    assert.ok(['unknown', 'rising', 'falling', 'flat'].includes(alice.surprise_trend.direction), 'trend');
    assert.equal(st.body.upstreams.memory_core.status, 'healthy');
    assert.equal(st.body.upstreams.neural_memory.status, 'healthy');
    const h = await s.orch.request('GET', '/health');
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'healthy');
    const m = await s.orch.request('GET', '/metrics');
    assert.equal(m.status, 200);
    for (const step of ['store', 'nm_update', 'boost', 'recall_content', 'cycle'])
      assert.match(
        m.body as string,
        new RegExp(`orchestrator_step_duration_seconds_count\\{[^}]*step="${step}"[^}]*\\} [1-9]`),
        `histogram for ${step}`,
      );
  });
});

describe('orchestrator: failover and degraded answers', () => {
  test('primary down: reads from the standby, writes 503 memory_core_unavailable', async () => {
    const s = await startStack({ standby: true });
    try {
      const first = await s.orch.request('POST', '/process_memory', {
        content: 'the boiler needs a service',
        namespace: 'f',
      });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const head = (await s.core.request('GET', '/v1/stats')).body.head_seq as number;
      await until('the standby to catch up', async () => {
        const st = (await s.standby!.request('GET', '/v1/stats')).body;
        return st.replication?.applied_seq >= head ? st : undefined;
      });
      // Only the standby answers: the write is refused (the standby answers 503 read_only_standby).
      await s.core.stop();
      const write = await s.orch.request('POST', '/process_memory', {
        content: 'boiler again',
        namespace: 'f',
      });
      assert.equal(write.status, 503, JSON.stringify(write.body));
      assert.equal(write.body.error.code, 'memory_core_unavailable');
      assert.match(write.body.error.message, /read_only_standby/);
      // Reads fail over: the orchestrator's core client answers related-memory queries from the standby.
      const { MemoryCoreClient } = await import('./clients.ts');
      const { createLogger } = await import('@synthians/kit');
      const client = new MemoryCoreClient([s.core.url, s.standby!.url], {
        timeoutMs: 1000,
        logger: createLogger('test', 'silent'),
      });
      const read = await client.read('POST', '/retrieve_memories', { query: 'boiler service', top_k: 1 });
      assert.equal(read.url, s.standby!.url);
      assert.equal(read.body.memories[0].id, first.body.memory_id);
      const got = await client.read('GET', `/api/memories/${first.body.memory_id}`);
      assert.equal(got.body.memory.id, first.body.memory_id);
      const health = await s.orch.request('GET', '/health');
      assert.equal(health.body.status, 'degraded');
      assert.equal(health.body.checks.memory_core.status, 'unhealthy');
      assert.notEqual(health.body.checks.memory_core_standby.status, 'unhealthy');
    } finally {
      await s.destroy();
    }
  });

  test('a standby listed first is skipped for writes (503 read_only_standby); the cycle succeeds', async () => {
    const s = await startStack({ standby: true });
    try {
      const orch = await startOrchestrator({
        MEMORY_CORE_URL: `${s.standby!.url},${s.core.url}`,
        NEURAL_MEMORY_URL: s.nm.url,
      });
      try {
        const r = await orch.request('POST', '/process_memory', {
          content: 'standby listed first',
          namespace: 'sb',
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.status, 'success', JSON.stringify(r.body.steps));
        const got = await s.core.request('GET', `/v1/memories/${r.body.memory_id}`);
        assert.equal(got.status, 200, 'stored on the writable core');
      } finally {
        await orch.stop();
      }
    } finally {
      await s.destroy();
    }
  });

  test('neural memory down: stored anyway, status degraded, failed step named', async () => {
    const s = await startStack();
    try {
      await s.nm.stop();
      const r = await s.orch.request('POST', '/process_memory', {
        content: 'stored while the nm is down',
        namespace: 'd',
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.status, 'degraded');
      assert.ok(r.body.failed_steps.includes('nm_update'), 'nm_update is named');
      const upd = stepOf(r.body, 'nm_update');
      assert.equal(upd?.ok, false);
      assert.match(upd!.error!, /neural_memory_unavailable/);
      assert.equal(r.body.neural_memory_update, null);
      assert.equal(r.body.quickrecal.boost_applied, 0);
      assert.equal(stepOf(r.body, 'store')?.ok, true);
      assert.equal(stepOf(r.body, 'recall_content')?.ok, true);
      const got = await s.core.request('GET', `/v1/memories/${r.body.memory_id}`);
      assert.equal(got.status, 200, 'the memory is stored');
      const h = await s.orch.request('GET', '/health');
      assert.equal(h.status, 200);
      assert.equal(h.body.status, 'degraded');
      assert.equal(h.body.checks.neural_memory.status, 'unhealthy');
    } finally {
      await s.destroy();
    }
  });

  test('memory core down: 503 memory_core_unavailable, nothing sent to the neural memory', async () => {
    const s = await startStack();
    try {
      await s.core.stop();
      const r = await s.orch.request('POST', '/process_memory', {
        content: 'nowhere to store',
        namespace: 'x',
      });
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'memory_core_unavailable');
      const nm = await s.nm.request('GET', '/status');
      assert.ok(
        !nm.body.namespaces.some((n: { namespace: string }) => n.namespace === 'x'),
        'no neural memory write',
      );
      const st = await s.orch.request('GET', '/status');
      assert.equal(st.body.counts.failed, 1);
    } finally {
      await s.destroy();
    }
  });
});
