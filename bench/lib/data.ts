// Synthetic memories for the benchmarks: clustered 768-d unit embeddings from a seeded PRNG, short texts, and
// the exact top-k ground truth by brute-force cosine (cached on disk under /tmp, keyed by every parameter).
//
// Model: `clusters` centres drawn uniformly on the unit sphere. Memory i picks a cluster uniformly at random and is
// normalise(centre + spread_c · g / sqrt(dim)) with g ~ N(0, I) — i.e. a noise vector of norm ≈ spread_c — where each
// cluster has its own spread_c = noise · (1 ± spread_jitter) (uniform). For noise 0.8 two memories of one cluster
// have cosine ≈ 1/(1 + spread²) ≈ 0.5–0.74 and memories of different clusters ≈ 0 ± 1/sqrt(dim), so a query's true
// top-10 are (almost always) in its own cluster, and within the cluster they are separated by the noise only.
// 500 clusters rather than 1000: at 10k memories a cluster then holds ~20 memories, so a query's top-10 still lies in
// its cluster (with ~10 per cluster about half the queries would need cross-cluster neighbours, which are
// near-ties at cosine ≈ 0.13 — adversarial for any ANN index and meaningless for recall).
// Queries are fresh draws from the same model (not stored memories). Components are rounded to `decimals` decimal
// places before they are sent (as a JSON client would), and the ground truth is computed on exactly those values.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { log } from './util.ts';

/** How a request carries an embedding: JSON numbers (`embedding`) or base64 float32 (`embedding_b64`). */
export type Encoding = 'json' | 'b64';

export interface DataParams {
  dim: number;
  clusters: number;
  noise: number;
  spreadJitter: number;
  seed: number;
  decimals: number;
}

export const defaultDataParams: DataParams = {
  dim: 768,
  clusters: 500,
  noise: 0.8,
  spreadJitter: 0.25,
  seed: 42,
  decimals: 7,
};

// ---- PRNG: xoshiro128** seeded through splitmix32, one independent stream per item ---------------------------

function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x21f0aaad);
  x ^= x >>> 15;
  x = Math.imul(x, 0x735a2d97);
  x ^= x >>> 15;
  return x >>> 0;
}

const STREAM = { centre: 1, memory: 2, query: 3, topic: 4 } as const;

