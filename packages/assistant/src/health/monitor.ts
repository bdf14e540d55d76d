// The health monitor: polls `GET <url>/health` of every registered service concurrently, keeps a bounded history
// per service, computes the overall status and announces transitions (callbacks, bus `health.changes` and
// `health.overall`). One slow service never delays another: each check runs on its own with a timeout shorter than
// the polling interval, and a tick never waits for the checks it starts.
import { badRequest, conflict, type Bus, type HealthStatus, type Logger } from '@synthians/kit';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { invalidName, normalizeUrl, type HealthTarget } from './config.ts';

/** A service's state: `unknown` until its first check completes; `unhealthy` is "down". */
export type ServiceStatus = HealthStatus | 'unknown';

export const healthSubjects = {
  changes: 'health.changes',
  overall: 'health.overall',
} as const;

export interface HealthCheck {
  /** ISO time the check started. */
  at: string;
  status: HealthStatus;
  latency_ms: number;
  error?: string;
}

/** One service's transition, as published on `health.changes`. */
export interface HealthChange {
  service: string;
  from: ServiceStatus;
  to: ServiceStatus;
  at: string;
  error?: string;
}

/** An overall-status transition, as published on `health.overall`. */
export interface OverallChange {
  from: HealthStatus;
  to: HealthStatus;
  at: string;
  /** Services down and degraded at that moment. */
  unhealthy: string[];
  degraded: string[];
}

export interface ServiceView {
  name: string;
  url: string;
  status: ServiceStatus;
  critical: boolean;
  /** ISO time of the last completed check (null before the first). */
  last_check: string | null;
  latency_ms: number | null;
  consecutive_failures: number;
  last_error: string | null;
  /** Share of the checks in the history window where the service was up (healthy or degraded); null before any. */
  uptime_ratio: number | null;
  /** Checks in the history window. */
  checks_in_window: number;
}

export interface ServiceDetail extends ServiceView {
  /** The `checks` of the service's last parseable /health answer. */
  reported_checks: Record<string, unknown> | null;
  /** Oldest first. */
  history: HealthCheck[];
}

export interface HealthSnapshot {
  status: HealthStatus;
  at: string;
  running: boolean;
  interval_ms: number;
  timeout_ms: number;
  critical: string[];
  services: ServiceView[];
}

export interface HealthMonitorOptions {
  /** Services to watch from the start. */
  targets?: HealthTarget[];
  /** Time between two checks of a service (default 5000). */
  intervalMs?: number;
  /** Timeout of one check (default min(2000, 80 % of the interval)); must be shorter than the interval. */
  timeoutMs?: number;
  /** Sent as `Authorization: Bearer <token>` to every service. */
  token?: string;
  /** Services whose being down makes the overall status unhealthy (default memory-core, coordinator). */
  critical?: string[];
  /** Checks kept per service (default 100). */
  historySize?: number;
  /** Transitions are published here when given. */
  bus?: Bus;
  logger?: Logger;
  /** Metrics (`health_service_up`, `health_check_duration_seconds`) are registered here when given. */
  registry?: Registry;
}

/** A fixed-capacity ring buffer (oldest entries dropped). */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    const end = (this.start + this.count) % this.capacity;
    this.items[end] = item;
    if (this.count < this.capacity) this.count++;
    else this.start = (this.start + 1) % this.capacity;
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.items[(this.start + i) % this.capacity] as T);
    return out;
  }
}

/**
 * The overall status: unhealthy when a critical service is down; degraded when any service is degraded or a
 * non-critical one is down; healthy otherwise. Services not checked yet (`unknown`) do not count.
 */
export function overallStatus(
  services: Iterable<{ name: string; status: ServiceStatus }>,
  critical: Iterable<string>,
): HealthStatus {
  const crit = new Set(critical);
  let result: HealthStatus = 'healthy';
  for (const s of services) {
    if (s.status === 'unhealthy') {
      if (crit.has(s.name)) return 'unhealthy';
      result = 'degraded';
    } else if (s.status === 'degraded') result = 'degraded';
  }
  return result;
}

const STATUSES = new Set<string>(['healthy', 'degraded', 'unhealthy']);

/** Checks one service: `GET <url>/health` under a timeout. Never throws. */
export async function checkHealth(
  url: string,
  options: { timeoutMs: number; token?: string; signal?: AbortSignal },
): Promise<{ status: HealthStatus; latencyMs: number; error?: string; checks?: Record<string, unknown> }> {
  const started = performance.now();
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const done = (status: HealthStatus, error?: string, checks?: Record<string, unknown>) => ({
    status,
    latencyMs: Math.round((performance.now() - started) * 100) / 100,
    ...(error === undefined ? {} : { error }),
    ...(checks === undefined ? {} : { checks }),
  });
  try {
    const res = await fetch(`${url}/health`, { headers, signal, redirect: 'manual' });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return done('unhealthy', `HTTP ${res.status}: /health answered no JSON`);
    }
    const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const reported =
      typeof record.status === 'string' && STATUSES.has(record.status) ? record.status : undefined;
    const checks =
      typeof record.checks === 'object' && record.checks !== null
        ? (record.checks as Record<string, unknown>)
        : undefined;
    if (res.status >= 500) {
      return done('unhealthy', `HTTP ${res.status}${reported ? ` (status ${reported})` : ''}`, checks);
    }
    if (res.status !== 200) return done('unhealthy', `HTTP ${res.status} from /health`, checks);
    if (!reported) return done('unhealthy', '/health answered without a valid status', checks);
    return done(
      reported as HealthStatus,
      reported === 'unhealthy' ? 'reported unhealthy' : undefined,
      checks,
    );
  } catch (err) {
    if (timeout.aborted) return done('unhealthy', `timed out after ${options.timeoutMs} ms`);
    if (options.signal?.aborted) return done('unhealthy', 'check cancelled');
    return done('unhealthy', describeFetchError(err));
  }
}

