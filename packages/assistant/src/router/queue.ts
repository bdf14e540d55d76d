// A bounded priority queue in front of a concurrency limit (one per route, so a slow target cannot starve the others).
//
// - At most `concurrency` jobs run at once; the others wait, at most `capacity` of them (0: no waiting at all).
// - Priorities are integers 0–9, 9 the most urgent (`high` = 8, `normal` = 5, `low` = 2); FIFO within a priority.
// - A job that cannot be queued because the queue is full is refused at once: 429 `queue_full` with a
//   Retry-After estimated from the recent job durations.
// - A job still waiting when its wait limit passes is dropped: 504 `queue_timeout` (it never ran).
// - `close()` refuses every waiting job with 503 `shutting_down` and new ones likewise; running jobs finish.
import { AppError } from '@synthians/kit';

export const PRIORITIES = { high: 8, normal: 5, low: 2 } as const;
export type PriorityName = keyof typeof PRIORITIES;
export const MIN_PRIORITY = 0;
export const MAX_PRIORITY = 9;

/** `high`/`normal`/`low` or an integer 0–9 (9 first); undefined → normal. */
export function priorityLevel(priority: PriorityName | number | undefined): number {
  if (priority === undefined) return PRIORITIES.normal;
  if (typeof priority === 'string') {
    const level = PRIORITIES[priority];
    if (level === undefined) throw new RangeError(`unknown priority ${JSON.stringify(priority)}`);
    return level;
  }
  if (!Number.isInteger(priority) || priority < MIN_PRIORITY || priority > MAX_PRIORITY)
    throw new RangeError(`priority must be an integer ${MIN_PRIORITY}–${MAX_PRIORITY}`);
  return priority;
}

export interface QueueOptions {
  /** Jobs allowed to wait (ROUTER_QUEUE_SIZE). */
  capacity: number;
  /** Jobs allowed to run at once (ROUTER_CONCURRENCY). */
  concurrency: number;
  /** Names the queue in error messages. */
  name?: string;
}

export interface EnqueueOptions {
  /** 0–9, 9 first (see `priorityLevel`). */
  priority?: number;
  /** Longest time the job may wait before it starts; past it the job is dropped with 504 `queue_timeout`. */
  maxWaitMs?: number;
}

interface Waiting {
  start: () => void;
  fail: (err: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  removed: boolean;
}

export class PriorityQueue {
  readonly capacity: number;
  readonly concurrency: number;
  private readonly name: string;
  /** One FIFO per priority level (index = level). */
  private readonly buckets: Waiting[][] = Array.from({ length: MAX_PRIORITY + 1 }, () => []);
  private waitingCount = 0;
  private running = 0;
  private closed = false;
  /** Exponentially weighted mean job duration, for Retry-After. */
  private meanMs = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(options: QueueOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 0)
      throw new RangeError('capacity must be an integer ≥ 0');
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1)
      throw new RangeError('concurrency must be an integer ≥ 1');
    this.capacity = options.capacity;
    this.concurrency = options.concurrency;
    this.name = options.name ?? 'queue';
  }

  /** Jobs waiting to start. */
  get depth(): number {
    return this.waitingCount;
  }

  /** Jobs running now. */
  get active(): number {
    return this.running;
  }

  /** Seconds a refused caller should wait before trying again (≥ 1). */
  retryAfterSeconds(): number {
    const perSlot = ((this.waitingCount + 1) * Math.max(this.meanMs, 100)) / this.concurrency;
    return Math.min(60, Math.max(1, Math.ceil(perSlot / 1000)));
  }

  /**
   * Runs `job` when a slot is free and its turn has come. Rejects with 429 `queue_full` (the queue is full),
   * 504 `queue_timeout` (waited longer than `maxWaitMs`) or 503 `shutting_down`; otherwise settles like `job`.
   */
  run<T>(job: () => Promise<T>, options: EnqueueOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(shuttingDown(this.name));
    const priority = priorityLevel(options.priority);
    if (this.running < this.concurrency && this.waitingCount === 0) return this.execute(job);
    if (this.waitingCount >= this.capacity) {
      const retryAfter = this.retryAfterSeconds();
      return Promise.reject(
        new AppError(
          429,
          'queue_full',
          `The ${this.name} queue is full (${this.capacity} waiting, ${this.running} running); retry in ${retryAfter} s`,
          { retry_after: retryAfter, queue_size: this.capacity },
        ),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const entry: Waiting = {
        start: () => {
          this.execute(job).then(resolve, reject);
        },
        fail: reject,
        timer: undefined,
        removed: false,
      };
      if (options.maxWaitMs !== undefined) {
        const waitMs = Math.max(0, options.maxWaitMs);
        entry.timer = setTimeout(() => {
          this.remove(entry, priority);
          reject(
            new AppError(
              504,
              'queue_timeout',
              `The task waited ${waitMs} ms in the ${this.name} queue without starting and was dropped`,
              { waited_ms: waitMs },
            ),
          );
        }, waitMs);
      }
      this.buckets[priority]!.push(entry);
      this.waitingCount++;
    });
  }

  /** Refuses every waiting job (503 `shutting_down`) and any new one; resolves when the running ones finished. */
  async close(): Promise<void> {
    this.closed = true;
    for (let level = MAX_PRIORITY; level >= MIN_PRIORITY; level--) {
      for (const entry of this.buckets[level]!.splice(0)) {
        if (entry.removed) continue;
        entry.removed = true;
        if (entry.timer) clearTimeout(entry.timer);
        this.waitingCount--;
        entry.fail(shuttingDown(this.name));
      }
    }
    await this.idle();
  }

  /** Resolves when nothing runs and nothing waits. */
  idle(): Promise<void> {
    if (this.running === 0 && this.waitingCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async execute<T>(job: () => Promise<T>): Promise<T> {
    this.running++;
    const started = performance.now();
    try {
      return await job();
    } finally {
      const ms = performance.now() - started;
      this.meanMs = this.meanMs === 0 ? ms : this.meanMs * 0.8 + ms * 0.2;
      this.running--;
      this.next();
    }
  }

  private next(): void {
    while (this.running < this.concurrency && this.waitingCount > 0) {
      const entry = this.take();
      if (!entry) break;
      entry.start();
    }
    if (this.running === 0 && this.waitingCount === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  /** The oldest job of the highest non-empty priority. */
  private take(): Waiting | undefined {
    for (let level = MAX_PRIORITY; level >= MIN_PRIORITY; level--) {
      const bucket = this.buckets[level]!;
      while (bucket.length > 0) {
        const entry = bucket.shift()!;
        if (entry.removed) continue;
        entry.removed = true;
        if (entry.timer) clearTimeout(entry.timer);
        this.waitingCount--;
        return entry;
      }
    }
    return undefined;
  }

  private remove(entry: Waiting, level: number): void {
    if (entry.removed) return;
    entry.removed = true;
    const bucket = this.buckets[level]!;
    const i = bucket.indexOf(entry);
    if (i >= 0) bucket.splice(i, 1);
    this.waitingCount--;
    if (this.running === 0 && this.waitingCount === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }
}

function shuttingDown(name: string): AppError {
  return new AppError(503, 'shutting_down', `The ${name} queue is shutting down`);
}
