// Reads time-ordered embeddings from a memory core for /train_outer: GET /v1/memories?order=asc&include_embedding=true,
// following next_cursor, trying the next URL of the list when one does not answer.
import { AppError, badRequest, unavailable, type Logger } from '@synthians/kit';

export interface MemoryCoreQuery {
  user_id?: string;
  session_id?: string;
  since?: string | number;
  until?: string | number;
  /** A memory-core JSON filter (object or its JSON text). */
  filter?: unknown;
  tags?: string[];
  /** Most memories to read (default 1000). */
  limit?: number;
}

export interface FetchedMemory {
  id: string;
  session_id: string | null;
  embedding: number[];
}

export interface FetchResult {
  url: string;
  memories: FetchedMemory[];
  pages: number;
}

const PAGE = 1000;

class Unreachable extends Error {}

export async function fetchMemories(
  urls: readonly string[],
  query: MemoryCoreQuery,
  options: { token?: string; timeoutMs: number; logger: Logger; maxItems: number },
): Promise<FetchResult> {
  const limit = Math.min(query.limit ?? 1000, options.maxItems);
  const failures: { url: string; error: string }[] = [];
  for (const url of urls) {
    try {
      return await fetchFrom(url, query, limit, options);
    } catch (err) {
      if (!(err instanceof Unreachable)) throw err;
      failures.push({ url, error: err.message });
      options.logger.warn({ url, error: err.message }, 'memory core did not answer; trying the next one');
    }
  }
  throw unavailable(
    'memory_core_unavailable',
    `No memory core answered (${failures.map((f) => `${f.url}: ${f.error}`).join('; ')})`,
    { tried: failures },
  );
}

async function fetchFrom(
  base: string,
  query: MemoryCoreQuery,
  limit: number,
  options: { token?: string; timeoutMs: number },
): Promise<FetchResult> {
  const memories: FetchedMemory[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const params = new URLSearchParams({
      order: 'asc',
      include_embedding: 'true',
      limit: String(Math.min(PAGE, limit - memories.length)),
    });
    if (query.user_id !== undefined) params.set('user_id', query.user_id);
    if (query.session_id !== undefined) params.set('session_id', query.session_id);
    if (query.since !== undefined) params.set('since', String(query.since));
    if (query.until !== undefined) params.set('until', String(query.until));
    if (query.filter !== undefined)
      params.set('filter', typeof query.filter === 'string' ? query.filter : JSON.stringify(query.filter));
    for (const tag of query.tags ?? []) params.append('tag', tag);
    if (cursor) params.set('cursor', cursor);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${base}/v1/memories?${params}`, {
        headers,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      throw new Unreachable((err as Error).message);
    }
    if (res.status >= 500 || res.status === 429 || res.status === 401 || res.status === 403)
      throw new Unreachable(`HTTP ${res.status}`);
    let body: { items?: unknown; next_cursor?: unknown; error?: { code?: string; message?: string } };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Unreachable(`HTTP ${res.status}: not JSON`);
    }
    if (res.status >= 400) {
      throw badRequest(
        'memory_core_rejected',
        `The memory core rejected the query: ${body.error?.message ?? `HTTP ${res.status}`}`,
        { memory_core_code: body.error?.code, status: res.status },
      );
    }
    if (!Array.isArray(body.items)) throw new Unreachable('unexpected response (no items)');
    pages++;
    for (const item of body.items as Record<string, unknown>[]) {
      if (!Array.isArray(item.embedding)) continue;
      memories.push({
        id: String(item.id),
        session_id: typeof item.session_id === 'string' ? item.session_id : null,
        embedding: item.embedding as number[],
      });
      if (memories.length >= limit) break;
    }
    cursor = typeof body.next_cursor === 'string' && body.next_cursor !== '' ? body.next_cursor : null;
  } while (cursor && memories.length < limit);
  return { url: base, memories, pages };
}

/** Consecutive memories of one session form one training sequence (memories without a session form one). */
export function toSequences(memories: FetchedMemory[], dim: number): number[][][] {
  const bySession = new Map<string, number[][]>();
  for (const m of memories) {
    if (m.embedding.length !== dim)
      throw new AppError(
        409,
        'dimension_mismatch',
        `The memory core's embeddings have ${m.embedding.length} dimensions; this namespace's model takes ${dim}`,
        { expected: dim, actual: m.embedding.length },
      );
    const key = m.session_id ?? '';
    let seq = bySession.get(key);
    if (!seq) bySession.set(key, (seq = []));
    seq.push(m.embedding);
  }
  return [...bySession.values()];
}
