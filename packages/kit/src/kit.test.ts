// The service kit: configuration errors name the variable, ports never collide, the HTTP app's envelope,
// request ids, health/ready/metrics/OpenAPI and token auth.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from '@sinclair/typebox';
import { z } from 'zod';
import {
  AppError,
  ConfigError,
  assertNoPortCollisions,
  assertSafeBinding,
  createApp,
  createLogger,
  env,
  loadConfig,
  maskSecrets,
  ports,
  type App,
} from './index.ts';

describe('configuration', () => {
  const schema = z.object({
    PORT: env.port(5010),
    LOG_LEVEL: env.logLevel(),
    ENABLED: env.bool(false),
    API_TOKEN: env.optionalString(),
  });

  test('defaults, coercion and case-insensitive levels', () => {
    assert.deepEqual(loadConfig(schema, {}), { PORT: 5010, LOG_LEVEL: 'info', ENABLED: false });
    assert.deepEqual(loadConfig(schema, { PORT: '8001', LOG_LEVEL: 'DEBUG', ENABLED: 'yes' }), {
      PORT: 8001,
      LOG_LEVEL: 'debug',
      ENABLED: true,
    });
  });

  test('a bad value stops start-up with a message naming the variable', () => {
    for (const [variable, value] of [
      ['PORT', 'abc'],
      ['PORT', '70000'],
      ['LOG_LEVEL', 'loud'],
      ['ENABLED', 'maybe'],
    ]) {
      assert.throws(
        () => loadConfig(schema, { [variable!]: value }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.message.includes(variable!) &&
          err.issues[0]?.variable === variable,
        `${variable}=${value}`,
      );
    }
  });

  test('secrets are masked, in errors too', () => {
    assert.deepEqual(maskSecrets({ API_TOKEN: 'hunter2', PORT: 1 }), { API_TOKEN: '***', PORT: 1 });
    const strict = z.object({ API_TOKEN: z.string().min(20) });
    assert.throws(
      () => loadConfig(strict, { API_TOKEN: 'hunter2' }),
      (err: Error) => !err.message.includes('hunter2'),
    );
  });
});

describe('ports', () => {
  test('the registry has the architecture map ports and no collisions', () => {
    assert.equal(ports['memory-core'], 5010);
    assert.equal(ports['memory-core-standby'], 5020);
    assert.equal(ports['neural-memory'], 8001);
    assert.equal(ports.orchestrator, 8002);
    assert.equal(new Set(Object.values(ports)).size, Object.keys(ports).length);
  });

  test('a collision refuses to start with a clear message', () => {
    assert.throws(
      () => assertNoPortCollisions({ 'memory-core': 5010, orchestrator: 5010 }),
      (err: Error) => err instanceof ConfigError && /memory-core and orchestrator .* 5010/.test(err.message),
    );
    assert.doesNotThrow(() => assertNoPortCollisions({ a: 0, b: 0 }));
  });

  test('binding beyond loopback needs a token', () => {
    assert.doesNotThrow(() => assertSafeBinding('127.0.0.1', undefined));
    assert.doesNotThrow(() => assertSafeBinding('::1', undefined));
    assert.throws(() => assertSafeBinding('0.0.0.0', undefined), /SYNTHIANS_API_TOKEN/);
    assert.doesNotThrow(() => assertSafeBinding('0.0.0.0', 'a-token'));
  });
});

describe('HTTP app', () => {
  let app: App;
  let url: string;
  let healthy = true;
  before(async () => {
    app = await createApp({
      service: 'test-service',
      logger: createLogger('test', 'silent'),
      bodyLimit: 1024,
      health: () => ({
        status: healthy ? 'healthy' : 'unhealthy',
        checks: { db: { status: healthy ? 'healthy' : 'unhealthy' } },
      }),
      ready: () => ({ ready: healthy }),
    });
    app.post(
      '/echo',
      { schema: { body: Type.Object({ n: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }) } },
      async (req) => req.body,
    );
    app.get('/items/:id', async (req) => {
      throw new AppError(404, 'not_found', `No item ${(req.params as { id: string }).id}`);
    });
    app.get('/boom', async () => {
      throw new Error('secret internal detail');
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address() as { port: number };
    url = `http://127.0.0.1:${address.port}`;
  });
  after(() => app.close());

  const post = (path: string, body: string, type = 'application/json') =>
    fetch(url + path, { method: 'POST', headers: { 'content-type': type }, body });

  test('valid input passes; invalid input gets the error envelope with real status codes', async () => {
    assert.deepEqual(await (await post('/echo', '{"n":3}')).json(), { n: 3 });
    const cases: [string, number, string][] = [
      ['{"n":"3"}', 400, 'validation_error'],
      ['{"n":-1}', 400, 'validation_error'],
      ['{"n":1,"x":2}', 400, 'validation_error'],
      ['{"n":', 400, 'invalid_json'],
      ['{"n":NaN}', 400, 'invalid_json'],
      [`{"n":1,"pad":"${'x'.repeat(2000)}"}`, 413, 'body_too_large'],
    ];
    for (const [body, status, code] of cases) {
      const res = await post('/echo', body);
      const json = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(res.status, status, body.slice(0, 20));
      assert.equal(json.error.code, code);
      assert.ok(json.error.message.length > 0, 'a message');
    }
    const wrongType = await post('/echo', 'n=3', 'text/csv');
    assert.equal(wrongType.status, 415);
  });

  test('errors: AppError codes, unknown routes, and no internals leaked on 500', async () => {
    const missing = await fetch(`${url}/items/42`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: { code: 'not_found', message: 'No item 42' } });
    const route = await fetch(`${url}/nope`);
    assert.equal(route.status, 404);
    assert.equal(((await route.json()) as { error: { code: string } }).error.code, 'route_not_found');
    const boom = await fetch(`${url}/boom`);
    assert.equal(boom.status, 500);
    const text = await boom.text();
    assert.ok(!text.includes('secret internal detail'), 'internal message not leaked');
  });

  test('request ids are returned and can be given by the client', async () => {
    const res = await fetch(`${url}/health`, { headers: { 'x-request-id': 'abc-123' } });
    assert.equal(res.headers.get('x-request-id'), 'abc-123');
    const other = await fetch(`${url}/health`);
    assert.match(other.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  test('health is 200 or 503, ready follows, metrics count routes, OpenAPI and docs are served', async () => {
    assert.equal((await fetch(`${url}/health`)).status, 200);
    healthy = false;
    const sick = await fetch(`${url}/health`);
    assert.equal(sick.status, 503);
    assert.equal(((await sick.json()) as { status: string }).status, 'unhealthy');
    assert.equal((await fetch(`${url}/ready`)).status, 503);
    healthy = true;
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(
      metrics,
      /http_requests_total\{method="POST",route="\/echo",status_code="200",service="test-service"\} \d+/,
    );
    assert.match(metrics, /http_request_duration_seconds_bucket\{.*route="\/echo"/);
    const openapi = (await (await fetch(`${url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    assert.match(openapi.openapi, /^3\./);
    assert.ok('/echo' in openapi.paths, 'route documented');
    const docs = await fetch(`${url}/docs`);
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /<html/i);
  });
});

describe('token auth', () => {
  test('every route but /health and /ready needs the bearer token', async () => {
    const app = await createApp({
      service: 'secured',
      logger: createLogger('test', 'silent'),
      token: 's3cret-token',
    });
    app.get('/private', async () => ({ ok: true }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    try {
      assert.equal((await fetch(`${url}/health`)).status, 200);
      const denied = await fetch(`${url}/private`);
      assert.equal(denied.status, 401);
      assert.equal(((await denied.json()) as { error: { code: string } }).error.code, 'unauthorized');
      assert.equal(
        (await fetch(`${url}/private`, { headers: { authorization: 'Bearer wrong' } })).status,
        401,
      );
      assert.equal(
        (await fetch(`${url}/private`, { headers: { authorization: 'Bearer s3cret-token' } })).status,
        200,
      );
      assert.equal((await fetch(`${url}/metrics`)).status, 401);
    } finally {
      await app.close();
    }
  });
});
