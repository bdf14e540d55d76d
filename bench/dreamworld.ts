// DreamWorld: one dream cycle over N memories (real memory core and neural memory at 768 dims, in this process),
// its changes by kind and the event-loop delay p99 during it; MCTS iterations per second and how often the search
// finds the brute-forced best first action on random small scenarios. Prints one JSON object; progress on stderr.
//
//   node --import tsx bench/dreamworld.ts [--n 1000] [--sessions 20] [--scenarios 100] [--iterations 3000]
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { unitVector } from '@synthians/kit';
import { startCore } from '../packages/memory-core/src/test-support.ts';
import { startNm } from '../packages/neural-memory/src/service-test-support.ts';
import { startDreamworld } from '../packages/dreamworld/src/test-support.ts';
import {
  compileScenario,
  Mcts,
  runSearch,
  solveExactly,
  type Scenario,
} from '../packages/dreamworld/src/index.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('n', 1000);
const SESSIONS = arg('sessions', 20);
const SCENARIOS = arg('scenarios', 100);
const ITERATIONS = arg('iterations', 3000);
const DIM = 768;
const log = (msg: string) => process.stderr.write(`[dreamworld bench] ${msg}\n`);

function seeded(seed: number) {
  let a = seed >>> 0 || 1;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 2–4 actions on 2–3 variables, horizon 2–4, some stochastic effects, some preconditions and a constraint. */
function randomScenario(seed: number): Scenario {
  const rnd = seeded(seed);
  const vars = ['x', 'y', 'z'].slice(0, 2 + Math.floor(rnd() * 2));
  const r1 = (lo: number, hi: number) => Math.round((lo + rnd() * (hi - lo)) * 10) / 10;
  const actions = Array.from({ length: 2 + Math.floor(rnd() * 3) }, (_, k) => ({
    name: `act${k}`,
    effects: Object.fromEntries(
      vars.map((v) => [v, rnd() < 0.25 ? { delta: r1(-3, 8), probability: r1(0.2, 0.9) } : r1(-4, 6)]),
    ),
    ...(rnd() < 0.3 ? { preconditions: [{ var: vars[0]!, min: r1(-2, 2) }] } : {}),
    cost: rnd() < 0.3 ? r1(0, 2) : 0,
  }));
  return {
    state: Object.fromEntries(vars.map((v) => [v, 0])),
    actions,
    constraints: rnd() < 0.4 ? [{ var: vars[1]!, min: -6 }] : [],
    horizon: 2 + Math.floor(rnd() * 3),
    metrics: vars.map((v) => ({ var: v, weight: r1(-1, 2) })),
    violation_penalty: 20,
  };
}

// ---- MCTS -------------------------------------------------------------------------------------------------------
log(`MCTS: ${SCENARIOS} random scenarios × ${ITERATIONS} iterations`);
let hits = 0;
let stochasticHits = 0;
let stochasticCount = 0;
let iterations = 0;
let searchMs = 0;
for (let k = 0; k < SCENARIOS; k++) {
  const s = compileScenario(randomScenario(k + 1));
  const exact = solveExactly(s);
  const best = Math.max(...Object.values(exact.values));
  const t = performance.now();
  const r = await runSearch(s, { iterations: ITERATIONS, timeBudgetMs: 60_000, seed: k });
  searchMs += performance.now() - t;
  iterations += r.iterations_run;
  const hit = Math.abs(exact.values[r.best_action!]! - best) < 1e-9;
  if (hit) hits++;
  if (s.actions.some((a) => a.stochastic > 0)) {
    stochasticCount++;
    if (hit) stochasticHits++;
  }
}
// Raw engine speed on one horizon-10 scenario, without the async runner's yields.
const deep = compileScenario({ ...randomScenario(999), horizon: 10, constraints: [] });
const engine = new Mcts(deep, { seed: 1 });
const t0 = performance.now();
engine.iterate(50_000);
const engineIps = 50_000 / ((performance.now() - t0) / 1000);

// ---- dream cycle ------------------------------------------------------------------------------------------------
log(`dream cycle: storing ${N} memories (${DIM} dims) in ${SESSIONS} sessions`);
const core = await startCore({ EMBEDDING_DIM: String(DIM) });
const nm = await startNm({
  NM_INPUT_DIM: String(DIM),
  NM_KEY_DIM: '128',
  NM_VALUE_DIM: String(DIM),
  NM_HIDDEN_DIMS: '512',
});
const dw = await startDreamworld({
  MEMORY_CORE_URL: core.url,
  NEURAL_MEMORY_URL: nm.url,
  DREAM_STALE_DAYS: '30',
  DREAM_SEQUENCE_MAX: '64',
});
try {
  const rnd = seeded(42);
  const topics = Array.from({ length: 40 }, (_, i) => unitVector(i + 1, DIM));
  const batch = [];
  for (let i = 0; i < N; i++) {
    // Memories near one of 40 topics; 20% old (stale), sessions spread over time.
    const topic = topics[Math.floor(rnd() * topics.length)]!;
    const noise = unitVector(10_000 + i, DIM);
    const v = topic.map((x, d) => x + 0.6 * noise[d]!);
    batch.push({
      content: `memory ${i}`,
      embedding: v,
      user_id: 'bench',
      session_id: `s${i % SESSIONS}`,
      event_time: new Date(Date.now() - (rnd() < 0.2 ? 60 : rnd() * 20) * 86_400_000).toISOString(),
    });
  }
  for (let i = 0; i < batch.length; i += 500) {
    const r = await core.request('POST', '/v1/memories/batch', { memories: batch.slice(i, i + 500) });
    if (r.status !== 201) throw new Error(`batch: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
  }
  log('running one cycle');
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t = performance.now();
  const cycle = await dw.request('POST', '/v1/dream', { max_memories: N, budget_ms: 600_000 });
  const cycleMs = performance.now() - t;
  h.disable();
  console.log(
    JSON.stringify({
      dream_cycle: {
        memories: N,
        sessions: SESSIONS,
        dim: DIM,
        status: cycle.body.status,
        ms: Math.round(cycleMs),
        changes_by_kind: cycle.body.counts,
        errors: cycle.body.errors,
        event_loop_delay_p99_ms: Math.round((h.percentile(99) / 1e6) * 100) / 100,
        event_loop_delay_max_ms: Math.round((h.max / 1e6) * 100) / 100,
      },
      mcts: {
        scenarios: SCENARIOS,
        iterations_per_scenario: ITERATIONS,
        found_best: hits,
        found_best_rate: Math.round((hits / SCENARIOS) * 1000) / 1000,
        stochastic_scenarios: stochasticCount,
        stochastic_found_best: stochasticHits,
        iterations_per_s_runner: Math.round(iterations / (searchMs / 1000)),
        iterations_per_s_engine_horizon10: Math.round(engineIps),
      },
      node: process.version,
    }),
  );
} finally {
  await dw.destroy();
  await nm.destroy();
  await core.destroy();
}
