// Text helpers with no database: the token estimate of the context budget and the extractive summariser.

/**
 * The token estimate of one message in a context window: ceil(characters / 4) + 4, where characters are Unicode
 * code points (PostgreSQL's length(), computed there for the budget) and 4 covers the role and message framing. A deliberate over-estimate for
 * English with BPE tokenisers (≈ 4 characters per token), cheap and the same everywhere.
 */
export function estimateTokens(content: string): number {
  let codePoints = 0;
  for (const _ of content) codePoints++;
  return Math.ceil(codePoints / 4) + 4;
}

const STOP = new Set(
  (
    'the a an and or but if then than so to of in on at by for with from as is are was were be been being it its ' +
    'this that these those there here i you he she we they me him her us them my your his our their what which who ' +
    'whom when where why how all any both each few more most other some such no nor not only own same too very can ' +
    'will just do does did doing have has had having would should could ok okay yes yeah sure please thanks thank ' +
    'hi hello hey also about into over after before up down out off again further once let lets get got im its dont'
  ).split(' '),
);

export interface SummaryInput {
  seq: number;
  role: string;
  content: string;
}

export interface SummarySentence {
  seq: number;
  role: string;
  text: string;
  score: number;
}

const words = (text: string) =>
  (text.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'-]*/gu) ?? [])
    .map((w) => w.replace(/'s$/, '').replace(/'/g, ''))
    .filter((w) => w.length >= 3 && !STOP.has(w));

/** Sentences of a message: split after . ! ? (followed by space) and at line breaks; whitespace collapsed. */
export function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+|\n+/u)
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => s.length > 0);
}

/**
 * An extractive summary: the most informative user/assistant sentences that fit `maxChars`, in conversation order,
 * joined by spaces. Informative = the sum, over its distinct content words, of how often the word occurs in the
 * whole conversation, divided by √(words in the sentence) (favours sentences about the conversation's recurring
 * topics without favouring sheer length); near-duplicates (≥ 80 % word overlap) of a picked sentence are skipped.
 * Ties go to the earlier sentence. Deterministic: the same interactions always give the same summary.
 */
export function extractiveSummary(
  interactions: SummaryInput[],
  maxChars: number,
): { summary: string; sentences: SummarySentence[] } {
  const candidates: (SummarySentence & { order: number; words: Set<string> })[] = [];
  const frequency = new Map<string, number>();
  for (const interaction of interactions) {
    if (interaction.role !== 'user' && interaction.role !== 'assistant') continue;
    for (const text of sentences(interaction.content)) {
      const w = words(text);
      for (const word of w) frequency.set(word, (frequency.get(word) ?? 0) + 1);
      candidates.push({
        seq: interaction.seq,
        role: interaction.role,
        text,
        score: 0,
        order: candidates.length,
        words: new Set(w),
      });
    }
  }
  for (const c of candidates) {
    if (c.words.size === 0) continue;
    let sum = 0;
    for (const w of c.words) sum += frequency.get(w) ?? 0;
    c.score = Math.round((sum / Math.sqrt(c.words.size)) * 1e6) / 1e6;
  }
  const ranked = candidates.filter((c) => c.score > 0).sort((a, b) => b.score - a.score || a.order - b.order);
  const picked: typeof candidates = [];
  let used = 0;
  for (const c of ranked) {
    const cost = c.text.length + (picked.length > 0 ? 1 : 0);
    if (used + cost > maxChars) continue;
    if (picked.some((p) => overlap(p.words, c.words) >= 0.8)) continue;
    picked.push(c);
    used += cost;
  }
  picked.sort((a, b) => a.order - b.order);
  return {
    summary: picked.map((p) => p.text).join(' '),
    sentences: picked.map(({ seq, role, text, score }) => ({ seq, role, text, score })),
  };
}

function overlap(a: Set<string>, b: Set<string>): number {
  let shared = 0;
  for (const w of a) if (b.has(w)) shared++;
  const union = a.size + b.size - shared;
  return union === 0 ? 1 : shared / union;
}
