// Bad input never gets a 5xx. Every service of `synthians up` runs in this process (free ports, a temporary data
// directory, the session database in a fresh PostgreSQL schema, else in-process PGlite); every route of every
// service's OpenAPI document gets the bad requests of bad-input.ts — NUL, lone surrogates and invalid UTF-8 in each
// path parameter, query parameter and string field; wrong types, null, huge, negative and NaN-like numbers; missing
// and extra fields; prototype keys; deep nesting; empty, non-JSON, scalar and oversized bodies; wrong content types.
// Every answer must be below 500; every 4xx the `{error:{code,message}}` envelope; no 2xx may say `success: false`
// or acknowledge a body that is not UTF-8; an oversized body is a 413; an id as long as its schema allows is routed.
// All cases are sent, none sampled: about 4,800 requests, deterministic, each service's in order and four services
// at a time (≈ 15 s on two cores, plus ≈ 5 s to start). WebSocket routes are hidden from OpenAPI and no request
// asks for an upgrade; an event stream counts by its status and is closed; a request unanswered in 10 s is a
// failure. FUZZ_LOG=<file> writes every request and its answer as a tab-separated line.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, Agent } from 'node:http';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, type Server } from 'node:net';
import { createLogger, stop, type Env, type ServiceInstance } from '@synthians/kit';
import { openDb } from '@synthians/session-memory';
import { postgresSkip, TEST_DATABASE_URL, newSchema } from '../../session-memory/src/test-support.ts';
import {
  badRequests,
  JSON_LINES,
  LONGEST_ALLOWED,
  OVERSIZED,
  routesOf,
  type BadRequest,
  type Limits,
  type OpenApiDocument,
} from './bad-input.ts';
import { services } from './services.ts';
import { up } from './runner.ts';
import { splitEnvironment } from './split.ts';

const ANSWER_TIMEOUT_MS = 10_000;
const PARALLEL_SERVICES = 4;
/** Routes with a body limit of their own above the service's (an oversized JSON body is read, then refused). */
const OWN_BODY_LIMIT = new Set(['memory-core POST /v1/import']);

interface Target {
  name: string;
  url: string;
  limits: Limits;
}

interface Outcome {
  service: string;
  request: BadRequest;
  status: number;
  contentType: string;
  body: string;
  error?: string;
}

let instances: ServiceInstance[] = [];
let targets: Target[] = [];
let dir = '';
let schema: string | undefined;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const urlOf = (name: string) => targets.find((t) => t.name === name)!.url;

/** Ports for every service, all held open until all are chosen (a port closed early can be handed out twice). */
async function freePorts(n: number): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const srv = createServer();
    held.push(srv);
    ports.push(
      await new Promise<number>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => {
          const a = srv.address();
          resolve(typeof a === 'object' && a ? a.port : 0);
        });
      }),
    );
  }
  await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'synthians-fuzz-'));
  // A clean environment: nothing from the developer's shell (an LLM server, a token, NATS) changes what is fuzzed.
  let env: Env = { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'silent', TZ: 'UTC' };
  const ports = await freePorts(services.length + 1);
  services.forEach((s, i) => (env[`${s.name.toUpperCase().replaceAll('-', '_')}_PORT`] = String(ports[i])));
  env.DREAM_PUB_PORT = String(ports[services.length]);
  if (!(await postgresSkip())) {
    schema = newSchema();
    Object.assign(env, { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema });
  }
  // Each service finds the others at the ports above, as in split mode; the bus stays in-process.
  env = { ...splitEnvironment(env, '', dir), NATS_URL: undefined, HEALTH_POLL_INTERVAL_MS: '60000' };
  const started = await up({ env, dataDir: dir, logger: createLogger('fuzz', 'silent') });
  instances = started.instances;
  targets = started.listening.map((l) => {
    const def = services.find((s) => s.name === l.name)!;
    const instance = instances.find((i) => i.name === l.name)!;
    const config = def.config.safeParse(env).data as { MAX_AUDIO_BYTES?: number } | undefined;
    // WAV bodies: the VAD and the preprocessor (Wyoming's MAX_AUDIO_BYTES bounds its protocol's events instead).
    const audioBytes = ['vad', 'audio-preprocessor'].includes(l.name) ? config?.MAX_AUDIO_BYTES : undefined;
    return {
      name: l.name,
      url: l.url,
      limits: { bodyBytes: instance.app.initialConfig.bodyLimit!, audioBytes },
    };
  });
});

