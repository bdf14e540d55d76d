// The long-term memory writer: a turn's memories are committed to the outbox of the session database together with
// the turn itself, and this writer moves them to the orchestrator in batches (`POST /process_memories`, one
// memory-core transaction per batch), deleting them from the outbox only once the memory core holds them. A crash,
// a restart or an unreachable memory core delays writes, never loses them; ids make a retried batch idempotent.
// When the backlog passes its limit the coordinator refuses new turns (503 + Retry-After) instead of dropping work.
import type { Logger } from '@synthians/kit';
import { MemoryUnavailable } from './memory.ts';

export interface OutboxPort {
  enqueueMemoryWrites(
    items: { memory_id: string; content: string; metadata?: Record<string, unknown> }[],
  ): Promise<number>;
  pendingMemoryWrites(
    limit: number,
  ): Promise<
    { seq: number; memory_id: string; content: string; metadata: Record<string, unknown>; attempts: number }[]
  >;
  completeMemoryWrites(seqs: number[]): Promise<number>;
  failMemoryWrites(seqs: number[]): Promise<void>;
  memoryOutboxSize(): Promise<number>;
}

export interface BatchWriter {
  processBatch(
    items: { id: string; content: string; metadata: Record<string, unknown> }[],
  ): Promise<{ count: number }>;
}

export interface MemoryWriterOptions {
  outbox: OutboxPort;
  memory: BatchWriter;
  /** Writes per orchestrator request (at most 1000). */
  batchSize: number;
  /** Backlog at which new turns are refused. */
  maxBacklog: number;
  /** First retry delay after the memory services failed; doubles up to `retryMaxMs`. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** A write refused this many times (4xx) is dropped with a warning. */
  maxAttempts?: number;
  logger?: Logger;
}

export class MemoryWriter {
  /** Writes in the outbox (counted; re-read from the database whenever the outbox is found empty). */
  private backlog = 0;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryMs = 0;
  private closed = false;
  private readonly waiters: (() => void)[] = [];
  readonly counts = { written: 0, batches: 0, retries: 0, dropped: 0 };

  constructor(private readonly o: MemoryWriterOptions) {}

  /** Reads the backlog a previous run left (after a crash) and starts writing it. */
  async start(): Promise<void> {
    this.backlog = await this.o.outbox.memoryOutboxSize();
    if (this.backlog > 0)
      this.o.logger?.info({ backlog: this.backlog }, 'memory writes left from the last run');
    this.wake();
  }

  get size(): number {
    return this.backlog;
  }

  get overloaded(): boolean {
    return this.backlog >= this.o.maxBacklog;
  }

  /** How long a refused client should wait: the writer's own retry delay while it backs off, 1–30 s. */
  get retryAfterMs(): number {
    return Math.min(30_000, Math.max(1000, this.retryMs));
  }

  /** A turn committed `n` writes to the outbox. */
  queued(n: number): void {
    this.backlog += n;
    this.wake();
  }

  private wake(): void {
    if (this.closed || this.running || this.timer) return;
    this.running = this.drain()
      .catch((err: unknown) => {
        this.o.logger?.warn({ err: String(err) }, 'memory writer failed; retrying');
        this.retryLater();
      })
      .finally(() => {
        this.running = undefined;
        this.settle();
      });
  }

  private retryLater(): void {
    this.retryMs = Math.min(
      this.o.retryMaxMs ?? 10_000,
      this.retryMs ? this.retryMs * 2 : (this.o.retryBaseMs ?? 500),
    );
    this.counts.retries++;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.wake();
    }, this.retryMs);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    const { outbox, memory } = this.o;
    while (!this.closed) {
      const batch = await outbox.pendingMemoryWrites(Math.min(1000, this.o.batchSize));
      if (batch.length === 0) {
        this.backlog = 0;
        return;
      }
      try {
        await memory.processBatch(
          batch.map((w) => ({ id: w.memory_id, content: w.content, metadata: w.metadata })),
        );
        await this.done(batch.map((w) => w.seq));
        this.counts.written += batch.length;
        this.counts.batches++;
        this.retryMs = 0;
      } catch (err) {
        if (err instanceof MemoryUnavailable) {
          if (this.retryMs === 0)
            this.o.logger?.warn(
              { err: err.message, backlog: this.backlog },
              'long-term memory unavailable: writes wait in the outbox',
            );
          this.retryLater();
          return;
        }
        // Refused (4xx): find the write(s) at fault one by one; the others go through.
        if (!(await this.isolate(batch))) return;
      }
    }
  }

  /** Writes a refused batch item by item; false when the memory services went away meanwhile (retry later). */
  private async isolate(batch: Awaited<ReturnType<OutboxPort['pendingMemoryWrites']>>): Promise<boolean> {
    for (const w of batch) {
      try {
        await this.o.memory.processBatch([{ id: w.memory_id, content: w.content, metadata: w.metadata }]);
        this.counts.written++;
        await this.done([w.seq]);
      } catch (err) {
        if (err instanceof MemoryUnavailable) {
          this.retryLater();
          return false;
        }
        if (w.attempts + 1 >= (this.o.maxAttempts ?? 3)) {
          this.o.logger?.warn({ memory_id: w.memory_id, err: String(err) }, 'memory write refused: dropped');
          this.counts.dropped++;
          await this.done([w.seq]);
        } else {
          await this.o.outbox.failMemoryWrites([w.seq]);
          this.retryLater();
          return false;
        }
      }
    }
    return true;
  }

  private async done(seqs: number[]): Promise<void> {
    await this.o.outbox.completeMemoryWrites(seqs);
    this.backlog = Math.max(0, this.backlog - seqs.length);
  }

  private settle(): void {
    if (this.running || (this.backlog > 0 && !this.timer && !this.closed)) {
      if (!this.running) this.wake();
      return;
    }
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * Resolves when the outbox is empty, or nothing can be written now (the memory services are down: a retry is
   * scheduled; the writes wait durably).
   */
  async idle(): Promise<void> {
    this.wake();
    if (!this.running && (this.backlog === 0 || this.timer || this.closed)) return;
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /**
   * Stops writing; what is left stays in the outbox for the next start. A batch in flight gets a second to finish;
   * if it does later, the next start finds its memories stored and skips them.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.race([this.running, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    for (const w of this.waiters.splice(0)) w();
  }
}
