import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, MemoryBus, startTestService, type TestService } from '@synthians/kit';
import { vadService } from '@synthians/voice';
import {
  createHealthMonitorService,
  DEFAULT_TARGET_SERVICES,
  healthMonitorService,
  loadHealthMonitorConfig,
  parseTargets,
  registryTargets,
  type HealthChange,
} from './index.ts';
import { fakeService, waitFor, type FakeService } from './test-support.ts';

let vad: TestService;
let deg: FakeService;
let bus: MemoryBus;
let svc: TestService;
const changes: HealthChange[] = [];

before(async () => {
  vad = await startTestService(vadService);
  deg = await fakeService('degraded');
  bus = new MemoryBus();
  bus.subscribe('health.changes', (m) => void changes.push(m.json<HealthChange>()));
  svc = await startTestService(healthMonitorService, {
    bus,
    env: {
      HEALTH_TARGETS: `vad=${vad.url}, deg=${deg.url}/`,
      HEALTH_POLL_INTERVAL_MS: '200',
      HEALTH_TIMEOUT_MS: '150',
      HEALTH_CRITICAL: 'vad',
      HEALTH_HISTORY_SIZE: '5',
    },
  });
});
after(async () => {
  await svc.destroy();
  await vad.destroy();
  await deg.close();
  await bus.close();
});

async function serviceStatus(name: string): Promise<string | undefined> {
  const res = await svc.request('GET', `/v1/health/services/${name}`);
  return res.status === 200 ? (res.body.status as string) : undefined;
}

