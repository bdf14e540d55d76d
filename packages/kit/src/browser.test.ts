// The browser boundary every service gets from createApp, written as the attacks: DNS rebinding (a foreign Host), a
// page on another site (a foreign Origin, or Sec-Fetch-Site: cross-site), a forged or expired console cookie; text
// that cannot be stored exactly (NUL, lone surrogates); a refused WebSocket upgrade that must not hold the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { z } from 'zod';
import websocket from '@fastify/websocket';
import { allowedHostNames, ConsoleCookie, CONSOLE_COOKIE, hostOf } from './browser.ts';
import { loadConfig, serviceVariables } from './config.ts';
import { createApp } from './http.ts';
import { MAX_JSON_DEPTH } from './text.ts';
import { stop } from './lifecycle.ts';
import { createLogger } from './logger.ts';
import { serviceSetup } from './service.ts';

const logger = createLogger('browser-test', 'silent');
const schema = z.object({ ...serviceVariables('demo', 5999, 1 << 20) });

async function app(env: Record<string, string>, extra: { cookie?: ConsoleCookie } = {}) {
  const config = loadConfig(schema, env);
  const { http } = serviceSetup({ env, dataDir: '/tmp' }, 'demo', config);
  const a = await createApp({
    ...http,
    service: 'demo',
    logger,
    token: config.SYNTHIANS_API_TOKEN,
    consoleCookie: extra.cookie,
    isPublic: (p) => p === '/',
  });
  a.get('/v1/export', async () => ({ memories: ['my bank PIN is 4711'] }));
  a.post('/v1/remember', async (req) => ({ stored: req.body }));
  a.get('/v1/items/:id', async (req) => ({ id: (req.params as { id: string }).id }));
  a.get('/', async () => 'page');
  return a;
}

test('DNS rebinding: a request naming a foreign host is refused (403 host_not_allowed); IPs, localhost and ALLOWED_HOSTS pass', async () => {
  const a = await app({ ALLOWED_HOSTS: 'synthians.lan, Assistant.Home' });
  const get = (host: string, headers: Record<string, string> = {}) =>
    a.inject({ method: 'GET', url: '/v1/export', headers: { host, ...headers } });
  const rebound = await get('attacker.example:8080');
  assert.equal(rebound.statusCode, 403);
  assert.equal(rebound.json().error.code, 'host_not_allowed');
  assert.doesNotMatch(rebound.body, /4711/);
  for (const host of ['127.0.0.1:8080', 'localhost:8080', '[::1]:8080', 'synthians.lan', 'assistant.home:80'])
    assert.equal((await get(host)).statusCode, 200, host);
  const post = await a.inject({
    method: 'POST',
    url: '/v1/remember',
    headers: { host: 'attacker.example' },
    payload: { text: 'x' },
  });
  assert.equal(post.statusCode, 403, 'writes too');
  assert.equal((await get('attacker.example')).statusCode, 403);
  assert.equal(
    (await a.inject({ method: 'GET', url: '/health', headers: { host: 'attacker.example' } })).statusCode,
    200,
    '/health stays open to probes',
  );
  await a.close();
  const withToken = await app({ SYNTHIANS_API_TOKEN: 'tok-123' });
  const client = await withToken.inject({
    method: 'GET',
    url: '/v1/export',
    headers: { host: 'memory-core:5010', authorization: 'Bearer tok-123' },
  });
  assert.equal(
    client.statusCode,
    200,
    'a client holding the token may use any name (service names in compose)',
  );
  await withToken.close();
});

