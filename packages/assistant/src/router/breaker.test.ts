// The circuit breaker and the priority queue on their own: every breaker transition with an injected clock, and the
// queue's order, bound, wait limit and shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker, type BreakerState } from './breaker.ts';
import { PriorityQueue, PRIORITIES, priorityLevel } from './queue.ts';
import { gate, tick } from './test-support.ts';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('breaker: closed → open after N consecutive failures; a success resets the count', () => {
  const c = clock();
  const changes: string[] = [];
  const b = new CircuitBreaker({
    failureThreshold: 3,
    cooldownMs: 1000,
    now: c.now,
    onStateChange: (from, to) => changes.push(`${from}>${to}`),
  });
  assert.equal(b.state, 'closed');
  b.failure('target_error', 'HTTP 500');
  b.failure('target_error', 'HTTP 500');
  b.success();
  assert.equal(b.snapshot().consecutive_failures, 0, 'a success resets the consecutive count');
  b.failure('target_error', 'HTTP 500');
  b.failure('target_error', 'HTTP 500');
  assert.equal(b.state, 'closed', 'two consecutive failures are below the threshold');
  assert.ok(b.tryAcquire(), 'closed lets requests through');
  b.failure('target_timeout', 'timed out after 100 ms');
  assert.equal(b.state, 'open', 'the third consecutive failure opens it');
  assert.ok(!b.tryAcquire(), 'open refuses');
  assert.ok(!b.canPass(), 'open refuses (peek)');
  assert.equal(b.retryAfterMs(), 1000);
  c.advance(400);
  assert.equal(b.retryAfterMs(), 600, 'retry-after counts down with the clock');
  const snap = b.snapshot();
  assert.equal(snap.total_failures, 5);
  assert.equal(snap.opened_count, 1);
  assert.deepEqual(snap.last_error, {
    code: 'target_timeout',
    message: 'timed out after 100 ms',
    at: new Date(c.now() - 400).toISOString(),
  });
  assert.deepEqual(changes, ['closed>open']);
});

test('breaker: half-open after the cool-down lets ONE probe through; its success closes', () => {
  const c = clock();
  const b = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 10_000, now: c.now });
  b.failure('x', 'a');
  b.failure('x', 'b');
  assert.equal(b.state, 'open');
  c.advance(9_999);
  assert.equal(b.state, 'open', 'still open 1 ms before the cool-down ends');
  c.advance(1);
  assert.equal(b.state, 'half_open', 'half-open once the cool-down passed');
  assert.ok(b.canPass(), 'a probe may go');
  assert.ok(b.tryAcquire(), 'the first request is the probe');
  assert.ok(!b.tryAcquire(), 'a second request is refused while the probe is in flight');
  assert.ok(!b.canPass(), 'peek agrees');
  b.success();
  assert.equal(b.state, 'closed', 'the probe succeeded: closed');
  assert.ok(b.tryAcquire() && b.tryAcquire(), 'closed lets everything through again');
});

test('breaker: a failed probe re-opens for a new cool-down; release frees the probe slot', () => {
  const c = clock();
  const states: BreakerState[] = [];
  const b = new CircuitBreaker({
    failureThreshold: 1,
    cooldownMs: 500,
    now: c.now,
    onStateChange: (_from, to) => states.push(to),
  });
  b.failure('x', 'down');
  c.advance(500);
  assert.ok(b.tryAcquire(), 'probe granted');
  b.release();
  assert.ok(b.tryAcquire(), 'released: another probe may go');
  c.advance(100);
  b.failure('x', 'still down');
  assert.equal(b.state, 'open', 'the failed probe re-opens');
  assert.equal(b.retryAfterMs(), 500, 'a fresh cool-down from the probe failure');
  c.advance(500);
  assert.equal(b.state, 'half_open');
  assert.ok(b.tryAcquire(), 'next probe');
  b.success();
  assert.deepEqual(states, ['open', 'half_open', 'open', 'half_open', 'closed']);
  assert.equal(b.snapshot().opened_count, 2);
  assert.throws(() => new CircuitBreaker({ failureThreshold: 0 }), RangeError, 'threshold ≥ 1');
});

test('queue: priority order, FIFO within a priority', async () => {
  const q = new PriorityQueue({ capacity: 10, concurrency: 1 });
  const hold = gate();
  const order: string[] = [];
  const blocker = q.run(() => hold.promise);
  const jobs = (
    [
      ['low-1', PRIORITIES.low],
      ['normal-1', PRIORITIES.normal],
      ['high-1', PRIORITIES.high],
      ['normal-2', PRIORITIES.normal],
      ['urgent', 9],
      ['high-2', PRIORITIES.high],
      ['low-2', PRIORITIES.low],
    ] as const
  ).map(([name, priority]) =>
    q.run(
      async () => {
        order.push(name);
      },
      { priority },
    ),
  );
  assert.equal(q.depth, 7, 'seven waiting');
  assert.equal(q.active, 1, 'one running');
  hold.open();
  await Promise.all([blocker, ...jobs]);
  assert.deepEqual(order, ['urgent', 'high-1', 'high-2', 'normal-1', 'normal-2', 'low-1', 'low-2']);
  await q.idle();
});

test('queue: full → 429 queue_full with a retry-after; concurrency is respected', async () => {
  const q = new PriorityQueue({ capacity: 2, concurrency: 2, name: 'test' });
  const hold = gate();
  let running = 0;
  let peak = 0;
  const job = async () => {
    running++;
    peak = Math.max(peak, running);
    await hold.promise;
    running--;
  };
  const accepted = [q.run(job), q.run(job), q.run(job), q.run(job)];
  await assert.rejects(
    q.run(job),
    (err: { statusCode: number; code: string; details: { retry_after: number } }) =>
      err.statusCode === 429 && err.code === 'queue_full' && err.details.retry_after >= 1,
    'the fifth job is refused',
  );
  hold.open();
  await Promise.all(accepted);
  assert.equal(peak, 2, 'never more than two at once');
});

test('queue: a job waiting past its limit is dropped with 504 and never runs; close refuses the waiting', async () => {
  const q = new PriorityQueue({ capacity: 5, concurrency: 1 });
  const hold = gate();
  let ran = false;
  const blocker = q.run(() => hold.promise);
  const started = Date.now();
  await assert.rejects(
    q.run(
      async () => {
        ran = true;
      },
      { maxWaitMs: 50 },
    ),
    (err: { statusCode: number; code: string }) => err.statusCode === 504 && err.code === 'queue_timeout',
    'dropped after its wait limit',
  );
  assert.ok(Date.now() - started < 1000, 'dropped promptly');
  assert.equal(q.depth, 0, 'no longer counted as waiting');
  const waiting = q.run(async () => 'never');
  const closing = q.close();
  await assert.rejects(
    waiting,
    (err: { statusCode: number; code: string }) => err.statusCode === 503 && err.code === 'shutting_down',
    'waiting job refused on close',
  );
  await assert.rejects(
    q.run(async () => 1),
    /shutting down/,
    'new jobs refused after close',
  );
  hold.open();
  await blocker;
  await closing;
  await tick(5);
  assert.equal(ran, false, 'the dropped job never ran');
  assert.equal(priorityLevel('high'), 8);
  assert.equal(priorityLevel(undefined), 5);
  assert.throws(() => priorityLevel(10), RangeError, 'above 9 refused');
  assert.throws(() => priorityLevel(-1), RangeError, 'negative refused');
});
