// The DreamWorld agent against a real memory core and neural memory (the orchestrator's test stack), with real
// ZeroMQ sockets on loopback: a dream cycle's four phases on planted memories, publishing (ZeroMQ, bus, history),
// 409 while a cycle runs, cancel, restart, idle cycles, simulations over HTTP, bad input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonClient, MemoryBus } from '@synthians/kit';
import { startStack, DIM, type Stack } from '../../orchestrator/src/test-support.ts';
import {
  pausableProxy,
  startDreamworld,
  subscribe,
  type TestDreamworld,
  type TestSubscriber,
} from './test-support.ts';

const DAY = 86_400_000;
/** A unit-ish vector: 1 on `main`, plus the given extra components. */
function vec(main: number, extra: Record<number, number> = {}): number[] {
  const v = new Array<number>(DIM).fill(0);
  v[main] = 1;
  for (const [i, x] of Object.entries(extra)) v[Number(i)]! += x;
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const ids: Record<string, string> = {};
/** Stored in the memories of the planted association: it must never reach the PUB socket. */
const SECRET = 'my bank account password is correct-horse-battery-42';

async function plant(s: Stack): Promise<void> {
  const old = (days: number) => new Date(Date.now() - days * DAY).toISOString();
  const m = (id: string, embedding: number[], session: string, extra: Record<string, unknown> = {}) => ({
    id,
    content: `memory ${id}`,
    embedding,
    user_id: 'alice',
    session_id: session,
    ...extra,
  });
  const memories = [
    // Two assemblies with similar composites (cosine ≈ 0.87 < the core's own merge threshold of 0.95).
    ...[10, 11, 12].map((k, i) => m(`a${i}`, vec(1, { [k]: 0.3 }), 's-a')),
    ...[20, 21, 22].map((k, i) => m(`b${i}`, vec(1, { 2: 0.5, [k]: 0.3 }), 's-a')),
    // One assembly whose members form two clusters (around e5+e6 and e5+e7).
    m('x0', vec(5, { 6: 0.35 }), 's-c'),
    m('x1', vec(5, { 6: 0.35, 26: 0.1 }), 's-c'),
    m('y0', vec(5, { 7: 0.35 }), 's-c'),
    m('y1', vec(5, { 7: 0.35, 28: 0.1 }), 's-c'),
    m('x2', vec(5, { 6: 0.35, 27: 0.1 }), 's-c'),
    m('y2', vec(5, { 7: 0.35, 29: 0.1 }), 's-c'),
    // A surprising association: cosine 0.83, 100 days and two sessions apart.
    m('p', vec(15, { 16: 0.45 }), 's-old', { event_time: old(100), content: `${SECRET} (told in March)` }),
    m('q', vec(15, { 17: 0.45 }), 's-new', { content: `reminder: ${SECRET}` }),
    // Stale (60 days, never accessed), and old but recently accessed.
    m('stale0', vec(30), 's-stale', { event_time: old(60) }),
    m('stale1', vec(31), 's-stale', { event_time: old(60) }),
    m('recalled', vec(3), 's-r', { event_time: old(60) }),
  ];
  for (const x of memories) {
    const r = await s.core.request('POST', '/v1/memories', x);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    ids[x.id] = r.body.id;
  }
  // A search that finds "recalled" records an access now.
  const r = await s.core.request('POST', '/v1/search', { embedding: vec(3), mode: 'vector', top_k: 1 });
  assert.equal(r.body.items?.[0]?.id ?? r.body.results?.[0]?.id, 'recalled', JSON.stringify(r.body));
}

describe('dreamworld: dream cycles against a real memory core and neural memory', () => {
  let s: Stack;
  let dw: TestDreamworld;
  let sub: TestSubscriber;
  let dir: string;
  let env: Record<string, string>;
  const bus = new MemoryBus();
  const busMessages: { subject: string; body: Record<string, unknown> }[] = [];
  let cycleId = '';

  before(async () => {
    s = await startStack();
    dir = mkdtempSync(join(tmpdir(), 'synthians-dreamworld-test-'));
    env = {
      MEMORY_CORE_URL: s.core.url,
      NEURAL_MEMORY_URL: s.nm.url,
      DREAM_MERGE_SIMILARITY: '0.85',
      DREAM_SPLIT_SIMILARITY: '0.95',
      DREAM_ASSOCIATION_SIMILARITY: '0.8',
      DREAM_STALE_DAYS: '30',
      DREAM_DECAY: '0.5',
    };
    bus.subscribe('dream.>', (m) => void busMessages.push({ subject: m.subject, body: m.json() }));
    dw = await startDreamworld(env, { dir, bus });
    sub = await subscribe(dw.pubPort);
    await plant(s);
  });
  after(async () => {
    sub?.close();
    await dw?.stop();
    await s?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('/health: memory core, neural memory and the PUB socket', async () => {
    const r = await dw.request('GET', '/health');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'healthy');
    assert.equal(r.body.checks.pub_socket.status, 'healthy');
    assert.match(r.body.checks.pub_socket.endpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  });

  test('one cycle: consolidation, assembly proposals, associations, decay, published and recorded', async () => {
    const nmStatus = async () =>
      (
        (await jsonClient(s.nm.url)('GET', '/status')).body.namespaces as {
          namespace: string;
          step: number;
        }[]
      ).find((n) => n.namespace === 'alice')?.step ?? 0;
    const retrieve = async () =>
      (
        await jsonClient(s.nm.url)('POST', '/retrieve', {
          namespace: 'alice',
          input_embedding: vec(1, { 10: 0.3 }),
        })
      ).body.retrieved_embedding as number[];
    const stepBefore = await nmStatus();
    const recallBefore = await retrieve();
    const scores = async () =>
      Object.fromEntries(
        await Promise.all(
          Object.entries(ids).map(async ([k, id]) => [
            k,
            (await s.core.request('GET', `/v1/memories/${id}`)).body.quickrecal_stored as number,
          ]),
        ),
      ) as Record<string, number>;
    const before = await scores();

    const r = await dw.request('POST', '/v1/dream', { max_memories: 100, budget_ms: 60_000 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const cycle = r.body;
    cycleId = cycle.cycle_id;
    assert.equal(cycle.status, 'completed', JSON.stringify(cycle.errors));
    assert.equal(cycle.memories_read, Object.keys(ids).length);
    assert.ok(Date.parse(cycle.finished_at) >= Date.parse(cycle.started_at));
    const of = (kind: string) => cycle.changes.filter((c: { kind: string }) => c.kind === kind);

    // (a) Consolidation: every multi-memory session replayed; the neural memory's state measurably changed.
    const consolidation = of('consolidation');
    assert.deepEqual(consolidation.map((c: { session_id: string }) => c.session_id).sort(), [
      's-a',
      's-c',
      's-stale',
    ]);
    const updates = consolidation.reduce((n: number, c: { updates: number }) => n + c.updates, 0);
    assert.equal(updates, (6 + 6 + 2) * 2);
    assert.equal((await nmStatus()) - stepBefore, updates, 'every replayed update is a neural-memory step');
    const recallAfter = await retrieve();
    assert.ok(
      recallAfter.some((x, i) => Math.abs(x - recallBefore[i]!) > 1e-6),
      'retrieval changed',
    );
    for (const c of consolidation) {
      assert.ok(c.step_after > c.step_before && c.retrieval_shift > 0, JSON.stringify(c));
      assert.ok(Number.isFinite(c.loss_first_pass) && Number.isFinite(c.loss_last_pass));
    }

    // (b) Assemblies: a merge proposal for the two similar ones, a split proposal with the two planted clusters.
    const assemblyOf = async (k: string) =>
      (await s.core.request('GET', `/v1/memories/${ids[k]}`)).body.assemblies as string[];
    const [asmA] = await assemblyOf('a0');
    const [asmB] = await assemblyOf('b0');
    const [asmXY] = await assemblyOf('x0');
    assert.ok(asmA && asmB && asmXY && asmA !== asmB, 'the core formed the planted assemblies');
    const merges = of('assembly_merge');
    assert.equal(merges.length, 1, JSON.stringify(merges));
    assert.deepEqual([...merges[0].assemblies].sort(), [asmA, asmB].sort());
    assert.equal(merges[0].applied, false);
    assert.match(merges[0].endpoint_needed, /merge/);
    const splits = of('assembly_split');
    assert.equal(splits.length, 1, JSON.stringify(splits));
    assert.equal(splits[0].assembly, asmXY);
    const groups = splits[0].groups.map((g: string[]) =>
      g.map((id) => Object.keys(ids).find((k) => ids[k] === id)).sort(),
    );
    assert.deepEqual(groups.sort(), [
      ['x0', 'x1', 'x2'],
      ['y0', 'y1', 'y2'],
    ]);

    // (d) Associations: exactly the planted pair, published on ZeroMQ and the bus.
    const associations = of('association');
    assert.equal(associations.length, 1, JSON.stringify(associations));
    const insight = associations[0];
    assert.deepEqual([insight.a.id, insight.b.id], [ids.p, ids.q]);
    assert.ok(insight.similarity > 0.8 && insight.similarity < 0.9);
    assert.match(insight.why, /100\.0 days apart/);
    const zmqInsight = await sub.next('dream.insight');
    assert.equal(zmqInsight.insight_id, insight.insight_id);
    // The anonymous subscriber of the default (loopback) socket gets ids, scores and times — not the memories' text.
    assert.deepEqual(zmqInsight.a, { id: ids.p, session_id: 's-old', time: insight.a.time });
    assert.deepEqual(zmqInsight.b, { id: ids.q, session_id: 's-new', time: insight.b.time });
    assert.equal(zmqInsight.similarity, insight.similarity);
    assert.equal(zmqInsight.user_id, 'alice');
    assert.ok(insight.a.content.includes(SECRET), 'the HTTP answer (behind the token) keeps the text');
    const zmqCycle = await sub.next('dream.cycle', (b) => b.cycle_id === cycleId);
    assert.equal(zmqCycle.status, 'completed');
    assert.equal((zmqCycle.counts as Record<string, number>).association, 1);
    await bus.flush();
    const onBus = busMessages.find(
      (m) => m.subject === 'dream.insight' && m.body.insight_id === insight.insight_id,
    );
    assert.ok(onBus, 'published on the bus');
    assert.ok(
      (onBus.body.a as { content: string }).content.includes(SECRET),
      'in-process consumers get the text',
    );
    for (const f of sub.frames)
      assert.ok(!f.includes('correct-horse'), `memory text on the PUB socket: ${f}`);

    // (c) Decay: the stale memories only (by half, DREAM_DECAY=0.5), with the reason in the audit trail.
    const decayed = of('decay')
      .map((c: { memory_id: string }) => Object.keys(ids).find((k) => ids[k] === c.memory_id))
      .sort();
    assert.deepEqual(decayed, ['p', 'stale0', 'stale1']);
    const afterScores = await scores();
    for (const k of Object.keys(ids)) {
      if (decayed.includes(k))
        assert.ok(
          Math.abs(afterScores[k]! - before[k]! / 2) < 1e-4,
          `${k}: ${before[k]} → ${afterScores[k]}`,
        );
      else assert.equal(afterScores[k], before[k], `${k} is not stale and keeps its score`);
    }

    // History: the cycle and the insight are readable.
    const stored = await dw.request('GET', `/v1/dreams/${cycleId}`);
    assert.equal(stored.status, 200);
    assert.deepEqual(stored.body, cycle);
    const insights = await dw.request('GET', '/v1/insights?topic=dream.insight');
    assert.deepEqual(
      insights.body.items.map((e: { id: string }) => e.id),
      [insight.insight_id],
    );

    const metrics = await dw.request('GET', '/metrics');
    assert.match(metrics.body, /dreamworld_cycles_total\{[^}]*status="completed"[^}]*\} 1/);
    assert.match(metrics.body, /dreamworld_changes_total\{[^}]*kind="association"[^}]*\} 1/);
  });

  test('a second cycle does not publish the same association again', async () => {
    const r = await dw.request('POST', '/v1/dream', {});
    assert.equal(r.status, 200);
    assert.equal(r.body.counts.association, 0);
    const insights = await dw.request('GET', '/v1/insights?topic=dream.insight');
    assert.equal(insights.body.items.length, 1);
  });

  test('bad input: 400 with codes, 404 for unknown cycles', async () => {
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/v1/dream', { max_memories: 0 }, 400, 'validation_error'],
      ['POST', '/v1/dream', { budget_ms: 'soon' }, 400, 'validation_error'],
      ['POST', '/v1/dream', { extra: true }, 400, 'validation_error'],
      ['POST', '/v1/dream', '{not json', 400, 'invalid_json'],
      ['GET', '/v1/insights?topic=dream.nope', undefined, 400, 'invalid_topic'],
      ['GET', '/v1/insights?since=yesterday', undefined, 400, 'invalid_since'],
      ['GET', '/v1/dreams/dream_nope', undefined, 404, 'not_found'],
      ['POST', '/v1/dream/cancel', undefined, 409, 'no_dream_in_progress'],
      [
        'POST',
        '/v1/simulate',
        { scenario: { state: { x: 1 }, actions: [], horizon: 1 } },
        400,
        'invalid_scenario',
      ],
      ['POST', '/v1/simulate', { scenario: { state: {} }, iterations: 'many' }, 400, 'validation_error'],
      ['DELETE', '/v1/simulations/sim_nope', undefined, 404, 'not_found'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await dw.request(method, path, body);
      assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)} → ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, code, `${method} ${path}`);
    }
    const bad = await dw.request('POST', '/v1/simulate', {
      scenario: { state: { x: 0 }, actions: [{ name: 'go', effects: { y: 1 } }], horizon: 2 },
    });
    assert.equal(bad.body.error.details.path, 'scenario.actions.0.effects.y');
  });

  test('simulations over HTTP: the known best action, published; async runs cancel by id', async () => {
    const scenario = {
      state: { money: 0, invested: false },
      actions: [
        { name: 'spend', effects: { money: 5 } },
        { name: 'invest', effects: { money: -2, invested: true } },
        { name: 'harvest', effects: { money: 20 }, preconditions: [{ var: 'invested', equals: true }] },
      ],
      horizon: 2,
      metrics: [{ var: 'money', weight: 1 }],
    };
    const r = await dw.request('POST', '/v1/simulate', {
      scenario,
      iterations: 1500,
      seed: 5,
      id: 'sim_trap',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.best_action, 'invest');
    assert.equal(r.body.iterations_run, 1500);
    assert.equal(r.body.stopped_by, 'iterations');
    assert.equal(r.body.simulation_id, 'sim_trap');
    const again = await dw.request('POST', '/v1/simulate', { scenario, iterations: 1500, seed: 5 });
    assert.deepEqual(
      { ...again.body, simulation_id: 0, elapsed_ms: 0, finished_at: 0 },
      { ...r.body, simulation_id: 0, elapsed_ms: 0, finished_at: 0 },
      'deterministic with a seed',
    );
    const published = await sub.next('dream.simulation', (b) => b.simulation_id === 'sim_trap');
    assert.equal(published.best_action, 'invest');
    assert.equal((await dw.request('GET', '/v1/simulations/sim_trap')).body.status, 'done');
    assert.equal((await dw.request('POST', '/v1/simulate', { scenario, id: 'sim_trap' })).status, 409);

    const long = { ...scenario, horizon: 60, actions: [...scenario.actions, { name: 'wait', effects: {} }] };
    const started = await dw.request('POST', '/v1/simulate', {
      scenario: long,
      iterations: 1_000_000,
      time_budget_ms: 60_000,
      async: true,
      id: 'sim_long',
    });
    assert.equal(started.status, 202);
    assert.equal((await dw.request('GET', '/v1/simulations/sim_long')).body.status, 'running');
    const cancelled = await dw.request('DELETE', '/v1/simulations/sim_long');
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.equal(cancelled.body.stopped_by, 'cancelled');
    assert.ok(cancelled.body.iterations_run < 1_000_000);
    const tooMany = await dw.request('POST', '/v1/simulate', { scenario, iterations: 10_000_000 });
    assert.equal(tooMany.body.error.code, 'invalid_options');
  });

  test('the preferences evaluator weights variables by the user’s stored likes and dislikes', async () => {
    for (const content of ['I love hiking with friends', 'I hate traffic in the morning'])
      assert.equal(
        (await s.core.request('POST', '/v1/memories', { content, embedding: vec(4), user_id: 'bob' })).status,
        201,
      );
    const r = await dw.request('POST', '/v1/simulate', {
      scenario: {
        state: { hiking_hours: 0, traffic_minutes: 0, money: 0 },
        actions: [
          { name: 'drive_to_mall', effects: { traffic_minutes: 3, money: 1 } },
          { name: 'go_hiking', effects: { hiking_hours: 2 } },
        ],
        horizon: 1,
        metrics: [{ var: 'money', weight: 1 }],
      },
      evaluator: { type: 'preferences', user_id: 'bob' },
      iterations: 200,
      seed: 1,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.best_action, 'go_hiking');
    const published = await sub.next('dream.simulation', (b) => b.simulation_id === r.body.simulation_id);
    const weights = (published.evaluator as { weights: { var: string; matched: unknown[] }[] }).weights;
    assert.deepEqual(
      weights.map((w) => [w.var, w.matched.map((m) => Object.keys(m as object).sort())]),
      [
        ['hiking_hours', [['memory_id', 'strength']]],
        ['traffic_minutes', [['memory_id', 'strength']]],
      ],
      'the PUB socket carries the memory ids and strengths, not the statements',
    );
    for (const f of sub.frames)
      assert.ok(!/hiking with friends|traffic in the morning/.test(f), `memory text on the PUB socket: ${f}`);
    assert.deepEqual(
      r.body.evaluator.weights.map((w: { var: string; weight: number }) => [w.var, w.weight]),
      [
        ['hiking_hours', 1],
        ['traffic_minutes', -1],
      ],
    );
  });

  test('history survives a restart with the same data directory', async () => {
    await dw.stop();
    sub.close();
    dw = await startDreamworld(env, { dir, bus });
    sub = await subscribe(dw.pubPort);
    const stored = await dw.request('GET', `/v1/dreams/${cycleId}`);
    assert.equal(stored.status, 200);
    assert.equal(stored.body.cycle_id, cycleId);
    const all = await dw.request('GET', '/v1/insights?limit=1000');
    const topics = new Set(all.body.items.map((e: { topic: string }) => e.topic));
    assert.deepEqual([...topics].sort(), ['dream.cycle', 'dream.insight', 'dream.simulation']);
    const later = await dw.request(
      'GET',
      `/v1/insights?since=${encodeURIComponent(all.body.items[0].at)}&limit=1000`,
    );
    assert.ok(later.body.items.length < all.body.items.length);
  });
});

