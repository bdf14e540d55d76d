// The HTTP app factory every service uses: request ids, schema validation, one error envelope,
// /health, /ready, /metrics (Prometheus), /openapi.json and /docs, optional bearer-token auth.
import { timingSafeEqual } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AppError } from './errors.ts';
import type { Logger } from './logger.ts';
import { isLoopback } from './net.ts';
import { checkBrowserBoundary, type ConsoleCookie } from './browser.ts';
import { rejectMalformedText } from './text.ts';

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';
export interface HealthReport {
  status: HealthStatus;
  checks: Record<string, { status: HealthStatus; [key: string]: unknown }>;
  [key: string]: unknown;
}

export interface AppOptions {
  service: string;
  version?: string;
  description?: string;
  logger: Logger;
  /** Largest accepted request body in bytes (413 above). */
  bodyLimit?: number;
  /** When set, every route but /health and /ready needs `Authorization: Bearer <token>`. */
  token?: string;
  health?: () => HealthReport | Promise<HealthReport>;
  ready?: () => { ready: boolean; reason?: string };
  /** Browser origins allowed cross-origin (CORS); none when empty or unset. */
  corsOrigins?: string[];
  /** Requests per minute per client address, loopback clients exempt (429 rate_limited); 0 or unset = off. */
  rateLimitPerMinute?: number;
  /** Host names served besides IP literals and localhost (see browser.ts); requests naming another host get 403. */
  allowedHosts?: string[];
  /** With a token: browsers holding this signed cookie are authenticated too (the web console). */
  consoleCookie?: ConsoleCookie;
  /** Paths that need no token (still behind the browser boundary), e.g. the console's page and its login. */
  isPublic?: (path: string) => boolean;
}

export type App = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, TypeBoxTypeProvider>;

const publicPaths = new Set(['/health', '/ready']);

export async function createApp(options: AppOptions): Promise<App> {
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Ids as long as the schemas allow (up to 512) must be readable back; the router's default stops at 100.
    routerOptions: { maxParamLength: 1024 },
    // The router's own errors (a malformed percent-encoding, a path parameter too long) in the one error envelope.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      void reply.code(tooLong ? 414 : 400).send({
        error: { code: tooLong ? 'uri_too_long' : 'invalid_url', message: error.message },
      });
    },
    ajv: { customOptions: {} },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;
  // Bodies are JSON: without this, Fastify's default text/plain parser lets a wrong Content-Type through as a string.
  app.removeContentTypeParser('text/plain');
  // JSON must be valid UTF-8: a stray byte would otherwise be stored as U+FFFD, not as what was sent.
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(
        new AppError(400, 'invalid_text', 'The body is not valid UTF-8: it cannot be stored exactly'),
        undefined,
      );
      return;
    }
    jsonParser(request, text, done);
  });

  // Bodies are validated strictly (a string is not a number); query strings and params are coerced.
  const strict = makeAjv(false);
  const coercing = makeAjv(true);
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema as object),
  );

  const boundary = { allowedHosts: options.allowedHosts ?? [], corsOrigins: options.corsOrigins ?? [] };
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    const path = request.url.split('?')[0] ?? '';
    if (publicPaths.has(path)) return;
    // A request with the token is a client, not a page: no browser can be made to send it cross-site.
    const bearer = options.token !== undefined && hasToken(request, options.token);
    if (!bearer) checkBrowserBoundary(request.headers, request.method, boundary);
    if (!options.token || bearer || options.isPublic?.(path)) return;
    // CORS preflights never carry credentials; the request that follows does.
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method']) return;
    if (options.consoleCookie?.verify(request.headers.cookie)) return;
    throw new AppError(401, 'unauthorized', 'Missing or wrong bearer token');
  });
  // Text that cannot be stored exactly (NUL, lone UTF-16 surrogates) is refused before any handler sees it.
  app.addHook('preValidation', async (request) => {
    rejectMalformedText(request.params, 'path');
    rejectMalformedText(request.query, 'query');
    rejectMalformedText(request.body, 'body');
  });

  installErrorHandling(app);
  installMetrics(app, options.service);
  trackConnections(app);

  // Cross-origin requests only from the configured origins (a browser gets no CORS headers otherwise).
  const origins = new Set(options.corsOrigins ?? []);
  if (origins.size > 0)
    await app.register(cors, {
      origin: (origin, cb) => cb(null, origin !== undefined && origins.has(origin)),
      allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
      maxAge: 600,
    });
  if (options.rateLimitPerMinute && options.rateLimitPerMinute > 0)
    await app.register(rateLimit, {
      max: options.rateLimitPerMinute,
      timeWindow: 60_000,
      allowList: (request) => isLoopback(request.ip.replace(/^::ffff:/, '')),
      errorResponseBuilder: (_request, context) =>
        new AppError(429, 'rate_limited', `More than ${context.max} requests per minute from this address`, {
          retry_after_ms: context.ttl,
        }),
    });

  await app.register(swagger, {
    openapi: {
      info: {
        title: `Synthians ${options.service}`,
        version: options.version ?? '0.1.0',
        description: options.description ?? '',
      },
      components: token(options.token),
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get(
    '/health',
    { schema: { tags: ['health'], summary: 'Liveness and dependency checks' } },
    async (_req, reply) => {
      const report: HealthReport = options.health
        ? await options.health()
        : { status: 'healthy', checks: {} };
      reply.code(report.status === 'unhealthy' ? 503 : 200);
      return { service: options.service, ...report };
    },
  );
  app.get(
    '/ready',
    { schema: { tags: ['health'], summary: 'Whether the service can take traffic' } },
    async (_req, reply) => {
      const state = options.ready ? options.ready() : { ready: true };
      reply.code(state.ready ? 200 : 503);
      return state;
    },
  );
  return app;
}

/**
 * Every open socket of the server, so that a stop can end the ones that outlive the grace period (WebSockets, event
 * streams, long polls); and a refused WebSocket upgrade closes its socket instead of leaving it open as keep-alive.
 */
function trackConnections(app: App): void {
  const sockets = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  app.decorate('openSockets', sockets);
  // An upgrade refused by a hook (401, 403) is answered as plain HTTP on the upgrade's socket, which nothing else
  // closes (@fastify/websocket only tracks upgrades that reached its own hooks): close it once the answer is out.
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.headers.upgrade !== undefined) reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    if (request.headers.upgrade !== undefined) (reply.raw.socket ?? request.raw.socket)?.destroySoon();
  });
}

