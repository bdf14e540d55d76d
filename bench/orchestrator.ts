// Latency of one orchestrator cycle (store → nm config/update → boost → retrieve/predict → related recall) with a real
// memory core (768 dims) and a real neural memory (default sizes: 768 → 128 keys, MLP 128→512→768), all in this
// process on loopback: once calling the engine directly ("in_process"), once over HTTP to the orchestrator.
// Prints one JSON object.
//
//   node --import tsx bench/orchestrator.ts [--n 300] [--namespaces 4]
import { createLogger } from '@synthians/kit';
import { startCore } from '../packages/memory-core/src/test-support.ts';
import { startNm } from '../packages/neural-memory/src/service-test-support.ts';
import { MemoryCoreClient, NeuralMemoryClient } from '../packages/orchestrator/src/clients.ts';
import { loadOrchestratorConfig } from '../packages/orchestrator/src/config.ts';
import { CascadeEngine } from '../packages/orchestrator/src/engine.ts';
import { startOrchestrator } from '../packages/orchestrator/src/test-support.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('n', 300);
const NAMESPACES = arg('namespaces', 4);
const WARMUP = 20;

const words = 'garden boiler meeting roses train daughter birthday invoice lamp river coffee piano'.split(
  ' ',
);
const text = (i: number) =>
  `note ${i}: ${words[i % words.length]} and ${words[(i * 7) % words.length]} on day ${i % 31}`;

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
};
const summary = (xs: number[]) => ({
  cycles: xs.length,
  p50_ms: Math.round(percentile(xs, 0.5) * 100) / 100,
  p99_ms: Math.round(percentile(xs, 0.99) * 100) / 100,
  mean_ms: Math.round((xs.reduce((s, x) => s + x, 0) / xs.length) * 100) / 100,
});

async function measure(run: (i: number) => Promise<{ status: string }>, offset: number) {
  const latencies: number[] = [];
  let degraded = 0;
  for (let i = 0; i < WARMUP + N; i++) {
    const t = performance.now();
    const r = await run(offset + i);
    if (i >= WARMUP) latencies.push(performance.now() - t);
    if (r.status !== 'success') degraded++;
  }
  return { ...summary(latencies), degraded };
}

const core = await startCore({ EMBEDDING_DIM: '768' });
const nm = await startNm({
  NM_INPUT_DIM: '768',
  NM_KEY_DIM: '128',
  NM_VALUE_DIM: '768',
  NM_HIDDEN_DIMS: '512',
});
const env = { MEMORY_CORE_URL: core.url, NEURAL_MEMORY_URL: nm.url };
try {
  const config = loadOrchestratorConfig(env);
  const logger = createLogger('bench', 'warn');
  const engine = new CascadeEngine({
    core: new MemoryCoreClient(config.MEMORY_CORE_URL, { timeoutMs: 5000, logger }),
    nm: new NeuralMemoryClient(config.NEURAL_MEMORY_URL, { timeoutMs: 5000 }),
    config,
    logger,
  });
  const inProcess = await measure(
    (i) => engine.process({ content: text(i), namespace: `bench-${i % NAMESPACES}` }),
    0,
  );
  const orch = await startOrchestrator(env);
  let http;
  try {
    http = await measure(async (i) => {
      const r = await orch.request('POST', '/process_memory', {
        content: text(i),
        namespace: `bench-${i % NAMESPACES}`,
      });
      if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${JSON.stringify(r.body)}`);
      return r.body as { status: string };
    }, 100_000);
  } finally {
    await orch.stop();
  }
  console.log(
    JSON.stringify({
      bench: 'orchestrator',
      node: process.version,
      embedding_dim: 768,
      namespaces: NAMESPACES,
      related_top_k: config.RELATED_TOP_K,
      variant: config.DEFAULT_VARIANT,
      in_process: inProcess,
      http,
      target_http_p50_ms: 15,
      http_p50_within_target: http.p50_ms <= 15,
    }),
  );
} finally {
  await nm.destroy();
  await core.destroy();
}
