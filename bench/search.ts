// Search latency and recall over HTTP against a real memory core (child process):
// loads synthetic memories by batch ingest up to each size (incrementally, one store), then runs queries one at a
// time (sequential, one in flight): POST /v1/search {embedding, mode:'vector', top_k:10, track_access:false}.
// Reports client-side p50/p99 latency and recall@10 against the exact (brute-force cosine) top-10.
//
// Recall (the target) is measured with `rank_by: 'similarity'`, i.e. the order of the retrieval itself. The API's default
// order is *relevance* (similarity fused with QuickRecal, recency, …), which deliberately departs from the cosine order;
// its recall against the cosine top-10 is reported too, for information.
//
//   npm run bench:search -- [--sizes 10000,100000] [--queries 200] [--warmup 20] [--no-hybrid]
//                           [--no-similarity-only] [--server-env K=V,...]
import { expectStatus, getJson, request, closeAgents } from './lib/http.ts';
import { loadMemories } from './lib/load.ts';
import {
  SyntheticData,
  groundTruth,
  mb,
  removeDir,
  serverEnvFromFlags,
  serverSettings,
  startServer,
  tempDir,
  type Server,
} from './lib/server.ts';
import {
  boolFlag,
  cpuMeter,
  flag,
  intFlag,
  latencySummary,
  listFlag,
  log,
  machine,
  emit,
  ownCpu,
  round,
  sleep,
  target,
  waitForQuiet,
} from './lib/util.ts';

const sizes = [...new Set(listFlag('sizes', [10_000, 100_000]))].sort((a, b) => a - b);
const queryCount = intFlag('queries', 200);
const warmupCount = intFlag('warmup', 20);
const k = 10;
const withHybrid = !boolFlag('no-hybrid');
const withSimilarityOnly = !boolFlag('no-similarity-only');
const serverEnv = serverEnvFromFlags(flag('server-env'));
const ingestBatch = 1000;
const ingestInFlight = 2;

const started = Date.now();
const data = new SyntheticData();
const maxSize = sizes[sizes.length - 1]!;
log(
  `ground truth for sizes ${sizes.join(', ')} and ${queryCount} queries (cached under /tmp after the first run)`,
);
const gt = groundTruth(data, sizes, queryCount, k);
log(`ground truth: ${gt.cached ? 'from cache' : `computed in ${gt.computeMs} ms`} (${gt.cacheFile})`);

// Request bodies, serialised before any timing.
const queries = data.queries(0, queryCount);
const warm = data.queries(queryCount, warmupCount);
const vectorBody = (c: typeof queries, n: number) =>
  `{"embedding":${data.vectorJson(c.raw, n)},"mode":"vector","top_k":${k},"rank_by":"similarity","track_access":false}`;
const relevanceBody = (c: typeof queries, n: number) =>
  `{"embedding":${data.vectorJson(c.raw, n)},"mode":"vector","top_k":${k},"track_access":false}`;
const relevanceBodies = Array.from({ length: queryCount }, (_, n) => Buffer.from(relevanceBody(queries, n)));
const hybridBody = (c: typeof queries, n: number) =>
  `{"query":${JSON.stringify(c.texts[n])},"embedding":${data.vectorJson(c.raw, n)},"mode":"hybrid","top_k":${k},"track_access":false}`;
const vectorBodies = Array.from({ length: queryCount }, (_, n) => Buffer.from(vectorBody(queries, n)));
const warmVectorBodies = Array.from({ length: warmupCount }, (_, n) => Buffer.from(vectorBody(warm, n)));
const hybridBodies = Array.from({ length: queryCount }, (_, n) => Buffer.from(hybridBody(queries, n)));
const warmHybridBodies = Array.from({ length: warmupCount }, (_, n) => Buffer.from(hybridBody(warm, n)));
const lexicalBody = (c: typeof queries, n: number) =>
  `{"query":${JSON.stringify(c.texts[n])},"mode":"lexical","top_k":${k},"track_access":false}`;
const lexicalBodies = Array.from({ length: queryCount }, (_, n) => Buffer.from(lexicalBody(queries, n)));
const warmLexicalBodies = Array.from({ length: warmupCount }, (_, n) => Buffer.from(lexicalBody(warm, n)));
const memoryClusters = new Uint16Array(maxSize);

interface SearchAnswer {
  took_ms: number;
  results: { id: string; similarity: number }[];
}

async function runQueries(server: Server, bodies: Buffer[], warmBodies: Buffer[]) {
  for (const b of warmBodies)
    expectStatus(await request(server.url, 'POST', '/v1/search', b), 200, 'warm-up search');
  const latencies: number[] = [];
  const serverMs: number[] = [];
  const answers: SearchAnswer[] = [];
  const quiet = await waitForQuiet(ownCpu(server));
  const meter = cpuMeter(() => server.cpuMs());
  for (const b of bodies) {
    const r = await request(server.url, 'POST', '/v1/search', b);
    expectStatus(r, 200, 'search');
    latencies.push(r.ms);
    const answer = JSON.parse(r.body.toString('utf8')) as SearchAnswer;
    serverMs.push(answer.took_ms);
    answers.push(answer);
  }
  return { latencies, serverMs, answers, cpu: { ...meter(), machine_before: quiet } };
}

function recallAt(size: number, answers: SearchAnswer[]): { recall: number; perfect: number; worst: number } {
  const truth = gt.bySize.get(size)!;
  let sum = 0;
  let perfect = 0;
  let worst = 1;
  answers.forEach((a, qi) => {
    const want = new Set(Array.from(truth.subarray(qi * k, qi * k + k)));
    let hit = 0;
    for (const r of a.results.slice(0, k)) if (want.has(Number(r.id.slice(1)))) hit++;
    const rec = hit / k;
    sum += rec;
    if (rec === 1) perfect++;
    worst = Math.min(worst, rec);
  });
  return { recall: round(sum / answers.length, 4), perfect, worst };
}

