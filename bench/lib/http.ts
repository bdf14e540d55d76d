// A light HTTP client (node:http, keep-alive) and a load generator with a fixed number of requests in flight.
import http from 'node:http';

const agents = new Map<number, http.Agent>();

/** One keep-alive agent per concurrency level, so sockets are reused across requests. */
function agentFor(maxSockets: number): http.Agent {
  let a = agents.get(maxSockets);
  if (!a) {
    a = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
    agents.set(maxSockets, a);
  }
  return a;
}

export interface Response {
  status: number;
  body: Buffer;
  /** Client-side latency: from writing the request to the last byte of the response. */
  ms: number;
}

export function request(
  base: string,
  method: string,
  path: string,
  body?: Buffer | string,
  opts: { sockets?: number; timeoutMs?: number } = {},
): Promise<Response> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    }
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        headers,
        agent: agentFor(opts.sockets ?? 1),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks),
            ms: performance.now() - started,
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs ?? 600_000, () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

export async function getJson<T = Record<string, unknown>>(
  base: string,
  path: string,
): Promise<{ status: number; json: T }> {
  const r = await request(base, 'GET', path, undefined, { timeoutMs: 10_000 });
  return { status: r.status, json: JSON.parse(r.body.toString('utf8') || 'null') as T };
}

/** Throws with the server's answer when the status is not the expected one. */
export function expectStatus(r: Response, expected: number, what: string): void {
  if (r.status !== expected) {
    throw new Error(
      `${what}: HTTP ${r.status} (expected ${expected}): ${r.body.toString('utf8').slice(0, 500)}`,
    );
  }
}

/**
 * Runs `count` jobs with exactly `concurrency` in flight (a new one starts when one finishes).
 * Returns each job's result in order and the wall time.
 */
export async function runPool<T>(
  count: number,
  concurrency: number,
  job: (i: number) => Promise<T>,
): Promise<{ results: T[]; wallMs: number }> {
  const results = new Array<T>(count);
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      results[i] = await job(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { results, wallMs: performance.now() - started };
}

export function closeAgents(): void {
  for (const a of agents.values()) a.destroy();
  agents.clear();
}
