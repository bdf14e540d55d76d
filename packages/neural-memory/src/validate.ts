// Input validation for embeddings: the right length and only finite numbers that fit in float32. Failures throw the
// kit's typed AppError (HTTP 400, code `invalid_embedding`, with details saying what is wrong), so a service can
// pass it straight through.
import { AppError, badRequest } from '@synthians/kit';

export const INVALID_EMBEDDING = 'invalid_embedding';
/** An all-zero embedding: no direction, so it cannot be a key, a value or a query (the service refuses it). */
export const ZERO_VECTOR = 'zero_vector';

/** Largest finite float32; larger finite doubles would become ±Infinity when stored. */
export const FLOAT32_MAX = 3.4028234663852886e38;

export type VectorLike = ArrayLike<number>;

/**
 * Checks that `x` is an array (or typed array) of exactly `dim` finite numbers within float32 range.
 * Throws AppError(400, 'invalid_embedding') naming `name`, with details {expected_length, actual_length} or
 * {index, value}.
 */
export function validateEmbedding(x: unknown, dim: number, name = 'embedding'): asserts x is VectorLike {
  if (
    x === null ||
    typeof x !== 'object' ||
    !(Array.isArray(x) || ArrayBuffer.isView(x)) ||
    typeof (x as { length?: unknown }).length !== 'number'
  ) {
    throw badRequest(INVALID_EMBEDDING, `${name} must be an array of ${dim} numbers`, {
      expected_length: dim,
    });
  }
  const v = x as VectorLike;
  if (v.length !== dim) {
    throw badRequest(INVALID_EMBEDDING, `${name} must have ${dim} elements, got ${v.length}`, {
      expected_length: dim,
      actual_length: v.length,
    });
  }
  for (let i = 0; i < dim; i++) {
    const e = v[i];
    if (typeof e !== 'number' || !Number.isFinite(e) || Math.abs(e) > FLOAT32_MAX) {
      throw badRequest(
        INVALID_EMBEDDING,
        `${name}[${i}] must be a finite number within float32 range, got ${describe(e)}`,
        { index: i, value: describe(e) },
      );
    }
  }
}

/**
 * Throws AppError(400, 'zero_vector') when `x` is an array (or typed array) whose elements are all zero. Anything
 * else passes: length and element checks are `validateEmbedding`'s.
 */
export function rejectZeroVector(x: unknown, name = 'embedding'): void {
  if (x === null || typeof x !== 'object' || !(Array.isArray(x) || ArrayBuffer.isView(x))) return;
  const v = x as ArrayLike<unknown>;
  if (typeof v.length !== 'number' || v.length === 0) return;
  for (let i = 0; i < v.length; i++) if (v[i] !== 0) return;
  throw badRequest(ZERO_VECTOR, `${name} is all zeros; an embedding needs a direction`, {
    length: v.length,
  });
}

/** Validates and copies into `out` (or a new Float32Array). */
export function toFloat32(x: unknown, dim: number, name = 'embedding', out?: Float32Array): Float32Array {
  validateEmbedding(x, dim, name);
  const dst = out ?? new Float32Array(dim);
  for (let i = 0; i < dim; i++) dst[i] = x[i]!;
  return dst;
}

/** True for the error `validateEmbedding` throws. */
export function isInvalidEmbedding(err: unknown): err is AppError {
  return AppError.isInstance(err) && err.code === INVALID_EMBEDDING;
}

function describe(e: unknown): string {
  if (typeof e === 'number') return String(e);
  if (e === undefined) return 'undefined (missing element)';
  if (e === null) return 'null';
  return typeof e;
}
