// The task-router service over HTTP (startTestService) against real loopback upstreams: routing, bad input, the
// breaker with a short real cool-down and its Retry-After, /health, GET /v1/routes, a full queue, PC2 absent, metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestService, type TestService } from '@synthians/kit';
import { taskRouterService } from './service.ts';
import { closedPort, startUpstream, tick, type Upstream } from './test-support.ts';

describe('task-router service over HTTP', () => {
  let up: Upstream;
  let svc: TestService;
  let flakyFails = true;
  before(async () => {
    up = await startUpstream((req) => {
      if (req.url.startsWith('/hang')) return 'hang';
      if (req.url.startsWith('/flaky'))
        return flakyFails ? { status: 500 } : { status: 200, body: { recovered: true } };
      if (req.url === '/v1/search') return { status: 200, body: { results: [], query: req.body } };
      return { status: 404, body: { error: { code: 'not_found', message: 'nothing here' } } };
    });
    svc = await startTestService(taskRouterService, {
      env: {
        MEMORY_CORE_URL: up.url,
        ORCHESTRATOR_URL: up.url,
        PC2_URL: `http://127.0.0.1:${await closedPort()}`,
        ROUTER_BREAKER_FAILURES: '2',
        ROUTER_BREAKER_COOLDOWN_MS: '300',
        ROUTER_BACKOFF_MS: '5',
        MAX_BODY_BYTES: '4096',
        ROUTER_ROUTES: JSON.stringify({
          slow: { url: `${up.url}/hang`, concurrency: 1, queueSize: 0, timeoutMs: 400 },
          flaky: { url: `${up.url}/flaky`, idempotent: false },
        }),
      },
    });
  });
  after(async () => {
    await svc?.destroy();
    await up?.close();
  });

  test('POST /v1/tasks routes memory.search to the memory core and answers {type, target, result, attempts, duration_ms}', async () => {
    const r = await svc.request('POST', '/v1/tasks', {
      type: 'memory.search',
      payload: { query: 'roses', top_k: 2 },
      priority: 'high',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body).sort(), ['attempts', 'duration_ms', 'result', 'target', 'type']);
    assert.equal(r.body.type, 'memory.search');
    assert.equal(r.body.target, `POST ${up.url}/v1/search`);
    assert.deepEqual(r.body.result, { results: [], query: { query: 'roses', top_k: 2 } });
    assert.equal(r.body.attempts, 1);
    const replay1 = await svc.request('POST', '/v1/tasks', {
      type: 'memory.search',
      payload: { query: 'x' },
      idempotency_key: 'abc',
    });
    const replay2 = await fetch(`${svc.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'memory.search', payload: { query: 'x' }, idempotency_key: 'abc' }),
    });
    assert.equal(replay1.status, 200);
    assert.equal(replay2.headers.get('x-idempotent-replay'), 'true', 'the repeat is marked as a replay');
  });

  test('bad input → 400 envelope (413 for an oversized body); a target 4xx passes through', async () => {
    const cases: [unknown, number, string][] = [
      [{ type: 'teleport', payload: {} }, 400, 'unknown_task_type'],
      [{ type: 'embed', payload: [1, 2] }, 400, 'validation_error'],
      [{ type: 'embed', payload: 'text' }, 400, 'validation_error'],
      [{ type: 'embed', payload: null }, 400, 'validation_error'],
      [{ type: 'embed' }, 400, 'validation_error'],
      [{ type: 'embed', payload: {}, timeout_ms: -1 }, 400, 'validation_error'],
      [{ type: 'embed', payload: {}, priority: 'urgent' }, 400, 'validation_error'],
      [{ type: 'embed', payload: {}, extra: 1 }, 400, 'validation_error'],
      ['{"type":', 400, 'invalid_json'],
      [{ type: 'embed', payload: { text: 'x'.repeat(5000) } }, 413, 'body_too_large'],
      [{ type: 'memory.get', payload: {} }, 400, 'invalid_task'],
    ];
    for (const [body, status, code] of cases) {
      const r = await svc.request('POST', '/v1/tasks', body);
      assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 60)} → ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, code, JSON.stringify(r.body));
      assert.ok(r.body.error.message.length > 0, 'an error message');
    }
    const passed = await svc.request('POST', '/v1/tasks', { type: 'memory.get', payload: { id: 'm1' } });
    assert.equal(passed.status, 404, 'the target’s 404 passes through');
    assert.deepEqual(passed.body, { error: { code: 'not_found', message: 'nothing here' } });
  });

  test('PC2 not running → a clear 503 target_unavailable', async () => {
    const r = await svc.request('POST', '/v1/tasks', { type: 'pc2.reflect', payload: { topic: 'x' } });
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'target_unavailable');
    assert.match(
      r.body.error.message,
      /pc2\.\*.*not reachable \(connection refused\): is the service running\?/,
    );
    const skill = await svc.request('POST', '/v1/tasks', { type: 'skill', payload: {} });
    assert.equal(skill.status, 503);
    assert.equal(skill.body.error.code, 'handler_unavailable', 'in-process route with no handler');
  });

  test('breaker: opens after 2 failures → 503 circuit_open with Retry-After, /health degraded, probe closes it', async () => {
    flakyFails = true;
    for (let i = 0; i < 2; i++) {
      const r = await svc.request('POST', '/v1/tasks', {
        type: 'flaky',
        payload: { secret: 'payload-data' },
      });
      assert.equal(r.status, 502, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'target_error');
    }
    const open = await fetch(`${svc.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'flaky', payload: {} }),
    });
    assert.equal(open.status, 503);
    const body = (await open.json()) as { error: { code: string; details: { retry_after: number } } };
    assert.equal(body.error.code, 'circuit_open');
    assert.equal(body.error.details.retry_after, 1);
    assert.equal(open.headers.get('retry-after'), '1', 'Retry-After header');

    const health = await svc.request('GET', '/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'degraded', 'an open breaker degrades /health');
    assert.equal(health.body.checks.flaky.breaker, 'open');

    const routes = await svc.request('GET', '/v1/routes');
    assert.equal(routes.status, 200);
    const flaky = routes.body.routes.find((r: { pattern: string }) => r.pattern === 'flaky');
    assert.equal(flaky.breaker.state, 'open');
    assert.equal(flaky.breaker.consecutive_failures, 2);
    assert.equal(flaky.breaker.last_error.code, 'target_error');
    assert.match(flaky.breaker.last_error.message, /HTTP 500/);
    assert.ok(!JSON.stringify(routes.body).includes('payload-data'), 'no payload data in /v1/routes');
    const patterns = routes.body.routes.map((r: { pattern: string }) => r.pattern);
    for (const p of [
      'memory.store',
      'memory.search',
      'memory.delete',
      'embed',
      'llm',
      'stt',
      'tts',
      'skill',
      'pc2.*',
    ])
      assert.ok(patterns.includes(p), `route ${p} listed`);
    const search = routes.body.routes.find((r: { pattern: string }) => r.pattern === 'memory.search');
    assert.equal(search.breaker.state, 'closed');
    assert.equal(search.queue.depth, 0);

    await tick(320);
    const half = await svc.request('GET', '/v1/routes');
    assert.equal(
      half.body.routes.find((r: { pattern: string }) => r.pattern === 'flaky').breaker.state,
      'half_open',
    );
    flakyFails = false;
    const probe = await svc.request('POST', '/v1/tasks', { type: 'flaky', payload: {} });
    assert.equal(probe.status, 200, JSON.stringify(probe.body));
    assert.deepEqual(probe.body.result, { recovered: true });
    assert.equal((await svc.request('GET', '/health')).body.status, 'healthy', 'closed again: healthy');
  });

  test('queue full → 429 queue_full with Retry-After; metrics per route are exported', async () => {
    const hanging = svc.request('POST', '/v1/tasks', { type: 'slow', payload: {} });
    await tick(50);
    const full = await fetch(`${svc.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'slow', payload: {} }),
    });
    assert.equal(full.status, 429);
    assert.equal(((await full.json()) as { error: { code: string } }).error.code, 'queue_full');
    assert.match(full.headers.get('retry-after') ?? '', /^\d+$/, 'Retry-After header');
    const timedOut = await hanging;
    assert.equal(timedOut.status, 504);
    assert.equal(timedOut.body.error.code, 'target_timeout');

    const metrics = (await svc.request('GET', '/metrics')).body as string;
    for (const pattern of [
      /task_router_requests_total\{route="memory.search",outcome="success",service="task-router"\} \d+/,
      /task_router_requests_total\{route="slow",outcome="queue_full",service="task-router"\} 1/,
      /task_router_requests_total\{route="flaky",outcome="circuit_open",service="task-router"\} 1/,
      /task_router_task_duration_seconds_bucket\{[^}]*route="memory.search"[^}]*\}/,
      /task_router_breaker_state\{route="flaky",service="task-router"\} 0/,
      /task_router_queue_depth\{route="slow",service="task-router"\} 0/,
    ])
      assert.ok(pattern.test(metrics), `metrics match ${pattern}`);
  });
});
