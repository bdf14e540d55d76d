// Small vector helpers for the dream cycle: unit vectors in Float32Array, cosine by dot product, 2-means.

export function unit(values: ArrayLike<number>): Float32Array {
  const v = Float32Array.from(values as ArrayLike<number>);
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i]! * v[i]!;
  n = Math.sqrt(n);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) s += a[i]! * b[i]!;
  return s;
}

function centroid(vectors: Float32Array[], members: number[]): Float32Array {
  const c = new Float32Array(vectors[0]!.length);
  for (const m of members) {
    const v = vectors[m]!;
    for (let i = 0; i < c.length; i++) c[i]! += v[i]!;
  }
  return unit(c);
}

/**
 * Two clusters of unit vectors by spherical 2-means, seeded deterministically with the member farthest from the
 * centroid and the member farthest from that one. Returns the groups (indices) and the cosine of their centroids.
 */
export function twoMeans(
  vectors: Float32Array[],
  rounds = 10,
): { groups: [number[], number[]]; similarity: number } {
  const all = vectors.map((_, i) => i);
  const whole = centroid(vectors, all);
  let a = 0;
  for (const i of all) if (dot(vectors[i]!, whole) < dot(vectors[a]!, whole)) a = i;
  let b = a === 0 ? 1 : 0;
  for (const i of all) if (i !== a && dot(vectors[i]!, vectors[a]!) < dot(vectors[b]!, vectors[a]!)) b = i;
  let ca = vectors[a]!;
  let cb = vectors[b]!;
  let groups: [number[], number[]] = [[], []];
  for (let r = 0; r < rounds; r++) {
    const next: [number[], number[]] = [[], []];
    for (const i of all) (dot(vectors[i]!, ca) >= dot(vectors[i]!, cb) ? next[0] : next[1]).push(i);
    const same = next[0].length === groups[0].length && next[0].every((x, k) => groups[0][k] === x);
    groups = next;
    if (groups[0].length === 0 || groups[1].length === 0) break;
    ca = centroid(vectors, groups[0]);
    cb = centroid(vectors, groups[1]);
    if (same) break;
  }
  return { groups, similarity: groups[0].length && groups[1].length ? dot(ca, cb) : 1 };
}
