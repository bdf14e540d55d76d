// Pure decision functions of the cascade: the surprise → QuickRecal boost mapping and the variant policy.
import type { Variant } from './config.ts';

export interface BoostParams {
  threshold: number;
  gain: number;
  max: number;
}

/**
 * The QuickRecal boost for a normalised surprise s ∈ [0, 1]:
 *   delta = min(max, gain · max(0, s − threshold)), rounded to 6 decimals (the memory core's precision).
 * With the defaults (threshold 0.5, gain 0.4, max 0.2) a surprise of 1 gives +0.2, 0.75 gives +0.1, ≤ 0.5 gives 0.
 * Non-finite surprises give 0. The delta is never negative: surprise only ever raises QuickRecal.
 */
export function surpriseBoost(surprise: number, p: BoostParams): number {
  if (!Number.isFinite(surprise)) return 0;
  const raw = Math.min(p.max, p.gain * Math.max(0, surprise - p.threshold));
  return Math.max(0, Math.round(raw * 1e6) / 1e6);
}

/** The reason recorded in the memory's audit trail, e.g. `surprise:0.83 (loss 1.23, variant MAG)`. */
export function boostReason(surprise: number, loss: number, variant: string): string {
  return `surprise:${surprise.toFixed(2)} (loss ${loss.toFixed(2)}, variant ${variant})`;
}

export interface Trend {
  /** Surprises considered (oldest first). */
  n: number;
  /** Mean of the last 3 surprises. */
  recent: number;
  /** Mean of the earlier ones (NaN with fewer than 4 samples). */
  earlier: number;
  /** recent − earlier (0 with fewer than 4 samples). */
  slope: number;
  direction: 'rising' | 'falling' | 'flat' | 'unknown';
}

export const TREND_DELTA = 0.15;
export const SETTLED_SURPRISE = 0.35;

/** The trend of a namespace's recent surprises (oldest first): the mean of the last 3 against the earlier ones. */
export function surpriseTrend(surprises: readonly number[]): Trend {
  const xs = surprises.filter((x) => Number.isFinite(x));
  const mean = (a: readonly number[]) => (a.length === 0 ? NaN : a.reduce((s, x) => s + x, 0) / a.length);
  const recent = mean(xs.slice(-3));
  if (xs.length < 4) return { n: xs.length, recent, earlier: NaN, slope: 0, direction: 'unknown' };
  const earlier = mean(xs.slice(0, -3));
  const slope = recent - earlier;
  const direction = slope > TREND_DELTA ? 'rising' : slope < -TREND_DELTA ? 'falling' : 'flat';
  return { n: xs.length, recent, earlier, slope, direction };
}

/** metadata.task_type (lower-cased) → variant. */
export const TASK_TYPES: Record<string, Variant> = {
  recall: 'MAC',
  question: 'MAC',
  qa: 'MAC',
  retrieval: 'MAC',
  lookup: 'MAC',
  conversation: 'MAG',
  chat: 'MAG',
  dialogue: 'MAG',
  sequence: 'MAL',
  planning: 'MAL',
  procedure: 'MAL',
  prediction: 'MAL',
  timeline: 'MAL',
  note: 'NONE',
  log: 'NONE',
  fact: 'NONE',
};

/** Keywords (whole words or phrases, case-insensitive) that vote for a variant. */
export const KEYWORDS: Record<Exclude<Variant, 'NONE'>, readonly string[]> = {
  MAC: ['remember', 'recall', 'remind', 'earlier', 'previously', 'last time', 'what did', 'forgot'],
  MAG: ['surprising', 'surprised', 'unexpected', 'suddenly', 'urgent', 'important', 'changed', 'instead'],
  MAL: ['next', 'step', 'steps', 'sequence', 'afterwards', 'schedule', 'plan', 'routine'],
};

const keywordRegex = Object.fromEntries(
  Object.entries(KEYWORDS).map(([v, words]) => [
    v,
    words.map(
      (w) => new RegExp(`\\b${w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s+')}\\b`, 'i'),
    ),
  ]),
) as Record<Exclude<Variant, 'NONE'>, RegExp[]>;

export interface PolicyInput {
  content: string;
  taskType?: unknown;
  /** The namespace's recent surprises, oldest first. */
  surprises: readonly number[];
  /** The namespace's variant now (undefined for a new namespace). */
  current?: Variant;
  defaultVariant: Variant;
}

export interface VariantChoice {
  variant: Variant;
  reason: string;
  rule: 'task_type' | 'keywords' | 'trend' | 'keep' | 'default';
}

/**
 * The deterministic variant policy; the first rule that applies decides:
 *  1. task_type: metadata.task_type found in TASK_TYPES (recall/question → MAC, conversation/chat → MAG,
 *     sequence/planning → MAL, note/log/fact → NONE).
 *  2. keywords: the variant with the most KEYWORDS hits in the content (at least one; ties: MAC, MAG, MAL).
 *  3. trend (≥ 4 recent surprises): rising (last-3 mean exceeds the earlier mean by > 0.15: new material) → MAG;
 *     falling by > 0.15 with a last-3 mean < 0.35 (the stream became predictable) → MAL.
 *  4. keep the namespace's current variant; 5. else the default variant.
 */
export function selectVariant(input: PolicyInput): VariantChoice {
  if (typeof input.taskType === 'string') {
    const t = input.taskType.trim().toLowerCase();
    const v = TASK_TYPES[t];
    if (v) return { variant: v, reason: `task_type ${t}`, rule: 'task_type' };
  }
  let best: { variant: Variant; hits: string[] } | undefined;
  for (const variant of ['MAC', 'MAG', 'MAL'] as const) {
    const hits = KEYWORDS[variant].filter((_w, i) => keywordRegex[variant][i]!.test(input.content));
    if (hits.length > 0 && (!best || hits.length > best.hits.length)) best = { variant, hits };
  }
  if (best) return { variant: best.variant, reason: `keywords: ${best.hits.join(', ')}`, rule: 'keywords' };
  const trend = surpriseTrend(input.surprises);
  if (trend.direction === 'rising')
    return {
      variant: 'MAG',
      reason: `surprise rising (${trend.earlier.toFixed(2)} → ${trend.recent.toFixed(2)})`,
      rule: 'trend',
    };
  if (trend.direction === 'falling' && trend.recent < SETTLED_SURPRISE)
    return {
      variant: 'MAL',
      reason: `surprise settled (${trend.earlier.toFixed(2)} → ${trend.recent.toFixed(2)})`,
      rule: 'trend',
    };
  if (input.current) return { variant: input.current, reason: 'no rule applies: keep', rule: 'keep' };
  return { variant: input.defaultVariant, reason: 'default variant', rule: 'default' };
}
