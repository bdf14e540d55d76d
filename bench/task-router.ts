// Overhead of the task router: an in-process no-op handler called through TaskRouter.route (queue, breaker,
// timeout, metrics), an HTTP route to a loopback echo server compared with calling that server directly, and the
// task-router service over HTTP in front of the same echo server. Prints one JSON object.
//
//   node --import tsx bench/task-router.ts [--n 2000]
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestService } from '@synthians/kit';
import { TaskRouter, taskRouterService } from '../packages/assistant/src/router/index.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('n', 2000);
const WARMUP = 100;

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
};
const round = (x: number) => Math.round(x * 1000) / 1000;
const summary = (xs: number[]) => ({
  calls: xs.length,
  p50_ms: round(percentile(xs, 0.5)),
  p99_ms: round(percentile(xs, 0.99)),
  mean_ms: round(xs.reduce((s, x) => s + x, 0) / xs.length),
});

async function measure(fn: () => Promise<unknown>) {
  for (let i = 0; i < WARMUP; i++) await fn();
  const xs: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await fn();
    xs.push(performance.now() - t);
  }
  return summary(xs);
}

const echo = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(Buffer.concat(chunks));
  });
});
await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
const echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
const payload = { query: 'where does Anna live?', top_k: 5 };

const router = new TaskRouter({
  routes: [
    {
      pattern: 'memory.search',
      target: { kind: 'http', url: `${echoUrl}/v1/search`, method: 'POST' },
      timeoutMs: 5000,
      idempotent: true,
    },
  ],
});
router.register('skill', (p) => p);

process.stderr.write('in-process…\n');
const inProcess = await measure(() => router.route({ type: 'skill', payload }));
process.stderr.write('direct HTTP…\n');
const direct = await measure(async () => {
  const res = await fetch(`${echoUrl}/v1/search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
  await res.json();
});
process.stderr.write('HTTP route…\n');
const httpRoute = await measure(() => router.route({ type: 'memory.search', payload }));
await router.close();

process.stderr.write('service over HTTP…\n');
const svc = await startTestService(taskRouterService, { env: { MEMORY_CORE_URL: echoUrl } });
const body = JSON.stringify({ type: 'memory.search', payload });
const service = await measure(async () => {
  const res = await fetch(`${svc.url}/v1/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  await res.json();
});
await svc.destroy();
echo.closeAllConnections();
await new Promise<void>((resolve) => echo.close(() => resolve()));

console.log(
  JSON.stringify(
    {
      n: N,
      in_process_route: inProcess,
      direct_http: direct,
      router_http_route: httpRoute,
      router_overhead_p50_ms: round(httpRoute.p50_ms - direct.p50_ms),
      service_over_http: service,
    },
    null,
    2,
  ),
);
