// The small English toolkit the reasoning agent stands on: tokens, sentences, light lemmatisation, numbers and dates,
// and `parseClaims`, which turns a sentence into (subject, relation, value) claims. Rule-based and deterministic: no
// model, no download, the same answer every time.
import { MONTHS, SMALL_NUMBER_WORDS } from '@synthians/kit';

/** Sentences of a text: split after . ! ? followed by space, and at line breaks; whitespace collapsed. */
export function splitSentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+|\n+/u)
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => s.length > 0);
}

const CONTRACTIONS: [RegExp, string][] = [
  [/\b(can)'t\b/g, 'can not'],
  [/\bwon't\b/g, 'will not'],
  [/\b(\w+)n't\b/g, '$1 not'],
  [/\bi'm\b/g, 'i am'],
  [/\b(you|we|they)'re\b/g, '$1 are'],
  [/\b(he|she|it|that|what|there)'s\b/g, '$1 is'],
  [/\b(i|you|we|they)'ve\b/g, '$1 have'],
  [/\b(i|you|he|she|we|they)'ll\b/g, '$1 will'],
  [/\b(i|you|he|she|we|they)'d\b/g, '$1 would'],
];

/** Lower case, curly quotes straightened, contractions expanded ("don't" → "do not"), end punctuation dropped. */
export function normalise(text: string): string {
  let t = text.toLowerCase().replace(/[\u2018\u2019]/g, "'");
  for (const [re, to] of CONTRACTIONS) t = t.replace(re, to);
  return t
    .replace(/[.!?;]+$/u, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Word tokens of normalised text (letters, digits, inner apostrophes and hyphens). */
export function tokens(text: string): string[] {
  return normalise(text).match(/[\p{L}\p{N}][\p{L}\p{N}'-]*/gu) ?? [];
}

export const STOPWORDS = new Set(
  (
    'the a an and or but if then than so to of in on at by for with from as is are was were be been being it its ' +
    'this that these those there here i you he she we they me him her us them my your his our their what which who ' +
    'whom when where why how all any both each few more most other some such no nor not only own same too very can ' +
    'will just do does did doing have has had having would should could ok okay yes yeah sure please thanks thank ' +
    'hi hello hey also about into over after before up down out off again further once let lets get got am'
  ).split(' '),
);

/** Light lemmatisation: plural nouns and third-person verbs to their base (cats → cat, lives → live, parties → party). */
export function lemma(word: string): string {
  const w = word.toLowerCase();
  if (w.length <= 3 || /(ss|us|is|ous)$/.test(w)) return w;
  if (w.endsWith('ies') && w.length > 4) return `${w.slice(0, -3)}y`;
  if (/(ches|shes|xes|sses|zes)$/.test(w)) return w.slice(0, -2);
  if (w.endsWith('s')) return w.slice(0, -1);
  return w;
}

/** Content words (no stop words, at least 2 characters), lemmatised. */
export function contentWords(text: string): string[] {
  return tokens(text)
    .filter((w) => w.length >= 2 && !STOPWORDS.has(w))
    .map(lemma);
}

const NUMBER_WORDS: Record<string, number> = {
  ...SMALL_NUMBER_WORDS,
  a: 1,
  an: 1,
  twenty: 20,
};

/** A number from digits or an English number word up to twenty; undefined otherwise. */
export function parseNumber(word: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(word)) return Number(word);
  return NUMBER_WORDS[word];
}

const MONTH_ALIASES: Record<string, number> = Object.fromEntries([
  ...MONTHS.map((m, i) => [m, i] as const),
  ...MONTHS.map((m, i) => [m.slice(0, 3), i] as const),
  ['sept', 8],
]);
export const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

const MONTH_RE =
  '(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)';
const DAY_RE = '(\\d{1,2})(?:st|nd|rd|th)?';
const DATE_PATTERNS: { re: RegExp; read: (m: RegExpMatchArray) => string }[] = [
  { re: /\b(\d{4})-(\d{2})-(\d{2})\b/, read: (m) => `${m[1]}-${m[2]}-${m[3]}` },
  {
    re: new RegExp(`\\b${MONTH_RE}\\s+${DAY_RE}\\b(?:,?\\s+(\\d{4}))?`),
    read: (m) => monthDay(m[1]!, m[2]!, m[3]),
  },
  {
    re: new RegExp(`\\b(?:the\\s+)?${DAY_RE}\\s+(?:of\\s+)?${MONTH_RE}\\b(?:,?\\s+(\\d{4}))?`),
    read: (m) => monthDay(m[2]!, m[1]!, m[3]),
  },
  { re: /\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b/, read: (m) => m[1]! },
];

function monthDay(month: string, day: string, year?: string): string {
  const mm = String((MONTH_ALIASES[month] ?? 0) + 1).padStart(2, '0');
  const dd = String(Number(day)).padStart(2, '0');
  return year ? `${year}-${mm}-${dd}` : `--${mm}-${dd}`;
}

/** The first date in normalised text as a comparable string (2024-05-03, --05-03 without a year, or a weekday). */
export function findDate(text: string): { value: string; index: number; length: number } | undefined {
  let best: { value: string; index: number; length: number } | undefined;
  for (const p of DATE_PATTERNS) {
    const m = text.match(p.re);
    if (m && m.index !== undefined && (best === undefined || m.index < best.index)) {
      best = { value: p.read(m), index: m.index, length: m[0].length };
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------------------
// Claims

/**
 * One statement read from a sentence. `subject` is normalised (lower case, determiners and "my"/"our" dropped,
 * lemmatised; the speaker is "user"); `relation` names the slot; `value` is what fills it, `negated` whether the
 * sentence denies it. `single` relations admit one value at a time (a name, a home, a count, a date).
 */
export interface Claim {
  subject: string;
  relation: string;
  value: string;
  kind: 'text' | 'number' | 'date' | 'polarity';
  negated: boolean;
  single: boolean;
}

const DETERMINERS = new Set(['the', 'a', 'an', 'my', 'our', 'this', 'that', 'these', 'those']);
const SPEAKER = new Set(['i', 'me', 'myself']);
// Pronouns whose referent a single sentence does not give: their claims are left out.
const UNRESOLVED = new Set([
  'it',
  'this',
  'that',
  'there',
  'he',
  'she',
  'they',
  'you',
  'what',
  'which',
  'who',
  'everything',
  'something',
  'nothing',
  'everyone',
  'someone',
  'nobody',
  'here',
]);

/** A subject phrase in canonical form: "My older Sister's" → "older sister"; "I" → "user". */
export function canonicalSubject(phrase: string): string {
  const words = phrase
    .toLowerCase()
    .replace(/'s\b/g, '')
    .split(/\s+/)
    .filter((w) => w !== '');
  while (words.length > 0 && DETERMINERS.has(words[0]!)) words.shift();
  if (words.length === 0) return '';
  if (words.length === 1 && SPEAKER.has(words[0]!)) return 'user';
  if (words.length === 1 && UNRESOLVED.has(words[0]!)) return '';
  return words.map(lemma).join(' ');
}

/** A name: the words before a preposition or conjunction ("ana by her friends" → "ana"). */
export const nameValue = (phrase: string) =>
  canonicalValue(phrase.split(/\s+(?:by|at|in|from|since|because|and|but|who|which|after|for)\b/)[0]!);

/** A value phrase in canonical form: determiners dropped, trailing qualifiers ("now", "these days") removed. */
export function canonicalValue(phrase: string): string {
  const words = phrase
    .toLowerCase()
    .replace(/\b(now|anymore|any more|these days|nowadays|currently|again|too|as well|still)\b/g, ' ')
    .replace(/[,"]/g, ' ')
    .split(/\s+/)
    .filter((w) => w !== '');
  while (words.length > 0 && DETERMINERS.has(words[0]!)) words.shift();
  return words.join(' ');
}

// A subject: a possessive or "the" and up to three words that are not verbs, "i", or a name of up to three words
// ("Ana", "Ana Lopez").
const WORD =
  "(?!(?:is|are|am|was|were|has|have|had|do|does|did|will|not|never|lives?|moved|works?)\\b)[a-z'-]+";
const SUBJ = `((?:my|our|the|his|her|their|your)\\s+(?:${WORD}\\s+){0,2}?${WORD}|i|${WORD}(?:\\s+${WORD}){0,2}?)`;
const NEG = '(?:(not|never)\\s+)?';
const LIKE_VERBS = 'like|love|enjoy|adore|prefer|hate|dislike|detest|loathe';
const NEGATIVE_LIKES = new Set(['hate', 'dislike', 'detest', 'loathe']);

interface Rule {
  re: RegExp;
  make: (m: RegExpMatchArray) => Claim | undefined;
}

const claim = (
  subject: string,
  relation: string,
  value: string,
  kind: Claim['kind'],
  negated: boolean,
  single: boolean,
): Claim | undefined =>
  subject === '' || value === '' ? undefined : { subject, relation, value, kind, negated, single };

// Ordered: the first rule that matches a sentence wins (specific shapes before the generic copula).
const RULES: Rule[] = [
  // "my name is Ana", "i am called Ana", "call me Ana"
  {
    re: /^(?:my name is|i am called|i am named|call me|people call me)\s+(?:not\s+)?([a-z][a-z' -]*)$/,
    make: (m) => claim('user', 'name', nameValue(m[1]!), 'text', false, true),
  },
  // "my sister is called Ana", "my sister's name is Ana", "my dog is named Rex"
  {
    re: new RegExp(
      `^${SUBJ}(?:'s name| name)?\\s+(?:is|was)\\s+${NEG}(?:called|named)?\\s*([a-z][a-z' -]*)$`,
    ),
    make: (m) =>
      /(?:called|named|name)/.test(m[0].slice(0, m[0].length - m[3]!.length))
        ? claim(canonicalSubject(m[1]!), 'name', nameValue(m[3]!), 'text', Boolean(m[2]), true)
        : undefined,
  },
  // "my birthday is on May 3", "the meeting is on May 5", "i was born on 3 May 1990"
  {
    re: new RegExp(
      `^${SUBJ}\\s+(?:has been moved|was moved|will be|moved|is|are|was|were)\\s+${NEG}(?:on|to|for)?\\s*(.+)$`,
    ),
    make: (m) => {
      const date = findDate(m[3]!);
      if (!date || date.index > 4) return undefined;
      return claim(canonicalSubject(m[1]!), 'date', date.value, 'date', Boolean(m[2]), true);
    },
  },
  {
    re: /^i was born (?:on|in)\s+(.+)$/,
    make: (m) => {
      const date = findDate(m[1]!);
      return date ? claim('user', 'born', date.value, 'date', false, true) : undefined;
    },
  },
  // "i live in Paris", "my sister lives in Rome", "she moved to Oslo", "i do not live in Paris"
  {
    re: new RegExp(
      `^${SUBJ}\\s+(?:(?:do|does|did)\\s+)?${NEG}(?:live|lives|lived|is living|am living|moved|has moved|have moved)\\s+(?:in|to)\\s+(.+)$`,
    ),
    make: (m) =>
      claim(canonicalSubject(m[1]!), 'lives_in', canonicalValue(m[3]!), 'text', Boolean(m[2]), true),
  },
  // "i work at Acme", "my wife works for the council"
  {
    re: new RegExp(
      `^${SUBJ}\\s+(?:(?:do|does|did)\\s+)?${NEG}(?:work|works|worked|am working|is working)\\s+(?:at|for)\\s+(.+)$`,
    ),
    make: (m) =>
      claim(canonicalSubject(m[1]!), 'works_at', canonicalValue(m[3]!), 'text', Boolean(m[2]), true),
  },
  // "i work as a nurse"
  {
    re: new RegExp(`^${SUBJ}\\s+(?:work|works|worked)\\s+as\\s+(?:an?\\s+)?(.+)$`),
    make: (m) => claim(canonicalSubject(m[1]!), 'occupation', canonicalValue(m[2]!), 'text', false, true),
  },
  // "i am 34 years old", "my son is 7"
  {
    re: new RegExp(`^${SUBJ}\\s+(?:am|is|are|was|turned)\\s+(\\d{1,3}|[a-z]+)(?:\\s+years?\\s+old)?$`),
    make: (m) => {
      const n = parseNumber(m[2]!);
      const explicit = /years?\s+old$/.test(m[0]);
      if (n === undefined || (!explicit && !/^\d+$/.test(m[2]!))) return undefined;
      return claim(canonicalSubject(m[1]!), 'age', String(n), 'number', false, true);
    },
  },
  // "i have a dog called Rex", "my sister has a cat named Tom"
  {
    re: new RegExp(
      `^${SUBJ}\\s+(?:have|has|had|got)\\s+(?:a|an|one)\\s+([a-z][a-z-]*)\\s+(?:called|named)\\s+([a-z][a-z' -]*)$`,
    ),
    make: (m) => {
      const owner = canonicalSubject(m[1]!);
      const subject = owner === 'user' ? lemma(m[2]!) : `${owner} ${lemma(m[2]!)}`;
      return claim(subject, 'name', nameValue(m[3]!), 'text', false, true);
    },
  },
  // "i have 2 cats", "my sister has three kids", "i do not have a car"
  {
    re: new RegExp(
      `^${SUBJ}\\s+(?:(?:do|does|did)\\s+)?${NEG}(?:have|has|had|own|owns|owned)\\s+(?:got\\s+)?(\\d+|[a-z]+)\\s+([a-z][a-z-]*)(?:\\s+(?:now|at home|in total))?$`,
    ),
    make: (m) => {
      const n = m[2] && m[3] === 'any' ? 0 : parseNumber(m[3]!);
      if (n === undefined) return undefined;
      // "i do not have cats" / "i have no cats": a count of zero, not a negated count.
      const count = m[2] ? 0 : n;
      return claim(canonicalSubject(m[1]!), `count:${lemma(m[4]!)}`, String(count), 'number', false, true);
    },
  },
  // "i like coffee", "i do not like coffee", "i hate coffee", "my son loves dinosaurs"
  {
    re: new RegExp(
      `^${SUBJ}\\s+(?:(?:do|does|did)\\s+)?${NEG}(?:really\\s+)?(${LIKE_VERBS})(?:s|d|ed)?\\s+(.+)$`,
    ),
    make: (m) => {
      const object = canonicalValue(m[4]!);
      if (object === '' || /^(to|it|that|this)$/.test(object)) return undefined;
      const negative = NEGATIVE_LIKES.has(m[3]!) !== Boolean(m[2]);
      return claim(
        canonicalSubject(m[1]!),
        `likes:${object.split(' ').map(lemma).join(' ')}`,
        negative ? 'dislikes' : 'likes',
        'polarity',
        false,
        true,
      );
    },
  },
  // The generic copula: "my favourite colour is blue", "Ana is a doctor", "the car is not red"
  {
    re: new RegExp(`^${SUBJ}\\s+(?:is|are|was|were|am)\\s+${NEG}(.+)$`),
    make: (m) => {
      const subject = canonicalSubject(m[1]!);
      const value = canonicalValue(m[3]!);
      // "favourite X" and "X's colour"-like slots hold one value; other copulas ("Ana is tall", "Ana is a
      // doctor") can hold many, so only their negation conflicts.
      const single =
        /^(favou?rite|usual|main|home|current)\b/.test(subject) || SINGLE_SLOTS.has(lastWord(subject));
      return claim(subject, 'is', value, 'text', Boolean(m[2]), single);
    },
  },
];

/** Slots that hold one value at a time when said with "is" ("my car's colour is red" vs "… is blue"). */
const SINGLE_SLOTS = new Set([
  'colour',
  'color',
  'address',
  'phone',
  'number',
  'email',
  'job',
  'surname',
  'nickname',
  'hometown',
  'city',
  'capital',
  'password',
  'team',
  'size',
  'height',
  'weight',
  'price',
  'deadline',
]);
const lastWord = (s: string) => s.slice(s.lastIndexOf(' ') + 1);

/** The claims of one sentence (at most one: the first rule that fits). */
export function parseClaims(sentence: string): Claim[] {
  const text = normalise(sentence).replace(/[,]+$/, '');
  // A leading discourse marker carries no claim: "Actually, i live in Rome now" → "i live in rome now".
  const body = text.replace(/^(?:actually|well|so|oh|also|btw|by the way|anyway|now|and|but)[,\s]+/, '');
  for (const rule of RULES) {
    const m = body.match(rule.re);
    if (!m) continue;
    const c = rule.make(m);
    if (c) return [c];
  }
  return [];
}
