// The TaskRouter library against real loopback upstreams: forwarding, retries only for idempotent routes (counted
// at the upstream), timeouts, 4xx passed through and not counted, the breaker through the router, in-process
// handlers, URL templates, priorities and a full queue, idempotency keys, routes() and the metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError, badRequest, loadConfig } from '@synthians/kit';
import { buildRouteTable, taskRouterSchema, type RouteSpec } from './config.ts';
import { TaskRouter, type TaskRouterOptions } from './router.ts';
import { closedPort, gate, startUpstream, tick, type Upstream } from './test-support.ts';

type ErrorLike = { statusCode: number; code: string; details?: Record<string, unknown> };
const isError = (status: number, code: string) => (err: unknown) => {
  const e = err as ErrorLike;
  assert.equal(e.statusCode, status, `status of ${e.code}: ${(err as Error).message}`);
  assert.equal(e.code, code);
  return true;
};

const http = (pattern: string, url: string, extra: Partial<RouteSpec> = {}): RouteSpec => ({
  pattern,
  target: { kind: 'http', url, method: 'POST' },
  timeoutMs: 2000,
  idempotent: true,
  ...extra,
});

function routerWith(routes: RouteSpec[], options: TaskRouterOptions = {}): TaskRouter {
  return new TaskRouter({ routes, backoffMs: 5, backoffMaxMs: 20, ...options });
}