function seedFor(seed: number, stream: number, i: number): number {
  return mix32(mix32(mix32(seed) ^ Math.imul(stream, 0x85ebca6b)) ^ i);
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.a = mix32(seed);
    this.b = mix32(this.a ^ 0x1234567);
    this.c = mix32(this.b ^ 0x89abcdef);
    this.d = mix32(this.c ^ 0x2468ace) | 1;
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller). */
  gauss(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = this.next();
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

// ---- texts ---------------------------------------------------------------------------------------------------

const common = (
  'the a and to of in that it with for on was we my is this at about after before really today yesterday ' +
  'morning evening week meeting call plan project idea note remember friend family dinner trip work home ' +
  'felt happy worried tired excited calm busy great good bad new old long short quick talked asked said ' +
  'bought read wrote started finished moved met went came saw heard need want should could maybe again ' +
  'coffee book garden music walk city office doctor school weekend holiday budget report email phone'
).split(' ');
const syllables =
  'ka lo mi ra ven tor ul sa ne qui bro dex fal gor hin jas lum mor nix pel ros tav vok wen zar'.split(' ');

function topicWords(seed: number, cluster: number): string[] {
  const rng = new Rng(seedFor(seed, STREAM.topic, cluster));
  return Array.from({ length: 6 }, () => {
    const n = 2 + rng.int(2);
    let w = '';
    for (let i = 0; i < n; i++) w += syllables[rng.int(syllables.length)];
    return w;
  });
}

// ---- the generator -------------------------------------------------------------------------------------------

export interface Chunk {
  start: number;
  count: number;
  /** count × dim values, each row unit length (after rounding, renormalised in double precision). */
  vectors: Float32Array;
  clusters: Uint16Array;
  texts: string[];
}

export class SyntheticData {
  readonly params: DataParams;
  private readonly centres: Float32Array;
  private readonly spreads: Float64Array;
  private readonly topics: string[][];
  private readonly scale: number;

  constructor(params: Partial<DataParams> = {}) {
    this.params = { ...defaultDataParams, ...params };
    const { dim, clusters, seed, noise, spreadJitter } = this.params;
    this.scale = 10 ** this.params.decimals;
    this.centres = new Float32Array(clusters * dim);
    this.spreads = new Float64Array(clusters);
    this.topics = [];
    const tmp = new Float64Array(dim);
    for (let c = 0; c < clusters; c++) {
      const rng = new Rng(seedFor(seed, STREAM.centre, c));
      let norm = 0;
      for (let d = 0; d < dim; d++) {
        const g = rng.gauss();
        tmp[d] = g;
        norm += g * g;
      }
      const inv = 1 / Math.sqrt(norm);
      for (let d = 0; d < dim; d++) this.centres[c * dim + d] = tmp[d]! * inv;
      this.spreads[c] = noise * (1 + spreadJitter * (2 * rng.next() - 1));
      this.topics.push(topicWords(seed, c));
    }
  }

  /** A JSON-friendly description of the data model, for the benchmark output. */
  describe(): Record<string, unknown> {
    const p = this.params;
    return {
      model:
        'uniform clusters on the unit sphere; memory = normalise(centre + spread_c * N(0, I/dim)); queries: fresh draws from the same model',
      dim: p.dim,
      clusters: p.clusters,
      noise: p.noise,
      spread_jitter: p.spreadJitter,
      seed: p.seed,
      decimals_sent: p.decimals,
      expected_cosine_same_cluster: `${round3(1 / (1 + (p.noise * (1 + p.spreadJitter)) ** 2))}–${round3(1 / (1 + (p.noise * (1 - p.spreadJitter)) ** 2))}`,
      expected_cosine_other_cluster: `0 ± ${round3(1 / Math.sqrt(p.dim))}`,
      cluster_assignment: 'uniform (≈ size/clusters memories per cluster)',
      text: '10–16 words: ~35% from 6 pseudo-words of the cluster (its topic), the rest common English words',
    };
  }

  /** Draws a cluster and a vector (rounded as sent, not renormalised) into out[offset..]; returns the cluster. */
  private draw(rng: Rng, out: Float32Array, offset: number): number {
    const { dim, clusters } = this.params;
    const c = rng.int(clusters);
    const s = this.spreads[c]! / Math.sqrt(dim);
    const base = c * dim;
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      const x = this.centres[base + d]! + s * rng.gauss();
      out[offset + d] = x;
      norm += x * x;
    }
    const inv = 1 / Math.sqrt(norm);
    // Round as the client will send it; what the server stores is float32(rounded), renormalised.
    let norm2 = 0;
    for (let d = 0; d < dim; d++) {
      const r = Math.round(out[offset + d]! * inv * this.scale) / this.scale;
      out[offset + d] = r;
      norm2 += r * r;
    }
    this.lastNorm = Math.sqrt(norm2);
    return c;
  }

  /** Norm of the last drawn rounded vector (before renormalisation). */
  private lastNorm = 1;

  private text(rng: Rng, cluster: number): string {
    const n = 10 + rng.int(7);
    const words: string[] = [];
    const topic = this.topics[cluster]!;
    for (let k = 0; k < n; k++)
      words.push(rng.next() < 0.35 ? topic[rng.int(topic.length)]! : common[rng.int(common.length)]!);
    const s = words.join(' ');
    return `${s[0]!.toUpperCase()}${s.slice(1)}.`;
  }

  /**
   * Memories start..start+count-1. `raw` rows hold the rounded values exactly as they are sent; `vectors` rows are
   * the same, renormalised (what the server indexes).
   */
  memories(start: number, count: number): Chunk & { raw: Float32Array } {
    const dim = this.params.dim;
    const raw = new Float32Array(count * dim);
    const vectors = new Float32Array(count * dim);
    const clusters = new Uint16Array(count);
    const texts: string[] = [];
    for (let n = 0; n < count; n++) {
      const i = start + n;
      const rng = new Rng(seedFor(this.params.seed, STREAM.memory, i));
      const c = this.draw(rng, raw, n * dim);
      clusters[n] = c;
      texts.push(this.text(rng, c));
      const inv = 1 / this.lastNorm;
      for (let d = 0; d < dim; d++) vectors[n * dim + d] = raw[n * dim + d]! * inv;
    }
    return { start, count, vectors, raw, clusters, texts };
  }

  /** Queries start..start+count-1 (independent of the memories); texts are 2 topic words and a common word. */
  queries(start: number, count: number): Chunk & { raw: Float32Array } {
    const dim = this.params.dim;
    const raw = new Float32Array(count * dim);
    const vectors = new Float32Array(count * dim);
    const clusters = new Uint16Array(count);
    const texts: string[] = [];
    for (let n = 0; n < count; n++) {
      const i = start + n;
      const rng = new Rng(seedFor(this.params.seed, STREAM.query, i));
      const c = this.draw(rng, raw, n * dim);
      clusters[n] = c;
      const topic = this.topics[c]!;
      texts.push(
        `${topic[rng.int(topic.length)]} ${topic[rng.int(topic.length)]} ${common[rng.int(common.length)]}`,
      );
      const inv = 1 / this.lastNorm;
      for (let d = 0; d < dim; d++) vectors[n * dim + d] = raw[n * dim + d]! * inv;
    }
    return { start, count, vectors, raw, clusters, texts };
  }

  /** Writes row n of a `raw` matrix as a JSON array (the rounded values in fixed point, trailing zeros dropped). */
  writeVector(w: ByteWriter, raw: Float32Array, n: number): void {
    const dim = this.params.dim;
    const scale = this.scale;
    const decimals = this.params.decimals;
    const base = n * dim;
    // At most sign + 10 digits + point + comma per value (the rounded values are < 1000 in magnitude).
    const buf = w.reserve(dim * (decimals + 16) + 2);
    let pos = w.pos;
    buf[pos++] = 0x5b; // [
    for (let d = 0; d < dim; d++) {
      if (d) buf[pos++] = 0x2c; // ,
      // float32(rounded) * scale is within 0.5 of the integer it came from, so this recovers the rounded value.
      let q = Math.round(raw[base + d]! * scale);
      if (q < 0) {
        buf[pos++] = 0x2d; // -
        q = -q;
      }
      const whole = Math.floor(q / scale);
      let frac = q - whole * scale;
      // whole part
      if (whole < 10) buf[pos++] = 48 + whole;
      else {
        const digits = String(whole);
        for (let i = 0; i < digits.length; i++) buf[pos++] = digits.charCodeAt(i);
      }
      if (frac === 0) continue;
      let places = decimals;
      while (frac % 10 === 0) {
        frac /= 10;
        places--;
      }
      buf[pos++] = 0x2e; // .
      pos += places;
      for (let i = 1; i <= places; i++) {
        const next = Math.floor(frac / 10);
        buf[pos - i] = 48 + (frac - next * 10);
        frac = next;
      }
    }
    buf[pos++] = 0x5d; // ]
    w.pos = pos;
  }

  /** The JSON array text of row n of a `raw` matrix. */
  vectorJson(raw: Float32Array, n: number): string {
    const w = new ByteWriter(this.params.dim * 12);
    this.writeVector(w, raw, n);
    return w.toString();
  }

  private writeMemory(
    w: ByteWriter,
    chunk: Chunk & { raw: Float32Array },
    n: number,
    idPrefix: string,
    encoding: Encoding,
  ): void {
    w.text(`{"id":"${idPrefix}${chunk.start + n}","content":${JSON.stringify(chunk.texts[n])},`);
    if (encoding === 'b64') {
      const dim = this.params.dim;
      const row = chunk.raw.subarray(n * dim, (n + 1) * dim);
      w.text(
        `"embedding_b64":"${Buffer.from(row.buffer, row.byteOffset, row.byteLength).toString('base64')}"`,
      );
    } else {
      w.text('"embedding":');
      this.writeVector(w, chunk.raw, n);
    }
    w.byte(0x7d); // }
  }

  /** The POST /v1/memories body of memory row n of a chunk (id `<idPrefix><index>`). */
  memoryBody(
    chunk: Chunk & { raw: Float32Array },
    n: number,
    idPrefix = 'm',
    encoding: Encoding = 'json',
  ): Buffer {
    const w = new ByteWriter(this.params.dim * 12 + 512);
    this.writeMemory(w, chunk, n, idPrefix, encoding);
    return w.done();
  }

  /** A POST /v1/memories/batch body for rows from..to-1 of a chunk. */
  batchBody(
    chunk: Chunk & { raw: Float32Array },
    from: number,
    to: number,
    idPrefix = 'm',
    encoding: Encoding = 'json',
  ): Buffer {
    const w = new ByteWriter((to - from) * (this.params.dim * 11 + 256) + 64);
    w.text('{"memories":[');
    for (let n = from; n < to; n++) {
      if (n > from) w.byte(0x2c);
      this.writeMemory(w, chunk, n, idPrefix, encoding);
    }
    w.text(']}');
    return w.done();
  }
}

