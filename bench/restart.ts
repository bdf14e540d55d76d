// Restart time of a real memory core holding --n memories (default 100k), one data directory throughout:
//   baseline  an empty store (process start, module loading, listen);
//   (a)       after a clean SIGTERM shutdown (the index snapshot is current);
//   (b)       after kill -9 shortly after a write burst of --bursts memories (the snapshot is older than the change
//             log: the index catches up from the log);
//   (c)       with the snapshot files deleted (vectors.usearch, vectors.json): a full rebuild from the store.
// Time to ready = spawning the process → GET /ready answering 200. The server runs with LOG_LEVEL=info so that its
// "vector index ready" line (with the recovery time) splits the total into boot / index recovery / listen.
// Also reports the resident memory (VmRSS) of the server after start.
//
//   npm run bench:restart -- [--n 100000] [--bursts 1000,<INDEX_SNAPSHOT_EVERY-1>] [--repeats 3] [--server-env K=V,...]
// The default bursts are a small one and the worst case: one change short of the next automatic snapshot.
import { rmSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expectStatus, getJson, request, closeAgents } from './lib/http.ts';
import { loadMemories } from './lib/load.ts';
import {
  SyntheticData,
  logLines,
  mb,
  removeDir,
  serverEnvFromFlags,
  serverSettings,
  startServer,
  tempDir,
  type Server,
} from './lib/server.ts';
import {
  flag,
  intFlag,
  listFlag,
  log,
  machine,
  emit,
  percentile,
  round,
  sleep,
  target,
  ownCpu,
  waitForQuiet,
} from './lib/util.ts';

const n = intFlag('n', 100_000);
const burstsFlag = listFlag('bursts', []);
const repeats = Math.max(1, intFlag('repeats', 3));
const serverEnv = { LOG_LEVEL: 'info', ...serverEnvFromFlags(flag('server-env')) };
const ingestBatch = 1000;
const ingestInFlight = 2;

const started = Date.now();
const data = new SyntheticData();
const probe = data.queries(0, 1);
const probeBody = `{"embedding":${data.vectorJson(probe.raw, 0)},"mode":"vector","top_k":10,"track_access":false}`;
let written = 0;

async function ingest(server: Server, count: number) {
  const report = await loadMemories(server, data, written, written + count, {
    batch: ingestBatch,
    inFlight: ingestInFlight,
  });
  written += count;
  return report;
}

/** Starts the server on `dir` and describes the start: total time to ready and its parts. */
async function timedStart(
  dir: string,
  label: string,
): Promise<{ server: Server; report: Record<string, unknown> }> {
  const quiet = await waitForQuiet(ownCpu());
  const server = await startServer({ dir, env: serverEnv });
  const rssReady = server.rssBytes();
  const ready = logLines(server, 'vector index ready')[0];
  const recoveryMs = typeof ready?.json?.ms === 'number' ? ready.json.ms : NaN;
  const warnings = server.lines
    .filter((l) => typeof l.json?.level === 'number' && (l.json.level as number) >= 40)
    .map((l) => l.json!.msg);
  // The first query after the start (cold), then the memory after it.
  const first = await request(server.url, 'POST', '/v1/search', probeBody);
  expectStatus(first, 200, 'first search');
  const stats = (await getJson(server.url, '/v1/stats')).json;
  const report: Record<string, unknown> = {
    ready_ms: Math.round(server.timings.readyMs),
    breakdown_ms: ready
      ? {
          process_start_to_index_recovery: Math.round(ready.at - recoveryMs),
          index_recovery: recoveryMs,
          after_recovery_to_listening: Math.round(server.timings.urlLineMs - ready.at),
          listening_to_ready_200: Math.round(server.timings.readyMs - server.timings.urlLineMs),
        }
      : 'no "vector index ready" log line',
    server_warnings: warnings,
    memory_count: stats.memory_count,
    index_size: stats.index_size,
    consistent: stats.memory_count === written && stats.index_size === written,
    first_search_ms: round(first.ms, 1),
    rss_mb_at_ready: mb(rssReady),
    rss_mb_after_first_search: mb(server.rssBytes()),
    peak_rss_mb: mb(server.peakRssBytes()),
    machine_before: quiet,
  };
  log(`${label}: ready in ${report.ready_ms} ms ${JSON.stringify(report.breakdown_ms)}`);
  if (!report.consistent)
    log(`${label}: store/index disagree with what was written (${written}): ${JSON.stringify(stats)}`);
  return { server, report };
}

function snapshotFiles(dir: string): Record<string, unknown> {
  const f = (name: string) => (existsSync(join(dir, name)) ? mb(statSync(join(dir, name)).size) : null);
  return {
    'memory.db_mb': f('memory.db'),
    'memory.db-wal_mb': f('memory.db-wal'),
    'vectors.usearch_mb': f('vectors.usearch'),
  };
}

