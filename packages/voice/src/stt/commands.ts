// The assistant's spoken commands for offline command recognition (pocketsphinx grammar), and the phrase
// normalisation every command list goes through. Extend with `[...DEFAULT_COMMANDS, 'my phrase']`.

/**
 * Default command phrases: lower-case words from the CMU dictionary, no digits (say "five", not "5").
 * "what do you remember about" is a prefix; the topic after it needs a free-form recogniser.
 */
export const DEFAULT_COMMANDS: readonly string[] = Object.freeze([
  'what time is it',
  'what is the date today',
  'set a timer for one minute',
  'set a timer for five minutes',
  'set a timer for ten minutes',
  'cancel the timer',
  'stop',
  'pause',
  'resume',
  'what do you remember about',
  'remember this',
  'forget that',
  'volume up',
  'volume down',
  'what is the weather like',
  'repeat that',
  'help',
  'yes',
  'no',
  'never mind',
  'thank you',
  'go to sleep',
]);

/**
 * Lower-cases, turns punctuation other than in-word apostrophes and hyphens into spaces and collapses
 * whitespace: `"What time is it?"` → `"what time is it"`.
 */
export function normalizePhrase(phrase: string): string {
  return phrase
    .toLowerCase()
    .replace(/[’‘]/g, "'")
    .replace(/[^\p{L}\p{N}'\s-]+/gu, ' ')
    .replace(/(^|\s)['-]+|['-]+(?=\s|$)/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Normalised, de-duplicated, non-empty phrases in their original order. */
export function normalizeCommands(commands: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const c of commands) {
    const n = normalizePhrase(c);
    if (n) seen.add(n);
  }
  return [...seen];
}
