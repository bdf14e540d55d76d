import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { AppError, createLogger, listen, MemoryBus, startTestService, stop } from '@synthians/kit';
import { vadService } from '@synthians/voice';
import { Registry } from 'prom-client';
import {
  HealthMonitor,
  overallStatus,
  RingBuffer,
  type HealthChange,
  type OverallChange,
} from './monitor.ts';
import { fakeService, waitFor, type FakeService } from './test-support.ts';

const INTERVAL = 200;
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function monitorWith(options: ConstructorParameters<typeof HealthMonitor>[0]) {
  const m = new HealthMonitor({ intervalMs: INTERVAL, timeoutMs: 150, critical: [], ...options });
  cleanups.push(() => m.stop());
  return m;
}

async function fake(mode: FakeService['mode'] = 'healthy') {
  const f = await fakeService(mode);
  cleanups.push(() => f.close());
  return f;
}

const statusOf = (m: HealthMonitor, name: string) => m.service(name)?.status;

test('a stopped real service is reported down within two intervals, announced on health.changes, then its recovery', async () => {
  const bus = new MemoryBus();
  cleanups.push(() => bus.close());
  const changes: HealthChange[] = [];
  const overall: OverallChange[] = [];
  bus.subscribe('health.changes', (msg) => void changes.push(msg.json<HealthChange>()));
  bus.subscribe('health.overall', (msg) => void overall.push(msg.json<OverallChange>()));

  const vad = await startTestService(vadService);
  cleanups.push(() => vad.destroy());
  const registry = new Registry();
  const m = monitorWith({ targets: [{ name: 'vad', url: vad.url }], bus, registry });
  m.start();
  await waitFor(
    () => statusOf(m, 'vad') === 'healthy',
    INTERVAL,
    'vad healthy after the immediate first poll',
  );
  assert.match(await registry.metrics(), /health_service_up\{service="vad"\} 1/, 'gauge says up');

  await vad.stop();
  const stoppedAt = Date.now();
  await waitFor(() => statusOf(m, 'vad') === 'unhealthy', 3 * INTERVAL, 'vad reported down');
  const elapsed = Date.now() - stoppedAt;
  assert.ok(elapsed <= 2 * INTERVAL + 50, `down reported in ${elapsed} ms, within two intervals`);
  const detail = m.service('vad');
  assert.ok(detail, 'vad is registered');
  assert.match(detail.last_error ?? '', /ECONNREFUSED/, 'the error names the refused connection');
  assert.equal(detail.consecutive_failures, 1, 'one failure so far');
  await bus.flush();
  const down = changes.find((c) => c.service === 'vad' && c.to === 'unhealthy');
  assert.ok(down, `health.changes announced the outage (got ${JSON.stringify(changes)})`);
  assert.equal(down.from, 'healthy', 'from healthy');
  assert.match(down.error ?? '', /ECONNREFUSED/, 'the message carries the error');
  assert.ok(!Number.isNaN(Date.parse(down.at)), 'at is an ISO time');
  assert.match(await registry.metrics(), /health_service_up\{service="vad"\} 0/, 'gauge says down');
  // Not critical: the overall status is degraded.
  assert.equal(m.status, 'degraded', 'a non-critical service down → degraded');

  // Only transitions are announced: more failed polls publish nothing new.
  await waitFor(() => (m.service('vad')?.consecutive_failures ?? 0) >= 3, 5 * INTERVAL, 'more failed polls');
  await bus.flush();
  assert.equal(changes.filter((c) => c.to === 'unhealthy').length, 1, 'one message per transition');

  // Recovery: the same service comes back on the same port.
  const port = vad.instance.port;
  const again = await vadService.create({
    env: {},
    dataDir: vad.dir,
    host: '127.0.0.1',
    port,
    logger: createLogger('test', 'silent'),
  });
  await listen(again);
  cleanups.push(() => stop(again));
  const back = Date.now();
  await waitFor(() => statusOf(m, 'vad') === 'healthy', 3 * INTERVAL, 'vad recovered');
  assert.ok(Date.now() - back <= 2 * INTERVAL + 50, 'recovery seen within two intervals');
  await bus.flush();
  const up = changes.find((c) => c.service === 'vad' && c.from === 'unhealthy' && c.to === 'healthy');
  assert.ok(up, `health.changes announced the recovery (got ${JSON.stringify(changes)})`);
  const view = m.snapshot().services.find((s) => s.name === 'vad');
  assert.ok(view, 'vad in the snapshot');
  assert.equal(view.consecutive_failures, 0, 'failures reset');
  assert.ok(
    view.uptime_ratio !== null && view.uptime_ratio > 0 && view.uptime_ratio < 1,
    `uptime ratio between 0 and 1 (got ${view.uptime_ratio})`,
  );
  assert.equal(m.status, 'healthy', 'overall healthy again');
  assert.deepEqual(
    overall.map((o) => `${o.from}→${o.to}`),
    ['healthy→degraded', 'degraded→healthy'],
    'health.overall announced both overall transitions',
  );
});

