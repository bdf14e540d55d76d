// EXPERIMENTAL draft
import type { EmbeddingProvider } from './provider.ts';
import { l2normalize } from './provider.ts';
import { STOPWORDS } from '../search/lexical.ts';

export interface BuiltinOptions {
  stem: 'porter' | 'light' | 'none';
  unigram: number;
  bigram: number;
  char: number;
  charMin: number;
  charMax: number;
  sublinear: boolean;
  stopWeight: number;
  idf: 'none' | 'sif' | 'log';
  sifA: number;
  wv: number; // share of squared norm given to word-vector part (0 = off)
  wvNorm: boolean;
  wvA?: number; // normalise each word vector before averaging
  table?: WordTable;
  clusters?: { map: Map<string, number>; w: number }[];
  clusterStop?: boolean;
  labelWeight?: number;
  pivot?: number;
  pivotFeats?: number;
  wvPivot?: number;
  extraDown?: Set<string>;
  extraDownW?: number;
}
export interface WordTable { index: Map<string, number>; vecs: Float32Array; D: number; size: number }
export const defaultOptions: BuiltinOptions = { stem: 'porter', unigram: 1, bigram: 0, char: 0, charMin: 3, charMax: 5, sublinear: true, stopWeight: 0, idf: 'none', sifA: 1e-3, wv: 0, wvNorm: true };

// ---------------- Porter stemmer (M.F. Porter, 1980) ----------------
function isCons(w: string, i: number): boolean {
  const c = w.charCodeAt(i);
  if (c === 97 || c === 101 || c === 105 || c === 111 || c === 117) return false;
  if (c === 121) return i === 0 ? true : !isCons(w, i - 1);
  return true;
}
function measure(w: string, end: number): number {
  // m of w[0..end)
  let n = 0, i = 0;
  while (i < end && isCons(w, i)) i++;
  while (i < end) {
    while (i < end && !isCons(w, i)) i++;
    if (i >= end) break;
    n++;
    while (i < end && isCons(w, i)) i++;
  }
  return n;
}
function hasVowel(w: string, end: number): boolean {
  for (let i = 0; i < end; i++) if (!isCons(w, i)) return true;
  return false;
}
function doubleCons(w: string, end: number): boolean {
  return end >= 2 && w[end - 1] === w[end - 2] && isCons(w, end - 1);
}
function cvc(w: string, end: number): boolean {
  if (end < 3 || !isCons(w, end - 1) || isCons(w, end - 2) || !isCons(w, end - 3)) return false;
  const c = w[end - 1];
  return c !== 'w' && c !== 'x' && c !== 'y';
}
const STEP2: [string, string][] = [
  ['ational', 'ate'], ['tional', 'tion'], ['enci', 'ence'], ['anci', 'ance'], ['izer', 'ize'], ['bli', 'ble'],
  ['alli', 'al'], ['entli', 'ent'], ['eli', 'e'], ['ousli', 'ous'], ['ization', 'ize'], ['ation', 'ate'],
  ['ator', 'ate'], ['alism', 'al'], ['iveness', 'ive'], ['fulness', 'ful'], ['ousness', 'ous'], ['aliti', 'al'],
  ['iviti', 'ive'], ['biliti', 'ble'], ['logi', 'log'],
];
const STEP3: [string, string][] = [
  ['icate', 'ic'], ['ative', ''], ['alize', 'al'], ['iciti', 'ic'], ['ical', 'ic'], ['ful', ''], ['ness', ''],
];
const STEP4 = ['al', 'ance', 'ence', 'er', 'ic', 'able', 'ible', 'ant', 'ement', 'ment', 'ent', 'ion', 'ou', 'ism', 'ate', 'iti', 'ous', 'ive', 'ize'];