after(async () => {
  agent.destroy();
  for (const instance of [...instances].reverse()) await stop(instance, 500).catch(() => undefined);
  if (schema) {
    const db = await openDb({ databaseUrl: TEST_DATABASE_URL, poolSize: 1 });
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Sends one request exactly as built (no URL normalisation); an event stream is closed once its head is in. */
function send(target: Target, r: BadRequest): Promise<Outcome> {
  const { hostname, port } = new URL(target.url);
  return new Promise((resolve) => {
    let done = false;
    const finish = (o: Omit<Outcome, 'request' | 'service'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ service: target.name, request: r, ...o });
    };
    const headers: Record<string, string | number> = { ...r.headers };
    if (r.body !== undefined) headers['content-length'] = r.body.length;
    const req = httpRequest(
      { host: hostname, port, method: r.method, path: r.url, headers, agent },
      (res) => {
        const contentType = String(res.headers['content-type'] ?? '');
        if (contentType.startsWith('text/event-stream')) {
          res.destroy();
          req.destroy();
          return finish({ status: res.statusCode ?? 0, contentType, body: '' });
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < 64 * 1024) chunks.push(c);
          size += c.length;
        });
        res.on('end', () =>
          finish({ status: res.statusCode ?? 0, contentType, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', (err) =>
          finish({ status: res.statusCode ?? 0, contentType, body: '', error: err.message }),
        );
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish({ status: 0, contentType: '', body: '', error: `no answer within ${ANSWER_TIMEOUT_MS} ms` });
    }, ANSWER_TIMEOUT_MS);
    // An early answer (413) may come while the body is still being written: the write error does not matter then.
    req.on('error', (err) => finish({ status: 0, contentType: '', body: '', error: err.message }));
    req.end(r.body);
  });
}

function jsonOf(o: Outcome): unknown {
  if (!o.contentType.includes('json')) return undefined;
  try {
    return JSON.parse(o.body);
  } catch {
    return undefined;
  }
}

/** Why an answer breaks the contract, or undefined when it keeps it. */
function problem(o: Outcome): string | undefined {
  if (o.status === 0) return `no answer (${o.error})`;
  if (o.status >= 500) return `status ${o.status}`;
  const json = jsonOf(o);
  if (o.status >= 400) {
    const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    if (typeof error?.code !== 'string' || typeof error.message !== 'string')
      return `status ${o.status} without the {error:{code,message}} envelope`;
  }
  if (o.status < 300 && (json as { success?: unknown } | undefined)?.success === false)
    return `status ${o.status} with success: false`;
  if (o.status < 300 && o.request.kind.startsWith(JSON_LINES))
    return `status ${o.status}: JSON lines with ${o.request.kind.slice(JSON_LINES.length + 2)} were acknowledged`;
  if (o.status < 300 && o.request.kind.endsWith(': invalid UTF-8'))
    return `status ${o.status}: a body that is not UTF-8 was acknowledged`;
  const own = OWN_BODY_LIMIT.has(`${o.service} ${o.request.method} ${o.request.route}`);
  if (o.request.kind.startsWith(OVERSIZED) && o.status !== 413 && o.status !== 404 && !own)
    return `status ${o.status} for an oversized body (413 expected)`;
  if (o.request.kind.endsWith(LONGEST_ALLOWED) && o.status === 414)
    return 'status 414 for a parameter as long as its schema allows';
  return undefined;
}

async function fuzzService(target: Target): Promise<{ outcomes: Outcome[]; routes: number }> {
  const res = await fetch(`${target.url}/openapi.json`, { signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) });
  assert.equal(res.status, 200, `${target.name} serves its OpenAPI document`);
  const routes = routesOf((await res.json()) as OpenApiDocument);
  const outcomes: Outcome[] = [];
  for (const route of routes) {
    for (const r of badRequests(route, target.limits)) {
      const started = Date.now();
      const o = await send(target, r);
      outcomes.push(o);
      if (process.env.FUZZ_LOG) {
        const fields = [target.name, r.method, r.url.slice(0, 200), r.kind, o.status, Date.now() - started];
        appendFileSync(process.env.FUZZ_LOG, `${[...fields, o.error ?? '', excerpt(o.body)].join('\t')}\n`);
      }
    }
  }
  return { outcomes, routes: routes.length };
}

const excerpt = (s: string) => s.replace(/\s+/g, ' ').slice(0, 200);

