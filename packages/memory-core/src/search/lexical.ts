/**
 * Lexical (full-text) side of memory search: turns free text into an SQLite
 * FTS5 MATCH expression for the `memories_fts` table
 * (`tokenize='porter unicode61 remove_diacritics 2'`, ranked with `bm25()`).
 *
 * The text is split the way FTS5's unicode61 tokenizer splits it (runs of
 * Unicode letters, numbers and private-use characters; everything else,
 * apostrophes included, separates tokens), lower-cased, stripped of English
 * stopwords and conversational filler, de-duplicated, and every remaining term
 * is double-quoted (so FTS5 operators such as AND, OR, NOT, NEAR, `*`, `^`,
 * `:`, `(`, `)` in user text are plain terms, never syntax) and OR-joined.
 * FTS5 itself applies the porter stemmer and diacritic folding to the quoted
 * terms, exactly as it did to the stored content.
 */

/**
 * English stopwords plus contraction fragments (unicode61 splits "don't" into
 * "don" + "t") and question/filler words that carry no topical signal in
 * conversational memories. Lower-case, no diacritics.
 */
export const STOPWORDS: ReadonlySet<string> = new Set(
  (
    'a about above after again against all am an and any are aren as at be because been before being below ' +
    'between both but by can cannot could couldn d did didn do does doesn doing don down during each few for ' +
    'from further had hadn has hasn have haven having he her here hers herself him himself his how i if in into ' +
    'is isn it its itself just ll let m me mightn more most mustn my myself needn no nor not now o of off on once ' +
    'only or other ought our ours ourselves out over own re s same shan she should shouldn so some such t than ' +
    'that the their theirs them themselves then there these they this those through to too under until up ve ' +
    'very was wasn we were weren what when where which while who whom why will with won would wouldn y you ' +
    'your yours yourself yourselves ' +
    // filler words
    'also anything else ever get got however like might much must oh okay ok really shall something ' +
    'thing things us well whatever whenever wherever whether whichever whoever whose yeah yes ' +
    // words of questions about memories ("what kind of…", "would X likely…", "how often…")
    'kind kinds type types sort likely considered describe happened happen many often recently'
  ).split(' '),
);

/** Upper bound on the number of OR-ed terms, so a huge text cannot build a huge query. */
const MAX_TERMS = 64;

// Characters that unicode61 treats as part of a token: letters, numbers, private use (Co).
// Combining marks (M) are removed by remove_diacritics; we fold them away with NFKD first.
const TOKEN_RE = /[\p{L}\p{N}\p{Co}]+/gu;
const MARKS_RE = /\p{M}+/gu;

/** Splits text like FTS5 unicode61 with remove_diacritics: lower-cased, diacritics folded. */
export function ftsTokens(text: string): string[] {
  const folded = text.normalize('NFKD').replace(MARKS_RE, '').toLowerCase();
  return folded.match(TOKEN_RE) ?? [];
}

/**
 * Builds an FTS5 MATCH expression from free text: the quoted, OR-joined
 * content terms of `text`, or `null` when no term is left (empty text,
 * punctuation only, stopwords only).
 */
export function ftsQuery(text: string): string | null {
  const seen = new Set<string>();
  const terms: string[] = [];
  for (const tok of ftsTokens(text)) {
    if (STOPWORDS.has(tok) || seen.has(tok)) continue;
    seen.add(tok);
    // Tokens hold only letters/numbers, so they never contain a double quote;
    // escape anyway so the function stays safe if the token rule changes.
    terms.push(`"${tok.replaceAll('"', '""')}"`);
    if (terms.length >= MAX_TERMS) break;
  }
  return terms.length > 0 ? terms.join(' OR ') : null;
}
