// The web console on the coordinator: the production build of @synthians/console at `/`, and the two things the
// page needs from other services on the same origin (no CORS, no second port to open):
// - `/api/memory/*` → the memory core's `/v1/*` (memories, search, export, assemblies, stats), proxied as is —
//   its status codes and `{error:{code,message}}` bodies included; only the routes the console uses are open. The
//   coordinator reads the JSON body itself first, so its own limit (MAX_BODY_BYTES → 413 body_too_large) and text
//   checks (400 invalid_text) apply here as on its other routes; nothing larger is streamed on to the memory core;
// - `/api/health` (the health monitor's `/v1/health/services`) and `/api/health/stream`, Server-Sent Events that
//   push a `snapshot` whenever the monitor's view changes (the coordinator follows `health.changes` on the bus and
//   re-reads the monitor every CONSOLE_HEALTH_PUSH_MS while someone is watching), so the page never polls.
import httpProxy from '@fastify/http-proxy';
import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import { AppError, ConsoleCookie, type App, type Bus, type Logger } from '@synthians/kit';

export interface ConsoleOptions {
  /** The console's production build (dist/ of @synthians/console); not served when it does not exist. */
  distDir: string;
  memoryCoreUrl: string;
  healthMonitorUrl: string;
  /** Bearer token the coordinator sends to the memory core and the monitor (when they require one). */
  token?: string | undefined;
  bus?: Bus;
  pushIntervalMs: number;
  logger?: Logger;
  /** With a token: the signed session cookie the console logs in with (see kit's browser.ts). */
  cookie?: ConsoleCookie | undefined;
}

/** Paths of the console that need no token: the page itself, its assets, and the login that issues the cookie. */
export function isConsolePublic(path: string): boolean {
  return (
    path === '/' ||
    path === '/index.html' ||
    path === '/api/session' ||
    path.startsWith('/assets/') ||
    /^\/[\w.-]+\.(svg|png|ico|webmanifest|txt)$/.test(path)
  );
}

/** Memory core routes the console may use, relative to /v1 (everything else is 404). */
const MEMORY_ROUTES: { method: string; pattern: RegExp }[] = [
  { method: 'GET', pattern: /^\/memories$/ },
  { method: 'GET', pattern: /^\/memories\/[^/]+$/ },
  { method: 'PATCH', pattern: /^\/memories\/[^/]+$/ },
  { method: 'DELETE', pattern: /^\/memories\/[^/]+$/ },
  { method: 'POST', pattern: /^\/search$/ },
  { method: 'GET', pattern: /^\/export$/ },
  { method: 'GET', pattern: /^\/assemblies$/ },
  { method: 'GET', pattern: /^\/assemblies\/[^/]+$/ },
  { method: 'GET', pattern: /^\/stats$/ },
];

/** Content-Security-Policy of the console page: everything from this origin, audio from blobs. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "worker-src 'self' blob:",
  "connect-src 'self' ws: wss:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export async function registerConsole(app: App, o: ConsoleOptions): Promise<{ close(): void }> {
  const auth: Record<string, string> = o.token ? { authorization: `Bearer ${o.token}` } : {};
  registerConsoleSession(app, o);

  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      const rel = (request.url.split('?')[0] ?? '').slice('/api/memory'.length);
      if (!MEMORY_ROUTES.some((r) => r.method === request.method && r.pattern.test(rel))) {
        reply.code(404).send({
          error: {
            code: 'route_not_found',
            message: `${request.method} ${request.url.split('?')[0]} is not available`,
          },
        });
      }
    });
    await scope.register(httpProxy, {
      upstream: o.memoryCoreUrl,
      prefix: '/api/memory',
      rewritePrefix: '/v1',
      // Bodies are parsed by the coordinator's JSON parser (its body limit, its checks) and sent on re-serialised,
      // not streamed through: a streamed body over the memory core's limit was cut off mid-upload (502).
      proxyPayloads: false,
      httpMethods: ['GET', 'POST', 'PATCH', 'DELETE'],
      replyOptions: {
        // A service call now, not a browser's: the coordinator checked the page's Origin and cookie; the memory
        // core would (rightly) refuse a foreign Origin, and the console's cookie is none of its business.
        rewriteRequestHeaders: (_req, headers) => {
          const { origin: _o, referer: _r, cookie: _c, ...rest } = headers;
          for (const k of Object.keys(rest)) if (k.startsWith('sec-fetch-')) delete rest[k];
          return { ...rest, ...auth };
        },
        onError: (reply, { error }) => {
          o.logger?.warn({ err: String(error) }, 'memory core unreachable from the console proxy');
          void reply.code(502).send({
            error: { code: 'memory_core_unavailable', message: 'The memory core is not reachable' },
          });
        },
      },
    });
  });

  const relay = new HealthRelay(o.healthMonitorUrl, auth, o.pushIntervalMs, o.bus, o.logger);
  app.get(
    '/api/health',
    { schema: { tags: ['console'], summary: 'Every monitored service (via the health monitor)' } },
    async () => relay.read(),
  );
  app.get(
    '/api/health/stream',
    {
      schema: {
        tags: ['console'],
        summary: 'Server-Sent Events: a `snapshot` of every monitored service now and whenever it changes',
      },
    },
    async (request, reply) => {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write('retry: 2000\n\n');
      const send = (json: string) => raw.write(`event: snapshot\ndata: ${json}\n\n`);
      const off = relay.watch(send, () => raw.end());
      const ping = setInterval(() => raw.write(': ping\n\n'), 15000);
      ping.unref();
      request.raw.on('close', () => {
        clearInterval(ping);
        off();
      });
    },
  );

  if (existsSync(path.join(o.distDir, 'index.html'))) {
    await app.register(fastifyStatic, {
      root: o.distDir,
      prefix: '/',
      index: 'index.html',
      cacheControl: false,
      setHeaders(res, file) {
        if (file.endsWith('.html')) {
          res.setHeader('cache-control', 'no-cache');
          res.setHeader('content-security-policy', CSP);
          res.setHeader('x-content-type-options', 'nosniff');
          res.setHeader('referrer-policy', 'no-referrer');
        } else if (file.includes(`${path.sep}assets${path.sep}`)) {
          res.setHeader('cache-control', 'public, max-age=31536000, immutable');
        }
      },
    });
  } else {
    o.logger?.warn({ dir: o.distDir }, 'web console not built: / is not served (npm start builds it)');
    app.get('/', async (_req, reply) =>
      reply.code(503).send({
        error: {
          code: 'console_not_built',
          message: 'The web console is not built: run `npm start` (it builds it) or `npm run build:console`',
        },
      }),
    );
  }
  return { close: () => relay.close() };
}

/**
 * The console's login: `GET /api/session` says whether this browser may use the API (no token configured, or a
 * valid cookie); `POST /api/session {token}` checks the API token once and answers with the signed HttpOnly
 * SameSite=Strict cookie that authenticates the page's requests and its audio WebSocket; DELETE logs out.
 */
