// The vector index: HNSW (usearch) over memory keys, in a worker thread (vector-index-worker.mjs) so that index work
// overlaps with request parsing and SQLite commits on the main thread. Derived state — the SQLite store is the truth:
// it is saved as a snapshot (index file + a JSON sidecar naming the change seq it reflects) and caught up from the
// change log at start; a missing, corrupt or mismatched snapshot is rebuilt from the store.
// The worker handles messages in order, so an operation sees every operation sent before it.
import { Worker } from 'node:worker_threads';

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

interface RawNeighbours {
  keys: Float64Array;
  sims: Float64Array;
}

const toNeighbours = (r: RawNeighbours): Neighbours => ({
  keys: Array.from(r.keys),
  similarities: Array.from(r.sims),
});

export class VectorIndex {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private count = 0;
  private failure: Error | undefined;

  constructor(
    private readonly options: IndexOptions,
    dir: string,
  ) {
    this.worker = new Worker(new URL('./vector-index-worker.mjs', import.meta.url), {
      workerData: { ...options, dir },
    });
    this.worker.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const call = this.calls.get(m.id);
      if (!call) return;
      this.calls.delete(m.id);
      if (m.error !== undefined) call.reject(new Error(`vector index: ${m.error}`));
      else call.resolve(m.result);
    });
    this.worker.on('error', (err) => {
      this.failure = err;
      for (const call of this.calls.values()) call.reject(err);
      this.calls.clear();
    });
  }

  private call<T>(op: string, args: unknown = {}, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, op, args }, transfer);
    });
  }

  private async sized(op: string, args: unknown = {}, transfer: ArrayBuffer[] = []): Promise<void> {
    this.count = await this.call<number>(op, args, transfer);
  }

  /** Number of vectors, as of the last completed operation. */
  get size(): number {
    return this.count;
  }

  /** Adds (or replaces) vectors; `vectors` holds keys.length rows of dim values. */
  add(keys: number[], vectors: Float32Array): Promise<void> {
    return this.sized('add', { keys, vectors });
  }

  remove(keys: number[]): Promise<void> {
    return this.sized('remove', { keys });
  }

  /** k nearest neighbours with cosine similarity; `wide` searches with the query beam (better recall). */
  async neighbours(vector: Float32Array, k: number, wide = false): Promise<Neighbours> {
    const limit = wide ? Math.max(k, this.options.queryBeam) : k;
    return toNeighbours(await this.call<RawNeighbours>('search', { vector, k, limit }));
  }

  /** Neighbour look-ups for many vectors at once (multi-threaded). */
  async neighboursBatch(matrix: Float32Array, count: number, k: number): Promise<Neighbours[]> {
    return (await this.call<RawNeighbours[]>('searchBatch', { matrix, count, k })).map(toNeighbours);
  }

  clear(): Promise<void> {
    return this.sized('clear');
  }

  /** Atomically writes a snapshot that reflects every operation sent before this one (tagged with `seq`). */
  saveSnapshot(seq: number): Promise<void> {
    return this.sized('save', { seq });
  }

  /** Loads the snapshot; returns its seq, or a reason why it cannot be used (then the index is empty). */
  async loadSnapshot(): Promise<{ ok: true; seq: number } | { ok: false; reason: string }> {
    const r = await this.call<{ ok: true; seq: number; size: number } | { ok: false; reason: string }>(
      'load',
    );
    this.count = r.ok ? r.size : 0;
    return r.ok ? { ok: true, seq: r.seq } : r;
  }

  deleteSnapshot(): Promise<void> {
    return this.sized('deleteSnapshot');
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
