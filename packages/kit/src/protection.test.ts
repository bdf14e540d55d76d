// HTTP protections every service gets from serviceVariables: CORS only for configured origins, a per-address rate
// limit (loopback exempt), and the API token read from a file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { createApp } from './http.ts';
import { createLogger } from './logger.ts';
import { loadConfig, serviceVariables } from './config.ts';
import { serviceSetup } from './service.ts';

const logger = createLogger('protection-test', 'silent');
const schema = z.object({ ...serviceVariables('demo', 5999, 1 << 20) });

async function app(env: Record<string, string>) {
  const config = loadConfig(schema, env);
  const { http } = serviceSetup({ env, dataDir: '/tmp' }, 'demo', config);
  const a = await createApp({ ...http, service: 'demo', logger, token: config.SYNTHIANS_API_TOKEN });
  a.get('/v1/ping', async () => ({ pong: true }));
  return a;
}

test('CORS: only the configured origins get CORS headers; none by default', async () => {
  const open = await app({ CORS_ORIGINS: 'http://127.0.0.1:8080, https://console.example/' });
  const ok = await open.inject({
    method: 'GET',
    url: '/v1/ping',
    headers: { origin: 'http://127.0.0.1:8080' },
  });
  assert.equal(ok.headers['access-control-allow-origin'], 'http://127.0.0.1:8080');
  const slash = await open.inject({
    method: 'GET',
    url: '/v1/ping',
    headers: { origin: 'https://console.example' },
  });
  assert.equal(
    slash.headers['access-control-allow-origin'],
    'https://console.example',
    'trailing slash ignored',
  );
  const other = await open.inject({
    method: 'GET',
    url: '/v1/ping',
    headers: { origin: 'http://evil.example' },
  });
  assert.equal(other.headers['access-control-allow-origin'], undefined);
  const preflight = await open.inject({
    method: 'OPTIONS',
    url: '/v1/ping',
    headers: {
      origin: 'http://127.0.0.1:8080',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type',
    },
  });
  assert.equal(preflight.statusCode, 204);
  assert.match(String(preflight.headers['access-control-allow-headers']), /authorization/);
  await open.close();
  const closed = await app({});
  const none = await closed.inject({
    method: 'GET',
    url: '/v1/ping',
    headers: { origin: 'http://127.0.0.1:8080' },
  });
  assert.equal(none.headers['access-control-allow-origin'], undefined, 'no origin allowed by default');
  await closed.close();
});

test('rate limit: a remote address gets 429 rate_limited above the limit; loopback is exempt; 0 turns it off', async () => {
  const a = await app({ RATE_LIMIT_PER_MINUTE: '5' });
  const from = (remoteAddress: string) => a.inject({ method: 'GET', url: '/v1/ping', remoteAddress });
  for (let i = 0; i < 5; i++) assert.equal((await from('10.1.2.3')).statusCode, 200);
  const limited = await from('10.1.2.3');
  assert.equal(limited.statusCode, 429);
  const body = limited.json() as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'rate_limited');
  assert.equal((await from('10.9.9.9')).statusCode, 200, 'per address');
  for (let i = 0; i < 20; i++)
    assert.equal((await from('127.0.0.1')).statusCode, 200, 'loopback is not limited');
  await a.close();
  const off = await app({ RATE_LIMIT_PER_MINUTE: '0' });
  for (let i = 0; i < 30; i++)
    assert.equal(
      (await off.inject({ method: 'GET', url: '/v1/ping', remoteAddress: '10.1.2.3' })).statusCode,
      200,
    );
  await off.close();
  assert.equal(loadConfig(schema, {}).RATE_LIMIT_PER_MINUTE, 1200, 'on by default');
});

test('the token from SYNTHIANS_API_TOKEN_FILE; unreadable or empty files are configuration errors', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'synthians-token-'));
  try {
    const file = path.join(dir, 'token');
    writeFileSync(file, 's3cret-token\n');
    const a = await app({ SYNTHIANS_API_TOKEN_FILE: file, HOST: '0.0.0.0' });
    assert.equal((await a.inject({ method: 'GET', url: '/v1/ping' })).statusCode, 401);
    const ok = await a.inject({
      method: 'GET',
      url: '/v1/ping',
      headers: { authorization: 'Bearer s3cret-token' },
    });
    assert.equal(ok.statusCode, 200);
    assert.equal((await a.inject({ method: 'GET', url: '/health' })).statusCode, 200, '/health stays open');
    await a.close();
    assert.equal(
      loadConfig(schema, { SYNTHIANS_API_TOKEN: 'env-wins', SYNTHIANS_API_TOKEN_FILE: file })
        .SYNTHIANS_API_TOKEN,
      'env-wins',
    );
    assert.throws(
      () => loadConfig(schema, { SYNTHIANS_API_TOKEN_FILE: path.join(dir, 'missing') }),
      ConfigError,
    );
    writeFileSync(path.join(dir, 'empty'), '  \n');
    assert.throws(
      () => loadConfig(schema, { SYNTHIANS_API_TOKEN_FILE: path.join(dir, 'empty') }),
      /is empty/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
