// Real loopback HTTP upstreams for the router's tests: they answer, fail, or hang as a test tells them, and record
// every request they saw.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** What the upstream does with a request: answer `status` with `body` (JSON), or 'hang' (never answer). */
export type Behaviour = { status: number; body?: unknown; delayMs?: number } | 'hang';

export interface Upstream {
  url: string;
  seen: SeenRequest[];
  /** Changes what the upstream does from now on. */
  behave(fn: (req: SeenRequest, n: number) => Behaviour): void;
  close(): Promise<void>;
}

export async function startUpstream(fn: (req: SeenRequest, n: number) => Behaviour): Promise<Upstream> {
  let behaviour = fn;
  const seen: SeenRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text === '' ? undefined : text;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        /* not JSON */
      }
      const r: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(r);
      const b = behaviour(r, seen.length);
      if (b === 'hang') {
        hanging.add(res);
        return;
      }
      const send = () => {
        if (b.status === 204 || b.body === undefined) {
          res.writeHead(b.status).end();
          return;
        }
        res.writeHead(b.status, { 'content-type': 'application/json' }).end(JSON.stringify(b.body));
      };
      if (b.delayMs) setTimeout(send, b.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    behave(next) {
      behaviour = next;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port nothing listens on (connections are refused). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A promise with its resolve function outside (to hold an in-process handler until the test lets it go). */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Lets pending timers and I/O callbacks run. */
export const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));