function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e.cause;
  if (cause?.code) return `${cause.code}${cause.message ? `: ${cause.message}` : ''}`;
  return cause?.message ?? e.message ?? String(err);
}

interface Entry {
  name: string;
  url: string;
  status: ServiceStatus;
  lastCheck: string | null;
  latencyMs: number | null;
  consecutiveFailures: number;
  lastError: string | null;
  reportedChecks: Record<string, unknown> | null;
  history: RingBuffer<HealthCheck>;
  inFlight: boolean;
}

export type Unsubscribe = () => void;

export class HealthMonitor {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly critical: readonly string[];
  readonly historySize: number;
  private readonly token: string | undefined;
  private readonly bus: Bus | undefined;
  private readonly logger: Logger | undefined;
  private readonly entries = new Map<string, Entry>();
  private readonly changeListeners = new Set<(change: HealthChange) => void>();
  private readonly overallListeners = new Set<(change: OverallChange) => void>();
  private readonly upGauge: Gauge<'service'>;
  private readonly latency: Histogram<'service' | 'status'>;
  private overall: HealthStatus = 'healthy';
  private timer: NodeJS.Timeout | undefined;
  private abort = new AbortController();
  private readonly pending = new Set<Promise<void>>();
  private lastTick: number | undefined;

  constructor(options: HealthMonitorOptions = {}) {
    this.intervalMs = options.intervalMs ?? 5000;
    this.timeoutMs = options.timeoutMs ?? Math.max(10, Math.min(2000, Math.floor(this.intervalMs * 0.8)));
    if (!(this.intervalMs > 0)) throw new RangeError('intervalMs must be positive');
    if (!(this.timeoutMs > 0 && this.timeoutMs < this.intervalMs))
      throw new RangeError(
        `timeoutMs (${this.timeoutMs}) must be positive and shorter than intervalMs (${this.intervalMs})`,
      );
    this.critical = [...(options.critical ?? ['memory-core', 'coordinator'])];
    this.historySize = options.historySize ?? 100;
    if (!Number.isInteger(this.historySize) || this.historySize < 1)
      throw new RangeError('historySize must be a positive integer');
    this.token = options.token;
    this.bus = options.bus;
    this.logger = options.logger;
    const registers = options.registry ? [options.registry] : [];
    this.upGauge = new Gauge({
      name: 'health_service_up',
      help: 'Whether a monitored service is up (1: healthy or degraded, 0: down); absent before its first check',
      labelNames: ['service'],
      registers,
    });
    this.latency = new Histogram({
      name: 'health_check_duration_seconds',
      help: 'Latency of the health checks of the monitored services (status: the result)',
      labelNames: ['service', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    for (const t of options.targets ?? []) this.add(t.name, t.url);
  }

  /** Whether the poller runs. */
  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Epoch ms of the last poll tick (undefined before the first). */
  get lastTickAt(): number | undefined {
    return this.lastTick;
  }

  /** The current overall status. */
  get status(): HealthStatus {
    return this.overall;
  }

  /** Starts polling: every service is checked at once, then every interval. Idempotent. */
  start(): void {
    if (this.timer) return;
    if (this.abort.signal.aborted) this.abort = new AbortController();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
    this.tick();
  }

  /** Stops polling and cancels the checks in flight (their results are dropped). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await Promise.allSettled([...this.pending]);
  }

  /** Registers a service (checked at once when the poller runs). Throws AppError 400 (bad name/URL) or 409. */
  add(name: string, url: string): ServiceView {
    const nameError = invalidName(name);
    if (nameError) throw badRequest('invalid_name', nameError);
    const normalized = normalizeUrl(url);
    if (!normalized.ok) throw badRequest('invalid_url', normalized.error);
    if (this.entries.has(name))
      throw conflict('service_exists', `Service ${JSON.stringify(name)} is already monitored`);
    const entry: Entry = {
      name,
      url: normalized.url,
      status: 'unknown',
      lastCheck: null,
      latencyMs: null,
      consecutiveFailures: 0,
      lastError: null,
      reportedChecks: null,
      history: new RingBuffer(this.historySize),
      inFlight: false,
    };
    this.entries.set(name, entry);
    if (this.running) this.check(entry);
    return this.view(entry);
  }

  /** Unregisters a service; false when it was not registered. */
  remove(name: string): boolean {
    if (!this.entries.delete(name)) return false;
    this.upGauge.remove({ service: name });
    this.updateOverall(new Date().toISOString());
    return true;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Every service with its state, and the overall status. */
  snapshot(): HealthSnapshot {
    return {
      status: this.overall,
      at: new Date().toISOString(),
      running: this.running,
      interval_ms: this.intervalMs,
      timeout_ms: this.timeoutMs,
      critical: [...this.critical],
      services: [...this.entries.values()].map((e) => this.view(e)),
    };
  }

  /** One service with its history, or undefined when it is not registered. */
  service(name: string): ServiceDetail | undefined {
    const e = this.entries.get(name);
    if (!e) return undefined;
    return { ...this.view(e), reported_checks: e.reportedChecks, history: e.history.toArray() };
  }

  /** Called on every service transition (also published on `health.changes`). Returns the unsubscribe function. */
  onChange(cb: (change: HealthChange) => void): Unsubscribe {
    this.changeListeners.add(cb);
    return () => this.changeListeners.delete(cb);
  }

  /** Called on every overall-status transition (also published on `health.overall`). */
  onOverallChange(cb: (change: OverallChange) => void): Unsubscribe {
    this.overallListeners.add(cb);
    return () => this.overallListeners.delete(cb);
  }

  /** Resolves when the checks in flight have completed (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private tick(): void {
    this.lastTick = Date.now();
    for (const entry of this.entries.values()) this.check(entry);
  }

  /** Starts one check unless one is in flight for this service; never awaited by the tick. */
  private check(entry: Entry): void {
    if (entry.inFlight) return;
    entry.inFlight = true;
    const at = new Date().toISOString();
    const run = checkHealth(entry.url, {
      timeoutMs: this.timeoutMs,
      token: this.token,
      signal: this.abort.signal,
    })
      .then((result) => {
        // Dropped when the monitor stopped or the service was removed (or replaced) meanwhile.
        if (this.abort.signal.aborted || this.entries.get(entry.name) !== entry) return;
        this.record(entry, at, result);
      })
      .catch((err: unknown) => this.logger?.error({ err, service: entry.name }, 'health check failed'))
      .finally(() => {
        entry.inFlight = false;
        this.pending.delete(run);
      });
    this.pending.add(run);
  }

  private record(entry: Entry, at: string, result: Awaited<ReturnType<typeof checkHealth>>): void {
    const check: HealthCheck = { at, status: result.status, latency_ms: result.latencyMs };
    if (result.error !== undefined) check.error = result.error;
    entry.history.push(check);
    entry.lastCheck = at;
    entry.latencyMs = result.latencyMs;
    if (result.checks) entry.reportedChecks = result.checks;
    if (result.status === 'unhealthy') {
      entry.consecutiveFailures++;
      entry.lastError = result.error ?? 'unhealthy';
    } else {
      entry.consecutiveFailures = 0;
    }
    this.upGauge.set({ service: entry.name }, result.status === 'unhealthy' ? 0 : 1);
    this.latency.observe({ service: entry.name, status: result.status }, result.latencyMs / 1000);

    const from = entry.status;
    if (from === result.status) return;
    entry.status = result.status;
    const change: HealthChange = { service: entry.name, from, to: result.status, at };
    if (result.error !== undefined) change.error = result.error;
    const level = result.status === 'healthy' ? 'info' : 'warn';
    this.logger?.[level](
      { service: entry.name, from, to: result.status, error: result.error },
      'service health changed',
    );
    this.bus?.publish(healthSubjects.changes, change);
    for (const cb of this.changeListeners) this.safely(() => cb(change));
    this.updateOverall(at);
  }

  private updateOverall(at: string): void {
    const entries = [...this.entries.values()];
    const next = overallStatus(entries, this.critical);
    if (next === this.overall) return;
    const change: OverallChange = {
      from: this.overall,
      to: next,
      at,
      unhealthy: entries.filter((e) => e.status === 'unhealthy').map((e) => e.name),
      degraded: entries.filter((e) => e.status === 'degraded').map((e) => e.name),
    };
    this.overall = next;
    this.logger?.[next === 'healthy' ? 'info' : 'warn'](
      { from: change.from, to: next },
      'overall health changed',
    );
    this.bus?.publish(healthSubjects.overall, change);
    for (const cb of this.overallListeners) this.safely(() => cb(change));
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger?.warn({ err }, 'health change listener failed');
    }
  }

  private view(e: Entry): ServiceView {
    const history = e.history.toArray();
    const up = history.filter((c) => c.status !== 'unhealthy').length;
    return {
      name: e.name,
      url: e.url,
      status: e.status,
      critical: this.critical.includes(e.name),
      last_check: e.lastCheck,
      latency_ms: e.latencyMs,
      consecutive_failures: e.consecutiveFailures,
      last_error: e.lastError,
      uptime_ratio: history.length === 0 ? null : Math.round((up / history.length) * 10000) / 10000,
      checks_in_window: history.length,
    };
  }
}
