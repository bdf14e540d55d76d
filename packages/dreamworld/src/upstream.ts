// HTTP clients of the memory core and the neural memory: plain fetch with a timeout and the cycle's abort signal.
// A non-2xx answer becomes an AppError with the upstream's status and code; no answer becomes 503.
import { AppError, unavailable } from '@synthians/kit';

export interface UpstreamOptions {
  token?: string | undefined;
  timeoutMs: number;
}

export interface WireMemory {
  id: string;
  content: string;
  user_id: string | null;
  session_id: string | null;
  quickrecal_score: number;
  quickrecal_stored: number;
  created_at: string;
  event_time: string | null;
  last_access: string | null;
  assemblies: string[];
  embedding?: number[];
}

export interface WireAssembly {
  id: string;
  name: string;
  member_count: number;
  members?: string[];
  composite_embedding?: number[];
}

export class Upstream {
  constructor(
    readonly name: 'memory_core' | 'neural_memory',
    readonly url: string,
    private readonly options: UpstreamOptions,
  ) {}

  async call(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    signal?: AbortSignal,
    timeoutMs?: number,
  ): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const timeout = AbortSignal.timeout(timeoutMs ?? this.options.timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      text = await res.text();
    } catch (err) {
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
      const e = err as Error & { cause?: { code?: string } };
      const why = e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.message);
      throw unavailable(
        `${this.name}_unavailable`,
        `The ${this.name.replace('_', ' ')} did not answer: ${why}`,
      );
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw unavailable(
        `${this.name}_unavailable`,
        `The ${this.name.replace('_', ' ')} answered HTTP ${res.status} without JSON`,
      );
    }
    if (res.ok) return parsed;
    const e = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    throw new AppError(
      res.status >= 500 ? 502 : res.status,
      typeof e?.code === 'string' ? e.code : `${this.name}_error`,
      `${this.name.replace('_', ' ')}: ${typeof e?.message === 'string' ? e.message : `HTTP ${res.status}`}`,
    );
  }

  /** GET /health with a short timeout: {status, url, error?}. */
  async check(
    timeoutMs: number,
  ): Promise<{ status: 'healthy' | 'degraded' | 'unhealthy'; url: string; error?: string }> {
    try {
      const body = (await this.call('GET', '/health', undefined, undefined, timeoutMs)) as {
        status?: string;
      };
      const status = body?.status === 'healthy' || body?.status === 'degraded' ? body.status : 'unhealthy';
      return { status, url: this.url };
    } catch (err) {
      return { status: 'unhealthy', url: this.url, error: (err as Error).message };
    }
  }
}

/** Reads up to `max` memories, most recently stored first, with their embeddings. */
export async function listMemories(
  core: Upstream,
  max: number,
  signal?: AbortSignal,
  query: Record<string, string> = {},
): Promise<WireMemory[]> {
  const out: WireMemory[] = [];
  let cursor: string | null = null;
  while (out.length < max) {
    const params = new URLSearchParams({
      limit: String(Math.min(500, max - out.length)),
      include_embedding: 'true',
      order: 'desc',
      ...query,
    });
    if (cursor) params.set('cursor', cursor);
    const page = (await core.call('GET', `/v1/memories?${params}`, undefined, signal)) as {
      items: WireMemory[];
      next_cursor: string | null;
    };
    out.push(...page.items);
    cursor = page.next_cursor;
    if (!cursor || page.items.length === 0) break;
  }
  return out.slice(0, max);
}
