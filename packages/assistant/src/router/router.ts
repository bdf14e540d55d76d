// The task router: a typed task → its route (an HTTP service or an in-process handler), through the route's
// priority queue and concurrency limit, its circuit breaker, per-attempt timeouts and — for idempotent routes
// only — retries with exponential backoff and jitter.
//
// Failures (counted by the breaker, retried when the route is idempotent): network errors, timeouts, 5xx from an
// HTTP target, exceptions (other than a 4xx AppError) from an in-process handler. A 4xx is the caller's fault:
// passed through with its status, never counted, never retried (it also proves the target is up, so it resets the
// consecutive-failure count and closes a half-open breaker).
//
// Errors (AppError, so the HTTP layer renders the standard envelope):
//   400 invalid_task / unknown_task_type   the task itself is wrong
//   4xx (the target's)                     passed through from the target
//   409 idempotency_conflict               an idempotency_key reused for another type or payload
//   429 queue_full                         the route's queue is full (details.retry_after, seconds)
//   502 target_error                       network error or 5xx from the target, or an in-process handler threw
//   503 circuit_open                       the route's breaker is open (details.retry_after, seconds)
//   503 target_unavailable                 the target refuses connections (e.g. not started yet)
//   503 handler_unavailable                an in-process route with no handler registered
//   503 shutting_down                      the router is closing
//   504 queue_timeout                      waited in the queue past its limit; never ran
//   504 target_timeout                     the (last) attempt timed out, or timeout_ms ran out
import { createHash } from 'node:crypto';
import { AppError, badRequest, type Logger } from '@synthians/kit';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CircuitBreaker, type BreakerSnapshot, type BreakerState } from './breaker.ts';
import { TYPE_PATTERN, type HttpTarget, type RouteSpec } from './config.ts';
import { PriorityQueue, priorityLevel, type PriorityName } from './queue.ts';
import { callHttp, describeTarget, networkErrorCode, resolveTarget } from './targets.ts';

export interface Task {
  type: string;
  payload: Record<string, unknown>;
  /** `high`/`normal`/`low` or 0–9 (9 first); default normal. */
  priority?: PriorityName | number | undefined;
  /**
   * The whole task's budget in ms: queue wait, attempts and backoff must fit in it (each attempt's timeout is the
   * route's, cut to what is left). Without it: the queue wait is limited by ROUTER_QUEUE_WAIT_MS and each attempt
   * by the route's timeout.
   */
  timeout_ms?: number | undefined;
  /**
   * Repeating a key (for the same type and payload) joins the task in flight or replays its successful result
   * for ROUTER_IDEMPOTENCY_TTL_MS instead of running it again; it is also sent to HTTP targets as Idempotency-Key.
   * It does not make a non-idempotent route retry.
   */
  idempotency_key?: string | undefined;
}

export interface TaskResult {
  type: string;
  /** The target that served it: `METHOD url` or `in-process`. */
  target: string;
  result: unknown;
  attempts: number;
  duration_ms: number;
  /** True when the result was replayed for a repeated idempotency_key. */
  replayed?: boolean;
}

export interface HandlerContext {
  type: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborted on timeout or when the router closes; handlers should stop then. */
  signal: AbortSignal;
  idempotencyKey?: string | undefined;
}

export type TaskHandler = (payload: Record<string, unknown>, context: HandlerContext) => unknown;

export interface RegisterOptions {
  /** Per-attempt timeout (default: the route's, else 10 s). */
  timeoutMs?: number;
  /** Whether failed attempts may be retried (default: the route's, else false). */
  idempotent?: boolean;
}

export interface RouteView {
  pattern: string;
  kind: 'http' | 'in-process';
  /** `METHOD url` (templates unfilled) or `in-process`. */
  target: string;
  registered: boolean;
  timeout_ms: number;
  idempotent: boolean;
  retries: number;
  breaker: BreakerSnapshot;
  queue: { depth: number; active: number; capacity: number; concurrency: number };
}