test('degraded propagates: service, overall, reported checks, bus', async () => {
  const bus = new MemoryBus();
  cleanups.push(() => bus.close());
  const messages: { subject: string; body: unknown }[] = [];
  bus.subscribe('health.>', (msg) => void messages.push({ subject: msg.subject, body: msg.json() }));
  const ok = await fake('healthy');
  const deg = await fake('healthy');
  const m = monitorWith({
    targets: [
      { name: 'a', url: ok.url },
      { name: 'b', url: deg.url },
    ],
    bus,
  });
  const seen: HealthChange[] = [];
  m.onChange((c) => seen.push(c));
  m.start();
  await waitFor(
    () => statusOf(m, 'b') === 'healthy' && statusOf(m, 'a') === 'healthy',
    INTERVAL,
    'both healthy',
  );
  assert.equal(m.status, 'healthy', 'overall healthy');
  deg.mode = 'degraded';
  await waitFor(() => statusOf(m, 'b') === 'degraded', 3 * INTERVAL, 'b degraded');
  assert.equal(m.status, 'degraded', 'overall degraded');
  const detail = m.service('b');
  assert.deepEqual(
    detail?.reported_checks,
    { db: { status: 'degraded' } },
    'the service’s own checks are kept',
  );
  assert.equal(detail?.consecutive_failures, 0, 'degraded is not a failure');
  assert.ok(
    seen.some((c) => c.service === 'b' && c.from === 'healthy' && c.to === 'degraded'),
    'onChange saw the transition',
  );
  await bus.flush();
  assert.ok(
    messages.some((x) => x.subject === 'health.changes' && (x.body as HealthChange).to === 'degraded'),
    'health.changes to degraded published',
  );
  assert.ok(
    messages.some((x) => x.subject === 'health.overall' && (x.body as OverallChange).to === 'degraded'),
    'health.overall to degraded published',
  );
  const overallMsg = messages.find((x) => x.subject === 'health.overall')?.body as OverallChange;
  assert.deepEqual(overallMsg.degraded, ['b'], 'the overall message names the degraded service');
});

