// Validation of client-supplied embeddings: exactly EMBEDDING_DIM finite numbers, never a zero vector.
import { badRequest } from '@synthians/kit';
import { l2normalize } from './embedding/provider.ts';

export function parseEmbedding(value: unknown, dim: number, field = 'embedding'): Float32Array {
  if (!Array.isArray(value)) {
    throw badRequest('invalid_embedding', `${field} must be an array of ${dim} numbers`);
  }
  if (value.length !== dim) {
    throw badRequest(
      'invalid_embedding',
      `${field} has ${value.length} values; this memory core uses ${dim}`,
      {
        expected: dim,
        got: value.length,
      },
    );
  }
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) {
    const x = value[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw badRequest('invalid_embedding', `${field}[${i}] is not a finite number`, { index: i });
    }
    out[i] = x;
    if (!Number.isFinite(out[i])) {
      throw badRequest('invalid_embedding', `${field}[${i}] overflows float32`, { index: i });
    }
  }
  return normalised(out, field);
}

/** A client embedding given as base64 of little-endian float32 values (about 6× less to parse than JSON). */
export function parseEmbeddingB64(value: unknown, dim: number, field = 'embedding_b64'): Float32Array {
  if (typeof value !== 'string') throw badRequest('invalid_embedding', `${field} must be a base64 string`);
  const out = vectorFromBase64(value, dim, field);
  return normalised(out, field);
}

/** `embedding` (numbers) or `embedding_b64`, not both; undefined when neither is given. */
export function readEmbedding(
  body: { embedding?: unknown; embedding_b64?: unknown },
  dim: number,
  field: string,
): Float32Array | undefined {
  if (body.embedding !== undefined && body.embedding_b64 !== undefined) {
    throw badRequest('invalid_embedding', `${field}: give embedding or embedding_b64, not both`);
  }
  if (body.embedding_b64 !== undefined)
    return parseEmbeddingB64(body.embedding_b64, dim, `${field}.embedding_b64`);
  if (body.embedding !== undefined) return parseEmbedding(body.embedding, dim, `${field}.embedding`);
  return undefined;
}

function normalised(out: Float32Array, field: string): Float32Array {
  let norm = 0;
  for (let i = 0; i < out.length; i++) norm += out[i]! * out[i]!;
  if (norm === 0 || !Number.isFinite(norm)) {
    throw badRequest('invalid_embedding', `${field} is a zero vector (or overflows); it has no direction`);
  }
  return l2normalize(out);
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Float32 vectors travel as base64 of their little-endian bytes in the change feed and exports. */
export function vectorToBase64(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

export function vectorFromBase64(text: string, dim: number, field = 'embedding_b64'): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  // Canonical base64 of dim·4 bytes has exactly this length; Node drops characters outside the alphabet, so any
  // stray character makes the decoded length come up short (no regex over kilobytes per vector).
  if (text.length !== Math.ceil((dim * 4) / 3) * 4 || bytes.byteLength !== dim * 4) {
    throw badRequest(
      'invalid_embedding',
      `${field} decodes to ${bytes.byteLength / 4} values; expected ${dim}`,
    );
  }
  const out = new Float32Array(dim);
  new Uint8Array(out.buffer).set(bytes);
  for (let i = 0; i < dim; i++) {
    if (!Number.isFinite(out[i])) throw badRequest('invalid_embedding', `${field}[${i}] is not finite`);
  }
  return out;
}
