// Request batching for concurrent callers, with a bounded queue.
//
// Callers submit a request's items (e.g. the texts of one embed request); items from every caller wait in one
// FIFO queue and run together, at most `maxBatch` per run, one run at a time. While a run is in progress new
// items queue up, so under load every run is as full as the queue allows ("continuous batching"); when idle, a
// request waits at most `maxWaitMs` for company (0 = start at once). A request's items may span runs; its
// promise resolves when all of them are done, in order.
//
// The queue holds at most `maxQueue` items: a request that would overflow it is refused at once with 503
// `queue_full` (and Retry-After), never accepted and dropped later. A failed run fails every request with items
// in it; the queue goes on.
import { AppError } from '@synthians/kit';

export interface BatcherOptions<I, O> {
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
  /** Runs one batch; must return one output per input, in order. */
  run(items: I[]): Promise<O[]>;
  /** Called after each run (for metrics). */
  onRun?(size: number, ms: number): void;
}

interface Pending<O> {
  remaining: number;
  outputs: O[];
  failed: boolean;
  resolve(outputs: O[]): void;
  reject(err: unknown): void;
}

interface Slot<I, O> {
  item: I;
  request: Pending<O>;
  index: number;
}

export class QueueFullError extends AppError {
  constructor(queued: number, max: number) {
    super(503, 'queue_full', `the work queue is full (${queued} of ${max} items waiting); retry shortly`, {
      queued,
      max,
    });
  }
}

export class MicroBatcher<I, O> {
  private readonly queue: Slot<I, O>[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: BatcherOptions<I, O>) {
    if (options.maxBatch < 1 || options.maxQueue < 1)
      throw new RangeError('maxBatch and maxQueue must be ≥ 1');
  }

  /** Items waiting (not yet in a run). */
  get queued(): number {
    return this.queue.length;
  }

  get busy(): boolean {
    return this.running;
  }

  submit(items: I[]): Promise<O[]> {
    if (this.closed) return Promise.reject(new AppError(503, 'shutting_down', 'the worker is shutting down'));
    if (items.length === 0) return Promise.resolve([]);
    if (this.queue.length + items.length > this.options.maxQueue) {
      return Promise.reject(new QueueFullError(this.queue.length, this.options.maxQueue));
    }
    return new Promise<O[]>((resolve, reject) => {
      const request: Pending<O> = {
        remaining: items.length,
        outputs: new Array<O>(items.length),
        failed: false,
        resolve,
        reject,
      };
      items.forEach((item, index) => this.queue.push({ item, request, index }));
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.queue.length >= this.options.maxBatch || this.options.maxWaitMs <= 0) {
      this.startRun();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.startRun();
    }, this.options.maxWaitMs);
  }

  private startRun(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const slots = this.queue.splice(0, this.options.maxBatch);
    const started = performance.now();
    void this.options
      .run(slots.map((s) => s.item))
      .then((outputs) => {
        if (outputs.length !== slots.length)
          throw new Error(`batch run returned ${outputs.length} results for ${slots.length} items`);
        slots.forEach((s, k) => {
          const r = s.request;
          if (r.failed) return;
          r.outputs[s.index] = outputs[k]!;
          if (--r.remaining === 0) r.resolve(r.outputs);
        });
      })
      .catch((err: unknown) => {
        for (const s of slots) {
          if (s.request.failed) continue;
          s.request.failed = true;
          s.request.reject(err);
        }
      })
      .finally(() => {
        this.options.onRun?.(slots.length, performance.now() - started);
        this.running = false;
        // Items that queued during the run go next, without waiting.
        if (this.queue.length > 0) this.startRun();
      });
  }

  /** Refuses new work; queued items are failed with 503. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.queue.splice(0)) {
      if (s.request.failed) continue;
      s.request.failed = true;
      s.request.reject(new AppError(503, 'shutting_down', 'the worker is shutting down'));
    }
  }
}

/** At most `limit` tasks at a time; at most `maxWaiting` waiting (then 503 queue_full). */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly limit: number,
    private readonly maxWaiting: number,
  ) {}

  get inUse(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      if (this.waiting.length >= this.maxWaiting)
        throw new QueueFullError(this.waiting.length, this.maxWaiting);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