describe('task router against real upstreams', () => {
  let up: Upstream;
  before(async () => {
    up = await startUpstream(() => ({ status: 200, body: { ok: true } }));
  });
  after(async () => {
    await up.close();
  });

  test('an HTTP route forwards the payload as the JSON body and returns the JSON answer', async () => {
    up.behave((req) => ({
      status: 200,
      body: { echoed: req.body, auth: req.headers.authorization ?? null },
    }));
    const router = routerWith([
      {
        ...http('memory.search', `${up.url}/v1/search`),
        target: { kind: 'http', url: `${up.url}/v1/search`, method: 'POST', token: 't0ken' },
      },
    ]);
    const before = up.seen.length;
    const r = await router.route({
      type: 'memory.search',
      payload: { query: 'roses', top_k: 3 },
      idempotency_key: 'k1',
    });
    assert.equal(r.type, 'memory.search');
    assert.equal(r.target, `POST ${up.url}/v1/search`);
    assert.equal(r.attempts, 1);
    assert.ok(r.duration_ms >= 0, 'a duration');
    assert.deepEqual(r.result, { echoed: { query: 'roses', top_k: 3 }, auth: 'Bearer t0ken' });
    const seen = up.seen[before]!;
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/v1/search');
    assert.equal(seen.headers['content-type'], 'application/json');
    assert.equal(seen.headers['idempotency-key'], 'k1', 'the idempotency key is forwarded');
    await router.close();
  });

  test('retries only for idempotent routes: the upstream sees 1 + retries requests, or exactly 1', async () => {
    up.behave(() => ({ status: 500, body: { error: { code: 'boom', message: 'internal' } } }));
    const router = routerWith(
      [
        http('memory.search', `${up.url}/idem`, { idempotent: true }),
        http('memory.store', `${up.url}/non-idem`, { idempotent: false }),
      ],
      { retries: 3, breakerFailures: 100 },
    );
    const count = (path: string) => up.seen.filter((s) => s.url === path).length;
    await assert.rejects(
      router.route({ type: 'memory.search', payload: {} }),
      (err) =>
        isError(502, 'target_error')(err) &&
        (err as ErrorLike).details?.attempts === 4 &&
        (err as ErrorLike).details?.target_status === 500,
    );
    assert.equal(count('/idem'), 4, 'idempotent: 1 attempt + 3 retries');
    await assert.rejects(router.route({ type: 'memory.store', payload: {} }), isError(502, 'target_error'));
    assert.equal(count('/non-idem'), 1, 'non-idempotent: never retried');
    // A transient failure then success: the retry succeeds.
    up.behave((_req, n) => (n % 2 === 1 ? { status: 503 } : { status: 200, body: { fine: n } }));
    up.seen.length = 0;
    const r = await router.route({ type: 'memory.search', payload: {} });
    assert.equal(r.attempts, 2, 'succeeded on the retry');
    assert.equal(up.seen.length, 2);
    const metrics = await router.registry.metrics();
    assert.match(metrics, /task_router_attempts_total\{route="memory.search",result="failure"\} 5/);
    await router.close();
  });

  test('a hanging upstream times out per attempt (504); timeout_ms bounds the whole task', async () => {
    up.behave(() => 'hang');
    const router = routerWith([http('llm', `${up.url}/hang`, { timeoutMs: 150, idempotent: false })]);
    let t = Date.now();
    await assert.rejects(
      router.route({ type: 'llm', payload: {} }),
      (err) => isError(504, 'target_timeout')(err) && (err as ErrorLike).details?.timeout_ms === 150,
    );
    assert.ok(Date.now() - t < 1500, `timed out near 150 ms (took ${Date.now() - t} ms)`);
    t = Date.now();
    await assert.rejects(
      router.route({ type: 'llm', payload: {}, timeout_ms: 60 }),
      isError(504, 'target_timeout'),
    );
    assert.ok(Date.now() - t < 1000, `timeout_ms cut the attempt (took ${Date.now() - t} ms)`);
    assert.equal(router.routes()[0]!.breaker.consecutive_failures, 2, 'timeouts are failures');
    await router.close();
  });

  test('a 4xx is passed through, not retried and not counted by the breaker', async () => {
    up.behave(() => ({ status: 404, body: { error: { code: 'not_found', message: 'No memory m1' } } }));
    const router = routerWith([http('memory.get', `${up.url}/v1/memories/{id}`)], {
      breakerFailures: 2,
      retries: 3,
    });
    up.seen.length = 0;
    for (let i = 0; i < 5; i++) {
      await assert.rejects(
        router.route({ type: 'memory.get', payload: { id: 'm1' } }),
        (err) => isError(404, 'not_found')(err) && (err as Error).message === 'No memory m1',
      );
    }
    assert.equal(up.seen.length, 5, 'one request per task: a 4xx is never retried');
    const view = router.routes()[0]!;
    assert.equal(view.breaker.state, 'closed', 'five 4xx do not open a breaker with threshold 2');
    assert.equal(view.breaker.total_failures, 0, 'no failure counted');
    up.behave(() => ({ status: 422, body: 'plain text' }));
    await assert.rejects(router.route({ type: 'memory.get', payload: { id: 'm1' } }), (err) =>
      isError(422, 'target_rejected')(err),
    );
    await router.close();
  });

  test('the breaker through the router: open after N, 503 without calling the target, probe after the cool-down', async () => {
    let now = 5_000_000;
    up.behave(() => ({ status: 500 }));
    const router = routerWith([http('embed', `${up.url}/embed`, { idempotent: false })], {
      breakerFailures: 3,
      breakerCooldownMs: 10_000,
      now: () => now,
    });
    up.seen.length = 0;
    for (let i = 0; i < 3; i++)
      await assert.rejects(router.route({ type: 'embed', payload: { text: 'secret words' } }));
    assert.equal(router.routes()[0]!.breaker.state, 'open');
    await assert.rejects(
      router.route({ type: 'embed', payload: { text: 'x' } }),
      (err) => isError(503, 'circuit_open')(err) && (err as ErrorLike).details?.retry_after === 10,
    );
    assert.equal(up.seen.length, 3, 'an open breaker does not call the target');
    const view = router.routes()[0]!;
    assert.equal(view.breaker.last_error?.code, 'target_error');
    assert.ok(
      !JSON.stringify(router.routes()).includes('secret words'),
      'no payload data in the routes view',
    );
    // Cool-down over: one probe; it fails → open again.
    now += 10_000;
    assert.equal(router.routes()[0]!.breaker.state, 'half_open');
    await assert.rejects(router.route({ type: 'embed', payload: {} }), isError(502, 'target_error'));
    assert.equal(router.routes()[0]!.breaker.state, 'open', 'the failed probe re-opened it');
    assert.equal(up.seen.length, 4, 'the probe reached the target');
    // Next cool-down; the target recovered: the probe closes the breaker.
    now += 10_000;
    up.behave(() => ({ status: 200, body: { embedding: [0.1] } }));
    const r = await router.route({ type: 'embed', payload: {} });
    assert.deepEqual(r.result, { embedding: [0.1] });
    assert.equal(router.routes()[0]!.breaker.state, 'closed', 'the successful probe closed it');
    const metrics = await router.registry.metrics();
    assert.match(metrics, /task_router_breaker_state\{route="embed"\} 0/);
    assert.match(metrics, /task_router_requests_total\{route="embed",outcome="circuit_open"\} 1/);
    await router.close();
  });

  test('in half-open only one probe goes; concurrent tasks get circuit_open', async () => {
    let now = 0;
    const hold = gate();
    up.behave(() => ({ status: 500 }));
    const router = routerWith([http('embed', `${up.url}/probe`, { idempotent: false })], {
      breakerFailures: 1,
      breakerCooldownMs: 1000,
      now: () => now,
    });
    await assert.rejects(router.route({ type: 'embed', payload: {} }));
    now += 1000;
    up.behave(() => ({ status: 200, body: { ok: 1 }, delayMs: 100 }));
    const probe = router.route({ type: 'embed', payload: {} });
    await tick(20);
    await assert.rejects(router.route({ type: 'embed', payload: {} }), isError(503, 'circuit_open'));
    assert.deepEqual((await probe).result, { ok: 1 });
    hold.open();
    await router.close();
  });

  test('connection refused → 503 target_unavailable with a clear message (e.g. PC2 not running)', async () => {
    const port = await closedPort();
    const config = loadConfig(taskRouterSchema, { PC2_URL: `http://127.0.0.1:${port}` });
    const router = routerWith(buildRouteTable(config), { retries: 0 });
    await assert.rejects(
      router.route({ type: 'pc2.summarize', payload: { text: 'a' } }),
      (err) =>
        isError(503, 'target_unavailable')(err) &&
        /pc2\.\* target POST http:\/\/127\.0\.0\.1:\d+\/v1\/tasks\/\{type\} is not reachable \(connection refused\)/.test(
          (err as Error).message,
        ),
    );
    await router.close();
  });

  test('URL templates: {id} from the payload, DELETE sends no body; a missing field is a 400', async () => {
    up.behave(() => ({ status: 204 }));
    const router = routerWith([
      {
        pattern: 'memory.delete',
        target: { kind: 'http', url: `${up.url}/v1/memories/{id}`, method: 'DELETE' },
        timeoutMs: 1000,
        idempotent: true,
      },
      http('pc2.*', `${up.url}/v1/tasks/{type}`),
    ]);
    up.seen.length = 0;
    const r = await router.route({ type: 'memory.delete', payload: { id: 'a b/c', hard: true } });
    assert.equal(r.result, null, '204 → null');
    assert.equal(up.seen[0]!.method, 'DELETE');
    assert.equal(up.seen[0]!.url, '/v1/memories/a%20b%2Fc?hard=true');
    assert.equal(up.seen[0]!.body, undefined, 'no body on DELETE');
    await assert.rejects(router.route({ type: 'memory.delete', payload: {} }), isError(400, 'invalid_task'));
    up.behave((req) => ({ status: 200, body: req.body }));
    const pc2 = await router.route({ type: 'pc2.reflect.deep', payload: { n: 1 } });
    assert.equal(up.seen.at(-1)!.url, '/v1/tasks/pc2.reflect.deep', 'wildcard route with {type}');
    assert.deepEqual(pc2.result, { n: 1 });
    await router.close();
  });

  test('bad tasks: unknown type, payload not an object, negative timeout, bad priority → 400', async () => {
    const router = routerWith([http('embed', `${up.url}/x`)]);
    await assert.rejects(
      router.route({ type: 'nope', payload: {} }),
      (err) => isError(400, 'unknown_task_type')(err) && Array.isArray((err as ErrorLike).details?.known),
    );
    for (const task of [
      { type: 'embed', payload: [] },
      { type: 'embed', payload: null },
      { type: 'embed', payload: 'text' },
      { type: 'embed', payload: {}, timeout_ms: -5 },
      { type: 'embed', payload: {}, timeout_ms: 0 },
      { type: 'embed', payload: {}, priority: 'urgent' },
      { type: 'embed', payload: {}, priority: 10 },
      { type: 'Bad Type', payload: {} },
    ]) {
      await assert.rejects(router.route(task as never), isError(400, 'invalid_task'), JSON.stringify(task));
    }
    await router.close();
  });
});

