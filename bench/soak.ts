// Soak: `synthians up` (every service in one process, as `npm start` runs it) under 100 connections for 60 s on
// text turns (POST /v1/turns, conversational: each writes two long-term memories) and then on memory search
// (POST /v1/search on the memory core); then RSS after the load stops, and a kill -9 of the whole process tree in the
// middle of a last burst of turns. After the restart: every long-term memory write that a turn acknowledged
// (`long_term_memory: "queued"`) must reach the memory core, and every memory the core acknowledged (201) must be
// there.
//
// Conversational turns need a language model: an OpenAI-compatible stand-in on loopback (the tests' LLM double,
// streaming a fixed reply) plays it, so the figures are the assistant's own costs, not a model's.
//
//   node --import tsx bench/soak.ts [--connections 100] [--seconds 60] [--settle-s 30] [--burst-s 3]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLlmDouble } from '../packages/assistant/src/llm/test-double.ts';
import { closeAgents, request, runPool } from './lib/http.ts';
import { memoryOf, processTree } from './lib/proc.ts';
import { repoRoot } from './lib/server.ts';
import { emit, intFlag, latencySummary, log, machine, round, sleep } from './lib/util.ts';

const connections = intFlag('connections', 100);
const seconds = intFlag('seconds', 60);
const settleS = intFlag('settle-s', 30);
const burstS = intFlag('burst-s', 3);
const COORDINATOR = 'http://127.0.0.1:8080';
const CORE = 'http://127.0.0.1:5010';
const TIMEOUT_MS = 10_000;

interface Up {
  child: ChildProcess;
  readyS: number;
}

