// HTTP throughput and latency of the neural memory service at its default model sizes (768 → 128 keys, MLP
// 128→512→768), in-process on a free loopback port:
//   update_memory and retrieve on one namespace (serialised) and spread over several namespaces, with --concurrency
//   requests in flight; then /save (snapshot size and time) and a restart's lazy restore of a namespace.
//
//   node --import tsx bench/neural-memory-http.ts [--n 2000] [--concurrency 16] [--namespaces 4]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, listen, stop, unitVector } from '@synthians/kit';
import { neuralMemoryService } from '../packages/neural-memory/src/service.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('n', 2000);
const CONCURRENCY = arg('concurrency', 16);
const NAMESPACES = arg('namespaces', 4);
const DIM = 768;

const vec = (seed: number): number[] => unitVector(seed, DIM);

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
};

async function start(dir: string) {
  const instance = await neuralMemoryService.create({
    env: { NM_AUTOSAVE_INTERVAL_MS: '0' },
    dataDir: dir,
    host: '127.0.0.1',
    port: 0,
    logger: createLogger('bench', 'warn'),
  });
  const { url } = await listen(instance);
  return { instance, url };
}

async function run(url: string, path: string, bodies: (i: number) => unknown) {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        const i = next++;
        const t = performance.now();
        const res = await fetch(url + path, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(bodies(i)),
        });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return {
    path,
    requests: N,
    per_s: Math.round(N / seconds),
    p50_ms: +percentile(latencies, 0.5).toFixed(2),
    p99_ms: +percentile(latencies, 0.99).toFixed(2),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'nm-bench-'));
try {
  const inputs = Array.from({ length: 256 }, (_, i) => vec(i + 1));
  let { instance, url } = await start(dir);
  const results = [];
  results.push({
    case: 'update, 1 namespace',
    ...(await run(url, '/update_memory', (i) => ({ input_embedding: inputs[i % 256] }))),
  });
  results.push({
    case: `update, ${NAMESPACES} namespaces`,
    ...(await run(url, '/update_memory', (i) => ({
      namespace: `ns${i % NAMESPACES}`,
      input_embedding: inputs[i % 256],
    }))),
  });
  results.push({
    case: 'retrieve, 1 namespace',
    ...(await run(url, '/retrieve', (i) => ({ input_embedding: inputs[i % 256] }))),
  });
  let t = performance.now();
  const saved = (await (
    await fetch(`${url}/save`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    })
  ).json()) as { bytes: number };
  const saveMs = performance.now() - t;
  await stop(instance);
  ({ instance, url } = await start(dir));
  t = performance.now();
  await fetch(`${url}/retrieve`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input_embedding: inputs[0] }),
  });
  const restoreMs = performance.now() - t;
  await stop(instance);
  console.table(results);
  console.log(
    JSON.stringify({
      snapshot_bytes: saved.bytes,
      save_ms: +saveMs.toFixed(1),
      lazy_restore_and_first_retrieve_ms: +restoreMs.toFixed(1),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