function registerConsoleSession(app: App, o: ConsoleOptions): void {
  const summary = (s: string) => ({ tags: ['console'], summary: s });
  const secure = (proto: string | string[] | undefined) => String(proto ?? '').startsWith('https');
  app.get(
    '/api/session',
    { schema: summary('Whether this browser is logged in to the console') },
    async (req) => ({
      token_required: o.token !== undefined,
      authenticated: o.token === undefined || (o.cookie?.verify(req.headers.cookie) ?? false),
    }),
  );
  app.post(
    '/api/session',
    {
      schema: {
        ...summary('Log in to the console with the API token (sets the session cookie)'),
        body: {
          type: 'object',
          required: ['token'],
          properties: { token: { type: 'string', minLength: 1, maxLength: 4096 } },
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      if (!o.token || !o.cookie) return { token_required: false, authenticated: true };
      const given = Buffer.from((req.body as { token: string }).token);
      const want = Buffer.from(o.token);
      if (given.length !== want.length || !timingSafeEqual(given, want))
        throw new AppError(401, 'unauthorized', 'Wrong token');
      reply.header(
        'set-cookie',
        o.cookie.header(secure(req.headers['x-forwarded-proto']) || req.protocol === 'https'),
      );
      return { token_required: true, authenticated: true, expires_in_s: Math.floor(o.cookie.ttlMs / 1000) };
    },
  );
  app.delete('/api/session', { schema: summary('Log out of the console') }, async (_req, reply) => {
    reply.header('set-cookie', ConsoleCookie.clearHeader());
    return { token_required: o.token !== undefined, authenticated: o.token === undefined };
  });
}

/** Reads the health monitor for watchers; pushes a snapshot to them when it changes. */
class HealthRelay {
  private readonly watchers = new Map<(json: string) => void, () => void>();
  private last = '';
  private timer: NodeJS.Timeout | undefined;
  private offBus: (() => void) | undefined;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    private readonly auth: Record<string, string>,
    private readonly intervalMs: number,
    private readonly bus: Bus | undefined,
    private readonly logger: Logger | undefined,
  ) {}

  /** The monitor's view, or `{status:"unknown", services:[], error}` when it cannot be read. */
  async read(): Promise<Record<string, unknown>> {
    try {
      const res = await fetch(`${this.url}/v1/health/services`, {
        headers: this.auth,
        signal: AbortSignal.timeout(2000),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return (await res.json()) as Record<string, unknown>;
    } catch (err) {
      return {
        status: 'unknown',
        services: [],
        error: {
          code: 'health_monitor_unavailable',
          message: `The health monitor at ${this.url} is not reachable (${(err as Error).message})`,
        },
      };
    }
  }

  /** `send` gets every new snapshot; `end` is called when the relay closes (the coordinator stops). */
  watch(send: (json: string) => void, end: () => void): () => void {
    this.watchers.set(send, end);
    if (this.last) send(this.last);
    void this.refresh();
    if (!this.timer) {
      this.timer = setInterval(() => void this.refresh(), this.intervalMs);
      this.timer.unref();
      this.offBus = this.bus?.subscribe('health.changes', () => void this.refresh());
    }
    return () => {
      this.watchers.delete(send);
      if (this.watchers.size === 0) this.stop();
    };
  }

  /** Ends every stream. */
  close(): void {
    const ends = [...this.watchers.values()];
    this.watchers.clear();
    for (const end of ends) end();
    this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.offBus?.();
    this.offBus = undefined;
    this.last = '';
  }

  private refresh(): Promise<void> {
    this.reading ??= (async () => {
      try {
        const json = JSON.stringify(await this.read());
        if (json === this.last) return;
        this.last = json;
        for (const w of this.watchers.keys()) w(json);
      } catch (err) {
        this.logger?.warn({ err: String(err) }, 'health relay failed');
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }
}
