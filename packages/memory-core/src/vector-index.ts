// The vector index: HNSW (usearch) over memory keys. Derived state — the SQLite store is the truth.
// It is saved as a snapshot (index file + a small JSON sidecar naming the change seq it reflects) and
// caught up from the change log at start; a missing, corrupt or mismatched snapshot is rebuilt from the store.
import {
  existsSync,
  openSync,
  fsyncSync,
  closeSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import usearch, {
  type BatchMatches,
  type Index,
  type Matches,
  type MetricKind,
  type ScalarKind,
} from 'usearch';

export interface IndexOptions {
  dim: number;
  connectivity: number;
  expansionAdd: number;
  /** Beam width for neighbour look-ups at ingest (small: fast). */
  expansionSearch: number;
  /** Beam width for queries: usearch searches with max(ef, k), so queries ask for this many candidates. */
  queryBeam: number;
  quantization: 'f32' | 'bf16' | 'f16' | 'i8';
  threads: number;
}

export interface Neighbours {
  keys: number[];
  similarities: number[];
}

interface SnapshotMeta {
  version: 1;
  seq: number;
  size: number;
  dim: number;
  connectivity: number;
  quantization: string;
  writtenAt: string;
}

export class VectorIndex {
  private index: Index;

  constructor(
    private readonly options: IndexOptions,
    private readonly dir: string,
  ) {
    this.index = this.fresh();
  }

  private fresh(): Index {
    return new usearch.Index({
      metric: 'cos' as MetricKind,
      dimensions: this.options.dim,
      connectivity: this.options.connectivity,
      expansion_add: this.options.expansionAdd,
      expansion_search: this.options.expansionSearch,
      quantization: this.options.quantization as ScalarKind,
      multi: false,
    });
  }

  get size(): number {
    return Number(this.index.size());
  }

  has(key: number): boolean {
    return this.index.contains(BigInt(key)) as boolean;
  }

  /** Adds (or replaces) vectors; `vectors` holds keys.length rows of dim values. */
  add(keys: number[], vectors: Float32Array): void {
    if (keys.length === 0) return;
    for (const key of keys) if (this.has(key)) this.index.remove(BigInt(key));
    const big = BigUint64Array.from(keys, (k) => BigInt(k));
    this.index.add(big, vectors, this.options.threads);
  }

  remove(key: number): void {
    if (this.has(key)) this.index.remove(BigInt(key));
  }

  /** k nearest neighbours with cosine similarity (approximate with the ingest beam). */
  neighbours(vector: Float32Array, k: number, wide = false): Neighbours {
    const size = this.size;
    if (size === 0) return { keys: [], similarities: [] };
    const limit = Math.min(wide ? Math.max(k, this.options.queryBeam) : k, size);
    const result = this.index.search(vector, limit, 1) as Matches;
    const keys: number[] = [];
    const similarities: number[] = [];
    for (let i = 0; i < result.keys.length && keys.length < k; i++) {
      keys.push(Number(result.keys[i]));
      similarities.push(1 - (result.distances[i] ?? 1));
    }
    return { keys, similarities };
  }

  /** Neighbour look-ups for many vectors at once (multi-threaded). */
  neighboursBatch(matrix: Float32Array, count: number, k: number): Neighbours[] {
    const size = this.size;
    if (size === 0 || count === 0)
      return Array.from({ length: count }, () => ({ keys: [], similarities: [] }));
    const limit = Math.min(k, size);
    const result = this.index.search(matrix, limit, this.options.threads) as BatchMatches | Matches;
    const out: Neighbours[] = [];
    for (let q = 0; q < count; q++) {
      // usearch answers a one-row matrix as a single query.
      const m = 'get' in result ? result.get(q) : result;
      const keys: number[] = [];
      const similarities: number[] = [];
      for (let i = 0; i < m.keys.length; i++) {
        keys.push(Number(m.keys[i]));
        similarities.push(1 - (m.distances[i] ?? 1));
      }
      out.push({ keys, similarities });
    }
    return out;
  }

  clear(): void {
    this.index = this.fresh();
  }

  private get files() {
    return { index: join(this.dir, 'vectors.usearch'), meta: join(this.dir, 'vectors.json') };
  }

  /** Atomically writes a snapshot that reflects every change up to `seq`. */
  saveSnapshot(seq: number): void {
    const { index, meta } = this.files;
    const tmp = `${index}.tmp`;
    this.index.save(tmp);
    fsyncFile(tmp);
    renameSync(tmp, index);
    const sidecar: SnapshotMeta = {
      version: 1,
      seq,
      size: this.size,
      dim: this.options.dim,
      connectivity: this.options.connectivity,
      quantization: this.options.quantization,
      writtenAt: new Date().toISOString(),
    };
    writeFileSync(`${meta}.tmp`, JSON.stringify(sidecar));
    fsyncFile(`${meta}.tmp`);
    renameSync(`${meta}.tmp`, meta);
    fsyncFile(this.dir);
  }

  /** Loads the snapshot; returns its seq, or a reason why it cannot be used (then the index is empty). */
  loadSnapshot(): { ok: true; seq: number } | { ok: false; reason: string } {
    const { index, meta } = this.files;
    if (!existsSync(index) || !existsSync(meta)) return { ok: false, reason: 'no snapshot' };
    let sidecar: SnapshotMeta;
    try {
      sidecar = JSON.parse(readFileSync(meta, 'utf8')) as SnapshotMeta;
    } catch {
      return { ok: false, reason: 'snapshot sidecar is unreadable' };
    }
    if (
      sidecar.version !== 1 ||
      sidecar.dim !== this.options.dim ||
      sidecar.connectivity !== this.options.connectivity ||
      sidecar.quantization !== this.options.quantization
    ) {
      return { ok: false, reason: 'snapshot was written with other index settings' };
    }
    try {
      this.index = this.fresh();
      this.index.load(index);
    } catch (err) {
      this.index = this.fresh();
      return { ok: false, reason: `snapshot is corrupt: ${(err as Error).message}` };
    }
    if (this.size !== sidecar.size || Number(this.index.dimensions()) !== this.options.dim) {
      this.index = this.fresh();
      return { ok: false, reason: 'snapshot does not match its sidecar' };
    }
    return { ok: true, seq: sidecar.seq };
  }

  deleteSnapshot(): void {
    const { index, meta } = this.files;
    rmSync(index, { force: true });
    rmSync(meta, { force: true });
  }
}

function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
