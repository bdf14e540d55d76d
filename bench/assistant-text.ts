// Latency of one text turn (POST /v1/turns over HTTP) answered by the built-in skills, against a real stack in this
// process: memory core + neural memory + orchestrator (startStack), and the coordinator with its own PGlite session
// database. The turns mix time/date, small talk, help, timers (set, list) and memory recall; each turn also stores
// the user text and the reply in the session, and conversational turns go to the orchestrator in the background.
// Prints one JSON object. Target: p50 ≤ 50 ms.
//
//   node --import tsx bench/assistant-text.ts [--n 300]
import { rmSync } from 'node:fs';
import { startStack } from '../packages/orchestrator/src/test-support.ts';
import { startCoordinator, tempDir } from '../packages/assistant/src/coordinator/test-support.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('n', 300);
const WARMUP = 20;

const TURNS = [
  'What time is it?',
  'Hello!',
  "What's the date today?",
  'What timers do I have?',
  'What do you remember about my sister?',
  'Set a timer for 10 minutes.',
  'help',
  'Thank you.',
];

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
};
const r2 = (x: number) => Math.round(x * 100) / 100;
const summary = (xs: number[]) => ({
  turns: xs.length,
  p50_ms: r2(percentile(xs, 0.5)),
  p90_ms: r2(percentile(xs, 0.9)),
  p99_ms: r2(percentile(xs, 0.99)),
  mean_ms: r2(xs.reduce((s, x) => s + x, 0) / xs.length),
});

const stack = await startStack();
const dir = tempDir();
const c = await startCoordinator(
  { MEMORY_CORE_URL: stack.core.url, ORCHESTRATOR_URL: stack.orch.url },
  { dir },
);
try {
  const post = async (body: unknown) => {
    const res = await fetch(`${c.url}/v1/turns`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { session_id: string; skill: string; timings: Record<string, number> };
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };
  const first = await post({ user_id: 'bench', text: 'Remember that my sister is called Ana.' });
  const session = first.session_id;
  const all: number[] = [];
  const bySkill: Record<string, number[]> = {};
  const stages: Record<string, number[]> = {};
  for (let i = 0; i < WARMUP + N; i++) {
    const text = TURNS[i % TURNS.length] as string;
    const t = performance.now();
    const r = await post({ session_id: session, text });
    const ms = performance.now() - t;
    if (i < WARMUP) continue;
    all.push(ms);
    (bySkill[r.skill] ??= []).push(ms);
    for (const [k, v] of Object.entries(r.timings)) (stages[k] ??= []).push(v);
    // Keep the timer list short: cancel what "set a timer" made every few rounds.
    if (text.startsWith('Set a timer') && i % 40 === 5)
      await post({ session_id: session, text: 'cancel all timers' });
  }
  await c.coordinator.engine.idle();
  const out = {
    benchmark: 'assistant-text',
    transport: 'HTTP POST /v1/turns on loopback',
    session_store: 'PGlite (in-process PostgreSQL) on disk',
    long_term_memory: 'memory core + neural memory + orchestrator (real, in-process)',
    node: process.version,
    ...summary(all),
    target_p50_ms: 50,
    meets_target: percentile(all, 0.5) <= 50,
    by_skill: Object.fromEntries(Object.entries(bySkill).map(([k, v]) => [k, summary(v)])),
    stage_p50_ms: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, r2(percentile(v, 0.5))])),
    memory_writes: c.coordinator.engine.writer?.counts,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await c.stop();
  await stack.destroy();
  rmSync(dir, { recursive: true, force: true });
}