/** Appends bytes to a growing buffer (much faster than building large strings by concatenation). */
export class ByteWriter {
  private buf: Buffer;
  pos = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Makes room for `extra` more bytes; returns the buffer to write at `pos` (then advance `pos`). */
  reserve(extra: number): Buffer {
    if (this.pos + extra > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + extra));
      this.buf.copy(next, 0, 0, this.pos);
      this.buf = next;
    }
    return this.buf;
  }

  byte(b: number): void {
    this.reserve(1)[this.pos++] = b;
  }

  text(s: string): void {
    this.pos += this.reserve(Buffer.byteLength(s)).write(s, this.pos, 'utf8');
  }

  done(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  toString(): string {
    return this.buf.toString('utf8', 0, this.pos);
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

// ---- exact ground truth --------------------------------------------------------------------------------------

export interface GroundTruth {
  k: number;
  queries: number;
  /** For each size: queries × k memory indexes (best first), exact cosine over memories 0..size-1. */
  bySize: Map<number, Int32Array>;
  /** For each size: the k-th best similarity per query (to judge ties). */
  kthSimilarity: Map<number, Float32Array>;
  computeMs: number;
  cached: boolean;
  cacheFile: string;
}

/**
 * Exact top-k by brute force for the first `queryCount` queries over memory prefixes of the given sizes (one pass
 * over the largest; the top-k is recorded when the pass reaches each size). Cached under /tmp.
 */
export function groundTruth(data: SyntheticData, sizes: number[], queryCount: number, k = 10): GroundTruth {
  const sorted = [...new Set(sizes)].sort((a, b) => a - b);
  const key = createHash('sha1')
    .update(JSON.stringify({ v: 2, params: data.params, sizes: sorted, queryCount, k }))
    .digest('hex')
    .slice(0, 16);
  const dir = join(tmpdir(), 'synthians-bench-cache');
  const cacheFile = join(dir, `gt-${key}.json`);
  if (existsSync(cacheFile)) {
    const saved = JSON.parse(readFileSync(cacheFile, 'utf8')) as {
      bySize: Record<string, number[]>;
      kth: Record<string, number[]>;
      computeMs: number;
    };
    return {
      k,
      queries: queryCount,
      bySize: new Map(Object.entries(saved.bySize).map(([s, v]) => [Number(s), Int32Array.from(v)])),
      kthSimilarity: new Map(Object.entries(saved.kth).map(([s, v]) => [Number(s), Float32Array.from(v)])),
      computeMs: saved.computeMs,
      cached: true,
      cacheFile,
    };
  }
  const started = performance.now();
  const dim = data.params.dim;
  const q = data.queries(0, queryCount).vectors;
  const topSim = new Float64Array(queryCount * k).fill(-Infinity);
  const topIdx = new Int32Array(queryCount * k).fill(-1);
  const bySize = new Map<number, Int32Array>();
  const kth = new Map<number, Float32Array>();
  const max = sorted[sorted.length - 1] ?? 0;
  const block = 2048;
  let nextSize = 0;
  for (let start = 0; start < max;) {
    // Blocks end at the sizes so that each prefix is captured exactly.
    const until = Math.min(block, (sorted[nextSize] ?? max) - start);
    const chunk = data.memories(start, until);
    const m = chunk.vectors;
    for (let qi = 0; qi < queryCount; qi++) {
      const qb = qi * dim;
      const tb = qi * k;
      let threshold = topSim[tb + k - 1]!;
      for (let n = 0; n < until; n++) {
        const mb = n * dim;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let d = 0; d < dim; d += 4) {
          s0 += q[qb + d]! * m[mb + d]!;
          s1 += q[qb + d + 1]! * m[mb + d + 1]!;
          s2 += q[qb + d + 2]! * m[mb + d + 2]!;
          s3 += q[qb + d + 3]! * m[mb + d + 3]!;
        }
        const s = s0 + s1 + s2 + s3;
        if (s > threshold) {
          let p = k - 1;
          while (p > 0 && topSim[tb + p - 1]! < s) {
            topSim[tb + p] = topSim[tb + p - 1]!;
            topIdx[tb + p] = topIdx[tb + p - 1]!;
            p--;
          }
          topSim[tb + p] = s;
          topIdx[tb + p] = start + n;
          threshold = topSim[tb + k - 1]!;
        }
      }
    }
    const reached = (start += until);
    if (reached === sorted[nextSize]) {
      bySize.set(reached, topIdx.slice());
      const kthRow = new Float32Array(queryCount);
      for (let qi = 0; qi < queryCount; qi++) kthRow[qi] = topSim[qi * k + k - 1]!;
      kth.set(reached, kthRow);
      nextSize++;
      log(
        `ground truth: exact top-${k} over ${reached} memories for ${queryCount} queries (${Math.round(performance.now() - started)} ms so far)`,
      );
    }
  }
  const computeMs = Math.round(performance.now() - started);
  mkdirSync(dir, { recursive: true });
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  writeFileSync(
    tmp,
    JSON.stringify({
      params: data.params,
      sizes: sorted,
      queryCount,
      k,
      computeMs,
      bySize: Object.fromEntries([...bySize].map(([s, v]) => [s, Array.from(v)])),
      kth: Object.fromEntries([...kth].map(([s, v]) => [s, Array.from(v)])),
    }),
  );
  renameSync(tmp, cacheFile);
  return { k, queries: queryCount, bySize, kthSimilarity: kth, computeMs, cached: false, cacheFile };
}