/** Fraction of the exact top-10 that lie in the query's own cluster (describes the data, not the server). */
function inCluster(size: number): number {
  const truth = gt.bySize.get(size)!;
  let n = 0;
  for (let qi = 0; qi < queryCount; qi++)
    for (let j = 0; j < k; j++) if (memoryClusters[truth[qi * k + j]!] === queries.clusters[qi]) n++;
  return round(n / (queryCount * k), 4);
}

const dir = tempDir();
const server = await startServer({ dir, env: serverEnv });
const settings = serverSettings(server);
let loaded = 0;
const results: Record<string, unknown>[] = [];
const loads: Record<string, unknown>[] = [];
try {
  for (const size of sizes) {
    // ---- load up to `size` ----
    const load = await loadMemories(server, data, loaded, size, {
      batch: ingestBatch,
      inFlight: ingestInFlight,
      onChunk: (start, clusters) => memoryClusters.set(clusters, start),
    });
    loads.push({
      from: loaded,
      to: size,
      ...load,
      note: `batch ingest, ${ingestBatch} per request, ${ingestInFlight} in flight; the client generates and serialises each batch while others are in flight (see bench:ingest for the clean ingest figure)`,
    });
    loaded = size;
    const stats = (await getJson(server.url, '/v1/stats')).json;
    if (stats.memory_count !== size || stats.index_size !== size)
      throw new Error(`after loading: ${JSON.stringify(stats)}`);
    await sleep(500);

    // ---- vector search, default configuration ----
    log(`size ${size}: ${queryCount} vector queries (+${warmupCount} warm-up), one in flight`);
    const vec = await runQueries(server, vectorBodies, warmVectorBodies);
    const lat = latencySummary(vec.latencies);
    const rec = recallAt(size, vec.answers);
    const entry: Record<string, unknown> = {
      memories: size,
      queries: queryCount,
      vector: {
        latency_client: lat,
        latency_server_took_ms: latencySummary(vec.serverMs),
        recall_at_10: rec.recall,
        queries_with_recall_1: rec.perfect,
        worst_query_recall: rec.worst,
        cpu: vec.cpu,
      },
      server_rss_mb: mb(server.rssBytes()),
      exact_top10_in_query_cluster: inCluster(size),
    };
    log(`size ${size}: vector p50 ${lat.p50_ms} ms, p99 ${lat.p99_ms} ms, recall@10 ${rec.recall}`);

    // ---- hybrid search ----
    if (withHybrid) {
      const hyb = await runQueries(server, hybridBodies, warmHybridBodies);
      entry.hybrid = {
        query_text_example: queries.texts[0],
        latency_client: latencySummary(hyb.latencies),
        latency_server_took_ms: latencySummary(hyb.serverMs),
        recall_at_10_vs_cosine: recallAt(size, hyb.answers).recall,
        cpu: hyb.cpu,
        note: 'query text (2 topic words + 1 common word) and the embedding; recall against the cosine top-10 is for information only',
      };
      // The lexical half alone (BM25 over the same texts), to split the hybrid cost.
      const lex = await runQueries(server, lexicalBodies, warmLexicalBodies);
      entry.lexical = {
        latency_client: latencySummary(lex.latencies),
        latency_server_took_ms: latencySummary(lex.serverMs),
        cpu: lex.cpu,
      };
      log(
        `size ${size}: hybrid p50 ${(entry.hybrid as { latency_client: { p50_ms: number } }).latency_client.p50_ms} ms`,
      );
    }

    // ---- the API's default order (relevance), for information ----
    if (withSimilarityOnly) {
      const relv = await runQueries(server, relevanceBodies, warmVectorBodies);
      entry.vector_relevance_ranked = {
        latency_client: latencySummary(relv.latencies),
        recall_at_10_vs_cosine: recallAt(size, relv.answers).recall,
        note: 'default rank_by=relevance: similarity fused with QuickRecal, recency, assemblies, emotion',
      };
    }

    const p50 = lat.p50_ms;
    const p99 = lat.p99_ms;
    entry.targets =
      size >= 100_000
        ? {
            applies: true,
            p50_ms: target(p50, '<=', 10, 'ms'),
            p99_ms: target(p99, '<=', 30, 'ms'),
            recall_at_10: target(rec.recall, '>=', 0.95, ''),
          }
        : {
            applies: false,
            note: 'the targets (p50 ≤ 10 ms, p99 ≤ 30 ms, recall@10 ≥ 0.95) are set for 100k memories',
          };
    results.push(entry);
  }
} finally {
  await server.stop().catch(() => undefined);
  removeDir(dir);
  closeAgents();
}

emit({
  benchmark: 'search',
  machine: machine(),
  data: data.describe(),
  ground_truth: {
    method: 'brute-force cosine over the stored vectors (float32, renormalised after rounding)',
    k,
    queries: queryCount,
    cached: gt.cached,
    compute_ms: gt.computeMs,
  },
  method: {
    request: `POST /v1/search {embedding, mode:'vector', top_k:${k}, rank_by:'similarity', track_access:false}, bodies serialised beforehand`,
    concurrency: 'sequential, one request in flight, keep-alive connection',
    warm_up: `${warmupCount} other queries before each measured series`,
    latency:
      'client-side, from writing the request to the last response byte; latency_server_took_ms is the handler-measured took_ms',
  },
  settings,
  loads,
  sizes: results,
  total_s: round((Date.now() - started) / 1000, 1),
});
