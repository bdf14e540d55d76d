// A small in-order background queue: work that must not delay the reply (storing a turn in long-term memory) runs
// after it, one job at a time, and `idle()` lets tests and shutdown wait for it.

export class BackgroundQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  dropped = 0;

  constructor(
    private readonly options: { maxPending?: number; onError?: (err: unknown, name: string) => void } = {},
  ) {}

  get size(): number {
    return this.pending;
  }

  /** Queues `job`; false (and the job is dropped) when `maxPending` jobs are already waiting. */
  push(name: string, job: () => Promise<unknown>): boolean {
    if (this.pending >= (this.options.maxPending ?? 10_000)) {
      this.dropped++;
      this.options.onError?.(new Error('background queue full'), name);
      return false;
    }
    this.pending++;
    this.tail = this.tail.then(async () => {
      try {
        await job();
      } catch (err) {
        this.options.onError?.(err, name);
      } finally {
        this.pending--;
      }
    });
    return true;
  }

  /** Resolves when every job queued so far (and any they queued) has finished. */
  async idle(): Promise<void> {
    while (this.pending > 0) await this.tail;
  }
}
