// The `synthians` command: help on every command, clear start-up errors, `up` and `serve`, graceful SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const cli = new URL('../bin/synthians.js', import.meta.url).pathname;
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [cli, ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });

function start(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const urls: string[] = [];
  const ready = new Promise<string[]>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (m) urls.push(m[1]!);
      if (/Press Ctrl\+C|listening on/.test(line)) resolve(urls);
    });
    child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, ready, exited };
}

test('--help on every command', () => {
  for (const args of [['--help'], ['up', '--help'], ['serve', '--help'], ['services', '--help']]) {
    const r = run(args);
    assert.equal(r.status, 0, args.join(' '));
    assert.match(r.stdout, /Usage: synthians/);
  }
  assert.match(run(['serve', '--help']).stdout, /--follow <url>/);
  assert.match(run(['services']).stdout, /memory-core\s+5010/);
});

test('unknown services and bad configuration stop start-up with a message naming the problem', () => {
  const unknown = run(['serve', 'nope']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /Unknown service "nope".*memory-core/);
  const badPort = run(['serve', 'memory-core'], { PORT: 'abc' });
  assert.equal(badPort.status, 1);
  assert.match(badPort.stderr, /PORT/);
  const badDim = run(['serve', 'memory-core', '--port', '0'], { EMBEDDING_DIM: '-5' });
  assert.equal(badDim.status, 1);
  assert.match(badDim.stderr, /EMBEDDING_DIM/);
  const open = run(['serve', 'memory-core', '--port', '0', '--host', '0.0.0.0']);
  assert.equal(open.status, 1);
  assert.match(open.stderr, /SYNTHIANS_API_TOKEN/);
});

test('a port already in use is refused with a clear message', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'synthians-cli-'));
  try {
    const r = run(['up', '--data-dir', dir], { MEMORY_CORE_PORT: String(port) });
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `memory-core cannot listen on 127\\.0\\.0\\.1:${port}: another program uses that port\\. Set MEMORY_CORE_PORT`,
      ),
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'one clear line, no stack trace');
  } finally {
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('up runs every service with data under the data directory, prints where, and stops gracefully on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'synthians-cli-'));
  const proc = start(['up'], { SYNTHIANS_DATA_DIR: dir, MEMORY_CORE_PORT: '0' });
  try {
    const [url] = await proc.ready;
    assert.ok(url, 'printed a URL');
    assert.equal((await fetch(`${url}/health`)).status, 200);
    const stored = await fetch(`${url}/v1/memories`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"content":"graceful"}',
    });
    assert.equal(stored.status, 201);
    // An in-flight long-poll is finished, not dropped, when the process is asked to stop.
    const head = ((await (await fetch(`${url}/v1/stats`)).json()) as { head_seq: number }).head_seq;
    const poll = fetch(`${url}/v1/changes?since=${head}&wait_ms=20000`);
    await new Promise((r) => setTimeout(r, 200));
    const asked = Date.now();
    proc.child.kill('SIGTERM');
    const res = await poll;
    assert.equal(res.status, 200);
    assert.equal(await proc.exited, 0);
    assert.ok(Date.now() - asked < 10_000, 'shutdown did not wait for the long-poll timeout');
    assert.ok(existsSync(join(dir, 'memory-core', 'memory.db')), 'data under the data directory');
  } finally {
    proc.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve runs one service on the given port; --follow makes a memory-core standby', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'synthians-cli-'));
  const primary = start(['serve', 'memory-core', '--port', '0', '--data-dir', join(dir, 'p')], {});
  try {
    const [purl] = await primary.ready;
    const standby = start(['serve', 'memory-core', '--port', '0', '--follow', purl!], {
      MEMORY_STORAGE_PATH: join(dir, 's'),
    });
    try {
      const [surl] = await standby.ready;
      const stats = (await (await fetch(`${surl}/stats`)).json()) as { role: string };
      assert.equal(stats.role, 'standby');
      const write = await fetch(`${surl}/process_memory`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"content":"x"}',
      });
      assert.equal(write.status, 503);
    } finally {
      standby.child.kill('SIGTERM');
      assert.equal(await standby.exited, 0);
    }
  } finally {
    primary.child.kill('SIGTERM');
    await primary.exited;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM stops `up` within 10 s in token mode whatever is connected: a refused upgrade, a WebSocket, event streams, a long poll', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'synthians-cli-'));
  const token = 'cli-test-token-0123456789';
  const auth = { authorization: `Bearer ${token}` };
  const proc = start(['up'], { SYNTHIANS_DATA_DIR: dir, SYNTHIANS_API_TOKEN: token });
  const sockets: Socket[] = [];
  try {
    const urls = await proc.ready;
    const coordinator = urls.find((u) => u.endsWith(':8080'))!;
    const core = urls.find((u) => u.endsWith(':5010'))!;
    assert.ok(coordinator && core, `printed the coordinator and the memory core (${urls.join(', ')})`);
    const port = (u: string) => Number(new URL(u).port);
    // An upgrade refused with 401 (no token): the one that used to keep the process alive.
    const refused = connect(port(coordinator), '127.0.0.1');
    sockets.push(refused);
    let answer = '';
    refused.on('data', (d) => (answer += String(d)));
    refused.write(
      'GET /v1/audio HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    // An accepted WebSocket that never answers a close handshake (a raw socket).
    const open = connect(port(coordinator), '127.0.0.1');
    sockets.push(open);
    let upgraded = '';
    open.on('data', (d) => (upgraded += String(d)));
    open.write(
      `GET /v1/audio HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nUpgrade: websocket\r\n` +
        'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    const events = await fetch(`${coordinator}/v1/events`, { headers: auth });
    assert.equal(events.status, 200);
    const head = ((await (await fetch(`${core}/v1/stats`, { headers: auth })).json()) as { head_seq: number })
      .head_seq;
    const poll = fetch(`${core}/v1/changes?since=${head}&wait_ms=60000`, { headers: auth }).catch(
      () => undefined,
    );
    await new Promise((r) => setTimeout(r, 500));
    assert.match(answer, /^HTTP\/1\.1 401/);
    assert.match(upgraded, /^HTTP\/1\.1 101/);
    const asked = Date.now();
    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0, 'a clean exit');
    const took = Date.now() - asked;
    assert.ok(took < 10_000, `stopped in ${took} ms`);
    await poll;
  } finally {
    for (const s of sockets) s.destroy();
    proc.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI errors are one clear line and a non-zero exit: a missing WAV, a coordinator that is not there', () => {
  const missing = run(['talk', '/nonexistent/question.wav', '--url', 'http://127.0.0.1:9']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^synthians: .*no such file or directory.*question\.wav/m);
  assert.doesNotMatch(missing.stderr, /\n\s+at /, 'no stack trace');
  const chat = spawnSync(process.execPath, [cli, 'chat', '--url', 'http://127.0.0.1:9'], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    input: 'hello\n',
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(chat.status, 1);
  assert.match(chat.stderr, /^synthians: cannot reach the coordinator at http:\/\/127\.0\.0\.1:9/m);
  assert.doesNotMatch(chat.stderr, /\n\s+at /, 'no stack trace');
});