export interface TaskRouterOptions {
  routes?: RouteSpec[];
  /** Retries for idempotent routes (ROUTER_RETRIES, default 2). */
  retries?: number;
  /** First backoff (ROUTER_BACKOFF_MS, default 100) and the cap (ROUTER_BACKOFF_MAX_MS, default 2000). */
  backoffMs?: number;
  backoffMaxMs?: number;
  breakerFailures?: number;
  breakerCooldownMs?: number;
  queueSize?: number;
  concurrency?: number;
  /** Longest queue wait of a task without timeout_ms (ROUTER_QUEUE_WAIT_MS, default 10 s). */
  queueWaitMs?: number;
  idempotencyTtlMs?: number;
  /** The breakers' clock (tests). */
  now?: () => number;
  /** Jitter source in [0, 1) (tests). */
  random?: () => number;
  /** Where the metrics go (the service passes its app's registry); a private one otherwise. */
  registry?: Registry;
  logger?: Logger;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_IDEMPOTENCY_ENTRIES = 10_000;
const ROUTE_PATTERN = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*(\.\*)?$/;

interface RouteState {
  spec: RouteSpec;
  handler?: TaskHandler | undefined;
  breaker: CircuitBreaker;
  queue: PriorityQueue;
  retries: number;
}

interface IdempotencyEntry {
  fingerprint: string;
  promise?: Promise<TaskResult> | undefined;
  result?: TaskResult | undefined;
  expires: number;
}

type Outcome =
  | 'success'
  | 'client_error'
  | 'target_error'
  | 'timeout'
  | 'unavailable'
  | 'circuit_open'
  | 'queue_full'
  | 'queue_timeout'
  | 'replayed'
  | 'shutting_down';

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export class TaskRouter {
  readonly registry: Registry;
  private readonly table = new Map<string, RouteState>();
  private readonly opts: Required<
    Omit<TaskRouterOptions, 'routes' | 'registry' | 'logger' | 'now' | 'random'>
  >;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly logger: Logger | undefined;
  private readonly idempotency = new Map<string, IdempotencyEntry>();
  private readonly closing = new AbortController();
  private closed = false;
  private readonly requests: Counter<'route' | 'outcome'>;
  private readonly latency: Histogram<'route' | 'outcome'>;
  private readonly attemptsCounter: Counter<'route' | 'result'>;

  constructor(options: TaskRouterOptions = {}) {
    this.opts = {
      retries: options.retries ?? 2,
      backoffMs: options.backoffMs ?? 100,
      backoffMaxMs: options.backoffMaxMs ?? 2000,
      breakerFailures: options.breakerFailures ?? 5,
      breakerCooldownMs: options.breakerCooldownMs ?? 10_000,
      queueSize: options.queueSize ?? 100,
      concurrency: options.concurrency ?? 8,
      queueWaitMs: options.queueWaitMs ?? 10_000,
      idempotencyTtlMs: options.idempotencyTtlMs ?? 300_000,
    };
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.logger = options.logger;
    this.registry = options.registry ?? new Registry();
    for (const spec of options.routes ?? []) this.addRoute(spec);

    const registers = [this.registry];
    this.requests = new Counter({
      name: 'task_router_requests_total',
      help: 'Tasks by route and outcome (success, client_error, target_error, timeout, unavailable, circuit_open, queue_full, queue_timeout, replayed, shutting_down)',
      labelNames: ['route', 'outcome'],
      registers,
    });
    this.latency = new Histogram({
      name: 'task_router_task_duration_seconds',
      help: 'Task latency (queue wait, attempts and backoff) by route and outcome',
      labelNames: ['route', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.attemptsCounter = new Counter({
      name: 'task_router_attempts_total',
      help: 'Attempts sent to targets by route and result (success, client_error, failure)',
      labelNames: ['route', 'result'],
      registers,
    });
    const table = this.table;
    new Gauge({
      name: 'task_router_breaker_state',
      help: 'Circuit breaker state by route: 0 closed, 1 half_open, 2 open',
      labelNames: ['route'],
      registers,
      collect() {
        this.reset();
        for (const r of table.values()) this.set({ route: r.spec.pattern }, BREAKER_VALUE[r.breaker.state]);
      },
    });
    new Gauge({
      name: 'task_router_queue_depth',
      help: 'Tasks waiting in the route’s queue',
      labelNames: ['route'],
      registers,
      collect() {
        this.reset();
        for (const r of table.values()) this.set({ route: r.spec.pattern }, r.queue.depth);
      },
    });
    new Gauge({
      name: 'task_router_in_flight',
      help: 'Tasks of the route running now',
      labelNames: ['route'],
      registers,
      collect() {
        this.reset();
        for (const r of table.values()) this.set({ route: r.spec.pattern }, r.queue.active);
      },
    });
  }

  /**
   * Serves `pattern` (a task type or `prefix.*`) with an in-process handler, replacing the route's HTTP target if
   * it had one (one-process mode). Returns a function that unregisters the handler.
   */
  register(pattern: string, handler: TaskHandler, options: RegisterOptions = {}): () => void {
    if (!ROUTE_PATTERN.test(pattern))
      throw new RangeError(`invalid route pattern ${JSON.stringify(pattern)}`);
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    const existing = this.table.get(pattern);
    const spec: RouteSpec = {
      ...(existing?.spec ?? { idempotent: false, timeoutMs: DEFAULT_TIMEOUT_MS }),
      pattern,
      target: { kind: 'in-process' },
    };
    if (options.timeoutMs !== undefined) spec.timeoutMs = options.timeoutMs;
    if (options.idempotent !== undefined) spec.idempotent = options.idempotent;
    if (!(spec.timeoutMs > 0)) throw new RangeError('timeoutMs must be > 0');
    const state = existing ?? this.addRoute(spec);
    state.spec = spec;
    state.handler = handler;
    state.breaker.reset();
    return () => {
      if (state.handler === handler) state.handler = undefined;
    };
  }

  /** Runs one task; resolves with its result or rejects with an AppError (see the table at the top). */
  async route(task: Task): Promise<TaskResult> {
    const started = performance.now();
    const input = validateTask(task);
    const state = this.resolve(input.type);
    const label = state.spec.pattern;
    const finish = (outcome: Outcome) => {
      this.requests.inc({ route: label, outcome });
      this.latency.observe({ route: label, outcome }, (performance.now() - started) / 1000);
    };
    if (this.closed) {
      finish('shutting_down');
      throw new AppError(503, 'shutting_down', 'The task router is shutting down');
    }
    const key = input.idempotency_key;
    if (key === undefined) return this.run(state, input, started, finish);

    // Idempotency: the same key (for this type) joins the task in flight or replays its result.
    this.sweepIdempotency();
    const mapKey = `${input.type}\u0000${key}`;
    const fingerprint = createHash('sha256').update(JSON.stringify(input.payload)).digest('hex');
    const known = this.idempotency.get(mapKey);
    if (known && known.expires > Date.now()) {
      if (known.fingerprint !== fingerprint) {
        throw new AppError(
          409,
          'idempotency_conflict',
          'This idempotency_key was used for a different payload; use a new key for a new task',
        );
      }
      if (known.result) {
        finish('replayed');
        return { ...known.result, replayed: true };
      }
      if (known.promise) {
        const result = await known.promise;
        finish('replayed');
        return { ...result, replayed: true };
      }
    }
    const entry: IdempotencyEntry = { fingerprint, expires: Number.POSITIVE_INFINITY };
    const promise = this.run(state, input, started, finish);
    entry.promise = promise;
    this.idempotency.set(mapKey, entry);
    try {
      const result = await promise;
      entry.promise = undefined;
      if (this.opts.idempotencyTtlMs > 0) {
        entry.result = result;
        entry.expires = Date.now() + this.opts.idempotencyTtlMs;
      } else this.idempotency.delete(mapKey);
      return result;
    } catch (err) {
      // A failed task may be tried again with the same key.
      if (this.idempotency.get(mapKey) === entry) this.idempotency.delete(mapKey);
      throw err;
    }
  }

  /** Every route with its breaker and queue (no task data). */
  routes(): RouteView[] {
    return [...this.table.values()].map((r) => ({
      pattern: r.spec.pattern,
      kind: r.spec.target.kind,
      target: r.spec.target.kind === 'http' ? describeTarget(r.spec.target) : 'in-process',
      registered: r.spec.target.kind === 'http' || r.handler !== undefined,
      timeout_ms: r.spec.timeoutMs,
      idempotent: r.spec.idempotent,
      retries: r.spec.idempotent ? r.retries : 0,
      breaker: r.breaker.snapshot(),
      queue: {
        depth: r.queue.depth,
        active: r.queue.active,
        capacity: r.queue.capacity,
        concurrency: r.queue.concurrency,
      },
    }));
  }

  /** Whether a type has a route (exactly or through a `prefix.*` pattern). */
  has(type: string): boolean {
    return this.lookup(type) !== undefined;
  }

  /** Refuses new tasks, drops the waiting ones (503), aborts running attempts and waits for them to end. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    await Promise.all([...this.table.values()].map((r) => r.queue.close()));
    this.idempotency.clear();
  }

  private addRoute(spec: RouteSpec): RouteState {
    if (!ROUTE_PATTERN.test(spec.pattern))
      throw new RangeError(`invalid route pattern ${JSON.stringify(spec.pattern)}`);
    const pattern = spec.pattern;
    const state: RouteState = {
      spec,
      breaker: new CircuitBreaker({
        failureThreshold: this.opts.breakerFailures,
        cooldownMs: this.opts.breakerCooldownMs,
        now: this.now,
        onStateChange: (from, to) =>
          this.logger?.[to === 'open' ? 'warn' : 'info'](
            { route: pattern, from, to },
            `circuit breaker ${from} → ${to}`,
          ),
      }),
      queue: new PriorityQueue({
        capacity: spec.queueSize ?? this.opts.queueSize,
        concurrency: spec.concurrency ?? this.opts.concurrency,
        name: pattern,
      }),
      retries: spec.retries ?? this.opts.retries,
    };
    this.table.set(pattern, state);
    return state;
  }

  private lookup(type: string): RouteState | undefined {
    const exact = this.table.get(type);
    if (exact) return exact;
    const parts = type.split('.');
    for (let i = parts.length - 1; i >= 1; i--) {
      const wildcard = this.table.get(`${parts.slice(0, i).join('.')}.*`);
      if (wildcard) return wildcard;
    }
    return undefined;
  }

  private resolve(type: string): RouteState {
    const state = this.lookup(type);
    if (!state) {
      throw badRequest('unknown_task_type', `No route for task type ${JSON.stringify(type)}`, {
        known: [...this.table.keys()],
      });
    }
    return state;
  }

  private async run(
    state: RouteState,
    task: ValidTask,
    started: number,
    finish: (outcome: Outcome) => void,
  ): Promise<TaskResult> {
    const deadline = task.timeout_ms !== undefined ? started + task.timeout_ms : undefined;
    try {
      if (state.spec.target.kind === 'in-process' && !state.handler) {
        throw new AppError(
          503,
          'handler_unavailable',
          `No in-process handler is registered for ${state.spec.pattern} tasks`,
        );
      }
      if (!state.breaker.canPass()) throw circuitOpen(state);
      const maxWaitMs = deadline !== undefined ? deadline - performance.now() : this.opts.queueWaitMs;
      const result = await state.queue.run(() => this.attempts(state, task, deadline), {
        priority: task.priority,
        maxWaitMs,
      });
      const out: TaskResult = {
        type: task.type,
        target: result.target,
        result: result.value,
        attempts: result.attempts,
        duration_ms: Math.round((performance.now() - started) * 100) / 100,
      };
      finish('success');
      return out;
    } catch (err) {
      finish(outcomeOf(err));
      throw err;
    }
  }

  /** The attempts of one task, in its queue slot. */
  private async attempts(
    state: RouteState,
    task: ValidTask,
    deadline: number | undefined,
  ): Promise<{ value: unknown; attempts: number; target: string }> {
    const spec = state.spec;
    const maxAttempts = spec.idempotent ? 1 + state.retries : 1;
    let lastError: AppError | undefined;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (this.closed) throw new AppError(503, 'shutting_down', 'The task router is shutting down');
      const left = deadline !== undefined ? deadline - performance.now() : Number.POSITIVE_INFINITY;
      if (left <= 0) {
        throw (
          lastError ??
          new AppError(504, 'target_timeout', `timeout_ms ran out before ${spec.pattern} could be sent`)
        );
      }
      if (!state.breaker.tryAcquire()) throw lastError ?? circuitOpen(state);
      const timeoutMs = Math.max(1, Math.min(spec.timeoutMs, left));
      const outcome = await this.attempt(state, task, attempt, timeoutMs);
      if (outcome.kind === 'success') {
        state.breaker.success();
        this.attemptsCounter.inc({ route: spec.pattern, result: 'success' });
        return { value: outcome.value, attempts: attempt, target: outcome.target };
      }
      if (outcome.kind === 'client_error') {
        // The target answered: it is up. Not a failure, not retried.
        state.breaker.success();
        this.attemptsCounter.inc({ route: spec.pattern, result: 'client_error' });
        throw outcome.error;
      }
      if (outcome.kind === 'aborted') {
        state.breaker.release();
        throw outcome.error;
      }
      state.breaker.failure(outcome.error.code, outcome.summary);
      this.attemptsCounter.inc({ route: spec.pattern, result: 'failure' });
      lastError = withAttempts(outcome.error, attempt);
      if (attempt === maxAttempts) break;
      const delay = this.backoff(attempt);
      const remaining = deadline !== undefined ? deadline - performance.now() : Number.POSITIVE_INFINITY;
      if (delay >= remaining) break;
      this.logger?.debug({ route: spec.pattern, attempt, delay_ms: delay }, 'retrying task');
      await sleep(delay, this.closing.signal);
    }
    throw lastError!;
  }

  /** The delay before retry number `n` (1-based): base·2^(n−1), capped, times a jitter in [0.5, 1). */
  private backoff(n: number): number {
    const nominal = Math.min(this.opts.backoffMaxMs, this.opts.backoffMs * 2 ** (n - 1));
    return Math.round(nominal * (0.5 + this.random() * 0.5));
  }

  private async attempt(
    state: RouteState,
    task: ValidTask,
    attempt: number,
    timeoutMs: number,
  ): Promise<AttemptOutcome> {
    const spec = state.spec;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('timeout'));
    }, timeoutMs);
    const onClose = () => controller.abort(new Error('closing'));
    this.closing.signal.addEventListener('abort', onClose, { once: true });
    try {
      if (spec.target.kind === 'http') {
        return await this.attemptHttp(
          spec.pattern,
          spec.target,
          task,
          controller.signal,
          () => timedOut,
          timeoutMs,
        );
      }
      const handler = state.handler;
      if (!handler) {
        return {
          kind: 'aborted',
          error: new AppError(
            503,
            'handler_unavailable',
            `No in-process handler is registered for ${spec.pattern} tasks`,
          ),
        };
      }
      return await this.attemptInProcess(
        spec.pattern,
        handler,
        task,
        attempt,
        controller.signal,
        () => timedOut,
        timeoutMs,
      );
    } finally {
      clearTimeout(timer);
      this.closing.signal.removeEventListener('abort', onClose);
    }
  }

