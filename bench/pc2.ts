// Embedding throughput of the PC2 worker, with request batching versus without.
//
// The worker runs as its own process (`synthians serve pc2`); the load comes from this process: C concurrent
// callers, each sending one text per request (the memory core's ingest, the orchestrator, several coordinators),
// N requests in all. The same load runs against a worker with batching (BATCH_MAX_SIZE=64, BATCH_MAX_WAIT_MS=2,
// the defaults) and one without (BATCH_MAX_SIZE=1), and once as client-side batches of 64 texts per request for
// reference. Texts are LoCoMo dialogue turns (../shared/bench/locomo-dev) when present, else generated sentences.
//
//   npm run bench:pc2 [-- --model glove-sif-100d] [--n 4000] [--concurrency 16] [--models-dir DIR]
//
// --model names any model the worker can serve: glove-sif-100d (ONNX, built locally; the default), builtin, or a
// pulled one such as all-mpnet-base-v2 (`synthians models pull all-mpnet-base-v2`), where batching matters most.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { request, closeAgents } from './lib/http.ts';
import { repoRoot, tempDir, removeDir } from './lib/server.ts';
import { emit, flag, intFlag, latencySummary, log, machine, round } from './lib/util.ts';

const MODEL = flag('model') ?? 'glove-sif-100d';
const N = intFlag('n', 4000);
const C = intFlag('concurrency', 16);
const MODELS_DIR = flag('models-dir');

function texts(): string[] {
  const dir = join(repoRoot, '../shared/bench/locomo-dev');
  const out: string[] = [];
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
      const conv = JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
        conversation?: Record<string, unknown>;
      };
      for (const v of Object.values(conv.conversation ?? {}))
        if (Array.isArray(v)) for (const turn of v as { text?: string }[]) if (turn.text) out.push(turn.text);
    }
  }
  if (out.length > 0) return out;
  const subjects = ['my sister', 'the new job', 'our trip to Lisbon', 'the garden', 'my running plan'];
  const verbs = ['keeps surprising me', 'went better than expected', 'needs more work', 'made me think'];
  for (let i = 0; i < 1000; i++)
    out.push(`Honestly, ${subjects[i % subjects.length]} ${verbs[(i * 7) % verbs.length]} this week (${i}).`);
  return out;
}

interface Worker {
  url: string;
  stop(): Promise<void>;
  cpuMs(): number;
}

async function startWorker(env: Record<string, string>): Promise<Worker> {
  const dataDir = tempDir('synthians-bench-pc2-');
  const child = spawn(
    process.execPath,
    [join(repoRoot, 'packages/synthians/bin/synthians.js'), 'serve', 'pc2', '--port', '0'],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        LOG_LEVEL: 'warn',
        SYNTHIANS_DATA_DIR: dataDir,
        ...(MODELS_DIR ? { SYNTHIANS_MODELS_DIR: MODELS_DIR } : {}),
        EMBED_MODELS: MODEL,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    const onLine = (line: string) => {
      const m = /pc2 listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
      else if (/"level":(40|50|60)/.test(line) || !line.startsWith('{'))
        process.stderr.write(`  [pc2] ${line}\n`);
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.once('exit', (code) => reject(new Error(`the worker exited (${code}) before listening`)));
  });
  const cpuMs = () => {
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  };
  return {
    url,
    cpuMs,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      removeDir(dataDir);
    },
  };
}

async function embed(url: string, batch: string[]): Promise<number> {
  const r = await request(
    url,
    'POST',
    '/v1/tasks/embed',
    JSON.stringify({ texts: batch, encoding: 'base64' }),
    {
      sockets: C,
    },
  );
  if (r.status !== 200) throw new Error(`embed: HTTP ${r.status} ${r.body.toString().slice(0, 200)}`);
  return r.ms;
}

async function scenario(name: string, env: Record<string, string>, perRequest: number, all: string[]) {
  const worker = await startWorker(env);
  try {
    // Warm-up: load (and for glove-sif-100d build) the model, JIT the paths.
    for (let i = 0; i < 50; i++) await embed(worker.url, all.slice(i, i + perRequest));
    const requests = Math.ceil(N / perRequest);
    const latencies: number[] = [];
    let next = 0;
    const cpu0 = worker.cpuMs();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(C, requests) }, async () => {
        while (next < requests) {
          const k = next++;
          const start = (k * perRequest) % all.length;
          const batch = Array.from({ length: perRequest }, (_, j) => all[(start + j) % all.length]!);
          latencies.push(await embed(worker.url, batch));
        }
      }),
    );
    const wallS = (performance.now() - t0) / 1000;
    const cpuS = (worker.cpuMs() - cpu0) / 1000;
    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    const metric = (suffix: string) =>
      Number(
        metrics
          .split('\n')
          .find((l) => l.startsWith(`pc2_batch_size_${suffix}{`) && l.includes(`model="${MODEL}"`))
          ?.split(' ')
          .pop() ?? NaN,
      );
    const result = {
      scenario: name,
      concurrency: C,
      texts_per_request: perRequest,
      texts: requests * perRequest,
      texts_per_s: round((requests * perRequest) / wallS, 0),
      request_latency_ms: latencySummary(latencies),
      mean_texts_per_model_run: round(metric('sum') / metric('count'), 1),
      worker_cpu_s_per_1000_texts: round((cpuS / (requests * perRequest)) * 1000, 3),
    };
    log(name, JSON.stringify(result));
    return result;
  } finally {
    await worker.stop();
  }
}

const all = texts();
log(`pc2 bench: model ${MODEL}, ${N} texts, ${C} concurrent callers, ${all.length} distinct texts`);
const batched = await scenario('batched (BATCH_MAX_SIZE=64, BATCH_MAX_WAIT_MS=2)', {}, 1, all);
const unbatched = await scenario('unbatched (BATCH_MAX_SIZE=1)', { BATCH_MAX_SIZE: '1' }, 1, all);
const clientBatches = await scenario('client-side batches of 64 (reference)', {}, 64, all);
closeAgents();
emit({
  bench: 'pc2-embeddings',
  model: MODEL,
  machine: machine(),
  batched,
  unbatched,
  client_batches: clientBatches,
  speedup_batched_vs_unbatched: round(batched.texts_per_s / unbatched.texts_per_s, 2),
});