const result: Record<string, unknown> = {
  benchmark: 'restart',
  machine: machine(),
  memories: n,
  data: 'bench/lib/data.ts defaults (see bench:search for the description)',
};

// ---- baseline: an empty store (twice: the first start after a while may find cold caches) ----
{
  const runs: Record<string, unknown>[] = [];
  for (let r = 0; r < 2; r++) {
    const empty = tempDir();
    const { server, report } = await timedStart(empty, `baseline (empty store) ${r + 1}/2`);
    await server.stop();
    removeDir(empty);
    runs.push(report);
  }
  result.baseline_empty_store = runs;
}

const dir = tempDir();
try {
  // ---- populate ----
  {
    const server = await startServer({ dir, env: serverEnv });
    result.settings = serverSettings(server);
    log(`storing ${n} memories`);
    const load = await ingest(server, n);
    const rss = server.rssBytes();
    const stopped = await server.stop();
    result.populate = {
      ...load,
      server_rss_mb_after_ingest: mb(rss),
      shutdown_ms: Math.round(stopped.ms),
      exit_code: stopped.code,
      files: snapshotFiles(dir),
    };
  }

  // ---- (a) clean shutdown, snapshot current ----
  const clean: Record<string, unknown>[] = [];
  for (let r = 0; r < repeats; r++) {
    const { server, report } = await timedStart(dir, `(a) clean restart ${r + 1}/${repeats}`);
    clean.push(report);
    await server.stop();
  }
  const cleanReady = clean.map((c) => c.ready_ms as number).sort((a, b) => a - b);
  const cleanMedian = percentile(cleanReady, 50);
  result.a_after_clean_shutdown = {
    runs: clean,
    median_ready_ms: cleanMedian,
    ready_target: target(cleanMedian, '<=', 3000, 'ms'),
  };

  // ---- (b) kill -9 after a write burst: catch-up from the change log ----
  const crashes: Record<string, unknown>[] = [];
  const snapshotEvery = (result.settings as { INDEX_SNAPSHOT_EVERY: number }).INDEX_SNAPSHOT_EVERY;
  const bursts = burstsFlag.length
    ? burstsFlag
    : [...new Set([Math.min(1000, snapshotEvery - 1), snapshotEvery - 1])];
  for (const burst of bursts) {
    const server = await startServer({ dir, env: serverEnv });
    const snapshotSeq = (await getJson(server.url, '/v1/stats')).json.snapshot_seq;
    log(`(b) burst of ${burst} memories, then kill -9`);
    const load = await ingest(server, burst);
    const atKill = (await getJson(server.url, '/v1/stats')).json as {
      head_seq: number;
      snapshot_seq: number;
    };
    const headSeq = atKill.head_seq;
    await sleep(50);
    await server.kill9();
    const { server: restarted, report } = await timedStart(dir, `(b) after kill -9 (burst ${burst})`);
    const stopped = await restarted.stop(); // writes a new snapshot (the caught-up changes)
    crashes.push({
      burst,
      burst_rate_memories_per_s: load.memories_per_s,
      snapshot_seq_before_burst: snapshotSeq,
      head_seq_at_kill: headSeq,
      snapshot_seq_at_kill: atKill.snapshot_seq,
      changes_to_catch_up: headSeq - atKill.snapshot_seq,
      killed_ms_after_last_write: 50,
      ...report,
      ready_target: target(report.ready_ms as number, '<=', 3000, 'ms'),
      shutdown_ms_after: Math.round(stopped.ms),
    });
  }
  result.b_after_kill9_catch_up = crashes;

  // ---- (c) snapshot deleted: full rebuild ----
  {
    rmSync(join(dir, 'vectors.usearch'), { force: true });
    rmSync(join(dir, 'vectors.json'), { force: true });
    const { server, report } = await timedStart(dir, '(c) snapshot deleted (rebuild)');
    const stopped = await server.stop();
    result.c_snapshot_deleted_rebuild = {
      ...report,
      note: 'reported only; the 3 s target applies to (a) and (b)',
      shutdown_ms_after: Math.round(stopped.ms),
    };
  }
  result.files_at_end = snapshotFiles(dir);
} finally {
  removeDir(dir);
  closeAgents();
}
result.targets_summary = {
  ready_ms_after_clean_shutdown: result.a_after_clean_shutdown
    ? (result.a_after_clean_shutdown as { ready_target: unknown }).ready_target
    : undefined,
  ready_ms_after_kill9: (
    result.b_after_kill9_catch_up as { burst: number; ready_target: unknown }[] | undefined
  )?.map((c) => ({ burst: c.burst, ...(c.ready_target as object) })),
};
result.total_s = round((Date.now() - started) / 1000, 1);
emit(result);