  private async attemptHttp(
    pattern: string,
    target: HttpTarget,
    task: ValidTask,
    signal: AbortSignal,
    timedOut: () => boolean,
    timeoutMs: number,
  ): Promise<AttemptOutcome> {
    let url: string;
    let rest: Record<string, unknown>;
    try {
      ({ url, rest } = resolveTarget(target, task.type, task.payload));
    } catch (err) {
      return { kind: 'client_error', error: badRequest('invalid_task', (err as Error).message) };
    }
    const shown = `${target.method} ${url}`;
    try {
      const reply = await callHttp(target, url, rest, signal, task.idempotency_key);
      if (reply.status < 400) return { kind: 'success', value: reply.body, target: shown };
      if (reply.status < 500)
        return { kind: 'client_error', error: passThrough(reply.status, reply.body, pattern) };
      const upstream = upstreamCode(reply.body);
      return {
        kind: 'failure',
        summary: `HTTP ${reply.status}${upstream ? ` (${upstream})` : ''} from ${describeTarget(target)}`,
        error: new AppError(502, 'target_error', `The ${pattern} target answered HTTP ${reply.status}`, {
          route: pattern,
          target_status: reply.status,
          ...(upstream ? { target_code: upstream } : {}),
        }),
      };
    } catch (err) {
      if (timedOut()) {
        return timeoutFailure(pattern, timeoutMs, describeTarget(target), 'target did not answer');
      }
      if (this.closed) return SHUTTING_DOWN();
      const code = networkErrorCode(err);
      if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
        return {
          kind: 'failure',
          summary: `${code}: ${describeTarget(target)} is not reachable`,
          error: new AppError(
            503,
            'target_unavailable',
            `The ${pattern} target ${describeTarget(target)} is not reachable (${code === 'ECONNREFUSED' ? 'connection refused' : code}): is the service running?`,
            { route: pattern, network_error: code },
          ),
        };
      }
      return {
        kind: 'failure',
        summary: `${code} from ${describeTarget(target)}`,
        error: new AppError(502, 'target_error', `The request to the ${pattern} target failed (${code})`, {
          route: pattern,
          network_error: code,
        }),
      };
    }
  }

  private async attemptInProcess(
    pattern: string,
    handler: TaskHandler,
    task: ValidTask,
    attempt: number,
    signal: AbortSignal,
    timedOut: () => boolean,
    timeoutMs: number,
  ): Promise<AttemptOutcome> {
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_resolve, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const value = await Promise.race([
        Promise.resolve().then(() =>
          handler(structuredClone(task.payload), {
            type: task.type,
            attempt,
            signal,
            idempotencyKey: task.idempotency_key,
          }),
        ),
        aborted,
      ]);
      return { kind: 'success', value: value === undefined ? null : value, target: 'in-process' };
    } catch (err) {
      if (timedOut()) {
        return timeoutFailure(pattern, timeoutMs, 'in-process', 'handler did not finish');
      }
      if (this.closed) return SHUTTING_DOWN();
      if (AppError.isInstance(err) && err.statusCode < 500) return { kind: 'client_error', error: err };
      if (AppError.isInstance(err)) {
        return { kind: 'failure', summary: `${err.code} from the in-process handler`, error: err };
      }
      this.logger?.warn({ err, route: pattern }, 'in-process task handler failed');
      return {
        kind: 'failure',
        summary: `the in-process handler threw ${(err as Error)?.name ?? 'an error'}`,
        error: new AppError(502, 'target_error', `The ${pattern} handler failed`, { route: pattern }),
      };
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
      aborted.catch(() => {});
    }
  }

  private sweepIdempotency(): void {
    const now = Date.now();
    for (const [k, e] of this.idempotency) {
      if (e.expires <= now) this.idempotency.delete(k);
    }
    while (this.idempotency.size >= MAX_IDEMPOTENCY_ENTRIES) {
      const oldest = this.idempotency.keys().next().value;
      if (oldest === undefined) break;
      this.idempotency.delete(oldest);
    }
  }
}

