/**
 * Embedding provider contract used by the memory core.
 *
 * A provider turns texts into fixed-size vectors. Vectors returned by the
 * providers in this package are L2-normalised, so the cosine similarity of two
 * vectors is their dot product.
 */
export interface EmbeddingProvider {
  /** Identifies the method and its version; vectors from different models are not comparable. */
  readonly model: string;
  /** Length of every vector returned by {@link EmbeddingProvider.embed}. */
  readonly dim: number;
  /** Embeds each text; the result has one vector per input, in order. */
  embed(texts: string[]): Promise<Float32Array[]>;
  /** Releases resources held by the provider, if any. */
  close?(): Promise<void>;
}

/**
 * Scales `v` to unit Euclidean length in place and returns it.
 *
 * A zero vector (or one whose norm is not finite) is returned unchanged: the
 * caller decides what an all-zero embedding means.
 */
export function l2normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as number;
    sum += x * x;
  }
  if (sum === 0 || !Number.isFinite(sum)) return v;
  const inv = 1 / Math.sqrt(sum);
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) * inv;
  return v;
}

/** The word-vector ONNX sentence encoder built from the shipped asset (word-vector-onnx.ts). */
export const WORD_VECTOR_MODEL_NAME = 'glove-sif-100d';