describe('in-process handlers, queueing and idempotency', () => {
  test('register serves a type in-process (replacing an HTTP target); handler errors are classified', async () => {
    const router = routerWith([http('skill', 'http://127.0.0.1:9/never', { idempotent: false })], {
      breakerFailures: 2,
    });
    const seen: unknown[] = [];
    const unregister = router.register('skill', async (payload, ctx) => {
      seen.push({ payload, type: ctx.type, attempt: ctx.attempt });
      if (payload.fail === 'client') throw badRequest('bad_skill', 'No such skill');
      if (payload.fail === 'server') throw new Error('secret internal detail');
      return { said: payload.text };
    });
    const r = await router.route({ type: 'skill', payload: { text: 'hi' } });
    assert.deepEqual(r, {
      type: 'skill',
      target: 'in-process',
      result: { said: 'hi' },
      attempts: 1,
      duration_ms: r.duration_ms,
    });
    assert.deepEqual(seen[0], { payload: { text: 'hi' }, type: 'skill', attempt: 1 });
    await assert.rejects(
      router.route({ type: 'skill', payload: { fail: 'client' } }),
      isError(400, 'bad_skill'),
    );
    assert.equal(router.routes()[0]!.breaker.total_failures, 0, 'a 4xx AppError is not counted');
    await assert.rejects(
      router.route({ type: 'skill', payload: { fail: 'server' } }),
      (err) => isError(502, 'target_error')(err) && !(err as Error).message.includes('secret'),
    );
    assert.equal(router.routes()[0]!.breaker.total_failures, 1, 'a thrown error is a failure');
    unregister();
    await assert.rejects(router.route({ type: 'skill', payload: {} }), isError(503, 'handler_unavailable'));
    assert.equal(router.routes()[0]!.registered, false);
    await router.close();
  });

  test('in-process: retries for idempotent handlers only, and a timeout aborts the signal', async () => {
    const router = routerWith([], { retries: 2 });
    let calls = 0;
    router.register(
      'stt',
      () => {
        calls++;
        throw new AppError(503, 'engine_busy', 'busy');
      },
      { idempotent: true },
    );
    await assert.rejects(router.route({ type: 'stt', payload: {} }), isError(503, 'engine_busy'));
    assert.equal(calls, 3, 'idempotent handler: 1 + 2 retries');
    calls = 0;
    router.register(
      'skill',
      () => {
        calls++;
        throw new Error('x');
      },
      { idempotent: false },
    );
    await assert.rejects(router.route({ type: 'skill', payload: {} }));
    assert.equal(calls, 1, 'non-idempotent handler: once');
    let aborted = false;
    router.register(
      'tts',
      (_p, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            resolve('late');
          });
        }),
      { timeoutMs: 50, idempotent: false },
    );
    await assert.rejects(router.route({ type: 'tts', payload: {} }), isError(504, 'target_timeout'));
    assert.ok(aborted, 'the handler saw the abort');
    await router.close();
  });

  test('priority order through the router and a full queue → 429 queue_full', async () => {
    const router = routerWith([], { concurrency: 1, queueSize: 3 });
    const hold = gate();
    const order: string[] = [];
    router.register('skill', async (payload) => {
      if (payload.name === 'blocker') await hold.promise;
      order.push(String(payload.name));
      return payload.name;
    });
    const blocker = router.route({ type: 'skill', payload: { name: 'blocker' } });
    await tick(5);
    const waiting = [
      router.route({ type: 'skill', payload: { name: 'low' }, priority: 'low' }),
      router.route({ type: 'skill', payload: { name: 'normal' } }),
      router.route({ type: 'skill', payload: { name: 'high' }, priority: 'high' }),
    ];
    assert.equal(router.routes()[0]!.queue.depth, 3, 'three waiting');
    await assert.rejects(
      router.route({ type: 'skill', payload: { name: 'overflow' }, priority: 9 }),
      (err) => isError(429, 'queue_full')(err) && Number((err as ErrorLike).details?.retry_after) >= 1,
    );
    const metrics = await router.registry.metrics();
    assert.match(metrics, /task_router_queue_depth\{route="skill"\} 3/);
    hold.open();
    await Promise.all([blocker, ...waiting]);
    assert.deepEqual(order, ['blocker', 'high', 'normal', 'low']);
    await router.close();
  });

  test('a task waiting past timeout_ms in the queue is dropped with 504 queue_timeout', async () => {
    const router = routerWith([], { concurrency: 1 });
    const hold = gate();
    router.register('skill', async () => {
      await hold.promise;
      return 1;
    });
    const blocker = router.route({ type: 'skill', payload: {} });
    await assert.rejects(
      router.route({ type: 'skill', payload: {}, timeout_ms: 40 }),
      isError(504, 'queue_timeout'),
    );
    hold.open();
    await blocker;
    await router.close();
  });

  test('idempotency keys: concurrent repeats join, later ones replay, another payload is a conflict', async () => {
    const router = routerWith([]);
    let calls = 0;
    router.register('memory.store', async (payload) => {
      calls++;
      await tick(30);
      return { id: `m${calls}`, content: payload.content };
    });
    const task = { type: 'memory.store', payload: { content: 'hello' }, idempotency_key: 'store-1' };
    const [a, b] = await Promise.all([router.route(task), router.route(task)]);
    const c = await router.route(task);
    assert.equal(calls, 1, 'ran once');
    assert.deepEqual(a.result, { id: 'm1', content: 'hello' });
    assert.deepEqual(b.result, a.result);
    assert.equal(c.replayed, true, 'a later repeat is a replay');
    await assert.rejects(
      router.route({ ...task, payload: { content: 'other' } }),
      isError(409, 'idempotency_conflict'),
    );
    await router.route({ ...task, idempotency_key: 'store-2' });
    assert.equal(calls, 2, 'a new key runs again');
    await router.close();
  });

  test('close refuses waiting and new tasks with 503 shutting_down', async () => {
    const router = routerWith([], { concurrency: 1 });
    router.register('skill', async (_p, ctx) => {
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      return 'stopped';
    });
    const running = router.route({ type: 'skill', payload: {} });
    await tick(5);
    const waiting = router.route({ type: 'skill', payload: {} });
    await router.close();
    await assert.rejects(waiting, isError(503, 'shutting_down'));
    await assert.rejects(running, isError(503, 'shutting_down'));
    await assert.rejects(router.route({ type: 'skill', payload: {} }), isError(503, 'shutting_down'));
  });
});

