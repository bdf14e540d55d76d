// The coordinator's console routes without a browser: the memory proxy (allow-list, errors passed through, the
// memory core down → 502), the health relay (snapshot now and pushed on change, monitor down → status unknown)
// and the static files with their headers. Real memory core, real health monitor, a fake service to stop.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp, createLogger, MemoryBus, startTestService, type TestService } from '@synthians/kit';
import { startStack, type Stack } from '../../../orchestrator/src/test-support.ts';
import { healthMonitorService } from '../health/index.ts';
import { fakeService, type FakeService } from '../health/test-support.ts';
import { registerConsole } from './console.ts';
import { startCoordinator, tempDir, type TestCoordinator } from './test-support.ts';

let stack: Stack;
let fake: FakeService;
let monitor: TestService;
let bus: MemoryBus;
let c: TestCoordinator;
const dirs: string[] = [];

before(async () => {
  stack = await startStack();
  fake = await fakeService('healthy');
  bus = new MemoryBus();
  monitor = await startTestService(healthMonitorService, {
    bus,
    env: {
      HEALTH_TARGETS: `memory-core=${stack.core.url}, extra=${fake.url}`,
      HEALTH_POLL_INTERVAL_MS: '200',
      HEALTH_TIMEOUT_MS: '150',
    },
  });
  const dir = tempDir();
  dirs.push(dir);
  c = await startCoordinator(
    {
      MEMORY_CORE_URL: stack.core.url,
      ORCHESTRATOR_URL: stack.orch.url,
      HEALTH_MONITOR_URL: monitor.url,
      CONSOLE_HEALTH_PUSH_MS: '200',
    },
    { dir, bus },
  );
});
after(async () => {
  await c?.destroy();
  await monitor?.destroy();
  await fake?.close();
  await stack?.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('/api/memory/* reaches the memory core: list, get, patch, search, delete; errors pass through', async () => {
  const created = await fetch(`${stack.core.url}/v1/memories`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ content: 'The console proxy test memory about kites', tags: ['console'] }),
  });
  assert.equal(created.status, 201);
  const { id } = (await created.json()) as { id: string };
  const list = await fetch(`${c.url}/api/memory/memories?tag=console&limit=5`);
  assert.equal(list.status, 200);
  const items = ((await list.json()) as { items: { id: string }[] }).items;
  assert.ok(
    items.some((m) => m.id === id),
    'listed',
  );
  const one = (await (await fetch(`${c.url}/api/memory/memories/${id}`)).json()) as Record<string, unknown>;
  assert.ok(Array.isArray(one.surprise_events), 'the detail carries the surprise history');
  const patched = await fetch(`${c.url}/api/memory/memories/${id}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tags: ['console', 'edited'] }),
  });
  assert.equal(patched.status, 200);
  const found = await fetch(`${c.url}/api/memory/search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'kites', mode: 'lexical', top_k: 3 }),
  });
  assert.equal(found.status, 200);
  assert.match(JSON.stringify(await found.json()), new RegExp(id));
  // The memory core's own validation errors come back as they are.
  const bad = await fetch(`${c.url}/api/memory/search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'x', top_k: 0 }),
  });
  assert.equal(bad.status, 400);
  assert.ok(((await bad.json()) as { error: { code: string } }).error.code, 'an error code');
  assert.equal((await fetch(`${c.url}/api/memory/memories/${id}`, { method: 'DELETE' })).status, 204);
  const gone = await fetch(`${c.url}/api/memory/memories/${id}`);
  assert.equal(gone.status, 404);
  assert.equal(((await gone.json()) as { error: { code: string } }).error.code, 'not_found');
});

test('/api/memory/* only opens the routes the console uses', async () => {
  for (const [method, p] of [
    ['POST', '/api/memory/memories'],
    ['POST', '/api/memory/import'],
    ['GET', '/api/memory/changes'],
    ['POST', '/api/memory/memories/x/boost'],
    ['GET', '/api/memory/%2e%2e/changes'],
  ] as const) {
    const res = await fetch(`${c.url}${p}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(method === 'POST' ? { body: '{}' } : {}),
    });
    assert.equal(res.status, 404, `${method} ${p} → 404`);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'route_not_found');
  }
});

