// Retrieval relevance: a weighted sum (weights normalised to sum 1) of components in [0,1]:
//   similarity  the search similarity (vector cosine, normalised BM25, or their hybrid fusion)
//   quickrecal  the effective (decayed) QuickRecal score
//   recency     2^(−age/halfLife) of the event time (or creation time)
//   assembly    the best cosine between the query and the composite of an assembly the memory belongs to
//   emotion     resonance with the user's emotion: ½·[same dominant label] + ½·(1 − |valence − user valence|/2),
//               0 when no user emotion is given (so it does not reorder results)
import type { EmotionResult } from './emotion.ts';

export interface RelevanceWeights {
  similarity: number;
  quickrecal: number;
  recency: number;
  assembly: number;
  emotion: number;
}

export interface UserEmotion {
  dominant?: string;
  valence?: number;
}

export interface RelevanceComponents {
  similarity: number;
  quickrecal: number;
  recency: number;
  assembly: number;
  emotion: number;
}

export function emotionalResonance(memory: EmotionResult, user: UserEmotion | undefined): number {
  if (!user) return 0;
  const label = user.dominant !== undefined && user.dominant === memory.dominant ? 1 : 0;
  const valence = user.valence === undefined ? label : 1 - Math.abs(memory.valence - user.valence) / 2;
  return 0.5 * label + 0.5 * valence;
}

export function relevance(c: RelevanceComponents, w: RelevanceWeights): number {
  return (
    w.similarity * c.similarity +
    w.quickrecal * c.quickrecal +
    w.recency * c.recency +
    w.assembly * c.assembly +
    w.emotion * c.emotion
  );
}