async function up(dataDir: string, llmUrl: string): Promise<Up> {
  const started = Date.now();
  const child = spawn(process.execPath, [join(repoRoot, 'packages/synthians/bin/synthians.js'), 'up'], {
    env: { ...process.env, SYNTHIANS_DATA_DIR: dataDir, LOG_LEVEL: 'warn', LLM_BASE_URL: llmUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  while (!out.includes('Press Ctrl+C')) {
    if (child.exitCode !== null) throw new Error(`synthians up exited with ${child.exitCode}`);
    if (Date.now() - started > 180_000) throw new Error('synthians up did not start within 180 s');
    await sleep(100);
  }
  return { child, readyS: round((Date.now() - started) / 1000, 1) };
}

interface Phase {
  requests: number;
  ok: number;
  by_status: Record<string, number>;
  latencies: number[];
  acknowledged: string[];
  /** When (s into the phase) requests failed by timeout or connection error: the first ten. */
  failed_at_s: number[];
}

/** `connections` clients sending back to back until `untilMs` (or `stop()` says so). */
async function load(
  untilMs: number,
  send: (i: number) => Promise<{ status: number; ms: number; ack?: string }>,
): Promise<Phase> {
  const phase: Phase = {
    requests: 0,
    ok: 0,
    by_status: {},
    latencies: [],
    acknowledged: [],
    failed_at_s: [],
  };
  const startedMs = Date.now();
  let n = 0;
  const worker = async () => {
    while (Date.now() < untilMs) {
      const i = n++;
      let r: { status: number; ms: number; ack?: string };
      try {
        r = await send(i);
      } catch (err) {
        const kind = /timed out/.test(String(err)) ? 'timeout' : 'connection_error';
        phase.by_status[kind] = (phase.by_status[kind] ?? 0) + 1;
        phase.requests++;
        if (phase.failed_at_s.length < 10) phase.failed_at_s.push(round((Date.now() - startedMs) / 1000, 1));
        if (kind === 'connection_error') await sleep(50);
        continue;
      }
      phase.requests++;
      phase.by_status[r.status] = (phase.by_status[r.status] ?? 0) + 1;
      if (r.status >= 200 && r.status < 300) {
        phase.ok++;
        phase.latencies.push(r.ms);
      } else if (r.status === 503 || r.status === 429) await sleep(200);
      if (r.ack) phase.acknowledged.push(r.ack);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  return phase;
}

const turn = (tag: string) => async (i: number) => {
  const body = JSON.stringify({
    user_id: 'soak',
    text: `Soak ${tag} note ${i}: my colleague number ${i} likes tea.`,
  });
  const r = await request(COORDINATOR, 'POST', '/v1/turns', body, {
    sockets: connections,
    timeoutMs: TIMEOUT_MS,
  });
  let ack: string | undefined;
  if (r.status === 200) {
    const b = JSON.parse(r.body.toString()) as { turn_id: string; long_term_memory?: string };
    if (b.long_term_memory === 'queued') ack = b.turn_id;
  }
  return { status: r.status, ms: r.ms, ...(ack ? { ack } : {}) };
};

const words = ['tea', 'colleague', 'number', 'likes', 'soak', 'note', 'Basel', 'train'];
const search = async (i: number) => {
  // Every 20th request writes a memory directly (acknowledged by 201), the rest search.
  if (i % 20 === 0) {
    const id = `soak.direct.${i}.${Date.now()}`;
    const r = await request(
      CORE,
      'POST',
      '/v1/memories',
      JSON.stringify({ id, content: `Direct soak memory ${i} about ${words[i % words.length]}` }),
      { sockets: connections, timeoutMs: TIMEOUT_MS },
    );
    return { status: r.status, ms: r.ms, ...(r.status === 201 ? { ack: id } : {}) };
  }
  const r = await request(
    CORE,
    'POST',
    '/v1/search',
    JSON.stringify({ query: `${words[i % words.length]} ${words[(i * 7) % words.length]}`, top_k: 10 }),
    { sockets: connections, timeoutMs: TIMEOUT_MS },
  );
  return { status: r.status, ms: r.ms };
};

const summary = (p: Phase, s: number) => ({
  requests: p.requests,
  requests_per_s: round(p.requests / s, 1),
  ok_per_s: round(p.ok / s, 1),
  by_status: p.by_status,
  errors: p.requests - p.ok,
  failed_at_s: p.failed_at_s,
  ...latencySummary(p.latencies),
});

/** The process's V8 heap and memory outside it (one process runs every service), from the coordinator's /metrics. */
async function heap(): Promise<Record<string, number>> {
  const r = await request(COORDINATOR, 'GET', '/metrics', undefined, { timeoutMs: 5000 });
  const text = r.body.toString();
  const mbOf = (name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    return m ? Math.round(Number(m[1]) / 2 ** 20) : NaN;
  };
  return {
    heap_used_mb: mbOf('nodejs_heap_size_used_bytes'),
    heap_total_mb: mbOf('nodejs_heap_size_total_bytes'),
    external_mb: mbOf('nodejs_external_memory_bytes'),
  };
}

async function outbox(): Promise<number | undefined> {
  try {
    const r = await request(COORDINATOR, 'GET', '/health', undefined, { timeoutMs: 2000 });
    return (JSON.parse(r.body.toString()) as { memory_outbox?: { backlog: number } }).memory_outbox?.backlog;
  } catch {
    return undefined;
  }
}

async function present(ids: string[]): Promise<{ present: number; missing: string[] }> {
  const { results } = await runPool(ids.length, 16, async (i) => {
    const r = await request(CORE, 'GET', `/v1/memories/${encodeURIComponent(ids[i]!)}`, undefined, {
      sockets: 16,
    });
    return r.status === 200;
  });
  const missing = ids.filter((_, i) => !results[i]);
  return { present: ids.length - missing.length, missing: missing.slice(0, 10) };
}

const llm = await startLlmDouble();
const dir = mkdtempSync(join(tmpdir(), 'synthians-soak-'));
let current: ChildProcess | undefined;
try {
  const first = await up(dir, llm.url);
  current = first.child;
  log(`up in ${first.readyS} s; settling 5 s`);
  await sleep(5000);
  const rssStart = memoryOf(first.child.pid!);
  const heapStart = await heap();
  let peak = rssStart.rss_mb;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, memoryOf(first.child.pid!).rss_mb);
    } catch {
      /* exiting */
    }
  }, 1000);

  log(`turns: ${connections} connections for ${seconds} s`);
  const turns = await load(Date.now() + seconds * 1000, turn('load'));
  const backlogAfterTurns = await outbox();
  log(`search: ${connections} connections for ${seconds} s`);
  const searches = await load(Date.now() + seconds * 1000, search);
  log(`load stopped; settling ${settleS} s`);
  const drainStarted = Date.now();
  let drainedS: number | undefined;
  while (Date.now() - drainStarted < settleS * 1000) {
    if (drainedS === undefined && (await outbox()) === 0)
      drainedS = round((Date.now() - drainStarted) / 1000, 1);
    await sleep(500);
  }
  clearInterval(sampler);
  const rssAfter = memoryOf(first.child.pid!);
  const heapAfter = await heap();

  log(`kill -9 during a ${burstS} s burst of turns`);
  const tree = processTree(first.child.pid!);
  const burstDone = load(Date.now() + burstS * 1000, turn('burst'));
  await sleep(Math.round((burstS * 1000) / 2));
  const backlogAtKill = await outbox();
  for (const pid of tree) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const burst = await burstDone;
  closeAgents();

  const second = await up(dir, llm.url);
  current = second.child;
  log(`restarted in ${second.readyS} s; waiting for the outbox to drain`);
  const restartAt = Date.now();
  while ((await outbox()) !== 0 && Date.now() - restartAt < 120_000) await sleep(500);
  const drainAfterRestartS = round((Date.now() - restartAt) / 1000, 1);
  const turnIds = [...turns.acknowledged, ...burst.acknowledged].flatMap((id) => [
    `turn.${id}.user`,
    `turn.${id}.assistant`,
  ]);
  const turnWrites = await present(turnIds);
  const directWrites = await present(searches.acknowledged);
  const lost = turnIds.length - turnWrites.present + (searches.acknowledged.length - directWrites.present);
  second.child.kill('SIGTERM');
  await new Promise((r) => second.child.once('exit', r));
  current = undefined;

  const growth = round((rssAfter.rss_mb / rssStart.rss_mb - 1) * 100, 1);
  emit({
    benchmark: 'soak',
    machine: machine(),
    connections,
    seconds_per_phase: seconds,
    language_model: 'OpenAI-compatible stand-in on loopback (fixed streamed reply)',
    ready_s: first.readyS,
    turns: { ...summary(turns, seconds), memory_outbox_backlog_after: backlogAfterTurns },
    search: summary(searches, seconds),
    memory_outbox_drained_after_s: drainedS ?? null,
    kill: {
      burst: summary(burst, burstS),
      memory_outbox_backlog_at_kill: backlogAtKill ?? null,
      restart_ready_s: second.readyS,
      drained_after_restart_s: drainAfterRestartS,
    },
    memory_writes: {
      turn_writes_acknowledged: turnIds.length,
      turn_writes_present: turnWrites.present,
      direct_writes_acknowledged: searches.acknowledged.length,
      direct_writes_present: directWrites.present,
      lost,
      missing_examples: [...turnWrites.missing, ...directWrites.missing],
    },
    rss_mb: { start: rssStart.rss_mb, peak, after_settle: rssAfter.rss_mb, growth_percent: growth },
    heap: { start: heapStart, after_settle: heapAfter },
    targets: {
      lost: { value: lost, target: '= 0', met: lost === 0 },
      rss_growth: { value: growth, target: '<= 20 %', met: growth <= 20 },
    },
  });
} finally {
  if (current && current.exitCode === null) {
    for (const pid of processTree(current.pid!)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  await llm.close();
  rmSync(dir, { recursive: true, force: true });
}
