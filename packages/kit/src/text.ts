// Text every service can store exactly: no NUL characters (PostgreSQL text cannot hold them) and no lone UTF-16
// surrogates (they would be written as U+FFFD and read back different from what was acknowledged). Such input is a
// 400 `invalid_text` before any handler runs, rather than a 500 from the database or a silent change.
import { Stream } from 'node:stream';
import { AppError } from './errors.ts';

const MAX_DEPTH = 64;

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

/** Throws 400 invalid_text when any string (or key) in `value` holds NUL or a lone surrogate. */
export function rejectMalformedText(value: unknown, where: string, path = '', depth = 0): void {
  if (typeof value === 'string') return checkString(value, where, path);
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return;
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