type AttemptOutcome =
  | { kind: 'success'; value: unknown; target: string }
  | { kind: 'client_error'; error: AppError }
  | { kind: 'failure'; error: AppError; summary: string }
  | { kind: 'aborted'; error: AppError };

interface ValidTask {
  type: string;
  payload: Record<string, unknown>;
  priority: number;
  timeout_ms?: number | undefined;
  idempotency_key?: string | undefined;
}

export const MAX_TIMEOUT_MS = 600_000;

/** Checks a task from any caller (the HTTP schema checks the same for HTTP callers); 400 invalid_task. */
export function validateTask(task: Task): ValidTask {
  if (typeof task !== 'object' || task === null) throw badRequest('invalid_task', 'A task must be an object');
  const { type, payload, priority, timeout_ms, idempotency_key } = task;
  if (typeof type !== 'string' || type.length > 100 || !TYPE_PATTERN.test(type))
    throw badRequest(
      'invalid_task',
      'type must be a task type like "memory.search" (lower-case words separated by dots)',
    );
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    throw badRequest('invalid_task', 'payload must be a JSON object');
  let level: number;
  try {
    level = priorityLevel(priority);
  } catch (err) {
    throw badRequest('invalid_task', `priority: ${(err as Error).message}`);
  }
  if (
    timeout_ms !== undefined &&
    (typeof timeout_ms !== 'number' ||
      !Number.isInteger(timeout_ms) ||
      timeout_ms < 1 ||
      timeout_ms > MAX_TIMEOUT_MS)
  )
    throw badRequest('invalid_task', `timeout_ms must be an integer from 1 to ${MAX_TIMEOUT_MS}`);
  if (
    idempotency_key !== undefined &&
    (typeof idempotency_key !== 'string' || idempotency_key.length < 1 || idempotency_key.length > 200)
  )
    throw badRequest('invalid_task', 'idempotency_key must be a string of 1–200 characters');
  return { type, payload, priority: level, timeout_ms, idempotency_key };
}

