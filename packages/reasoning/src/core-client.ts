// The memory core over HTTP: the few reads the reasoning agent needs (list by user or session, get, hybrid search),
// with failover across the configured cores. A core that does not answer, or answers 5xx/429, is skipped; when
// none answers: 503 memory_core_unavailable. A 4xx is passed through with its code.
import { AppError, unavailable } from '@synthians/kit';

/** The part of a memory-core memory view the agent reads. */
export interface CoreMemory {
  id: string;
  content: string;
  user_id: string | null;
  session_id: string | null;
  created_at: string;
  event_time: string | null;
  tags: string[];
  metadata: Record<string, unknown>;
  relevance_score?: number;
}

export class MemoryCoreClient {
  constructor(
    readonly urls: readonly string[],
    private readonly options: { token?: string; timeoutMs: number },
  ) {}

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
    const failures: string[] = [];
    for (const base of this.urls) {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
      let status: number;
      let parsed: unknown;
      try {
        const res = await fetch(base + path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        status = res.status;
        const text = await res.text();
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        failures.push(`${base}: ${e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.message)}`);
        continue;
      }
      if (status >= 200 && status < 300) return parsed;
      if (status >= 500 || status === 429) {
        failures.push(`${base}: HTTP ${status}`);
        continue;
      }
      const e = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      throw new AppError(
        status,
        typeof e?.code === 'string' ? e.code : 'memory_core_rejected',
        typeof e?.message === 'string' ? `Memory core: ${e.message}` : `Memory core answered HTTP ${status}`,
      );
    }
    throw unavailable('memory_core_unavailable', `No memory core answered (${failures.join('; ')})`);
  }

  /** Memories matching the filter, oldest first, at most `max` (the newest `max` when there are more). */
  async list(filter: { user_id?: string; session_id?: string }, max: number): Promise<CoreMemory[]> {
    const out: CoreMemory[] = [];
    let cursor: string | null = null;
    // Newest first, so that a cap keeps the most recent; reversed at the end.
    do {
      const q = new URLSearchParams({ limit: String(Math.min(1000, max - out.length)), order: 'desc' });
      if (filter.user_id !== undefined) q.set('user_id', filter.user_id);
      if (filter.session_id !== undefined) q.set('session_id', filter.session_id);
      if (cursor) q.set('cursor', cursor);
      const page = (await this.request('GET', `/v1/memories?${q}`)) as {
        items: CoreMemory[];
        next_cursor: string | null;
      };
      out.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && out.length < max);
    return out.reverse();
  }

  /** One memory, or undefined when the core does not know it. */
  async get(id: string): Promise<CoreMemory | undefined> {
    try {
      return (await this.request('GET', `/v1/memories/${encodeURIComponent(id)}`)) as CoreMemory;
    } catch (err) {
      if (AppError.isInstance(err) && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  /** Hybrid (vector + BM25) search, within the user when given. */
  async search(query: string, options: { user_id?: string; top_k: number }): Promise<CoreMemory[]> {
    const body: Record<string, unknown> = { query, mode: 'hybrid', top_k: options.top_k };
    if (options.user_id !== undefined) body.user_id = options.user_id;
    const r = (await this.request('POST', '/v1/search', body)) as { results: CoreMemory[] };
    return r.results;
  }

  /** The first core's /health: healthy/degraded when it answers 200. */
  async health(timeoutMs: number): Promise<{ status: 'healthy' | 'unhealthy'; url: string; error?: string }> {
    const url = this.urls[0]!;
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.text();
      return res.status === 200
        ? { status: 'healthy', url }
        : { status: 'unhealthy', url, error: `HTTP ${res.status}` };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      return { status: 'unhealthy', url, error: e.cause?.code ?? e.message };
    }
  }
}