test('overall status rules', async () => {
  const rules: [
    string,
    { name: string; status: 'healthy' | 'degraded' | 'unhealthy' | 'unknown' }[],
    string,
  ][] = [
    [
      'all healthy',
      [
        { name: 'memory-core', status: 'healthy' },
        { name: 'vad', status: 'healthy' },
      ],
      'healthy',
    ],
    ['nothing monitored', [], 'healthy'],
    ['not yet checked', [{ name: 'memory-core', status: 'unknown' }], 'healthy'],
    [
      'one degraded',
      [
        { name: 'memory-core', status: 'degraded' },
        { name: 'vad', status: 'healthy' },
      ],
      'degraded',
    ],
    [
      'non-critical down',
      [
        { name: 'memory-core', status: 'healthy' },
        { name: 'vad', status: 'unhealthy' },
      ],
      'degraded',
    ],
    [
      'critical down',
      [
        { name: 'memory-core', status: 'unhealthy' },
        { name: 'vad', status: 'healthy' },
      ],
      'unhealthy',
    ],
    [
      'critical down wins',
      [
        { name: 'coordinator', status: 'unhealthy' },
        { name: 'vad', status: 'degraded' },
      ],
      'unhealthy',
    ],
  ];
  for (const [what, services, want] of rules) {
    assert.equal(overallStatus(services, ['memory-core', 'coordinator']), want, what);
  }

  // And live: a critical 503 → unhealthy; then only a non-critical one down → degraded.
  const core = await fake('healthy');
  const other = await fake('healthy');
  const m = monitorWith({
    targets: [
      { name: 'memory-core', url: core.url },
      { name: 'vad', url: other.url },
    ],
    critical: ['memory-core'],
  });
  m.start();
  await waitFor(() => m.status === 'healthy' && statusOf(m, 'vad') === 'healthy', INTERVAL, 'healthy');
  core.mode = 'unhealthy';
  await waitFor(() => m.status === 'unhealthy', 3 * INTERVAL, 'critical down → unhealthy');
  assert.equal(
    m.snapshot().services.find((s) => s.name === 'memory-core')?.critical,
    true,
    'marked critical',
  );
  assert.match(m.service('memory-core')?.last_error ?? '', /HTTP 503/, 'the 503 is the error');
  core.mode = 'healthy';
  other.mode = 'error500';
  await waitFor(() => m.status === 'degraded', 3 * INTERVAL, 'non-critical down → degraded');
  assert.equal(statusOf(m, 'vad'), 'unhealthy', 'a 500 is down');
  other.mode = 'garbage';
  await waitFor(() => /no JSON/.test(m.service('vad')?.last_error ?? ''), 3 * INTERVAL, 'garbage seen');
  assert.equal(statusOf(m, 'vad'), 'unhealthy', 'unparseable JSON is down');
  other.mode = 'healthy';
  await waitFor(() => m.status === 'healthy', 3 * INTERVAL, 'all healthy again');
  // Removing a down critical service lifts the overall status.
  core.mode = 'unhealthy';
  await waitFor(() => m.status === 'unhealthy', 3 * INTERVAL, 'critical down again');
  assert.equal(m.remove('memory-core'), true, 'removed');
  assert.equal(m.status, 'healthy', 'a removed service no longer counts');
});

test('history is a bounded ring buffer; uptime is over the window', async () => {
  const ring = new RingBuffer<number>(3);
  for (let i = 1; i <= 5; i++) ring.push(i);
  assert.deepEqual(ring.toArray(), [3, 4, 5], 'oldest dropped');
  assert.equal(ring.length, 3, 'length capped');
  assert.throws(() => new RingBuffer(0), RangeError, 'capacity must be positive');

  const f = await fake('healthy');
  const m = new HealthMonitor({
    intervalMs: 40,
    timeoutMs: 30,
    historySize: 4,
    targets: [{ name: 'f', url: f.url }],
  });
  cleanups.push(() => m.stop());
  m.start();
  await waitFor(() => f.requests.length >= 6, 2000, 'six checks');
  await m.idle();
  let detail = m.service('f');
  assert.equal(detail?.history.length, 4, `history capped at 4 (got ${detail?.history.length})`);
  assert.equal(detail?.checks_in_window, 4, 'window size reported');
  const times = detail!.history.map((h) => Date.parse(h.at));
  assert.deepEqual(
    times,
    [...times].sort((a, b) => a - b),
    'oldest first',
  );
  assert.ok(
    detail!.history.every(
      (h) => h.status === 'healthy' && typeof h.latency_ms === 'number' && h.error === undefined,
    ),
    'entries are {at, status, latency_ms}',
  );
  assert.equal(detail?.uptime_ratio, 1, 'always up');
  f.mode = 'unhealthy';
  const before = f.requests.length;
  await waitFor(() => f.requests.length >= before + 2, 2000, 'two failing checks');
  await m.idle();
  detail = m.service('f');
  const downs = detail!.history.filter((h) => h.status === 'unhealthy').length;
  assert.ok(downs >= 2, `failures in the history (got ${downs})`);
  assert.equal(detail?.uptime_ratio, (4 - downs) / 4, 'uptime ratio = up checks / window');
  assert.ok(
    detail!.history.filter((h) => h.status === 'unhealthy').every((h) => h.error),
    'failures carry an error',
  );
});

