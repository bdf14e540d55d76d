// Extractive session summaries with citations: the most informative sentences of a session's turns (TF-IDF
// centrality), within a character budget, in conversation order, each citing the memory-core memories that hold the
// same content and the turns it came from.
import { contentWords, normalise, splitSentences } from './language.ts';

export interface SummaryTurn {
  /** The interaction id ("<session_id>:<seq>"). */
  id: string;
  role: string;
  content: string;
}

export interface SummaryMemory {
  id: string;
  content: string;
}

export interface CitedSentence {
  text: string;
  memory_ids: string[];
  interaction_ids: string[];
  score: number;
}

export interface SessionSummaryResult {
  summary: string;
  sentences: CitedSentence[];
  cited_memory_ids: string[];
}

/** Minimum content-word overlap (Jaccard) for a memory sentence to count as "the same content" as a summary sentence. */
export const CITATION_OVERLAP = 0.5;
/** Near-duplicates (Jaccard ≥ this) of an already picked sentence are skipped. */
const DUPLICATE_OVERLAP = 0.8;
/** Score bonus of a sentence that a memory also holds: the system judged it worth remembering. */
const REMEMBERED_BONUS = 0.15;

interface Candidate {
  text: string;
  order: number;
  words: string[];
  set: Set<string>;
  sources: string[];
  memoryIds: string[];
  score: number;
}

const jaccard = (a: Set<string>, b: Set<string>) => {
  let shared = 0;
  for (const w of a) if (b.has(w)) shared++;
  const union = a.size + b.size - shared;
  return union === 0 ? 0 : shared / union;
};

/**
 * Summarises a session. Candidates are the sentences of the user and assistant turns (or, when the session has no
 * turns, of its memories). Score = cosine of the sentence's TF-IDF vector with the centroid of the other sentences
 * (how central it is to the conversation), plus a bonus when a memory holds the same content. The best sentences
 * that fit `maxChars` (joined by single spaces) are kept, near-duplicates skipped, and shown in original order.
 */
export function summarise(
  input: { turns: SummaryTurn[]; memories: SummaryMemory[] },
  maxChars: number,
): SessionSummaryResult {
  const memorySentences = input.memories.flatMap((m) =>
    splitSentences(m.content).map((text) => ({
      id: m.id,
      set: new Set(contentWords(text)),
      norm: normalise(text),
    })),
  );
  const byText = new Map<string, Candidate>();
  const candidates: Candidate[] = [];
  const add = (text: string, source: string | undefined, memoryId: string | undefined) => {
    const norm = normalise(text);
    const prior = byText.get(norm);
    if (prior) {
      if (source && !prior.sources.includes(source)) prior.sources.push(source);
      if (memoryId && !prior.memoryIds.includes(memoryId)) prior.memoryIds.push(memoryId);
      return;
    }
    const words = contentWords(text);
    const c: Candidate = {
      text,
      order: candidates.length,
      words,
      set: new Set(words),
      sources: source ? [source] : [],
      memoryIds: memoryId ? [memoryId] : [],
      score: 0,
    };
    byText.set(norm, c);
    candidates.push(c);
  };
  const turns = input.turns.filter((t) => t.role === 'user' || t.role === 'assistant');
  if (turns.length > 0) {
    for (const t of turns) for (const s of splitSentences(t.content)) add(s, t.id, undefined);
  } else {
    for (const m of input.memories) for (const s of splitSentences(m.content)) add(s, undefined, m.id);
  }

  // Citations: every memory with a sentence of (nearly) the same content.
  for (const c of candidates) {
    const norm = normalise(c.text);
    for (const ms of memorySentences) {
      if (c.memoryIds.includes(ms.id)) continue;
      if (ms.norm === norm || (c.set.size > 0 && jaccard(c.set, ms.set) >= CITATION_OVERLAP))
        c.memoryIds.push(ms.id);
    }
  }

  // TF-IDF vectors over the candidates; the centroid of all of them.
  const df = new Map<string, number>();
  for (const c of candidates) for (const w of c.set) df.set(w, (df.get(w) ?? 0) + 1);
  const n = candidates.length;
  const vectors = candidates.map((c) => {
    const v = new Map<string, number>();
    for (const w of c.words) v.set(w, (v.get(w) ?? 0) + 1);
    for (const [w, tf] of v) v.set(w, tf * Math.log(1 + n / (df.get(w) ?? 1)));
    return v;
  });
  const centroid = new Map<string, number>();
  for (const v of vectors) for (const [w, x] of v) centroid.set(w, (centroid.get(w) ?? 0) + x);
  candidates.forEach((c, i) => {
    const v = vectors[i]!;
    if (c.set.size < 2) return;
    let dot = 0;
    let nv = 0;
    let nc = 0;
    for (const [w, x] of v) {
      const others = (centroid.get(w) ?? 0) - x;
      dot += x * others;
      nv += x * x;
    }
    for (const [w, x] of centroid) {
      const others = x - (v.get(w) ?? 0);
      nc += others * others;
    }
    const cosine = nv > 0 && nc > 0 ? dot / Math.sqrt(nv * nc) : 0;
    // A lone sentence has no others to be central to: its information (its length in content words) decides.
    const base = n === 1 ? 1 : cosine + 0.02 * Math.min(c.set.size, 10);
    c.score = Math.round((base + (c.memoryIds.length > 0 ? REMEMBERED_BONUS : 0)) * 1e6) / 1e6;
  });

  const ranked = candidates.filter((c) => c.score > 0).sort((a, b) => b.score - a.score || a.order - b.order);
  const picked: Candidate[] = [];
  let used = 0;
  for (const c of ranked) {
    const cost = c.text.length + (picked.length > 0 ? 1 : 0);
    if (used + cost > maxChars) continue;
    if (picked.some((p) => jaccard(p.set, c.set) >= DUPLICATE_OVERLAP)) continue;
    picked.push(c);
    used += cost;
  }
  picked.sort((a, b) => a.order - b.order);
  const cited = new Set<string>();
  for (const p of picked) for (const id of p.memoryIds) cited.add(id);
  return {
    summary: picked.map((p) => p.text).join(' '),
    sentences: picked.map((p) => ({
      text: p.text,
      memory_ids: [...p.memoryIds].sort(),
      interaction_ids: p.sources,
      score: p.score,
    })),
    cited_memory_ids: [...cited].sort(),
  };
}
