// EXPERIMENTAL draft, replaced after measurement
export interface FusionCandidate { key: number; vector?: number; lexical?: number }
export interface FusedScore { key: number; similarity: number; vectorComponent: number; lexicalComponent: number }
export interface FusionWeights { vector: number; lexical: number }
export const defaultFusionWeights: FusionWeights = { vector: 0.5, lexical: 0.5 };

export type Method = 'max' | 'minmax' | 'rrf' | 'zscore';
export const fusionConfig: { method: Method; rrfK: number; cosMap: 'half' | 'clamp' | 'minmax' } = { method: 'max', rrfK: 60, cosMap: 'clamp' };

export function fuse(candidates: FusionCandidate[], weights: FusionWeights = defaultFusionWeights): FusedScore[] {
  const n = candidates.length;
  const wsum = weights.vector + weights.lexical || 1;
  const wv = weights.vector / wsum, wl = weights.lexical / wsum;
  const vs = candidates.map((c) => c.vector ?? 0);
  const ls = candidates.map((c) => Math.max(0, c.lexical ?? 0));
  let vc: number[], lc: number[];
  const m = fusionConfig.method;
  if (m === 'rrf') {
    const rank = (arr: number[], present: boolean[]) => {
      const idx = arr.map((_, i) => i).filter((i) => present[i]).sort((a, b) => arr[b]! - arr[a]!);
      const r = new Array<number>(n).fill(0);
      idx.forEach((i, k) => (r[i] = 1 / (fusionConfig.rrfK + k + 1)));
      return r;
    };
    vc = rank(vs, candidates.map((c) => c.vector !== undefined));
    lc = rank(ls, candidates.map((c) => (c.lexical ?? 0) > 0));
  } else if (m === 'zscore') {
    const z = (a: number[]) => { const mu = a.reduce((x, y) => x + y, 0) / n; const sd = Math.sqrt(a.reduce((x, y) => x + (y - mu) ** 2, 0) / n) || 1; return a.map((x) => (x - mu) / sd); };
    vc = z(vs); lc = z(ls);
  } else {
    const lmax = Math.max(0, ...ls);
    lc = ls.map((x) => (lmax > 0 ? x / lmax : 0));
    if (m === 'minmax') {
      const vmin = Math.min(...vs), vmax = Math.max(...vs);
      vc = vs.map((x) => (vmax > vmin ? (x - vmin) / (vmax - vmin) : 0));
      const lmin = Math.min(...ls);
      lc = ls.map((x) => (lmax > lmin ? (x - lmin) / (lmax - lmin) : 0));
    } else if (fusionConfig.cosMap === 'half') vc = vs.map((x) => (x + 1) / 2);
    else if (fusionConfig.cosMap === 'minmax') { const vmax = Math.max(...vs); vc = vs.map((x) => vmax > 0 ? Math.max(0, x) / vmax : 0); }
    else vc = vs.map((x) => Math.max(0, x));
  }
  const out = candidates.map((c, i) => ({ key: c.key, vectorComponent: wv * vc[i]!, lexicalComponent: wl * lc[i]!, similarity: wv * vc[i]! + wl * lc[i]! }));
  out.sort((a, b) => b.similarity - a.similarity || a.key - b.key);
  return out;
}