test("/api/memory/* applies the coordinator's own body limit and text checks: 413 body_too_large, 400 invalid_text", async () => {
  const limit = c.coordinator.app.initialConfig.bodyLimit!;
  const before = (await (await fetch(`${stack.core.url}/v1/stats`)).json()) as { memory_count: number };
  // Just above the coordinator's limit (the memory core would take it), and above the memory core's limit too.
  for (const size of [limit + 1, 40 * 1024 * 1024]) {
    const body = Buffer.alloc(size, 0x61);
    body.write('{"query":"', 0);
    body.write('"}', size - 2);
    for (const [method, p] of [
      ['POST', '/api/memory/search'],
      ['PATCH', '/api/memory/memories/some-id'],
    ] as const) {
      const res = await fetch(`${c.url}${p}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body,
      });
      assert.equal(res.status, 413, `${method} ${p} with ${size} bytes`);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'body_too_large');
    }
  }
  for (const text of ['PIN \\u0000 4711', 'lone \\ud800']) {
    const res = await fetch(`${c.url}/api/memory/memories/some-id`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: `{"content":"${text}"}`,
    });
    assert.equal(res.status, 400, text);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_text');
  }
  const after = (await (await fetch(`${stack.core.url}/v1/stats`)).json()) as { memory_count: number };
  assert.equal(after.memory_count, before.memory_count);
});

test('/api/memory/* with the memory core down → 502 memory_core_unavailable', async () => {
  const dir = tempDir();
  dirs.push(dir);
  const lone = await startCoordinator(
    {
      MEMORY_CORE_URL: 'http://127.0.0.1:9',
      ORCHESTRATOR_URL: 'http://127.0.0.1:9',
      HEALTH_MONITOR_URL: 'http://127.0.0.1:9',
    },
    { dir },
  );
  try {
    const res = await fetch(`${lone.url}/api/memory/memories`);
    assert.equal(res.status, 502);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'memory_core_unavailable');
    const health = (await (await fetch(`${lone.url}/api/health`)).json()) as {
      status: string;
      error: { code: string };
    };
    assert.equal(health.status, 'unknown');
    assert.equal(health.error.code, 'health_monitor_unavailable');
  } finally {
    await lone.destroy();
  }
});

test('/api/health/stream pushes a snapshot now and when a service goes down', async () => {
  const ac = new AbortController();
  const res = await fetch(`${c.url}/api/health/stream`, { signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const snapshots: { status: string; services: { name: string; status: string }[] }[] = [];
  const next = async (pred: (s: (typeof snapshots)[number]) => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = snapshots.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) assert.fail(`no matching snapshot in ${ms} ms`);
      const { value, done } = await reader.read();
      if (done) assert.fail('stream ended');
      buffer += decoder.decode(value, { stream: true });
      let i;
      while ((i = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (!/^event: snapshot$/m.test(block)) continue;
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data) snapshots.push(JSON.parse(data) as (typeof snapshots)[number]);
      }
    }
  };
  try {
    const extra = (s: (typeof snapshots)[number]) => s.services.find((v) => v.name === 'extra')?.status;
    await next((s) => extra(s) === 'healthy', 5000);
    fake.mode = 'unhealthy';
    const down = await next((s) => extra(s) === 'unhealthy', 5000);
    assert.ok(down.services.length === 2, 'every service in each snapshot');
  } finally {
    fake.mode = 'healthy';
    ac.abort();
  }
});

test('static files: index.html with a CSP and no-cache, hashed assets immutable; not built → 503', async () => {
  const dist = mkdtempSync(path.join(tmpdir(), 'synthians-dist-'));
  dirs.push(dist);
  mkdirSync(path.join(dist, 'assets'));
  writeFileSync(path.join(dist, 'index.html'), '<!doctype html><html lang="en"><title>x</title></html>');
  writeFileSync(path.join(dist, 'assets', 'app-abc123.js'), 'console.log(1)');
  const app = await createApp({ service: 'console-test', logger: createLogger(undefined, 'silent') });
  await registerConsole(app, {
    distDir: dist,
    memoryCoreUrl: 'http://127.0.0.1:9',
    healthMonitorUrl: 'http://127.0.0.1:9',
    pushIntervalMs: 1000,
  });
  const index = await app.inject({ method: 'GET', url: '/' });
  assert.equal(index.statusCode, 200);
  assert.match(String(index.headers['content-type']), /text\/html/);
  assert.match(String(index.headers['content-security-policy']), /default-src 'self'/);
  assert.equal(index.headers['cache-control'], 'no-cache');
  const asset = await app.inject({ method: 'GET', url: '/assets/app-abc123.js' });
  assert.equal(asset.statusCode, 200);
  assert.match(String(asset.headers['cache-control']), /immutable/);
  const missing = await app.inject({ method: 'GET', url: '/nope.js' });
  assert.equal(missing.statusCode, 404);
  await app.close();

  const bare = await createApp({ service: 'console-test', logger: createLogger(undefined, 'silent') });
  await registerConsole(bare, {
    distDir: path.join(dist, 'absent'),
    memoryCoreUrl: 'http://127.0.0.1:9',
    healthMonitorUrl: 'http://127.0.0.1:9',
    pushIntervalMs: 1000,
  });
  const res = await bare.inject({ method: 'GET', url: '/' });
  assert.equal(res.statusCode, 503);
  assert.equal((res.json() as { error: { code: string } }).error.code, 'console_not_built');
  await bare.close();
});

test('metrics behind the dashboard: turn stages and turns, memory counts, surprise', async () => {
  const turn = await fetch(`${c.url}/v1/turns`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: 'metrics', text: 'Remember that the dashboard test is blue.' }),
  });
  assert.equal(turn.status, 200);
  await c.coordinator.engine.idle();
  const coord = await (await fetch(`${c.url}/metrics`)).text();
  assert.match(
    coord,
    /coordinator_turn_stage_seconds_count\{[^}]*stage="total"[^}]*channel="text"[^}]*\} [1-9]/,
  );
  assert.match(coord, /coordinator_turns_total\{[^}]*skill="remember"[^}]*\} [1-9]/);
  const core = await (await fetch(`${stack.core.url}/metrics`)).text();
  assert.match(core, /^memory_core_memories\{[^}]*\} [1-9]/m);
  assert.match(core, /^memory_core_assemblies\{[^}]*\} \d/m);
  const orch = await (await fetch(`${stack.orch.url}/metrics`)).text();
  assert.match(orch, /^orchestrator_surprise_count\{[^}]*\} [1-9]/m, 'the turn went through the cascade');
});