test('registration: bad name or URL → 400, duplicate → 409, unknown → false; added services are polled at once', async () => {
  const f = await fake('healthy');
  const m = monitorWith({});
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      assert.ok(AppError.isInstance(err), `an AppError (got ${String(err)})`);
      return `${err.statusCode} ${err.code}`;
    }
    return 'no error';
  };
  assert.equal(
    code(() => m.add('x', 'not a url')),
    '400 invalid_url',
    'not a URL',
  );
  assert.equal(
    code(() => m.add('x', 'ftp://127.0.0.1:21')),
    '400 invalid_url',
    'not http(s)',
  );
  assert.equal(
    code(() => m.add('bad name', f.url)),
    '400 invalid_name',
    'space in the name',
  );
  assert.equal(
    code(() => m.add('', f.url)),
    '400 invalid_name',
    'empty name',
  );
  assert.equal(
    code(() => m.add('f', `${f.url}/`)),
    'no error',
    'first registration works (trailing slash dropped)',
  );
  assert.equal(m.service('f')?.url, f.url, 'URL normalised');
  assert.equal(
    code(() => m.add('f', f.url)),
    '409 service_exists',
    'duplicate',
  );
  assert.equal(m.remove('nope'), false, 'unknown name');
  assert.equal(m.service('nope'), undefined, 'unknown name has no detail');
  assert.equal(statusOf(m, 'f'), 'unknown', 'not checked while stopped');
  m.start();
  await waitFor(() => statusOf(m, 'f') === 'healthy', INTERVAL, 'checked at start');
  const g = await fake('degraded');
  m.add('g', g.url);
  const ms = await waitFor(() => statusOf(m, 'g') === 'degraded', INTERVAL, 'g checked');
  assert.ok(ms < INTERVAL / 2, `a service added while running is checked at once (${ms} ms)`);
  assert.equal(m.remove('g'), true, 'removed');
  assert.equal(m.snapshot().services.length, 1, 'one left');
});

test('a slow target does not delay the others; it times out and is down', async () => {
  const slow = await fake('hang');
  const fast = await fake('healthy');
  const m = monitorWith({
    targets: [
      { name: 'slow', url: slow.url },
      { name: 'fast', url: fast.url },
    ],
    timeoutMs: 120,
  });
  const started = Date.now();
  m.start();
  const first = await waitFor(() => statusOf(m, 'fast') === 'healthy', INTERVAL, 'fast healthy');
  assert.ok(first < 100, `fast answered before the slow one timed out (${first} ms)`);
  await waitFor(() => statusOf(m, 'slow') === 'unhealthy', 2 * INTERVAL, 'slow down');
  assert.match(m.service('slow')?.last_error ?? '', /timed out after 120 ms/, 'the timeout is the error');
  await waitFor(() => Date.now() - started >= 5 * INTERVAL + 50, 10 * INTERVAL, 'five intervals');
  const fastChecks = m.service('fast')?.checks_in_window ?? 0;
  const slowChecks = m.service('slow')?.checks_in_window ?? 0;
  assert.ok(fastChecks >= 5, `fast checked every interval despite the slow one (got ${fastChecks})`);
  assert.ok(slowChecks >= 4, `slow checked every interval too (got ${slowChecks})`);
  assert.ok(
    m.service('slow')!.history.every((h) => h.latency_ms < INTERVAL),
    'every slow check ended before the next interval',
  );
});

test('the bearer token is sent; options are validated', async () => {
  const f = await fake('healthy');
  const m = monitorWith({ targets: [{ name: 'f', url: f.url }], token: 's3cret' });
  m.start();
  await waitFor(() => f.requests.length > 0, INTERVAL, 'a check');
  assert.equal(f.requests[0]?.authorization, 'Bearer s3cret', 'bearer token sent');
  assert.throws(
    () => new HealthMonitor({ intervalMs: 100, timeoutMs: 100 }),
    RangeError,
    'timeout ≥ interval',
  );
  assert.throws(() => new HealthMonitor({ historySize: 0 }), RangeError, 'history size 0');
  const d = new HealthMonitor({ intervalMs: 1000 });
  assert.equal(d.timeoutMs, 800, 'default timeout: 80 % of a short interval');
  assert.deepEqual(d.critical, ['memory-core', 'coordinator'], 'default critical services');
  await m.stop();
  assert.equal(m.running, false, 'stopped');
  const count = f.requests.length;
  await new Promise((r) => setTimeout(r, 2 * INTERVAL));
  assert.equal(f.requests.length, count, 'no polls after stop');
});
