/**
 * Hybrid fusion of vector and lexical (BM25) search results.
 *
 * Method: a convex combination of
 *   - the vector side: the cosine similarity clamped to [0, 1] (absolute, not
 *     rescaled per query, so a weak semantic match stays weak), and
 *   - the lexical side: the negated BM25 score divided by the largest one among
 *     the candidates (max-normalisation to [0, 1]; the best keyword match gets
 *     1, a candidate that did not match gets 0):
 *
 *   similarity = w_v · clamp(cos, 0, 1) + w_l · bm25 / max(bm25)
 *
 * with w_v + w_l = 1 (the given weights are rescaled to sum to 1), so the
 * similarity is in [0, 1].
 *
 * Chosen by measurement on LoCoMo (3 dev conversations, 383 questions,
 * evidence recall@10) with the builtin embedder: this method gives 0.667 at
 * w_v = 0.65 (0.659 at 0.5, ≥ 0.66 from 0.6 to 0.75), against 0.624 for BM25
 * alone and 0.505 for the vector alone. Min-max normalisation of both sides,
 * z-scores and saturating BM25 maps did no better; reciprocal rank fusion
 * (k = 10 or 60) was clearly worse (0.56–0.65: it discards how much better the
 * best keyword match is than the rest). The default weights suit the builtin
 * embedder; the hash-only builtin model prefers w_v ≈ 0.4–0.5.
 *
 * Candidates are expected to be the union of the vector side's and the lexical
 * side's top max(50, 5·top_k), with the cosine filled in for every candidate;
 * a missing lexical score counts as 0 (no match), a missing cosine as 0.
 */

export interface FusionCandidate {
  key: number;
  /** Cosine similarity in [-1, 1]. */
  vector?: number;
  /** Negated bm25(): higher is better, > 0 for a match. */
  lexical?: number;
}

export interface FusedScore {
  key: number;
  /** vectorComponent + lexicalComponent, in [0, 1]. */
  similarity: number;
  /** w_v · clamp(cosine, 0, 1). */
  vectorComponent: number;
  /** w_l · bm25 / max bm25. */
  lexicalComponent: number;
}

export interface FusionWeights {
  vector: number;
  lexical: number;
}

/** Default weights, measured with the builtin embedder on LoCoMo (see the module comment). */
export const defaultFusionWeights: Readonly<FusionWeights> = Object.freeze({ vector: 0.65, lexical: 0.35 });

/**
 * Fuses candidates into scores sorted best first (ties: smaller key first).
 * Duplicate keys are merged (the larger value of each side wins). Weights must
 * be finite and ≥ 0; if both are 0 the sides count equally.
 */
export function fuse(
  candidates: FusionCandidate[],
  weights: FusionWeights = defaultFusionWeights,
): FusedScore[] {
  const { vector: wvRaw, lexical: wlRaw } = weights;
  if (!Number.isFinite(wvRaw) || !Number.isFinite(wlRaw) || wvRaw < 0 || wlRaw < 0) {
    throw new RangeError(`fusion weights must be finite and non-negative, got ${wvRaw} / ${wlRaw}`);
  }
  const total = wvRaw + wlRaw;
  const wv = total > 0 ? wvRaw / total : 0.5;
  const wl = total > 0 ? wlRaw / total : 0.5;

  const merged = new Map<number, { vector: number; lexical: number }>();
  for (const c of candidates) {
    const vector = finiteOr0(c.vector);
    const lexical = Math.max(0, finiteOr0(c.lexical));
    const m = merged.get(c.key);
    if (m) {
      m.vector = Math.max(m.vector, vector);
      m.lexical = Math.max(m.lexical, lexical);
    } else {
      merged.set(c.key, { vector, lexical });
    }
  }

  let maxLexical = 0;
  for (const m of merged.values()) if (m.lexical > maxLexical) maxLexical = m.lexical;

  const out: FusedScore[] = [];
  for (const [key, m] of merged) {
    const vectorComponent = wv * Math.min(1, Math.max(0, m.vector));
    const lexicalComponent = maxLexical > 0 ? wl * (m.lexical / maxLexical) : 0;
    out.push({
      key,
      similarity: Math.min(1, vectorComponent + lexicalComponent),
      vectorComponent,
      lexicalComponent,
    });
  }
  out.sort((a, b) => b.similarity - a.similarity || a.key - b.key);
  return out;
}

function finiteOr0(x: number | undefined): number {
  return x !== undefined && Number.isFinite(x) ? x : 0;
}
