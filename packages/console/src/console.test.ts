// The web console in a real browser: Debian's chromium driven by playwright-core, against the real stack (memory
// core, neural memory, orchestrator, coordinator with PGlite, a health monitor watching them and a VAD agent), with
// the production build the coordinator serves. Chromium's fake microphone plays an espeak-ng WAV. Every request
// that leaves 127.0.0.1 is refused and counted (the console must work offline). Screenshots of each view at a
// desktop and a phone width go to test-results/console/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { MemoryBus, startTestService, type TestService } from '@synthians/kit';
import { vadService } from '@synthians/voice';
import { healthMonitorService } from '@synthians/assistant';
import { concat, espeak, hasEspeak, silence, wavBytes } from '../../voice/src/testing/signals.ts';
import { startStack, type Stack } from '../../orchestrator/src/test-support.ts';
import {
  startCoordinator,
  tempDir,
  type TestCoordinator,
} from '../../assistant/src/coordinator/test-support.ts';
import { consoleRoot, ensureConsoleBuilt } from './index.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const hasSphinx = spawnSync('pocketsphinx_continuous', ['-h'], { stdio: 'ignore' }).error === undefined;
const skip = !hasChromium
  ? `chromium is not installed at ${CHROMIUM} (Debian package chromium)`
  : !hasEspeak
    ? 'espeak-ng is not installed'
    : !hasSphinx
      ? 'pocketsphinx is not installed'
      : false;
const shots = path.join(consoleRoot, '..', '..', 'test-results', 'console');
const SIZES = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

let stack: Stack;
let vad: TestService;
let monitor: TestService;
let bus: MemoryBus;
let c: TestCoordinator;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let work: string;
const dirs: string[] = [];
const offline: string[] = [];

before(async () => {
  if (skip) return;
  await ensureConsoleBuilt();
  work = mkdtempSync(path.join(tmpdir(), 'synthians-console-'));
  mkdirSync(shots, { recursive: true });
  // The fake microphone: 1 s of silence, the command, 2 s of silence (Chromium loops the file).
  const wav = path.join(work, 'mic.wav');
  writeFileSync(wav, wavBytes(concat(silence(1), espeak('what time is it').samples, silence(2))));
  stack = await startStack();
  vad = await startTestService(vadService);
  bus = new MemoryBus();
  monitor = await startTestService(healthMonitorService, {
    bus,
    env: {
      HEALTH_TARGETS: `memory-core=${stack.core.url}, orchestrator=${stack.orch.url}, neural-memory=${stack.nm.url}, vad=${vad.url}`,
      HEALTH_POLL_INTERVAL_MS: '300',
      HEALTH_TIMEOUT_MS: '250',
    },
  });
  const dir = tempDir();
  dirs.push(dir);
  c = await startCoordinator(
    {
      MEMORY_CORE_URL: stack.core.url,
      ORCHESTRATOR_URL: stack.orch.url,
      HEALTH_MONITOR_URL: monitor.url,
      CONSOLE_HEALTH_PUSH_MS: '300',
    },
    { dir, bus },
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      '--autoplay-policy=no-user-gesture-required',
      // No network but loopback.
      '--no-proxy-server',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--no-first-run',
      '--no-sandbox',
    ],
  });
  context = await browser.newContext({ viewport: SIZES.desktop });
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.hostname === 'localhost') return route.continue();
    offline.push(url.href);
    return route.abort();
  });
  page = await context.newPage();
});

after(async () => {
  await browser?.close();
  await c?.destroy();
  await monitor?.destroy();
  await vad?.destroy().catch(() => undefined);
  await stack?.destroy();
  for (const d of [...dirs, work]) if (d) rmSync(d, { recursive: true, force: true });
});

/** Screenshots of the current view at both widths. */
async function screenshots(name: string): Promise<void> {
  for (const [size, viewport] of Object.entries(SIZES)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: path.join(shots, `${name}-${size}.png`), fullPage: true });
  }
  await page.setViewportSize(SIZES.desktop);
}

const conversation = () => page.getByRole('log', { name: 'Conversation' });