function circuitOpen(state: RouteState): AppError {
  const retryAfter = Math.max(1, Math.ceil(state.breaker.retryAfterMs() / 1000));
  const snap = state.breaker.snapshot();
  return new AppError(
    503,
    'circuit_open',
    snap.state === 'half_open'
      ? `The ${state.spec.pattern} circuit is half-open and its probe is in flight; retry in ${retryAfter} s`
      : `The ${state.spec.pattern} circuit is open after ${snap.consecutive_failures} consecutive failures; retry in ${retryAfter} s`,
    { route: state.spec.pattern, state: snap.state, retry_after: retryAfter },
  );
}

function withAttempts(err: AppError, attempts: number): AppError {
  const details =
    typeof err.details === 'object' && err.details !== null
      ? { ...(err.details as Record<string, unknown>), attempts }
      : { attempts };
  return new AppError(err.statusCode, err.code, err.message, details);
}

/** A target's 4xx as the caller's error: its own envelope when it sent one. */
function passThrough(status: number, body: unknown, pattern: string): AppError {
  const e = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (e && typeof e.code === 'string' && typeof e.message === 'string') {
    return new AppError(status, e.code, e.message, e.details);
  }
  return new AppError(
    status,
    'target_rejected',
    `The ${pattern} target rejected the task with HTTP ${status}`,
    {
      route: pattern,
      target_status: status,
      body,
    },
  );
}

