// The attack: an anonymous client of a Wyoming server that listens beyond loopback. The servers here bind
// 0.0.0.0 (every interface, for the few seconds of this file; each is closed in `after`) and the client
// connects through 127.0.0.1: the decision is the server's bound address, not the client's, so this client
// is as anonymous as one from the LAN. Wire bytes are written and parsed by hand, not by our protocol code.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, type Env, stop, type ServiceInstance } from '@synthians/kit';
import { RawClient, startWyoming } from './wyoming-test-support.ts';

const API_TOKEN = 'api-token-for-http-0123456789';
const WYOMING_TOKEN = 'wyoming-token-for-satellites-42';
const dir = mkdtempSync(join(tmpdir(), 'synthians-wyoming-auth-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const start = (host: string, env: Env): ReturnType<typeof startWyoming> => startWyoming(dir, host, env);

/** The server refused: one `error` event with code `unauthorized`, nothing else, and the connection closed. */
async function assertRefused(c: RawClient, what: string): Promise<void> {
  await c.closedBy();
  assert.deepEqual(
    c.events.map((e) => [e.type, e.data.code]),
    [['error', 'unauthorized']],
    `${what}: only an unauthorized error before the close`,
  );
}

describe('Wyoming bound to 0.0.0.0 with SYNTHIANS_API_TOKEN and WYOMING_TOKEN', () => {
  let server: { instance: ServiceInstance; port: number };
  before(async () => {
    server = await start('0.0.0.0', {
      SYNTHIANS_API_TOKEN: API_TOKEN,
      WYOMING_TOKEN,
      WYOMING_ALLOWED_CLIENTS: '10.0.0.0/8, 192.168.77.5',
      WYOMING_AUTH_TIMEOUT_MS: '1000',
    });
  });
  after(async () => {
    await stop(server.instance);
  });

  test('anonymous describe: unauthorized and closed, no info', async () => {
    const c = await RawClient.connect(server.port);
    c.send('describe');
    await assertRefused(c, 'describe');
  });

  test('anonymous synthesize (pipelined with describe): unauthorized and closed, no audio', async () => {
    const c = await RawClient.connect(server.port);
    c.socket.write(
      Buffer.concat([
        RawClient.bytes('synthesize', { text: 'I should not be spoken' }),
        RawClient.bytes('describe'),
      ]),
    );
    await assertRefused(c, 'synthesize');
  });

  test('old-style inline-data describe and a ping are refused the same way', async () => {
    const c = await RawClient.connect(server.port);
    c.socket.write('{"type": "describe", "data": {}}\n');
    await assertRefused(c, 'inline describe');
    const p = await RawClient.connect(server.port);
    p.send('ping', { text: 'x' });
    await assertRefused(p, 'ping');
  });

  test('a wrong token, an empty one, or the API token when WYOMING_TOKEN is set: unauthorized', async () => {
    for (const token of ['wrong', '', API_TOKEN, WYOMING_TOKEN.slice(0, -1), undefined]) {
      const c = await RawClient.connect(server.port);
      c.socket.write(
        Buffer.concat([
          RawClient.bytes('auth', token === undefined ? {} : { token }),
          RawClient.bytes('describe'),
        ]),
      );
      await assertRefused(c, `token ${JSON.stringify(token)}`);
    }
  });

  test('auth with the right token, then describe and synthesize work', async () => {
    const c = await RawClient.connect(server.port);
    c.send('auth', { token: WYOMING_TOKEN });
    c.send('describe');
    const info = await c.waitFor('info');
    assert.ok(Array.isArray(info.data.tts), 'info lists the TTS program');
    c.send('synthesize', { text: 'Hello.', voice: { name: 'en-us' } });
    await c.waitFor('audio-stop');
    assert.ok(
      c.events.filter((e) => e.type === 'audio-chunk').length > 0,
      'speech audio after authenticating',
    );
    assert.ok(!c.events.some((e) => e.type === 'error'), 'no error');
    c.close();
  });

  test('auth pipelined with audio in one write: the events after it get the normal limits', async () => {
    const c = await RawClient.connect(server.port);
    const fmt = { rate: 16000, width: 2, channels: 1 };
    c.socket.write(
      Buffer.concat([
        RawClient.bytes('auth', { token: WYOMING_TOKEN }),
        RawClient.bytes('audio-start', { ...fmt, timestamp: 0 }),
        RawClient.bytes('audio-chunk', fmt, new Uint8Array(8192)),
        RawClient.bytes('audio-stop', { timestamp: 256 }),
        RawClient.bytes('ping', { text: 'after' }),
      ]),
    );
    assert.deepEqual((await c.waitFor('pong')).data, { text: 'after' });
    assert.ok(!c.events.some((e) => e.type === 'error'), 'no error');
    c.close();
  });

  test('pre-auth limits: an oversized header line or a payload closes the connection', async () => {
    const long = await RawClient.connect(server.port);
    long.socket.write(`{"type":"auth","data":{"token":"${'a'.repeat(5000)}`);
    await long.closedBy();
    assert.equal(long.events[0]?.data.code, 'wyoming_event_too_large', 'header line over 4 KiB');
    const payload = await RawClient.connect(server.port);
    payload.send('auth', { token: WYOMING_TOKEN }, new Uint8Array(16));
    await payload.closedBy();
    assert.equal(payload.events[0]?.data.code, 'wyoming_event_too_large', 'no payload before auth');
  });

  test('pre-auth timeout: silence, or half an event, is closed after WYOMING_AUTH_TIMEOUT_MS', async () => {
    const t0 = Date.now();
    const silent = await RawClient.connect(server.port);
    await silent.closedBy(4000);
    const waited = Date.now() - t0;
    assert.ok(waited >= 900 && waited < 4000, `closed after about 1 s (${waited} ms)`);
    assert.deepEqual(
      silent.events.map((e) => [e.type, e.data.code]),
      [['error', 'unauthorized']],
    );
    const half = await RawClient.connect(server.port);
    half.socket.write('{"type": "auth", "data": {"tok');
    await half.closedBy(4000);
    assert.equal(half.events[0]?.data.code, 'unauthorized');
  });

  test('an authenticated connection is not cut by the pre-auth timer', async () => {
    const c = await RawClient.connect(server.port);
    c.send('auth', { token: WYOMING_TOKEN });
    await new Promise((r) => setTimeout(r, 1300));
    c.send('ping', { text: 'still here' });
    assert.deepEqual((await c.waitFor('pong')).data, { text: 'still here' });
    c.close();
  });

  test('HTTP on the same port keeps the bearer-token check', async () => {
    const url = `http://127.0.0.1:${server.port}`;
    assert.equal((await fetch(`${url}/health`)).status, 200, '/health stays open');
    assert.equal((await fetch(`${url}/metrics`)).status, 401, 'no token: 401');
    assert.equal(
      (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${WYOMING_TOKEN}` } })).status,
      401,
      'the Wyoming token does not open the HTTP API',
    );
    const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    assert.equal(metrics.status, 200);
    const text = await metrics.text();
    assert.match(text, /wyoming_unauthorized_total\{[^}]*reason="missing"[^}]*\} [1-9]/);
    assert.match(text, /wyoming_unauthorized_total\{[^}]*reason="wrong"[^}]*\} [1-9]/);
    assert.match(text, /wyoming_unauthorized_total\{[^}]*reason="invalid"[^}]*\} [1-9]/);
    assert.match(text, /wyoming_unauthorized_total\{[^}]*reason="timeout"[^}]*\} [1-9]/);
  });
});

describe('Wyoming bound to 0.0.0.0 with SYNTHIANS_API_TOKEN and an allow-list', () => {
  let server: { instance: ServiceInstance; port: number };
  before(async () => {
    server = await start('0.0.0.0', { SYNTHIANS_API_TOKEN: API_TOKEN, WYOMING_ALLOWED_CLIENTS: '127.0.0.1' });
  });
  after(async () => {
    await stop(server.instance);
  });

  test('an allow-listed client (here 127.0.0.1) needs no auth event', async () => {
    const c = await RawClient.connect(server.port);
    c.send('describe');
    await c.waitFor('info');
    c.send('ping', { text: 'p' });
    await c.waitFor('pong');
    c.close();
  });
});

describe('Wyoming bound to 0.0.0.0 with only SYNTHIANS_API_TOKEN', () => {
  let server: { instance: ServiceInstance; port: number };
  before(async () => {
    server = await start('0.0.0.0', { SYNTHIANS_API_TOKEN: API_TOKEN });
  });
  after(async () => {
    await stop(server.instance);
  });

  test('anonymous describe is refused; auth with SYNTHIANS_API_TOKEN works', async () => {
    const anon = await RawClient.connect(server.port);
    anon.send('describe');
    await assertRefused(anon, 'describe');
    const c = await RawClient.connect(server.port);
    c.send('auth', { token: API_TOKEN });
    c.send('describe');
    await c.waitFor('info');
    c.close();
  });
});

describe('configuration', () => {
  test('binding 0.0.0.0 without a token refuses to start, naming the variable', async () => {
    await assert.rejects(
      start('0.0.0.0', {}),
      (err: Error) => err instanceof ConfigError && /SYNTHIANS_API_TOKEN/.test(err.message),
    );
    // WYOMING_TOKEN alone is not enough: the HTTP routes on the same port need SYNTHIANS_API_TOKEN.
    await assert.rejects(
      start('0.0.0.0', { WYOMING_TOKEN }),
      (err: Error) => err instanceof ConfigError && /SYNTHIANS_API_TOKEN/.test(err.message),
    );
  });

  test('a bad WYOMING_ALLOWED_CLIENTS entry refuses to start, naming the variable', async () => {
    await assert.rejects(
      start('0.0.0.0', { SYNTHIANS_API_TOKEN: API_TOKEN, WYOMING_ALLOWED_CLIENTS: 'homeassistant.local' }),
      (err: Error) =>
        err instanceof ConfigError &&
        /WYOMING_ALLOWED_CLIENTS/.test(err.message) &&
        /homeassistant\.local/.test(err.message),
    );
  });

  test('on loopback nothing changes: no auth asked even with tokens configured', async () => {
    const server = await start('127.0.0.1', { SYNTHIANS_API_TOKEN: API_TOKEN, WYOMING_TOKEN });
    try {
      const c = await RawClient.connect(server.port);
      c.send('describe');
      await c.waitFor('info');
      c.close();
    } finally {
      await stop(server.instance);
    }
  });
});
