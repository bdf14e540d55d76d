// The coordinator's long-term memory: writes go through the orchestrator's memory cycle (POST /process_memory), reads
// and deletions go to the memory core (POST /v1/search, GET /v1/memories, DELETE /v1/memories/:id). Every request
// has a timeout; a memory service that does not answer raises MemoryUnavailable and the turn answers without it.
import type { LongTermMemoryPort, RecalledMemory } from '../skills/types.ts';

export class MemoryUnavailable extends Error {
  override readonly name = 'MemoryUnavailable';
  constructor(
    readonly service: 'memory_core' | 'orchestrator',
    message: string,
  ) {
    super(message);
  }
}

export interface LongTermMemoryOptions {
  /** The memory core (the first URL of MEMORY_CORE_URL). */
  coreUrl: string;
  orchestratorUrl: string;
  token?: string;
  timeoutMs: number;
}

/** Only the user's side of the conversation is recalled: the assistant's replies may be wrong. */
const userFilter = (userId: string) => ({
  'metadata.user_id': userId,
  'metadata.role': { $ne: 'assistant' },
});

export class LongTermMemory implements LongTermMemoryPort {
  constructor(private readonly o: LongTermMemoryOptions) {}

  private async send(
    service: 'memory_core' | 'orchestrator',
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = this.o.timeoutMs,
  ): Promise<{ status: number; body: unknown }> {
    const base = service === 'memory_core' ? this.o.coreUrl : this.o.orchestratorUrl;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.o.token) headers.authorization = `Bearer ${this.o.token}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const why = e.name === 'TimeoutError' ? `timeout after ${timeoutMs} ms` : (e.cause?.code ?? e.message);
      throw new MemoryUnavailable(service, `${service} ${method} ${path}: ${why}`);
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new MemoryUnavailable(service, `${service} ${method} ${path}: HTTP ${res.status}, not JSON`);
    }
    if (res.status >= 500 || res.status === 429)
      throw new MemoryUnavailable(service, `${service} ${method} ${path}: HTTP ${res.status}`);
    return { status: res.status, body: parsed };
  }

  private static check(r: { status: number; body: unknown }, what: string): void {
    if (r.status < 200 || r.status >= 300) {
      const e = (r.body as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new Error(`${what}: HTTP ${r.status} ${e?.code ?? ''} ${e?.message ?? ''}`.trim());
    }
  }

  /** Runs the orchestrator's memory cycle for one text; returns the new memory's id. */
  async process(content: string, metadata: Record<string, unknown>): Promise<{ id: string; status: string }> {
    const r = await this.send('orchestrator', 'POST', '/process_memory', { content, metadata });
    LongTermMemory.check(r, 'process_memory');
    const b = r.body as { memory_id?: unknown; status?: unknown };
    if (typeof b?.memory_id !== 'string') throw new Error('process_memory: no memory_id in the answer');
    return { id: b.memory_id, status: typeof b.status === 'string' ? b.status : 'success' };
  }

  /**
   * Stores and learns a batch of memories through the orchestrator (`POST /process_memories`, one memory-core
   * transaction). MemoryUnavailable when it cannot be done now; an Error for a refused batch (4xx).
   */
  async processBatch(
    items: { id: string; content: string; metadata: Record<string, unknown> }[],
  ): Promise<{ count: number }> {
    // A batch is one memory-core transaction, then the neural memory learns item by item: under load that takes
    // seconds. A timeout here only means a retry (ids make it idempotent), so it is generous.
    const timeoutMs = Math.max(30_000, this.o.timeoutMs + 100 * items.length);
    const r = await this.send('orchestrator', 'POST', '/process_memories', { items }, timeoutMs);
    LongTermMemory.check(r, 'process_memories');
    return { count: (r.body as { count?: number })?.count ?? items.length };
  }

  async remember(content: string, metadata: Record<string, unknown>): Promise<{ id: string }> {
    return this.process(content, metadata);
  }

  /** Memories relevant to a turn (hybrid search by meaning and words), for the language model's prompt. */
  async recall(userId: string, query: string, topK: number): Promise<RecalledMemory[]> {
    if (topK <= 0) return [];
    return this.search({
      query: query.slice(0, 20_000),
      mode: 'hybrid',
      top_k: topK,
      filter: userFilter(userId),
    });
  }

  /** Memories that contain the query's content words (BM25), for "what do you remember about …" and "forget …". */
  async find(userId: string, query: string, options: { topK?: number } = {}): Promise<RecalledMemory[]> {
    return this.search({
      query: query.slice(0, 20_000),
      mode: 'lexical',
      top_k: options.topK ?? 10,
      filter: userFilter(userId),
      track_access: true,
    });
  }

  async recent(userId: string, options: { limit?: number } = {}): Promise<RecalledMemory[]> {
    const q = new URLSearchParams({
      limit: String(options.limit ?? 10),
      filter: JSON.stringify(userFilter(userId)),
    });
    const r = await this.send('memory_core', 'GET', `/v1/memories?${q}`);
    LongTermMemory.check(r, 'list memories');
    const items = ((r.body as { items?: unknown[]; memories?: unknown[] })?.items ??
      (r.body as { memories?: unknown[] })?.memories ??
      []) as Record<string, unknown>[];
    return items.map((m) => toRecalled(m, 1));
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.send('memory_core', 'DELETE', `/v1/memories/${encodeURIComponent(id)}`);
    if (r.status === 404) return false;
    LongTermMemory.check(r, 'delete memory');
    return true;
  }

  private async search(body: Record<string, unknown>): Promise<RecalledMemory[]> {
    const r = await this.send('memory_core', 'POST', '/v1/search', body);
    LongTermMemory.check(r, 'search');
    const results = ((r.body as { results?: unknown[] })?.results ?? []) as Record<string, unknown>[];
    return results.map((m) => toRecalled(m, Number(m.relevance_score ?? m.similarity ?? 0)));
  }
}

function toRecalled(m: Record<string, unknown>, score: number): RecalledMemory {
  return {
    id: String(m.id),
    content: String(m.content ?? ''),
    score: Math.round(score * 1000) / 1000,
    ...(typeof m.metadata === 'object' && m.metadata !== null
      ? { metadata: m.metadata as Record<string, unknown> }
      : {}),
  };
}
