// The vector index's worker thread: owns the usearch HNSW index, so that adding and searching run beside the main
// thread (which parses requests and commits to SQLite) instead of blocking it. Plain JavaScript so that it loads in a
// worker without a TypeScript loader. Messages: {id, op, args} → {id, result} | {id, error}. See vector-index.ts.
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import usearch from 'usearch';

/** @type {{dim: number, connectivity: number, expansionAdd: number, expansionSearch: number, quantization: string, threads: number, dir: string}} */
const options = workerData;
const files = { index: join(options.dir, 'vectors.usearch'), meta: join(options.dir, 'vectors.json') };

const fresh = () =>
  new usearch.Index({
    metric: 'cos',
    dimensions: options.dim,
    connectivity: options.connectivity,
    expansion_add: options.expansionAdd,
    expansion_search: options.expansionSearch,
    quantization: options.quantization,
    multi: false,
  });

let index = fresh();
const size = () => Number(index.size());

function fsyncPath(path) {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Results of one query as [keys, similarities]. */
function matches(m, k) {
  const n = Math.min(k, m.keys.length);
  const keys = new Float64Array(n);
  const sims = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    keys[i] = Number(m.keys[i]);
    sims[i] = 1 - m.distances[i];
  }
  return { keys, sims };
}

const ops = {
  add({ keys, vectors }) {
    if (keys.length === 0) return size();
    const big = BigUint64Array.from(keys, (k) => BigInt(k));
    for (const k of big) if (index.contains(k)) index.remove(k);
    index.add(big, vectors, options.threads);
    return size();
  },
  remove({ keys }) {
    for (const k of keys) {
      const key = BigInt(k);
      if (index.contains(key)) index.remove(key);
    }
    return size();
  },
  search({ vector, k, limit }) {
    const n = size();
    if (n === 0) return { keys: new Float64Array(0), sims: new Float64Array(0) };
    return matches(index.search(vector, Math.min(limit, n), 1), k);
  },
  searchBatch({ matrix, count, k }) {
    const n = size();
    if (n === 0 || count === 0)
      return Array.from({ length: count }, () => ({ keys: new Float64Array(0), sims: new Float64Array(0) }));
    const result = index.search(matrix, Math.min(k, n), options.threads);
    // usearch answers a one-row matrix as a single query.
    return Array.from({ length: count }, (_, q) => matches('get' in result ? result.get(q) : result, k));
  },
  clear() {
    index = fresh();
    return 0;
  },
  save({ seq }) {
    const tmp = `${files.index}.tmp`;
    index.save(tmp);
    fsyncPath(tmp);
    renameSync(tmp, files.index);
    const sidecar = {
      version: 1,
      seq,
      size: size(),
      dim: options.dim,
      connectivity: options.connectivity,
      quantization: options.quantization,
      writtenAt: new Date().toISOString(),
    };
    writeFileSync(`${files.meta}.tmp`, JSON.stringify(sidecar));
    fsyncPath(`${files.meta}.tmp`);
    renameSync(`${files.meta}.tmp`, files.meta);
    fsyncPath(options.dir);
    return size();
  },
  load() {
    if (!existsSync(files.index) || !existsSync(files.meta)) return { ok: false, reason: 'no snapshot' };
    let sidecar;
    try {
      sidecar = JSON.parse(readFileSync(files.meta, 'utf8'));
    } catch {
      return { ok: false, reason: 'snapshot sidecar is unreadable' };
    }
    if (
      sidecar.version !== 1 ||
      sidecar.dim !== options.dim ||
      sidecar.connectivity !== options.connectivity ||
      sidecar.quantization !== options.quantization
    ) {
      return { ok: false, reason: 'snapshot was written with other index settings' };
    }
    try {
      index = fresh();
      index.load(files.index);
    } catch (err) {
      index = fresh();
      return { ok: false, reason: `snapshot is corrupt: ${err.message}` };
    }
    if (size() !== sidecar.size || Number(index.dimensions()) !== options.dim) {
      index = fresh();
      return { ok: false, reason: 'snapshot does not match its sidecar' };
    }
    return { ok: true, seq: sidecar.seq, size: size() };
  },
  deleteSnapshot() {
    rmSync(files.index, { force: true });
    rmSync(files.meta, { force: true });
    return size();
  },
};

parentPort.on('message', ({ id, op, args }) => {
  try {
    parentPort.postMessage({ id, result: ops[op](args) });
  } catch (err) {
    parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