async function until(name: string, status: string, ms = 1000): Promise<void> {
  const deadline = Date.now() + ms;
  while ((await serviceStatus(name)) !== status) {
    if (Date.now() > deadline) throw new Error(`${name} never became ${status}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('GET /health: healthy while the poller runs, whatever the others say', async () => {
  const res = await svc.request('GET', '/health');
  assert.equal(res.status, 200, `200 (got ${JSON.stringify(res.body)})`);
  assert.equal(res.body.status, 'healthy', 'own status healthy');
  assert.equal(res.body.checks.poller.running, true, 'poller running');
  assert.equal(res.body.checks.bus.kind, 'memory', 'the given bus is used');
});

test('GET /v1/health/services and /v1/health: every service and the overall status', async () => {
  await until('vad', 'healthy');
  await until('deg', 'degraded');
  const list = await svc.request('GET', '/v1/health/services');
  assert.equal(list.status, 200, 'list 200');
  const names = (list.body.services as { name: string }[]).map((s) => s.name);
  assert.deepEqual(names, ['vad', 'deg'], 'both services, in registration order');
  const v = (list.body.services as Record<string, unknown>[])[0]!;
  for (const key of [
    'url',
    'status',
    'last_check',
    'latency_ms',
    'consecutive_failures',
    'last_error',
    'uptime_ratio',
  ])
    assert.ok(key in v, `service view has ${key}`);
  assert.equal(v.url, vad.url, 'url');
  assert.equal(v.critical, true, 'HEALTH_CRITICAL applied');
  assert.equal((list.body.services as { url: string }[])[1]!.url, deg.url, 'trailing slash dropped');

  const overall = await svc.request('GET', '/v1/health');
  assert.equal(overall.status, 200, 'overall 200');
  assert.equal(overall.body.status, 'degraded', 'a degraded service → degraded overall');
  assert.deepEqual(overall.body.degraded, ['deg'], 'names the degraded service');
  assert.deepEqual(overall.body.healthy, ['vad'], 'names the healthy one');

  const one = await svc.request('GET', '/v1/health/services/vad');
  assert.equal(one.status, 200, 'detail 200');
  assert.ok(Array.isArray(one.body.history) && one.body.history.length >= 1, 'detail has its history');
  assert.equal(one.body.history[0].status, 'healthy', 'history entry status');
  assert.equal(typeof one.body.history[0].latency_ms, 'number', 'history entry latency');
  await new Promise((r) => setTimeout(r, 7 * 200));
  const later = await svc.request('GET', '/v1/health/services/vad');
  assert.equal(later.body.history.length, 5, 'history bounded by HEALTH_HISTORY_SIZE');
});

test('metrics: health_service_up gauge and check latency histogram', async () => {
  await until('vad', 'healthy');
  const res = await fetch(`${svc.url}/metrics`);
  const text = await res.text();
  assert.match(text, /health_service_up\{service="vad"\} 1/, 'vad up');
  assert.match(text, /health_service_up\{service="deg"\} 1/, 'degraded counts as up');
  assert.match(text, /health_check_duration_seconds_count\{[^}]*service="vad"/, 'latency histogram');
});

test('registration API: 201, 400, 409, 404, 204; a registered service is polled', async () => {
  const extra = await fakeService('healthy');
  try {
    const created = await svc.request('POST', '/v1/health/services', { name: 'extra', url: extra.url });
    assert.equal(created.status, 201, `201 (got ${JSON.stringify(created.body)})`);
    assert.equal(created.body.name, 'extra', 'view returned');
    await until('extra', 'healthy', 500);

    const dup = await svc.request('POST', '/v1/health/services', { name: 'extra', url: extra.url });
    assert.equal(dup.status, 409, 'duplicate → 409');
    assert.equal(dup.body.error.code, 'service_exists', 'error code');
    const badUrl = await svc.request('POST', '/v1/health/services', { name: 'x', url: 'nope' });
    assert.equal(badUrl.status, 400, 'bad URL → 400');
    assert.equal(badUrl.body.error.code, 'invalid_url', 'invalid_url');
    const badName = await svc.request('POST', '/v1/health/services', { name: 'a/b', url: extra.url });
    assert.equal(badName.status, 400, 'bad name → 400');
    assert.equal(badName.body.error.code, 'invalid_name', 'invalid_name');
    const missing = await svc.request('POST', '/v1/health/services', { name: 'x' });
    assert.equal(missing.status, 400, 'missing url → 400');
    const notJson = await svc.request('POST', '/v1/health/services', '{"name":');
    assert.equal(notJson.status, 400, 'malformed JSON → 400');

    assert.equal((await svc.request('GET', '/v1/health/services/nope')).status, 404, 'unknown GET → 404');
    const del404 = await svc.request('DELETE', '/v1/health/services/nope');
    assert.equal(del404.status, 404, 'unknown DELETE → 404');
    assert.equal(del404.body.error.code, 'not_found', 'not_found');
    assert.equal((await svc.request('DELETE', '/v1/health/services/extra')).status, 204, 'DELETE → 204');
    assert.equal((await svc.request('GET', '/v1/health/services/extra')).status, 404, 'gone');
  } finally {
    await extra.close();
  }
});

test('a stopped service is announced on health.changes and the overall status follows the critical rule', async () => {
  await until('vad', 'healthy');
  await vad.stop();
  const t0 = Date.now();
  await until('vad', 'unhealthy', 1000);
  assert.ok(Date.now() - t0 <= 2 * 200 + 100, `reported down in ${Date.now() - t0} ms`);
  await bus.flush();
  assert.ok(
    changes.some((c) => c.service === 'vad' && c.from === 'healthy' && c.to === 'unhealthy'),
    `health.changes announced vad down (got ${JSON.stringify(changes)})`,
  );
  const overall = await svc.request('GET', '/v1/health');
  assert.equal(overall.body.status, 'unhealthy', 'critical vad down → overall unhealthy');
  assert.deepEqual(overall.body.unhealthy, ['vad'], 'names the down service');
  const own = await svc.request('GET', '/health');
  assert.equal(own.status, 200, 'the monitor itself stays healthy');
  assert.equal(own.body.overall, 'unhealthy', 'its /health shows the overall status as information');
});

test('token: the API needs it, targets receive it', async () => {
  const target = await fakeService('healthy');
  const mon = await startTestService(healthMonitorService, {
    env: {
      SYNTHIANS_API_TOKEN: 'tok',
      HEALTH_TARGETS: `t=${target.url}`,
      HEALTH_POLL_INTERVAL_MS: '200',
    },
  });
  try {
    await waitFor(() => target.requests.length > 0, 500, 'a check');
    assert.equal(target.requests[0]?.authorization, 'Bearer tok', 'target got the token');
    assert.equal((await mon.request('GET', '/v1/health')).status, 401, 'no token → 401');
    const ok = await mon.request('GET', '/v1/health', undefined, { authorization: 'Bearer tok' });
    assert.equal(ok.status, 200, 'with token → 200');
    assert.equal((await mon.request('GET', '/health')).status, 200, '/health is public');
  } finally {
    await mon.destroy();
    await target.close();
  }
});

test('configuration: defaults, runner targets, validation', async () => {
  const c = loadHealthMonitorConfig({});
  assert.equal(c.PORT, 5584, 'registry port');
  assert.equal(c.HEALTH_POLL_INTERVAL_MS, 5000, 'default interval');
  assert.equal(c.HEALTH_TARGETS, undefined, 'no targets configured → defaults');
  assert.deepEqual(c.HEALTH_CRITICAL, ['memory-core', 'coordinator'], 'default critical');
  assert.deepEqual(loadHealthMonitorConfig({ HEALTH_CRITICAL: 'none' }).HEALTH_CRITICAL, [], 'none');
  const defaults = registryTargets();
  assert.equal(defaults.length, DEFAULT_TARGET_SERVICES.length, 'one default target per service');
  assert.deepEqual(defaults[0], { name: 'memory-core', url: 'http://127.0.0.1:5010' }, 'registry URL');
  assert.ok(
    defaults.some((t) => t.name === 'wyoming' && t.url === 'http://127.0.0.1:10300'),
    'wyoming is polled over HTTP on its port',
  );
  assert.deepEqual(
    parseTargets('a=http://h:1, b=https://x/y/'),
    [
      { name: 'a', url: 'http://h:1' },
      { name: 'b', url: 'https://x/y' },
    ],
    'parsed pairs',
  );
  assert.throws(
    () => loadHealthMonitorConfig({ HEALTH_TARGETS: 'a=http://h:1,a=http://h:2' }),
    ConfigError,
    'dup',
  );
  assert.throws(() => loadHealthMonitorConfig({ HEALTH_TARGETS: 'a=ftp://h' }), ConfigError, 'bad URL');
  assert.throws(() => loadHealthMonitorConfig({ HEALTH_TARGETS: 'http://h:1' }), ConfigError, 'no name');
  assert.throws(
    () => loadHealthMonitorConfig({ HEALTH_POLL_INTERVAL_MS: '1000', HEALTH_TIMEOUT_MS: '1000' }),
    (err: unknown) => err instanceof ConfigError && err.issues[0]?.variable === 'HEALTH_TIMEOUT_MS',
    'timeout must be shorter than the interval',
  );

  // The runner's list is used when HEALTH_TARGETS is unset.
  const target = await fakeService('healthy');
  const def = createHealthMonitorService({
    defaultTargets: () => [{ name: 'runner-given', url: target.url }],
  });
  const mon = await startTestService(def, { env: { HEALTH_POLL_INTERVAL_MS: '200' } });
  try {
    const list = await mon.request('GET', '/v1/health/services');
    assert.deepEqual(
      (list.body.services as { name: string }[]).map((s) => s.name),
      ['runner-given'],
      'the runner’s targets',
    );
  } finally {
    await mon.destroy();
    await target.close();
  }
});