export function porterStem(word: string): string {
  if (word.length <= 2) return word;
  let w = word;
  // 1a
  if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('ies')) w = w.slice(0, -2);
  else if (w.endsWith('ss')) { /* keep */ } else if (w.endsWith('s')) w = w.slice(0, -1);
  // 1b
  let extra = false;
  if (w.endsWith('eed')) {
    if (measure(w, w.length - 3) > 0) w = w.slice(0, -1);
  } else if (w.endsWith('ed') && hasVowel(w, w.length - 2)) {
    w = w.slice(0, -2); extra = true;
  } else if (w.endsWith('ing') && hasVowel(w, w.length - 3)) {
    w = w.slice(0, -3); extra = true;
  }
  if (extra) {
    if (w.endsWith('at') || w.endsWith('bl') || w.endsWith('iz')) w += 'e';
    else if (doubleCons(w, w.length) && !/[lsz]$/.test(w)) w = w.slice(0, -1);
    else if (measure(w, w.length) === 1 && cvc(w, w.length)) w += 'e';
  }
  // 1c
  if (w.endsWith('y') && hasVowel(w, w.length - 1)) w = w.slice(0, -1) + 'i';
  // 2
  for (const [s, r] of STEP2) {
    if (w.endsWith(s)) { if (measure(w, w.length - s.length) > 0) w = w.slice(0, -s.length) + r; break; }
  }
  // 3
  for (const [s, r] of STEP3) {
    if (w.endsWith(s)) { if (measure(w, w.length - s.length) > 0) w = w.slice(0, -s.length) + r; break; }
  }
  // 4
  for (const s of STEP4) {
    if (w.endsWith(s)) {
      const stem = w.length - s.length;
      if (measure(w, stem) > 1) {
        if (s !== 'ion' || (stem > 0 && (w[stem - 1] === 's' || w[stem - 1] === 't'))) w = w.slice(0, stem);
      }
      break;
    }
  }
  // 5a
  if (w.endsWith('e')) {
    const m = measure(w, w.length - 1);
    if (m > 1 || (m === 1 && !cvc(w, w.length - 1))) w = w.slice(0, -1);
  }
  // 5b
  if (measure(w, w.length) > 1 && doubleCons(w, w.length) && w.endsWith('l')) w = w.slice(0, -1);
  return w;
}

function lightStem(w: string): string {
  if (w.length <= 3) return w;
  if (w.endsWith('ies') && w.length > 4) return w.slice(0, -3) + 'y';
  if (w.endsWith('s') && !w.endsWith('ss') && !w.endsWith('us') && !w.endsWith('is')) w = w.slice(0, -1);
  if (w.endsWith('ing') && w.length > 5) return w.slice(0, -3);
  if (w.endsWith('ed') && w.length > 4) return w.slice(0, -2);
  return w;
}

// ---------------- hashing ----------------
function fnv1a(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // murmur3 fmix32 finaliser for better bit mixing
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  return h >>> 0;
}
function addFeature(v: Float32Array, off: number, n: number, key: string, seed: number, w: number): void {
  const h = fnv1a(key, seed);
  const idx = off + (h % n);
  v[idx] = (v[idx] as number) + ((h & 0x80000000) !== 0 ? -w : w);
}

const TOKEN_RE = /[\p{L}\p{N}\p{Co}]+/gu;
const MARKS_RE = /\p{M}+/gu;