function upstreamCode(body: unknown): string | undefined {
  const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
  return typeof code === 'string' ? code.slice(0, 64) : undefined;
}

function outcomeOf(err: unknown): Outcome {
  if (!AppError.isInstance(err)) return 'target_error';
  switch (err.code) {
    case 'circuit_open':
      return 'circuit_open';
    case 'queue_full':
      return 'queue_full';
    case 'queue_timeout':
      return 'queue_timeout';
    case 'target_timeout':
      return 'timeout';
    case 'target_unavailable':
    case 'handler_unavailable':
      return 'unavailable';
    case 'shutting_down':
      return 'shutting_down';
    case 'target_error':
      return 'target_error';
  }
  return err.statusCode < 500 ? 'client_error' : 'target_error';
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A timed-out attempt: a failure for the breaker, 504 `target_timeout` for the caller. */
function timeoutFailure(pattern: string, timeoutMs: number, where: string, what: string) {
  return {
    kind: 'failure' as const,
    summary: `timed out after ${timeoutMs} ms (${where})`,
    error: new AppError(504, 'target_timeout', `The ${pattern} ${what} within ${timeoutMs} ms`, {
      route: pattern,
      timeout_ms: timeoutMs,
    }),
  };
}

const SHUTTING_DOWN = () => ({
  kind: 'aborted' as const,
  error: new AppError(503, 'shutting_down', 'The task router is shutting down'),
});
