// Ingest rate over HTTP with client-supplied embeddings, against a real memory core (child process, fresh store):
//   (a) batched: POST /v1/memories/batch, --batch-size memories per request, --batch-concurrency requests in flight;
//   (b) single:  POST /v1/memories, --single-concurrency requests in flight.
// Every request body is serialised before the clock starts. Prints one JSON object on stdout (logs on stderr).
//
//   npm run bench:ingest -- [--batch-n 20000] [--batch-size 1000] [--batch-concurrency 2]
//                           [--single-n 10000] [--single-concurrency 32] [--server-env MEMORY_SYNC=normal,...]
// (each flag also reads BENCH_<FLAG> from the environment, e.g. BENCH_BATCH_N=5000).
import { expectStatus, getJson, request, runPool, closeAgents } from './lib/http.ts';
import {
  type Encoding,
  SyntheticData,
  mb,
  removeDir,
  serverEnvFromFlags,
  serverSettings,
  startServer,
  type Server,
} from './lib/server.ts';
import {
  cpuMeter,
  flag,
  intFlag,
  latencySummary,
  log,
  machine,
  emit,
  ownCpu,
  round,
  target,
  waitForQuiet,
} from './lib/util.ts';

const batchN = intFlag('batch-n', 20_000);
const batchSize = intFlag('batch-size', 1000);
const batchConcurrency = intFlag('batch-concurrency', 2);
const singleN = intFlag('single-n', 10_000);
const singleConcurrency = intFlag('single-concurrency', 32);
const serverEnv = serverEnvFromFlags(flag('server-env'));

const data = new SyntheticData();

interface Phase {
  memories: number;
  requests: number;
  wallMs: number;
  latencies: number[];
  cpu: ReturnType<ReturnType<typeof cpuMeter>>;
  quiet: Awaited<ReturnType<typeof waitForQuiet>>;
}

async function timed(
  server: Server,
  count: number,
  concurrency: number,
  send: (i: number) => Promise<{ ms: number }>,
): Promise<Omit<Phase, 'memories'>> {
  const quiet = await waitForQuiet(ownCpu(server));
  const meter = cpuMeter(() => server.cpuMs());
  const { results, wallMs } = await runPool(count, concurrency, send);
  return { requests: count, wallMs, latencies: results.map((r) => r.ms), cpu: meter(), quiet };
}

function report(p: Phase, goal: number): Record<string, unknown> {
  const rate = p.memories / (p.wallMs / 1000);
  return {
    memories: p.memories,
    requests: p.requests,
    wall_s: round(p.wallMs / 1000, 3),
    memories_per_s: target(Math.round(rate), '>=', goal, 'memories/s'),
    request_latency: latencySummary(p.latencies),
    // Client and server share the machine's cores: where the CPU time went during the timed phase
    // (other_cpu_s: processes that are not part of the benchmark).
    cpu: { ...p.cpu, server_cpu_utilisation: round(p.cpu.server_cpu_s / p.cpu.wall_s, 2) },
    machine_before: p.quiet,
  };
}