describe('dreamworld: one cycle at a time, cancel, idle cycles', () => {
  let s: Stack;
  const stops: (() => Promise<void>)[] = [];
  before(async () => {
    s = await startStack();
    for (let i = 0; i < 4; i++)
      await s.core.request('POST', '/v1/memories', {
        content: `m${i}`,
        embedding: vec(i),
        session_id: 's',
        user_id: 'u',
      });
  });
  after(async () => {
    for (const stop of stops.reverse()) await stop();
    await s?.destroy();
  });

  test('409 dream_in_progress while a cycle runs; other requests are served; cancel ends it', async () => {
    const proxy = await pausableProxy(s.nm.url);
    stops.push(() => proxy.close());
    const dw = await startDreamworld({ MEMORY_CORE_URL: s.core.url, NEURAL_MEMORY_URL: proxy.url });
    stops.push(() => dw.destroy());
    proxy.pause();
    const running = dw.request('POST', '/v1/dream', {});
    const id = await until(
      'the cycle to start',
      async () => (await dw.request('GET', '/v1/status')).body.dream_in_progress ?? undefined,
    );
    const second = await dw.request('POST', '/v1/dream', {});
    assert.equal(second.status, 409);
    assert.equal(second.body.error.code, 'dream_in_progress');
    assert.equal(second.body.error.details.cycle_id, id);
    assert.equal((await dw.request('GET', '/v1/insights')).status, 200);
    const cancel = await dw.request('POST', '/v1/dream/cancel');
    assert.deepEqual(cancel.body, { cancelled: true, cycle_id: id });
    const done = await running;
    assert.equal(done.status, 200);
    assert.equal(done.body.status, 'cancelled');
    proxy.resume();
    assert.equal((await dw.request('GET', `/v1/dreams/${id}`)).body.status, 'cancelled');
    const next = await dw.request('POST', '/v1/dream', { budget_ms: 60_000 });
    assert.equal(next.body.status, 'completed', JSON.stringify(next.body.errors));
  });

  test('budget_ms bounds a cycle: it stops with status budget_exhausted', async () => {
    const proxy = await pausableProxy(s.nm.url);
    stops.push(() => proxy.close());
    const dw = await startDreamworld({ MEMORY_CORE_URL: s.core.url, NEURAL_MEMORY_URL: proxy.url });
    stops.push(() => dw.destroy());
    proxy.pause();
    const r = await dw.request('POST', '/v1/dream', { budget_ms: 200 });
    proxy.resume();
    assert.equal(r.body.status, 'budget_exhausted');
  });

  test('after DREAM_IDLE_MS without activity a cycle runs by itself (trigger "idle")', async () => {
    const dw = await startDreamworld({
      MEMORY_CORE_URL: s.core.url,
      NEURAL_MEMORY_URL: s.nm.url,
      DREAM_IDLE_MS: '200',
    });
    stops.push(() => dw.destroy());
    const cycle = await until('an idle cycle', async () => {
      // /health does not count as activity, so polling it does not postpone the cycle.
      await dw.request('GET', '/health');
      const m = await dw.request('GET', '/metrics');
      return /dreamworld_cycles_total\{[^}]*trigger="idle"/.test(m.body) ? true : undefined;
    });
    assert.equal(cycle, true);
  });
});
