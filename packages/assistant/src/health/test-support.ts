// Test helpers for the health monitor: a plain HTTP server whose /health answer the test controls, and waiting.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeMode = 'healthy' | 'degraded' | 'unhealthy' | 'garbage' | 'error500' | 'hang';

export interface FakeService {
  url: string;
  mode: FakeMode;
  /** Extra delay before answering (ms). */
  delayMs: number;
  requests: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** A node:http server answering /health like a Synthians service (or badly, per `mode`). */
export async function fakeService(mode: FakeMode = 'healthy'): Promise<FakeService> {
  const state = { mode, delayMs: 0 };
  const requests: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.headers);
    if (state.mode === 'hang') return; // never answers
    const answer = () => {
      if (req.url !== '/health') {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"error":{"code":"route_not_found"}}');
        return;
      }
      switch (state.mode) {
        case 'garbage':
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"status": "healthy"');
          return;
        case 'error500':
          res.writeHead(500, { 'content-type': 'text/plain' }).end('boom');
          return;
        default: {
          const status = state.mode;
          const body = { service: 'fake', status, checks: { db: { status } } };
          res
            .writeHead(status === 'unhealthy' ? 503 : 200, { 'content-type': 'application/json' })
            .end(JSON.stringify(body));
        }
      }
    };
    if (state.delayMs > 0) setTimeout(answer, state.delayMs);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return state.mode;
    },
    set mode(m: FakeMode) {
      state.mode = m;
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms: number) {
      state.delayMs = ms;
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Resolves once `cond()` holds (checked every 5 ms); rejects with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - start;
}
