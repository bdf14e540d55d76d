// Word error rate by edit distance (substitutions + deletions + insertions over reference words), for tests
// and benchmarks of the recognisers.
import { normalizePhrase } from './commands.ts';

export interface WordErrors {
  substitutions: number;
  deletions: number;
  insertions: number;
  /** Words in the reference. */
  referenceWords: number;
}

const words = (s: string) => {
  const n = normalizePhrase(s);
  return n ? n.split(' ') : [];
};

/** Minimum-edit alignment of hypothesis to reference words (after normalizePhrase). */
export function wordErrors(reference: string, hypothesis: string): WordErrors {
  const r = words(reference);
  const h = words(hypothesis);
  // d[i][j] = [cost, subs, dels, ins] for r[0..i) vs h[0..j)
  type Cell = [number, number, number, number];
  let prev: Cell[] = Array.from({ length: h.length + 1 }, (_, j): Cell => [j, 0, 0, j]);
  for (let i = 1; i <= r.length; i++) {
    const cur: Cell[] = [[i, 0, i, 0]];
    for (let j = 1; j <= h.length; j++) {
      const same = r[i - 1] === h[j - 1];
      const diag = prev[j - 1]!;
      const up = prev[j]!; // deletion of r[i-1]
      const left = cur[j - 1]!; // insertion of h[j-1]
      let best: Cell = same
        ? [diag[0], diag[1], diag[2], diag[3]]
        : [diag[0] + 1, diag[1] + 1, diag[2], diag[3]];
      if (up[0] + 1 < best[0]) best = [up[0] + 1, up[1], up[2] + 1, up[3]];
      if (left[0] + 1 < best[0]) best = [left[0] + 1, left[1], left[2], left[3] + 1];
      cur.push(best);
    }
    prev = cur;
  }
  const [, substitutions, deletions, insertions] = prev[h.length]!;
  return { substitutions, deletions, insertions, referenceWords: r.length };
}

/** Corpus WER: total errors / total reference words (NaN for no reference words). */
export function wordErrorRate(pairs: readonly { reference: string; hypothesis: string }[]): number {
  let errors = 0;
  let n = 0;
  for (const p of pairs) {
    const e = wordErrors(p.reference, p.hypothesis);
    errors += e.substitutions + e.deletions + e.insertions;
    n += e.referenceWords;
  }
  return n === 0 ? NaN : errors / n;
}