export function createBuiltinEmbedderWith(dim: number, opt: BuiltinOptions): EmbeddingProvider {
  const stem = opt.stem === 'porter' ? porterStem : opt.stem === 'light' ? lightStem : (w: string) => w;
  const stemCache = new Map<string, string>();
  const table = opt.table;
  const H = 13; // ~ harmonic number for Zipf p(r) = 1/(r*H)
  const weightOf = (t: string): number => {
    if (opt.idf === 'none' || !table) return 1;
    const r = table.index.get(t);
    const rank = r === undefined ? table.size * 2 : r + 1;
    if (opt.idf === 'sif') { const p = 1 / (rank * H); return opt.sifA / (opt.sifA + p); }
    return Math.log(1 + rank / 50) / Math.log(1 + (table.size * 2) / 50);
  };
  const wCache = new Map<string, number>();
  const wvDim = table && opt.wv > 0 ? Math.min(table.D, dim >> 2) : 0;
  const hDim = dim - wvDim;
  const embedOne = (text: string): Float32Array => {
    const v = new Float32Array(dim);
    const norm = text.normalize('NFKD').replace(MARKS_RE, '').toLowerCase();
    const toks = norm.match(TOKEN_RE) ?? [];
    let nLabel = 0;
    if (opt.labelWeight !== undefined) { const m = /^\s*([^:\n]{1,40}):\s/.exec(norm); if (m) { const lt = m[1]!.match(TOKEN_RE) ?? []; if (lt.length <= 3) nLabel = lt.length; } }
    let ti = -1;
    const tf = new Map<string, number>();
    const content: string[] = [];
    const clus = new Map<string, number>();
    const wvAcc = wvDim ? new Float32Array(table!.D) : null;
    for (const t of toks) {
      ti++;
      const stop = STOPWORDS.has(t);
      if (stop && opt.stopWeight === 0) continue;
      let s = stemCache.get(t);
      if (s === undefined) { s = stem(t); stemCache.set(t, s); }
      let iw = wCache.get(t);
      if (iw === undefined) { iw = weightOf(t); if (opt.extraDown?.has(t)) iw *= opt.extraDownW ?? 0.3; wCache.set(t, iw); }
      if (ti < nLabel) iw *= opt.labelWeight!;
      if (!stop) content.push(s);
      if (opt.clusters && !stop) for (let ci = 0; ci < opt.clusters.length; ci++) { const c = opt.clusters[ci]!; const id = c.map.get(t); if (id !== undefined) { const key = 'c' + ci + ':' + id; clus.set(key, (clus.get(key) ?? 0) + c.w * iw); } }
      tf.set(s, (tf.get(s) ?? 0) + (stop ? opt.stopWeight : 1) * iw);
      if (wvAcc && !stop) {
        const r = table!.index.get(t);
        if (r !== undefined) {
          const D = table!.D, base = r * D;
          let nrm = 1;
          if (opt.wvNorm) { let q = 0; for (let d = 0; d < D; d++) q += table!.vecs[base + d]! ** 2; nrm = Math.sqrt(q) || 1; }
          const sw = (opt.wvA !== undefined ? opt.wvA / (opt.wvA + 1 / ((r + 1) * H)) : opt.idf === 'none' ? weightOf(t) : iw) / nrm;
          for (let d = 0; d < D; d++) wvAcc[d] = wvAcc[d]! + sw * table!.vecs[base + d]!;
        }
      }
    }
    const hv = new Float32Array(hDim);
    for (const [s, c] of tf) {
      const w = opt.sublinear ? (c >= 1 ? 1 + Math.log(c) : c) : c;
      if (opt.unigram > 0) addFeature(hv, 0, hDim, s, 1, opt.unigram * w);
      if (opt.char > 0) {
        const word = `<${s}>`;
        const grams: string[] = [];
        for (let n = opt.charMin; n <= opt.charMax; n++) for (let i = 0; i + n <= word.length; i++) grams.push(word.slice(i, i + n));
        const gw = (opt.char * w) / Math.sqrt(Math.max(1, grams.length));
        for (const g of grams) addFeature(hv, 0, hDim, g, 3, gw);
      }
    }
    for (const [k, c] of clus) addFeature(hv, 0, hDim, k, 7, opt.sublinear ? Math.log1p(c) : c);
    if (opt.bigram > 0) for (let i = 0; i + 1 < content.length; i++) addFeature(hv, 0, hDim, content[i] + ' ' + content[i + 1], 2, opt.bigram);
    let hn = 0; for (let i = 0; i < hDim; i++) hn += hv[i]! ** 2; hn = Math.sqrt(hn);
    l2normalize(hv);
    const hs = Math.sqrt(wvDim ? 1 - opt.wv : 1);
    for (let i = 0; i < hDim; i++) v[wvDim + i] = hs * hv[i]!;
    if (wvAcc) {
      if (opt.wvPivot) { let q = 0; for (let d = 0; d < wvAcc.length; d++) q += wvAcc[d]! ** 2; const n = Math.sqrt(q); const f = n / Math.sqrt(q + opt.wvPivot ** 2); l2normalize(wvAcc); for (let d = 0; d < wvAcc.length; d++) wvAcc[d] = wvAcc[d]! * f; }
      else l2normalize(wvAcc);
      const ws = Math.sqrt(opt.wv);
      for (let d = 0; d < wvDim; d++) v[d] = ws * wvAcc[d]!;
    }
    l2normalize(v);
    if (opt.pivot) {
      for (let i = 0; i < dim; i++) v[i] = v[i]! * hn;
      const nf = opt.pivotFeats ?? 8; for (let k = 0; k < nf; k++) addFeature(v, 0, dim, text, 100 + k, opt.pivot / Math.sqrt(nf));
      l2normalize(v);
    }
    return v;
  };
  return {
    model: 'builtin-exp',
    dim,
    embed: async (texts) => texts.map(embedOne),
  };
}

export function createBuiltinEmbedder(dim: number): EmbeddingProvider {
  return createBuiltinEmbedderWith(dim, defaultOptions);
}