async function batched(encoding: Encoding): Promise<Record<string, unknown>> {
  log(`batched: generating and serialising ${batchN} memories`);
  const chunk = data.memories(0, batchN);
  const bodies: Buffer[] = [];
  for (let from = 0; from < batchN; from += batchSize)
    bodies.push(data.batchBody(chunk, from, Math.min(batchN, from + batchSize), 'm', encoding));
  const warm = data.memories(50_000_000, 100);
  const warmBody = data.batchBody(warm, 0, warm.count, 'w');
  const server = await startServer({ env: serverEnv });
  try {
    expectStatus(await request(server.url, 'POST', '/v1/memories/batch', warmBody), 201, 'warm-up batch');
    log(
      `batched: ${bodies.length} requests of ≤${batchSize} (${mb(bodies[0]!.length)} MB each), ${batchConcurrency} in flight`,
    );
    const phase = await timed(server, bodies.length, batchConcurrency, async (i) => {
      const r = await request(server.url, 'POST', '/v1/memories/batch', bodies[i], {
        sockets: batchConcurrency,
      });
      expectStatus(r, 201, `batch ${i}`);
      return r;
    });
    const stats = (await getJson(server.url, '/v1/stats')).json;
    const rss = server.rssBytes();
    const stopped = await server.stop();
    const out = report({ ...phase, memories: batchN }, 5000);
    log(`batched: ${JSON.stringify(out.memories_per_s)}`);
    return {
      ...out,
      embedding_encoding: encoding,
      batch_size: batchSize,
      in_flight: batchConcurrency,
      body_mb_per_request: mb(bodies[0]!.length),
      warm_up: 'one batch of 100 memories before timing (not counted)',
      store_after: {
        memory_count: stats.memory_count,
        index_size: stats.index_size,
        assembly_count: stats.assembly_count,
        snapshot_seq: stats.snapshot_seq,
      },
      server_rss_mb_after: mb(rss),
      shutdown_ms: Math.round(stopped.ms),
      settings: serverSettings(server),
    };
  } finally {
    await server.stop().catch(() => undefined);
    removeDir(server.dir);
  }
}

async function single(encoding: Encoding): Promise<Record<string, unknown>> {
  log(`single: generating and serialising ${singleN} memories`);
  const chunk = data.memories(0, singleN);
  const bodies: Buffer[] = [];
  for (let n = 0; n < singleN; n++) bodies.push(data.memoryBody(chunk, n, 'm', encoding));
  const warm = data.memories(50_000_000, 200);
  const server = await startServer({ env: serverEnv });
  try {
    await runPool(warm.count, singleConcurrency, async (n) => {
      expectStatus(
        await request(server.url, 'POST', '/v1/memories', data.memoryBody(warm, n, 'w'), {
          sockets: singleConcurrency,
        }),
        201,
        'warm-up',
      );
    });
    log(`single: ${singleN} requests, ${singleConcurrency} in flight`);
    const phase = await timed(server, singleN, singleConcurrency, async (i) => {
      const r = await request(server.url, 'POST', '/v1/memories', bodies[i], { sockets: singleConcurrency });
      expectStatus(r, 201, `memory ${i}`);
      return r;
    });
    const stats = (await getJson(server.url, '/v1/stats')).json;
    const rss = server.rssBytes();
    const stopped = await server.stop();
    const out = report({ ...phase, memories: singleN }, 1500);
    log(`single: ${JSON.stringify(out.memories_per_s)}`);
    return {
      ...out,
      embedding_encoding: encoding,
      in_flight: singleConcurrency,
      body_kb_per_request: round(bodies[0]!.length / 1024, 1),
      warm_up: '200 single requests before timing (not counted)',
      store_after: {
        memory_count: stats.memory_count,
        index_size: stats.index_size,
        assembly_count: stats.assembly_count,
        snapshot_seq: stats.snapshot_seq,
      },
      server_rss_mb_after: mb(rss),
      shutdown_ms: Math.round(stopped.ms),
      settings: serverSettings(server),
    };
  } finally {
    await server.stop().catch(() => undefined);
    removeDir(server.dir);
  }
}

const started = Date.now();
const result: Record<string, unknown> = {
  benchmark: 'ingest',
  machine: machine(),
  data: data.describe(),
  note: 'client and server share the machine; a fresh store (temporary directory) per mode; ids are client-supplied',
};
// Embeddings as JSON numbers (`embedding`) and as base64 float32 (`embedding_b64`, the compact form the API accepts).
if (batchN > 0) result.batched = await batched('json');
if (batchN > 0) result.batched_b64 = await batched('b64');
if (singleN > 0) result.single = await single('json');
if (singleN > 0) result.single_b64 = await single('b64');
result.total_s = round((Date.now() - started) / 1000, 1);
closeAgents();
emit(result);
