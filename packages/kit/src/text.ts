// Text every service can store exactly: no NUL characters (PostgreSQL text cannot hold them) and no lone UTF-16
// surrogates (they would be written as U+FFFD and read back different from what was acknowledged). Such input is a
// 400 `invalid_text` before any handler runs, rather than a 500 from the database or a silent change. Likewise JSON
// nested deeper than MAX_JSON_DEPTH is a 400 `nesting_too_deep`: JSON.parse reads any depth, but JSON.stringify (a
// store, a reply, a call to the next service) recurses and runs out of stack some thousands of levels down.
import { Stream } from 'node:stream';
import { AppError } from './errors.ts';

/** The deepest nesting of objects and arrays accepted in a request (metadata, agent state, any JSON field). */
export const MAX_JSON_DEPTH = 64;

/** String.prototype.isWellFormed (Node 20; typed from the ES2024 lib this project does not target yet). */
const wellFormed = (s: string) => (s as string & { isWellFormed(): boolean }).isWellFormed();

function bad(where: string, path: string, what: string): AppError {
  return new AppError(400, 'invalid_text', `${where}${path || ''}: ${what} cannot be stored`, {
    path: `${where}${path}`,
  });
}

function checkString(s: string, where: string, path: string): void {
  if (s.includes('\0')) throw bad(where, path, 'a NUL character');
  if (!wellFormed(s)) throw bad(where, path, 'a lone UTF-16 surrogate');
}

/**
 * Throws 400 invalid_text when any string (or key) in `value` holds NUL or a lone surrogate, and 400
 * nesting_too_deep when objects and arrays nest deeper than MAX_JSON_DEPTH.
 */
export function rejectMalformedText(value: unknown, where: string, path = '', depth = 0): void {
  if (typeof value === 'string') return checkString(value, where, path);
  if (value === null || typeof value !== 'object') return;
  if (depth >= MAX_JSON_DEPTH && !ArrayBuffer.isView(value) && !(value instanceof Stream)) {
    throw new AppError(
      400,
      'nesting_too_deep',
      `${where}: objects and arrays nested deeper than ${MAX_JSON_DEPTH} levels are not accepted`,
      { path: where, max_depth: MAX_JSON_DEPTH },
    );
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      // Vectors are arrays of numbers: skip them without building paths.
      if (typeof v === 'string' || (typeof v === 'object' && v !== null))
        rejectMalformedText(v, where, `${path}/${i}`, depth + 1);
    }
    return;
  }
  // Parsed values only: a proxied route's body is the raw request stream, which is not walked.
  if (ArrayBuffer.isView(value) || value instanceof Stream) return;
  for (const key of Object.keys(value)) {
    checkString(key, where, `${path}/${key}`);
    rejectMalformedText((value as Record<string, unknown>)[key], where, `${path}/${key}`, depth + 1);
  }
}