function token(value: string | undefined) {
  if (!value) return {};
  return { securitySchemes: { bearer: { type: 'http' as const, scheme: 'bearer' } } };
}

function hasToken(request: FastifyRequest, expected: string): boolean {
  const header = request.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const want = Buffer.from(expected);
  return given.length === want.length && timingSafeEqual(given, want);
}

function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    coerceTypes: coerce ? 'array' : false,
    useDefaults: true,
    removeAdditional: false,
    allErrors: false,
    strict: false,
  });
  addFormats.default(ajv);
  return ajv;
}

function installErrorHandling(app: App): void {
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      error: { code: 'route_not_found', message: `No route ${request.method} ${request.url.split('?')[0]}` },
    });
  });

  app.setErrorHandler(
    (error: FastifyError | AppError | Error, request: FastifyRequest, reply: FastifyReply) => {
      if (AppError.isInstance(error)) {
        if (error.statusCode >= 500) request.log.warn({ code: error.code }, error.message);
        // Overload and rate limits say when to come back.
        const retryMs = (error.details as { retry_after_ms?: unknown } | undefined)?.retry_after_ms;
        if (typeof retryMs === 'number' && (error.statusCode === 429 || error.statusCode === 503))
          reply.header('retry-after', String(Math.max(1, Math.ceil(retryMs / 1000))));
        return reply.code(error.statusCode).send(error.toBody());
      }
      const fe = error as FastifyError;
      if (fe.validation) {
        const details = fe.validation.map((v) => ({
          path: `${fe.validationContext ?? ''}${v.instancePath}`,
          message: v.message ?? 'invalid',
        }));
        const message = `Invalid request ${fe.validationContext ?? ''}: ${details
          .map((d) => `${d.path || '(root)'} ${d.message}`)
          .join('; ')}`;
        return reply.code(400).send({ error: { code: 'validation_error', message, details } });
      }
      const mapped = mapFrameworkError(fe);
      if (mapped)
        return reply.code(mapped.status).send({ error: { code: mapped.code, message: mapped.message } });
      request.log.error({ err: error }, 'unhandled error');
      return reply.code(500).send({ error: { code: 'internal_error', message: 'Internal server error' } });
    },
  );
}

function mapFrameworkError(
  error: FastifyError,
): { status: number; code: string; message: string } | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'body_too_large', message: error.message };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'unsupported_media_type', message: error.message };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'invalid_json', message: 'Request body is empty but Content-Type is JSON' };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, code: 'invalid_content_length', message: error.message };
  }
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return { status: 400, code: 'invalid_json', message: `Malformed JSON body: ${error.message}` };
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return { status, code: (error.code ?? 'bad_request').toLowerCase(), message: error.message };
  }
  return undefined;
}

function installMetrics(app: App, service: string): void {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status_code'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  app.decorate('metricsRegistry', registry);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (route === '/metrics') return;
    const labels = { method: request.method, route, status_code: String(reply.statusCode) };
    request.log.debug(
      { method: request.method, route, status: reply.statusCode, ms: reply.elapsedTime },
      'request',
    );
    requests.inc(labels);
    latency.observe(labels, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
}

declare module 'fastify' {
  interface FastifyInstance {
    metricsRegistry: Registry;
    /** The server's open sockets (see trackConnections). */
    openSockets: Set<Socket>;
  }
}