test('a page on another site can neither read nor write (403 origin_not_allowed), with or without a token', async () => {
  for (const env of [{}, { SYNTHIANS_API_TOKEN: 'tok-123' }] as Record<string, string>[]) {
    const cookie = env.SYNTHIANS_API_TOKEN ? new ConsoleCookie(env.SYNTHIANS_API_TOKEN) : undefined;
    const a = await app({ ...env, CORS_ORIGINS: 'http://127.0.0.1:3000' }, { cookie });
    const session = cookie ? { cookie: `${CONSOLE_COOKIE}=${cookie.issue()}` } : {};
    const req = (method: 'GET' | 'POST', headers: Record<string, string>) =>
      a.inject({
        method,
        url: method === 'GET' ? '/v1/export' : '/v1/remember',
        headers: { host: '127.0.0.1:8080', ...session, ...headers },
        ...(method === 'POST' ? { payload: { text: 'remember that my bank PIN is 4711' } } : {}),
      });
    for (const method of ['GET', 'POST'] as const) {
      for (const origin of [
        'http://evil.example',
        'null',
        'http://127.0.0.1:8081',
        'https://127.0.0.1.evil.example',
      ]) {
        const r = await req(method, { origin });
        assert.equal(r.statusCode, 403, `${method} from ${origin}`);
        assert.equal(r.json().error.code, 'origin_not_allowed');
      }
      const blind = await req(method, { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' });
      assert.equal(blind.statusCode, 403, `${method} cross-site without Origin`);
      assert.equal((await req(method, { origin: 'http://127.0.0.1:8080' })).statusCode, 200, 'same origin');
      assert.equal((await req(method, { origin: 'http://127.0.0.1:3000' })).statusCode, 200, 'CORS_ORIGINS');
      assert.equal((await req(method, {})).statusCode, 200, 'no Origin: not a cross-site browser request');
    }
    const navigation = await a.inject({
      method: 'GET',
      url: '/',
      headers: { host: '127.0.0.1:8080', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' },
    });
    assert.equal(navigation.statusCode, 200, 'a link from another site still opens the page');
    await a.close();
  }
});

test('console cookie: signed, expiring, bound to the token; without it the API answers 401', async () => {
  const cookie = new ConsoleCookie('tok-123', 60_000);
  const a = await app({ SYNTHIANS_API_TOKEN: 'tok-123' }, { cookie });
  const get = (cookieHeader?: string) =>
    a.inject({ method: 'GET', url: '/v1/export', headers: cookieHeader ? { cookie: cookieHeader } : {} });
  assert.equal((await get()).statusCode, 401);
  assert.equal((await get(`${CONSOLE_COOKIE}=${cookie.issue()}`)).statusCode, 200);
  assert.equal((await get(`other=1; ${CONSOLE_COOKIE}=${cookie.issue()}`)).statusCode, 200);
  const [expires, sig] = cookie.issue().split('.') as [string, string];
  assert.equal((await get(`${CONSOLE_COOKIE}=${Number(expires) + 1}.${sig}`)).statusCode, 401, 'tampered');
  assert.equal(
    (await get(`${CONSOLE_COOKIE}=${cookie.issue(Date.now() - 120_000)}`)).statusCode,
    401,
    'expired',
  );
  const otherToken = new ConsoleCookie('another-token', 60_000);
  assert.equal(
    (await get(`${CONSOLE_COOKIE}=${otherToken.issue()}`)).statusCode,
    401,
    'another token’s cookie',
  );
  assert.equal((await a.inject({ method: 'GET', url: '/' })).statusCode, 200, 'public paths need no token');
  const header = cookie.header(false);
  assert.match(header, /HttpOnly/);
  assert.match(header, /SameSite=Strict/);
  assert.doesNotMatch(header, /Secure/);
  assert.match(cookie.header(true), /; Secure$/);
  await a.close();
});

test('text that cannot be stored exactly is a 400 invalid_text: NUL and lone surrogates in path, query, body and keys', async () => {
  const a = await app({});
  const cases = [
    { method: 'GET' as const, url: '/v1/items/abc%00def' },
    { method: 'GET' as const, url: '/v1/export?q=%00' },
    { method: 'POST' as const, url: '/v1/remember', payload: '{"text":"PIN \\u0000 4711"}' },
    { method: 'POST' as const, url: '/v1/remember', payload: '{"text":"lone \\ud800 surrogate"}' },
    { method: 'POST' as const, url: '/v1/remember', payload: '{"meta":{"k\\udc00":1}}' },
    { method: 'POST' as const, url: '/v1/remember', payload: '{"list":[1,2,["deep \\u0000"]]}' },
  ];
  for (const c of cases) {
    const r = await a.inject({ ...c, headers: { 'content-type': 'application/json' } });
    assert.equal(r.statusCode, 400, `${c.method} ${c.url} ${c.payload ?? ''}`);
    assert.equal(r.json().error.code, 'invalid_text');
  }
  const pair = await a.inject({
    method: 'POST',
    url: '/v1/remember',
    headers: { 'content-type': 'application/json' },
    payload: '{"text":"a pair is fine \\ud83d\\ude00"}',
  });
  assert.equal(pair.statusCode, 200);
  assert.equal(pair.json().stored.text, 'a pair is fine 😀', 'stored exactly');
  await a.close();
});

test('JSON nested deeper than MAX_JSON_DEPTH is a 400 nesting_too_deep, not a stack overflow where it is stored', async () => {
  const a = await app({});
  const nested = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  const post = (payload: string) =>
    a.inject({
      method: 'POST',
      url: '/v1/remember',
      headers: { 'content-type': 'application/json' },
      payload,
    });
  const deep = await post(`{"meta":${nested(20_000)}}`);
  assert.equal(deep.statusCode, 400);
  assert.equal(deep.json().error.code, 'nesting_too_deep');
  const arrays = await post(`{"list":${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}}`);
  assert.equal(arrays.json().error.code, 'nesting_too_deep');
  const atLimit = await post(nested(MAX_JSON_DEPTH - 1));
  assert.equal(atLimit.statusCode, 200, `${MAX_JSON_DEPTH} levels are accepted`);
  await a.close();
});

test('a refused WebSocket upgrade is answered and closed: it does not hold the server open at shutdown', async () => {
  const a = await createApp({ service: 'demo', logger, token: 'tok-123' });
  await a.register(websocket);
  a.get('/v1/socket', { websocket: true }, (socket) => socket.send('hello'));
  await a.listen({ host: '127.0.0.1', port: 0 });
  const port = (a.server.address() as { port: number }).port;
  const sock = connect(port, '127.0.0.1');
  let answer = '';
  sock.on('data', (d) => (answer += String(d)));
  const ended = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  sock.write(
    'GET /v1/socket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await ended;
  assert.match(answer, /^HTTP\/1\.1 401/);
  assert.match(answer, /connection: close/i);
  const t0 = Date.now();
  await stop({ name: 'demo', app: a, host: '127.0.0.1', port, close: async () => {} }, 5000);
  assert.ok(Date.now() - t0 < 1000, `stopped in ${Date.now() - t0} ms`);
});

test('host names: Host header parsing and the names a binding answers to', () => {
  assert.equal(hostOf('[::1]:8080'), '::1');
  assert.equal(hostOf('Example.ORG:80'), 'example.org');
  assert.equal(hostOf('127.0.0.1'), '127.0.0.1');
  assert.deepEqual(allowedHostNames('127.0.0.1', ' a.lan ,B.lan'), ['a.lan', 'b.lan']);
  const off = allowedHostNames('0.0.0.0', '');
  assert.ok(off.length >= 1, 'off loopback the machine’s own name is served');
  assert.ok(allowedHostNames('synthians.lan', '').includes('synthians.lan'), 'the bound name itself');
});