describe('route table configuration', () => {
  test('defaults point at the registry services; ROUTER_ROUTES merges, adds and removes', () => {
    const routes = buildRouteTable(loadConfig(taskRouterSchema, {}));
    const by = Object.fromEntries(routes.map((r) => [r.pattern, r]));
    assert.deepEqual(by['memory.search']!.target, {
      kind: 'http',
      url: 'http://127.0.0.1:5010/v1/search',
      method: 'POST',
      token: undefined,
    });
    assert.equal((by['memory.store']!.target as { url: string }).url, 'http://127.0.0.1:8002/process_memory');
    assert.equal(by['memory.store']!.idempotent, false, 'storing is not retried');
    assert.equal((by['embed']!.target as { url: string }).url, 'http://127.0.0.1:5010/generate_embedding');
    assert.equal((by['pc2.*']!.target as { url: string }).url, 'http://127.0.0.1:5560/v1/tasks/{type}');
    for (const t of ['stt', 'tts', 'skill', 'llm'])
      assert.equal(by[t]!.target.kind, 'in-process', `${t} is in-process by default`);

    const custom = buildRouteTable(
      loadConfig(taskRouterSchema, {
        MEMORY_CORE_URL: 'http://10.0.0.1:5010,http://10.0.0.2:5020',
        LLM_BASE_URL: 'http://127.0.0.1:11434/v1/',
        LLM_API_KEY: 'sk-1',
        SYNTHIANS_API_TOKEN: 'tok',
        ROUTER_ROUTES: JSON.stringify({
          llm: { timeoutMs: 120000 },
          'memory.search': { retries: 1, concurrency: 2 },
          'pc2.*': null,
          weather: { url: 'http://127.0.0.1:7000/weather', idempotent: true, sendToken: false },
          stt: { url: 'http://127.0.0.1:7001/stt' },
        }),
      }),
    );
    const c = Object.fromEntries(custom.map((r) => [r.pattern, r]));
    assert.equal((c['memory.search']!.target as { url: string }).url, 'http://10.0.0.1:5010/v1/search');
    assert.equal(
      (c['memory.search']!.target as { token?: string }).token,
      'tok',
      'the service token is sent',
    );
    assert.equal(c['memory.search']!.retries, 1);
    assert.equal(c['memory.search']!.concurrency, 2);
    assert.deepEqual(c['llm']!.target, {
      kind: 'http',
      url: 'http://127.0.0.1:11434/v1/chat/completions',
      method: 'POST',
      token: 'sk-1',
    });
    assert.equal(c['llm']!.timeoutMs, 120000);
    assert.ok(!('pc2.*' in c), 'null removes a route');
    assert.equal(c['weather']!.idempotent, true);
    assert.equal((c['weather']!.target as { token?: string }).token, undefined, 'sendToken false');
    assert.equal(c['stt']!.target.kind, 'http', 'an in-process default can become HTTP');
    assert.equal(c['stt']!.timeoutMs, 30000, 'keeps the default timeout');
  });

  test('bad configuration names the variable', () => {
    for (const [env, variable] of [
      [{ ROUTER_ROUTES: '{not json' }, 'ROUTER_ROUTES'],
      [{ ROUTER_ROUTES: '{"llm":{"timeoutMs":-1}}' }, 'ROUTER_ROUTES'],
      [{ ROUTER_ROUTES: '{"new":{"timeoutMs":100}}' }, 'ROUTER_ROUTES'],
      [{ ROUTER_ROUTES: '{"Bad Key":{"url":"http://x"}}' }, 'ROUTER_ROUTES'],
      [{ ROUTER_BREAKER_FAILURES: '0' }, 'ROUTER_BREAKER_FAILURES'],
      [{ ROUTER_QUEUE_SIZE: '-1' }, 'ROUTER_QUEUE_SIZE'],
      [{ PC2_URL: 'ftp://x' }, 'PC2_URL'],
    ] as const) {
      assert.throws(
        () => buildRouteTable(loadConfig(taskRouterSchema, env)),
        (err: { name: string; issues: { variable: string }[] }) =>
          err.name === 'ConfigError' && err.issues.some((i) => i.variable === variable),
        JSON.stringify(env),
      );
    }
  });
});