test('the page loads from the coordinator, offline, with its three views', { skip }, async () => {
  const res = await page.goto(`${c.url}/`);
  assert.equal(res?.status(), 200);
  assert.match(res?.headers()['content-security-policy'] ?? '', /default-src 'self'/, 'a CSP');
  for (const name of ['Talk', 'Memory', 'Health'])
    await page.getByRole('link', { name, exact: true }).waitFor();
  await page.getByRole('status', { name: 'Assistant state' }).waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.deepEqual(offline, [], 'no request left 127.0.0.1');
});

test('a typed turn: the reply appears in the conversation', { skip }, async () => {
  await page.goto(`${c.url}/#/talk`);
  await page.getByLabel('Message').fill('what time is it');
  await page.getByLabel('Message').press('Enter');
  await conversation()
    .locator('.msg.assistant', { hasText: /It's \d{1,2}:\d\d [AP]M/ })
    .waitFor();
  await conversation().locator('.msg.user', { hasText: 'what time is it' }).waitFor();
  await page.getByRole('list', { name: 'Sessions' }).locator('li').first().waitFor();
  await screenshots('talk');
});

test('a spoken turn: fake microphone → page → spoken reply, transcript shown', { skip }, async () => {
  await page.goto(`${c.url}/#/talk`);
  await page.getByRole('button', { name: 'New session' }).click();
  const ptt = page.getByRole('button', { name: 'Push to talk' });
  await ptt.hover();
  await page.mouse.down();
  await page.getByRole('status', { name: 'Assistant state' }).filter({ hasText: 'listening' }).waitFor();
  // The file: 1 s silence + "what time is it" (~1 s) + silence; hold through the phrase.
  await page.waitForTimeout(3000);
  await page.mouse.up();
  // The fake microphone loops the file: a 3 s hold may catch the phrase's tail and the next one's start.
  await conversation()
    .locator('.msg.user', { hasText: 'what time is it' })
    .first()
    .waitFor({ timeout: 20000 });
  const reply = conversation()
    .locator('.msg.assistant', { hasText: /It's \d{1,2}:\d\d [AP]M/ })
    .last();
  await reply.waitFor({ timeout: 20000 });
  const played = reply.getByLabel('Reply audio length');
  await played.waitFor({ timeout: 20000 });
  const seconds = Number(/([\d.]+)\s*s/.exec((await played.textContent()) ?? '')?.[1]);
  assert.ok(seconds > 0.5, `the reply was spoken (${seconds} s of audio)`);
  assert.deepEqual(offline, [], 'no request left 127.0.0.1');
});

test('memory: search finds a stored memory; forget removes it', { skip }, async () => {
  await page.goto(`${c.url}/#/talk`);
  await page.getByLabel('Message').fill('Remember that my sister is called Ana.');
  await page.getByLabel('Message').press('Enter');
  await conversation()
    .locator('.msg.assistant', { hasText: /remember/i })
    .last()
    .waitFor();
  await page.getByRole('link', { name: 'Memory', exact: true }).click();
  await page.getByLabel('Search memories').fill('sister Ana');
  await page.getByRole('button', { name: 'Search' }).click();
  const list = page.getByRole('list', { name: 'Memories' });
  const item = list.locator('li', { hasText: 'my sister is called Ana' }).first();
  await item.waitFor();
  await item.click();
  const detail = page.getByRole('region', { name: 'Memory detail' });
  await detail.waitFor();
  const idCode = detail.locator('code', { hasText: /^mem_[0-9a-f]+$/ });
  await idCode.waitFor();
  const id = await idCode.textContent();
  assert.ok(id, 'the detail shows the memory id');
  await screenshots('memory');
  await detail.getByRole('button', { name: 'Forget' }).click();
  const dialog = page.getByRole('dialog', { name: 'Forget memory?' });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Forget' }).click();
  await list.locator('li', { hasText: 'my sister is called Ana' }).waitFor({ state: 'detached' });
  const res = await fetch(`${stack.core.url}/v1/memories/${id}`);
  assert.equal(res.status, 404, 'gone from the memory core');
});

test('health: live status of every service; a stopped service shows as down', { skip }, async () => {
  await page.goto(`${c.url}/#/health`);
  const table = page.getByRole('table', { name: 'Services' });
  const row = table.getByRole('row').filter({ hasText: 'vad' });
  await row.locator('.status-text', { hasText: /^up$/ }).waitFor({ timeout: 10000 });
  await page.getByLabel('Turn timings').waitFor();
  await screenshots('health');
  await vad.destroy();
  // Pushed: the page does not reload or poll.
  await row.locator('.status-text', { hasText: /^down$/ }).waitFor({ timeout: 10000 });
  await screenshots('health-down');
  assert.deepEqual(offline, [], 'no request left 127.0.0.1');
});

test(
  'a page of another site (another port of 127.0.0.1: same site, other origin) can neither talk to nor read the assistant',
  { skip },
  async (t) => {
    // The attacker's page, served from its own origin; it tries the audio WebSocket, a turn and the memory export.
    const evil = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>evil</title><p>hello</p>');
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    t.after(() => evil.close());
    const evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`;
    const attacker = await context.newPage();
    t.after(() => attacker.close());
    await attacker.goto(evilUrl);
    const target = c.url;
    const outcome = await attacker.evaluate(async (base) => {
      const ws = await new Promise<string>((resolve) => {
        const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/audio`);
        socket.onopen = () => {
          socket.send(JSON.stringify({ type: 'text', text: 'remember that my bank PIN is 4711' }));
          resolve('open');
        };
        socket.onerror = () => resolve('refused');
      });
      const post = await fetch(`${base}/v1/turns`, {
        method: 'POST',
        mode: 'no-cors',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ text: 'remember that my bank PIN is 4711' }),
      }).then(
        (r) => `sent (${r.type})`,
        () => 'refused',
      );
      const read = await fetch(`${base}/api/memory/export`).then(
        (r) => r.text().then((body) => `read ${body.length} bytes`),
        () => 'refused',
      );
      return { ws, post, read };
    }, target);
    assert.equal(outcome.ws, 'refused', 'the WebSocket upgrade is refused');
    assert.equal(outcome.read, 'refused', 'the export cannot be read cross-origin');
    const found = await fetch(`${stack.core.url}/v1/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'bank PIN 4711', mode: 'lexical', top_k: 5 }),
    });
    const results = ((await found.json()) as { results: { content: string }[] }).results;
    assert.equal(
      results.filter((r) => r.content.includes('4711')).length,
      0,
      `nothing was stored (${outcome.post})`,
    );
  },
);

test(
  'with a token: the console asks for it once, then talks by its session cookie (typed and spoken turns)',
  { skip },
  async (t) => {
    const dir = tempDir();
    dirs.push(dir);
    const guarded = await startCoordinator(
      {
        MEMORY_CORE_URL: stack.core.url,
        ORCHESTRATOR_URL: stack.orch.url,
        HEALTH_MONITOR_URL: monitor.url,
        SYNTHIANS_API_TOKEN: 'console-browser-token-42',
      },
      { dir, bus },
    );
    t.after(() => guarded.destroy());
    const p = await context.newPage();
    t.after(() => p.close());
    await p.goto(`${guarded.url}/#/talk`);
    const token = p.getByLabel('API token');
    await token.waitFor();
    await token.fill('not-the-token');
    await p.getByRole('button', { name: 'Log in' }).click();
    await p.getByRole('alert').filter({ hasText: 'Wrong token' }).waitFor();
    await p.screenshot({ path: path.join(shots, 'login.png') });
    await token.fill('console-browser-token-42');
    await p.getByRole('button', { name: 'Log in' }).click();
    await p.getByLabel('Message').fill('what time is it');
    await p.getByLabel('Message').press('Enter');
    await p
      .getByRole('log', { name: 'Conversation' })
      .locator('.msg.assistant', { hasText: /It's \d{1,2}:\d\d [AP]M/ })
      .waitFor();
    const cookies = await context.cookies(guarded.url);
    const session = cookies.find((k) => k.name === 'synthians_console');
    assert.ok(session?.httpOnly, 'an HttpOnly session cookie');
    assert.equal(session?.sameSite, 'Strict');
    // The audio WebSocket opens with the cookie (a browser cannot send an Authorization header there).
    await p.getByRole('button', { name: 'Push to talk' }).hover();
    await p.mouse.down();
    await p.getByRole('status', { name: 'Assistant state' }).filter({ hasText: 'listening' }).waitFor();
    await p.waitForTimeout(3000);
    await p.mouse.up();
    await p
      .getByRole('log', { name: 'Conversation' })
      .locator('.msg.user', { hasText: 'what time is it' })
      .last()
      .waitFor({ timeout: 20000 });
    await p.screenshot({ path: path.join(shots, 'login-talk.png') });
  },
);