test('no bad input gets a 5xx from any route of any service, and every 4xx is the error envelope', async (t) => {
  const started = Date.now();
  const results = new Map<Target, { outcomes: Outcome[]; routes: number }>();
  const queue = [...targets];
  await Promise.all(
    Array.from({ length: PARALLEL_SERVICES }, async () => {
      for (let target = queue.shift(); target; target = queue.shift())
        results.set(target, await fuzzService(target));
    }),
  );
  const failures: string[] = [];
  let sent = 0;
  let routes = 0;
  for (const target of targets) {
    const { outcomes, routes: n } = results.get(target)!;
    sent += outcomes.length;
    routes += n;
    for (const o of outcomes) {
      const why = problem(o);
      if (why === undefined) continue;
      const url = o.request.url.length > 160 ? `${o.request.url.slice(0, 160)}…` : o.request.url;
      failures.push(
        `${target.name} ${o.request.method} ${url} [${o.request.kind}] → ${why}: ${excerpt(o.body)}`,
      );
    }
  }
  t.diagnostic(
    `${sent} requests to ${routes} routes of ${targets.length} services in ${Date.now() - started} ms`,
  );
  assert.ok(routes > 100, `every service's routes were found (${routes})`);
  if (failures.length > 0) {
    const shown = failures.slice(0, 100).join('\n');
    assert.fail(
      `${failures.length} of ${sent} bad requests broke the contract:\n${shown}${failures.length > 100 ? '\n…' : ''}`,
    );
  }
});

test('text is stored exactly or refused: lone surrogates and NUL are 400 invalid_text, odd but valid text round-trips', async () => {
  const json = (body: unknown) => ({
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const call = async (base: string, method: string, p: string, body?: unknown) => {
    const res = await fetch(`${base}${p}`, { method, ...(body === undefined ? {} : json(body)) });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown> & { error?: { code: string } },
    };
  };
  // Valid Unicode that is easy to mangle: an astral pair, U+FFFD itself, a BOM, line and paragraph separators,
  // combining marks, right-to-left text, and a backslash-u sequence as plain text.
  const odd =
    'pair 😀, replacement \ufffd, bom \ufeff, seps \u2028\u2029, e\u0301, \u05e9\u05dc\u05d5\u05dd, \\u0000';
  const core = urlOf('memory-core');
  const countBefore = (await call(core, 'GET', '/v1/stats')).body.memory_count;
  for (const bad of [
    '{"content":"lone \\ud800 high"}',
    '{"content":"lone \\udfff low"}',
    '{"content":"nul \\u0000"}',
  ]) {
    const res = await call(core, 'POST', '/v1/memories', bad);
    assert.equal(res.status, 400, bad);
    assert.equal(res.body.error?.code, 'invalid_text', bad);
    const meta = await call(
      core,
      'POST',
      '/v1/memories',
      bad.replace('"content":', '"content":"ok","metadata":{"k":') + '}',
    );
    assert.equal(meta.body.error?.code, 'invalid_text', `in metadata: ${bad}`);
  }
  assert.equal(
    (await call(core, 'GET', '/v1/stats')).body.memory_count,
    countBefore,
    'nothing refused was stored',
  );
  const created = await call(core, 'POST', '/v1/memories', { content: odd, metadata: { [odd]: odd } });
  assert.equal(created.status, 201);
  const read = await call(core, 'GET', `/v1/memories/${created.body.id as string}`);
  assert.equal(read.body.content, odd, 'memory core: content read back exactly');
  assert.deepEqual(read.body.metadata, { [odd]: odd }, 'memory core: metadata read back exactly');

  // The session database (PostgreSQL, else PGlite): where a NUL in an id used to be a 500.
  const sessions = urlOf('session-memory');
  const session = await call(sessions, 'POST', '/v1/sessions', { metadata: { note: odd } });
  assert.equal(session.status, 201, JSON.stringify(session.body));
  const id = session.body.session_id as string;
  assert.equal((await call(sessions, 'GET', '/v1/sessions/fu%00zz')).body.error?.code, 'invalid_text');
  const refused = await call(
    sessions,
    'POST',
    `/v1/sessions/${id}/interactions`,
    '{"role":"user","content":"lone \\ud800"}',
  );
  assert.equal(refused.body.error?.code, 'invalid_text');
  const added = await call(sessions, 'POST', `/v1/sessions/${id}/interactions`, {
    role: 'user',
    content: odd,
  });
  assert.equal(added.status, 201);
  const listed = await call(sessions, 'GET', `/v1/sessions/${id}/interactions`);
  const contents = (listed.body.interactions as { content: string }[]).map((i) => i.content);
  assert.deepEqual(contents, [odd], 'session memory: interaction read back exactly');

  // Through the coordinator's console proxy: checked by the coordinator, then by the memory core.
  const coordinator = urlOf('coordinator');
  const proxied = await call(
    coordinator,
    'PATCH',
    `/api/memory/memories/${created.body.id as string}`,
    '{"content":"x \\udc00"}',
  );
  assert.equal(proxied.status, 400);
  assert.equal(proxied.body.error?.code, 'invalid_text');
  assert.equal(
    (await call(core, 'GET', `/v1/memories/${created.body.id as string}`)).body.content,
    odd,
    'unchanged',
  );
});
