// The coordinator's browser boundary, written as the attacks of issue 13 against a real coordinator (real memory
// core, neural memory and orchestrator, PGlite sessions): a page on another site opening the audio WebSocket and
// telling it a secret, a DNS-rebinding name reading the memory export, a cross-site form posting a turn; and the
// console logging in with the token and using the API and the audio WebSocket by its cookie.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { request } from 'node:http';
import WebSocket from 'ws';
import { buildConsole, consoleBuilt } from '@synthians/console';
import { startStack, type Stack } from '../../../orchestrator/src/test-support.ts';
import { startCoordinator, tempDir, type TestCoordinator } from './test-support.ts';

const TOKEN = 'browser-test-token-0123456789';
let stack: Stack;
let open: TestCoordinator;
let guarded: TestCoordinator;
const dirs: string[] = [];

async function coordinator(env: Record<string, string>) {
  const dir = tempDir();
  dirs.push(dir);
  return startCoordinator(
    { MEMORY_CORE_URL: stack.core.url, ORCHESTRATOR_URL: stack.orch.url, CONSOLE_ENABLED: 'true', ...env },
    { dir },
  );
}

/** A GET with a chosen Host header (fetch does not let a caller set Host). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += String(d)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  if (!consoleBuilt()) await buildConsole();
  stack = await startStack({ env: { SYNTHIANS_API_TOKEN: TOKEN } });
  open = await coordinator({});
  guarded = await coordinator({ SYNTHIANS_API_TOKEN: TOKEN });
});
after(async () => {
  await open?.destroy();
  await guarded?.destroy();
  await stack?.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Opens the audio WebSocket; resolves with the HTTP status of a refusal, or the open socket. */
function connectAudio(
  base: string,
  headers: Record<string, string>,
): Promise<{ status: number; ws?: WebSocket; body?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/audio`, { headers });
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += String(d)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', () => resolve({ status: 0 }));
  });
}

async function textTurn(ws: WebSocket, text: string): Promise<Record<string, unknown>> {
  const events: Record<string, unknown>[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply: ${JSON.stringify(events)}`)), 15_000);
    ws.on('message', (data, binary) => {
      if (binary) return;
      const e = JSON.parse(String(data)) as Record<string, unknown>;
      events.push(e);
      if (e.type === 'ready') ws.send(JSON.stringify({ type: 'text', text }));
      if (e.type === 'reply' || e.type === 'error') {
        clearTimeout(timer);
        resolve(e);
      }
    });
    ws.send(
      JSON.stringify({
        type: 'start',
        format: { encoding: 'pcm_s16le', sample_rate: 16000, channels: 1 },
      }),
    );
  });
}

test('a page on another site cannot open the audio WebSocket, nor tell it a secret, with or without a token', async () => {
  const sessionsBefore = (await open.request('GET', '/v1/sessions')).body;
  for (const c of [open, guarded]) {
    for (const origin of ['http://evil.example', 'null', 'http://localhost:9999']) {
      const r = await connectAudio(c.url, { origin });
      assert.equal(r.status, 403, `${origin} → ${r.status}`);
      assert.match(r.body ?? '', /origin_not_allowed/);
    }
    const rebound = await connectAudio(c.url.replace('127.0.0.1', 'localhost'), {
      host: 'attacker.example',
      origin: 'http://attacker.example',
    });
    assert.equal(rebound.status, 403, 'a rebinding name');
  }
  assert.deepEqual((await open.request('GET', '/v1/sessions')).body, sessionsBefore, 'nothing was stored');
  // The console's own origin is welcome (no token configured).
  const own = await connectAudio(open.url, { origin: open.url });
  assert.equal(own.status, 101);
  const reply = await textTurn(own.ws!, 'what time is it');
  assert.equal(reply.type, 'reply', JSON.stringify(reply));
  own.ws!.close();
});

test('DNS rebinding: the memory export and the turn API refuse a foreign Host; a cross-site form cannot post a turn', async () => {
  const exported = await fetch(`${open.url}/api/memory/export`, { headers: { origin: open.url } });
  assert.equal(exported.status, 200, 'the console itself reads the export (its Origin is not passed on)');
  await exported.arrayBuffer();
  const port = new URL(open.url).port;
  const rebound = await getWithHost(`${open.url}/api/memory/export`, `attacker.example:${port}`);
  assert.equal(rebound.status, 403);
  assert.equal((JSON.parse(rebound.body) as { error: { code: string } }).error.code, 'host_not_allowed');
  const page = await getWithHost(`${open.url}/`, `attacker.example:${port}`);
  assert.equal(page.status, 403, 'nor the console page');
  const sessions = (await open.request('GET', '/v1/sessions')).body;
  const form = await open.request(
    'POST',
    '/v1/turns',
    { text: 'remember that my bank PIN is 4711' },
    { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
  );
  assert.equal(form.status, 403);
  assert.deepEqual((await open.request('GET', '/v1/sessions')).body, sessions, 'no turn ran');
});

test('with a token the console logs in once: an HttpOnly cookie then carries its API calls and its audio WebSocket', async () => {
  const page = await fetch(`${guarded.url}/`);
  assert.equal(page.status, 200, 'the page itself needs no token');
  await page.arrayBuffer();
  assert.equal((await guarded.request('GET', '/api/memory/stats')).status, 401);
  assert.deepEqual((await guarded.request('GET', '/api/session')).body, {
    token_required: true,
    authenticated: false,
  });
  const wrong = await guarded.request('POST', '/api/session', { token: 'guess' });
  assert.equal(wrong.status, 401);
  const login = await fetch(`${guarded.url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: guarded.url },
    body: JSON.stringify({ token: TOKEN }),
  });
  assert.equal(login.status, 200);
  const setCookie = login.headers.get('set-cookie') ?? '';
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  const cookie = setCookie.split(';')[0] as string;
  assert.equal((await guarded.request('GET', '/api/memory/stats', undefined, { cookie })).status, 200);
  assert.equal(
    (await guarded.request('GET', '/api/session', undefined, { cookie })).body.authenticated,
    true,
  );

  assert.equal(
    (await connectAudio(guarded.url, { origin: guarded.url })).status,
    401,
    'no cookie, no socket',
  );
  const stolen = await connectAudio(guarded.url, { origin: 'http://evil.example', cookie });
  assert.equal(stolen.status, 403, 'the cookie is no use from another origin');
  const own = await connectAudio(guarded.url, { origin: guarded.url, cookie });
  assert.equal(own.status, 101);
  assert.equal((await textTurn(own.ws!, 'what time is it')).type, 'reply');
  own.ws!.close();

  const logout = await fetch(`${guarded.url}/api/session`, { method: 'DELETE', headers: { cookie } });
  assert.match(logout.headers.get('set-cookie') ?? '', /Max-Age=0/);
});
