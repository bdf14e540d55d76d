// HTTP clients of the upstreams: the memory core (a primary then standbys, with failover for reads and a writable-core
// rule for writes) and the neural memory. Plain fetch with AbortSignal.timeout; no retries beyond the failover.
import { AppError, unavailable, type Logger } from '@synthians/kit';

export interface Reply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** The upstream did not answer (connection refused, reset, timeout) or answered without JSON. */
export class Unreachable extends Error {
  override readonly name = 'Unreachable';
}

export async function call(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
  options: { token?: string; timeoutMs: number },
): Promise<Reply> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let res: Response;
  let text: string;
  try {
    res = await fetch(base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    text = await res.text();
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why =
      e.name === 'TimeoutError' ? `timeout after ${options.timeoutMs} ms` : (e.cause?.code ?? e.message);
    throw new Unreachable(why);
  }
  try {
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
  } catch {
    throw new Unreachable(`HTTP ${res.status}: not JSON`);
  }
}

/** An upstream's error envelope as an AppError with the same status, code, message and details. */
export function passThrough(reply: Reply, fallbackCode = 'upstream_error'): AppError {
  const e = (reply.body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)
    ?.error;
  return new AppError(
    reply.status,
    typeof e?.code === 'string' ? e.code : fallbackCode,
    typeof e?.message === 'string' ? e.message : `HTTP ${reply.status}`,
    e?.details,
  );
}

const errorCode = (reply: Reply): string | undefined => {
  const code = (reply.body as { error?: { code?: unknown } } | undefined)?.error?.code;
  return typeof code === 'string' ? code : undefined;
};

export interface CoreResult extends Reply {
  url: string;
}

export class MemoryCoreClient {
  constructor(
    readonly urls: readonly string[],
    private readonly options: { token?: string; timeoutMs: number; logger: Logger },
  ) {}

  /**
   * A write goes to the first core that accepts writes: a core that does not answer, answers 5xx or 429, or answers
   * 503 read_only_standby is skipped. When none accepts: 503 memory_core_unavailable. A 4xx is the caller's and
   * is passed through unchanged.
   */
  write(path: string, body: unknown, timeoutMs?: number): Promise<CoreResult> {
    return this.send('write', 'POST', path, body, timeoutMs);
  }

  /** A read is answered by the first core that answers (primary, then standbys); 4xx passed through. */
  read(method: 'GET' | 'POST', path: string, body?: unknown): Promise<CoreResult> {
    return this.send('read', method, path, body);
  }

  private async send(
    kind: 'read' | 'write',
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    timeoutMs = this.options.timeoutMs,
  ) {
    const failures: { url: string; error: string }[] = [];
    for (const url of this.urls) {
      let reply: Reply;
      try {
        reply = await call(url, method, path, body, { ...this.options, timeoutMs });
      } catch (err) {
        if (!(err instanceof Unreachable)) throw err;
        failures.push({ url, error: err.message });
        continue;
      }
      if (reply.status >= 200 && reply.status < 300) {
        if (failures.length > 0)
          this.options.logger.warn({ kind, path, url, failed: failures }, 'memory core failover');
        return { ...reply, url };
      }
      if (reply.status >= 500 || reply.status === 429) {
        failures.push({ url, error: errorCode(reply) ?? `HTTP ${reply.status}` });
        continue;
      }
      throw passThrough(reply, 'memory_core_rejected');
    }
    throw unavailable(
      'memory_core_unavailable',
      `No ${kind === 'write' ? 'writable ' : ''}memory core answered (${failures
        .map((f) => `${f.url}: ${f.error}`)
        .join('; ')})`,
      { tried: failures },
    );
  }
}

export class NeuralMemoryClient {
  constructor(
    readonly url: string,
    private readonly options: { token?: string; timeoutMs: number },
  ) {}

  /** POSTs to the neural memory; a non-2xx answer becomes an AppError with its status and code. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async post(path: string, body: unknown): Promise<any> {
    let reply: Reply;
    try {
      reply = await call(this.url, 'POST', path, body, this.options);
    } catch (err) {
      if (err instanceof Unreachable)
        throw unavailable('neural_memory_unavailable', `The neural memory did not answer: ${err.message}`);
      throw err;
    }
    if (reply.status >= 200 && reply.status < 300) return reply.body;
    throw passThrough(reply, 'neural_memory_error');
  }
}

export interface UpstreamCheck {
  status: 'healthy' | 'degraded' | 'unhealthy';
  url: string;
  role?: string;
  error?: string;
  [key: string]: unknown;
}

/** GET {url}/health with a short timeout. */
export async function checkUpstream(url: string, timeoutMs: number, token?: string): Promise<UpstreamCheck> {
  const started = performance.now();
  try {
    const r = await call(url, 'GET', '/health', undefined, { timeoutMs, token });
    const status = (r.body as { status?: unknown } | undefined)?.status;
    const ms = Math.round((performance.now() - started) * 10) / 10;
    if (r.status === 200 && (status === 'healthy' || status === 'degraded')) return { status, url, ms };
    return { status: 'unhealthy', url, ms, error: `HTTP ${r.status}` };
  } catch (err) {
    return { status: 'unhealthy', url, error: (err as Error).message };
  }
}
