// Calling one HTTP target: URL templates, the body or query string, the bearer token, and what came back.
import type { HttpTarget } from './config.ts';

export interface HttpReply {
  status: number;
  /** Parsed JSON; the text when it is not JSON; null when empty. */
  body: unknown;
}

const PLACEHOLDER = /\{([A-Za-z0-9_]+)\}/g;

/** The URL with its placeholders filled, and the payload fields left for the body/query. Throws RangeError. */
export function resolveTarget(
  target: HttpTarget,
  type: string,
  payload: Record<string, unknown>,
): { url: string; rest: Record<string, unknown> } {
  const rest: Record<string, unknown> = { ...payload };
  const url = target.url.replace(PLACEHOLDER, (_m, name: string) => {
    if (name === 'type') return encodeURIComponent(type);
    const value = payload[name];
    if ((typeof value !== 'string' || value === '') && typeof value !== 'number')
      throw new RangeError(`payload.${name} (a non-empty string or a number) is required for this task type`);
    delete rest[name];
    return encodeURIComponent(String(value));
  });
  return { url, rest };
}

export function describeTarget(target: HttpTarget): string {
  return `${target.method} ${target.url}`;
}

/** Sends the request; rejects on network errors and on `signal` (the caller tells timeouts from other aborts). */
export async function callHttp(
  target: HttpTarget,
  url: string,
  rest: Record<string, unknown>,
  signal: AbortSignal,
  idempotencyKey?: string,
): Promise<HttpReply> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
  let finalUrl = url;
  let body: string | undefined;
  if (target.method === 'GET' || target.method === 'DELETE') {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(rest)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') query.set(k, String(v));
    }
    const qs = query.toString();
    if (qs) finalUrl += (finalUrl.includes('?') ? '&' : '?') + qs;
  } else {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(rest);
  }
  const res = await fetch(finalUrl, { method: target.method, headers, body, signal });
  const text = await res.text();
  let parsed: unknown = null;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, body: parsed };
}

/** A short, payload-free description of a network error (`ECONNREFUSED`, `ECONNRESET`, …). */
export function networkErrorCode(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return 'network_error';
}
