// The standby's replication loop: long-polls the primary's change feed and applies each page atomically,
// remembering the primary's seq in the same transaction, so a restart resumes exactly where it stopped.
import type { Logger } from '@synthians/kit';
import type { MemoryCore, ReplicationState, WireChange } from './memory-core.ts';

export class Follower implements ReplicationState {
  private running = false;
  private controller = new AbortController();
  private lastContact: number | null = null;
  private upstreamHead = 0;
  private lastError: string | null = null;
  private loop: Promise<void> | undefined;

  constructor(
    readonly upstream: string,
    private readonly core: MemoryCore,
    private readonly log: Logger,
    private readonly options: { waitMs: number; token?: string },
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.controller.abort();
    await this.loop;
  }

  report(): Record<string, unknown> {
    const applied = this.core.upstreamSeq();
    return {
      upstream: this.upstream,
      applied_seq: applied,
      upstream_head_seq: this.upstreamHead,
      lag_changes: Math.max(0, this.upstreamHead - applied),
      last_contact: this.lastContact === null ? null : new Date(this.lastContact).toISOString(),
      lag_ms: this.lastContact === null ? null : Date.now() - this.lastContact,
      connected: this.lastError === null && this.lastContact !== null,
      last_error: this.lastError,
    };
  }

  private async run(): Promise<void> {
    let backoff = 500;
    while (this.running) {
      try {
        const since = this.core.upstreamSeq();
        const caughtUp = this.upstreamHead > 0 && since >= this.upstreamHead;
        const url = `${this.upstream.replace(/\/+$/, '')}/v1/changes?since=${since}&limit=1000&wait_ms=${caughtUp ? this.options.waitMs : 0}`;
        const response = await fetch(url, {
          headers: this.options.token ? { authorization: `Bearer ${this.options.token}` } : {},
          signal: AbortSignal.any([
            this.controller.signal,
            AbortSignal.timeout(this.options.waitMs + 15_000),
          ]),
        });
        if (!response.ok) throw new Error(`primary answered HTTP ${response.status}`);
        const page = (await response.json()) as { changes: WireChange[]; last_seq: number; head_seq: number };
        await this.core.applyReplicated(page.changes, page.last_seq);
        this.upstreamHead = page.head_seq;
        this.lastContact = Date.now();
        if (this.lastError) this.log.info({ upstream: this.upstream }, 'replication resumed');
        this.lastError = null;
        backoff = 500;
      } catch (err) {
        if (!this.running) break;
        const message = (err as Error).message;
        if (this.lastError !== message)
          this.log.warn({ upstream: this.upstream, err: message }, 'replication error; retrying');
        this.lastError = message;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 15_000);
      }
    }
  }
}
