// Safe parsing of untrusted JSON: a typed result, never an exception escaping into a handler.
import { badRequest } from './errors.ts';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

export function safeParseJson<T = unknown>(text: string): ParseResult<T> {
  try {
    return { ok: true, value: JSON.parse(text) as T };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** Parses or throws a 400 `invalid_json` AppError. */
export function parseJsonOrThrow<T = unknown>(text: string, what = 'body'): T {
  const result = safeParseJson<T>(text);
  if (!result.ok) throw badRequest('invalid_json', `Malformed JSON in ${what}: ${result.error}`);
  return result.value;
}
