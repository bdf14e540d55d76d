// QuickRecal: how worth recalling a memory is, in [0,1]. Deterministic, no random factors.
//
// At ingest:  score = clamp(Σ wᵢ·fᵢ − overlapPenalty, 0, 1), the weights normalised to sum 1, with factors in [0,1]:
//   recency      2^(−age/halfLife), age from the client's event time (a memory stored now has 1)
//   importance   metadata.importance (a number in [0,1]) when given, else detected: 0.3 + 0.15 per cue
//                ("important", "remember", "never forget", "deadline", "urgent", "allergic", …), at most 1
//   emotion      the emotional intensity from the emotion analyser
//   novelty      1 − max(0, cosine to the nearest earlier memory); 1 when there is none
//   personal     personal-information cues (first person + name/home/family/health/preferences, e-mail, phone, dates)
//   information  1 − e^(−d/12) for d distinct content words, plus 0.1 when numbers occur, at most 1
//   overlap      a penalty when the nearest earlier memory is a near-duplicate: P·(s − 0.9)/0.1 for cosine s > 0.9
// Boosts (surprise from the neural memory, or any client) add a delta, clamp to [0,1] and leave an audit event.
// At read time the stored score decays: effective = stored · (floor + (1 − floor)·2^(−age/halfLife)), where age
// counts from the last update, boost or access. Monotone: more importance, intensity, novelty or information
// never lowers the ingest score, and the effective score never exceeds the stored one.

export interface QuickRecalWeights {
  recency: number;
  importance: number;
  emotion: number;
  novelty: number;
  personal: number;
  information: number;
}

export interface QuickRecalConfig {
  weights: QuickRecalWeights;
  overlapPenalty: number;
  halfLifeDays: number;
  decayFloor: number;
}

export interface QuickRecalInput {
  content: string;
  importance?: number | null;
  emotionIntensity: number;
  /** Cosine similarity to the nearest earlier memory, if any. */
  nearestSimilarity?: number;
  /** Milliseconds since the event the memory is about (0 for now). */
  ageMs: number;
}

export interface QuickRecalResult {
  score: number;
  factors: Record<keyof QuickRecalWeights | 'overlap_penalty', number>;
}

const dayMs = 86_400_000;
const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

const importanceCues =
  /\b(important|importantly|remember|never forget|don'?t forget|do not forget|must|deadline|urgent|asap|critical|allerg(?:y|ic)|password|appointment|birthday|anniversary|promise[sd]?|always|key point|note to self)\b/gi;
const personalCues =
  /\b(my name|i am|i'm|i was|i have|i've|i live|i work|i like|i love|i hate|i prefer|my (?:wife|husband|partner|son|daughter|kids?|children|mom|mother|dad|father|sister|brother|family|friend|dog|cat|home|address|birthday|job|boss|doctor|phone|email)|years old|born (?:in|on))\b/gi;
const email = /[\w.+-]+@[\w-]+\.[\w.-]+/;
const phone = /(?:\+?\d[\s-]?){7,14}\d/;
const number = /\d/;
const wordPattern = /[\p{L}\p{N}']+/gu;
const stop = new Set(
  'a an and are as at be but by for from has have he her his i in is it its me my of on or our she so that the their them they this to was we were what when where which who will with you your'.split(
    ' ',
  ),
);

export function normaliseWeights<T extends Record<string, number>>(weights: T): T {
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  if (total <= 0) throw new Error('weights must not all be zero');
  return Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, v / total])) as T;
}

export function detectImportance(content: string): number {
  const cues = content.match(importanceCues)?.length ?? 0;
  const exclaim = content.includes('!') ? 0.05 : 0;
  return clamp01(0.3 + 0.15 * cues + exclaim);
}

export function personalScore(content: string): number {
  const cues = content.match(personalCues)?.length ?? 0;
  const pii = (email.test(content) ? 1 : 0) + (phone.test(content) ? 1 : 0);
  return clamp01(0.35 * cues + 0.5 * pii);
}

export function informationScore(content: string): number {
  const words = new Set<string>();
  for (const m of content.toLowerCase().matchAll(wordPattern)) if (!stop.has(m[0])) words.add(m[0]);
  return clamp01(1 - Math.exp(-words.size / 12) + (number.test(content) ? 0.1 : 0));
}

export function recencyFactor(ageMs: number, halfLifeDays: number): number {
  return clamp01(Math.pow(2, -Math.max(0, ageMs) / (halfLifeDays * dayMs)));
}

export function quickRecal(input: QuickRecalInput, config: QuickRecalConfig): QuickRecalResult {
  const w = config.weights;
  const nearest = input.nearestSimilarity;
  const factors = {
    recency: recencyFactor(input.ageMs, config.halfLifeDays),
    importance: clamp01(input.importance ?? detectImportance(input.content)),
    emotion: clamp01(input.emotionIntensity),
    novelty: nearest === undefined ? 1 : clamp01(1 - Math.max(0, nearest)),
    personal: personalScore(input.content),
    information: informationScore(input.content),
    overlap_penalty:
      nearest !== undefined && nearest > 0.9 ? (config.overlapPenalty * (nearest - 0.9)) / 0.1 : 0,
  };
  const raw =
    w.recency * factors.recency +
    w.importance * factors.importance +
    w.emotion * factors.emotion +
    w.novelty * factors.novelty +
    w.personal * factors.personal +
    w.information * factors.information -
    factors.overlap_penalty;
  return { score: round(clamp01(raw)), factors };
}

/** The stored score decayed to `now`; `since` is the last update, boost or access. */
export function effectiveQuickRecal(
  stored: number,
  since: number,
  now: number,
  config: QuickRecalConfig,
): number {
  const decay = recencyFactor(now - since, config.halfLifeDays);
  return round(clamp01(stored * (config.decayFloor + (1 - config.decayFloor) * decay)));
}

export const round = (x: number) => Math.round(x * 1e6) / 1e6;
