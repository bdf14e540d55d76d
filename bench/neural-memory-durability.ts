// What durability costs the neural memory service at its default sizes (768 → 128 keys, MLP 128→512→768), in
// process on a free loopback port (the update throughput itself, with its fsyncs, is bench/neural-memory-http.ts):
//   - the update log: bytes per logged update;
//   - recovery: a start-up after a crash with --n updates in the log (a crash image: the data directory copied
//     while the service runs, as kill -9 leaves it), i.e. snapshot load + replay + a new snapshot, against a start-up
//     on the same state with an empty log; the restored state must equal the live one.
//
//   node --import tsx bench/neural-memory-durability.ts [--n 5000]
import { cpSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, listen, stop, unitVector } from '@synthians/kit';
import { neuralMemoryService } from '../packages/neural-memory/src/service.ts';
import { emit, intFlag, log, machine, round } from './lib/util.ts';

const N = intFlag('n', 5000);
const DIM = 768;
const ENV = { NM_AUTOSAVE_INTERVAL_MS: '0', NM_SNAPSHOT_EVERY_UPDATES: String(N + 10) };

async function start(dir: string) {
  const t0 = performance.now();
  const instance = await neuralMemoryService.create({
    env: ENV,
    dataDir: dir,
    host: '127.0.0.1',
    port: 0,
    logger: createLogger('bench', 'warn'),
  });
  const { url } = await listen(instance); // listen() runs start(), which replays the logs
  return { instance, url, startMs: performance.now() - t0 };
}

async function post(url: string, path: string, body: unknown) {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

const dir = mkdtempSync(join(tmpdir(), 'nm-durability-bench-'));
try {
  const live = await start(join(dir, 'live'));
  const inputs = Array.from({ length: 256 }, (_, i) => unitVector(i + 1, DIM));
  await post(live.url, '/update_memory', { input_embedding: inputs[0] });
  await post(live.url, '/save', {}); // the snapshot the replay starts from
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < N) {
        const i = next++;
        await post(live.url, '/update_memory', { input_embedding: inputs[i % 256] });
      }
    }),
  );
  const writeS = (performance.now() - t0) / 1000;
  log(`${N} updates logged in ${round(writeS, 1)} s`);
  const probe = async (url: string) =>
    (await post(url, '/retrieve', { input_embedding: inputs[7] })).retrieved_embedding;
  const want = JSON.stringify(await probe(live.url));
  const logBytes = statSync(join(dir, 'live', 'neural-memory', 'default.wal')).size;
  cpSync(join(dir, 'live'), join(dir, 'crash'), { recursive: true });
  await stop(live.instance);

  const crashed = await start(join(dir, 'crash'));
  const restoredOk = JSON.stringify(await probe(crashed.url)) === want;
  await stop(crashed.instance);
  const clean = await start(join(dir, 'crash')); // same state, its log now empty
  await probe(clean.url);
  const cleanMs = clean.startMs;
  await stop(clean.instance);

  emit({
    bench: 'neural-memory-durability',
    machine: machine(),
    updates_logged: N,
    log: { bytes: logBytes, bytes_per_update: round(logBytes / N, 1) },
    recovery: {
      start_with_log_ms: round(crashed.startMs, 0),
      start_without_log_ms: round(cleanMs, 0),
      replay_updates_per_s: round(N / ((crashed.startMs - cleanMs) / 1000), 0),
      restored_state_equals_live: restoredOk,
    },
  });
  if (!restoredOk) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
