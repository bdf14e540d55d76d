// Sentence splitting for speech: an assistant reply is spoken sentence by sentence, so the first sentence can be
// synthesised (and heard) while the rest is still being synthesised or still streaming in from the LLM.
//
// Boundaries: `.`, `!`, `?`, `…` / `...` (with any closing quotes or brackets) followed by whitespace, CJK `。！？`,
// and line breaks. Not boundaries: titles and common abbreviations ("Dr.", "Mr.", "e.g.", "etc." before a lower-case
// word), initials ("J. R. R. Tolkien"), list numbers at the start of a line ("1. First"), a full stop or ellipsis
// followed by a lower-case word, and anything not followed by whitespace (decimals "3.5", "example.com", times "10:30").
// Fragments shorter than `minLength` are merged with the next sentence ("Sure! Here it is." is one piece), and a
// sentence longer than `maxLength` is cut after a comma / semicolon / colon / dash (else at a space).
//
// `splitSentences(text)` and a `SentenceSplitter` fed the same text in deltas of any size give the same sentences.

export interface SentenceOptions {
  /** A piece shorter than this (characters) is merged with the next one. Default 12. */
  minLength?: number;
  /** A piece longer than this is split at a comma/semicolon/colon/dash or space. Default 220. */
  maxLength?: number;
}

const DEFAULTS = { minLength: 12, maxLength: 220 };

/** Lower-case words that end with a full stop without ending the sentence (never a boundary). */
const TITLES = new Set([
  'mr',
  'mrs',
  'ms',
  'dr',
  'prof',
  'sr',
  'jr',
  'st',
  'mt',
  'vs',
  'no',
  'nos',
  'fig',
  'figs',
  'approx',
  'dept',
  'est',
  'gen',
  'gov',
  'lt',
  'col',
  'sgt',
  'capt',
  'rev',
  'hon',
  'ave',
  'blvd',
  'ca',
  'cf',
  'viz',
  'vol',
  'vols',
  'pp',
  'p',
  'e.g',
  'i.e',
]);

/** Abbreviations that may also end a sentence: a boundary only when an upper-case word follows. */
const ABBREVIATIONS = new Set([
  'etc',
  'inc',
  'ltd',
  'co',
  'corp',
  'jan',
  'feb',
  'mar',
  'apr',
  'jun',
  'jul',
  'aug',
  'sep',
  'sept',
  'oct',
  'nov',
  'dec',
  'mon',
  'tue',
  'wed',
  'thu',
  'fri',
  'sat',
  'sun',
]);

const TERMINAL = new Set(['.', '!', '?', '…']);
const CJK_TERMINAL = new Set(['。', '！', '？']);
const CLOSERS = new Set(['"', "'", ')', ']', '}', '”', '’', '»', '*', '_']);
const OPENERS = /["'([{“‘«*_]/;
const isSpace = (c: string | undefined) => c !== undefined && /\s/.test(c);
const isLower = (c: string) => /\p{Ll}/u.test(c);
const isUpper = (c: string) => /\p{Lu}/u.test(c);

interface ScanResult {
  sentences: string[];
  /** Characters of `text` fully handled; the rest must be scanned again with more text (or `final`). */
  consumed: number;
}

const clean = (s: string) => s.replace(/\s+/g, ' ').trim();

/**
 * What a run of terminal punctuation ending at `end` (exclusive) means: 'yes' a boundary, 'no' not one,
 * 'wait' the text after it is needed to decide.
 */
function judge(
  text: string,
  start: number,
  runStart: number,
  end: number,
  final: boolean,
  atStart: boolean,
): 'yes' | 'no' | 'wait' {
  const run = text.slice(runStart, end).replace(/[^.!?…]/g, '');
  // The next non-space character decides several cases.
  let k = end;
  while (k < text.length && isSpace(text[k])) k++;
  const next = k < text.length ? (text[k] as string) : undefined;
  if (next === undefined && !final) return 'wait';
  if (next === undefined) return 'yes';
  if (run.includes('!') || run.includes('?')) return 'yes';
  const nextLower = isLower(next);
  if (run !== '.') return nextLower ? 'no' : 'yes'; // ellipsis: a pause unless a new sentence starts
  if (nextLower) return 'no';
  // The word before the full stop.
  let w = runStart;
  while (w > start && !isSpace(text[w - 1]) && !OPENERS.test(text[w - 1] as string)) w--;
  const word = text.slice(w, runStart);
  const lower = word.toLowerCase();
  if (TITLES.has(lower)) return 'no';
  if (/^\p{Lu}$/u.test(word)) return 'no'; // an initial
  if (/^(?:\p{L}\.)+\p{L}$/u.test(word)) return isUpper(next) ? 'yes' : 'no'; // U.S., a.m.
  if (ABBREVIATIONS.has(lower)) return isUpper(next) ? 'yes' : 'no';
  if (/^\d{1,3}$/.test(word)) {
    // "1." at the start of a line is a list number.
    let b = w;
    while (b > 0 && (text[b - 1] === ' ' || text[b - 1] === '\t')) b--;
    const lineStart = b === 0 ? atStart : text[b - 1] === '\n' || text[b - 1] === '\r';
    if (lineStart) return 'no';
  }
  return 'yes';
}

/** Where to cut a piece of `text[from, from+max)` that is too long. */
function cutPoint(text: string, from: number, min: number, max: number): number {
  const window = text.slice(from, from + max);
  let best = -1;
  const re = /[,;:]\s|\s[–—-]\s/g;
  for (let m = re.exec(window); m; m = re.exec(window)) {
    const at = m.index + (m[0].startsWith(' ') ? m[0].length - 1 : 1);
    if (at >= min) best = at;
  }
  if (best < 0) {
    const space = window.lastIndexOf(' ');
    best = space >= min ? space : max;
  }
  return from + best;
}

function scan(text: string, final: boolean, atStart: boolean, opts: Required<SentenceOptions>): ScanResult {
  const sentences: string[] = [];
  let pieceStart = 0; // start of the piece being built (may hold merged tiny fragments)
  let segStart = 0; // start of the current sentence within the piece
  let i = 0;
  const emit = (end: number, force: boolean): boolean => {
    const s = clean(text.slice(pieceStart, end));
    if (s.length === 0) {
      pieceStart = end;
      return true;
    }
    if (s.length < opts.minLength && !force) return false;
    sentences.push(s);
    pieceStart = end;
    return true;
  };
  while (i < text.length) {
    // Too long without a boundary: cut it.
    if (i - pieceStart >= opts.maxLength && clean(text.slice(pieceStart, i)).length >= opts.maxLength) {
      const cut = cutPoint(text, pieceStart, opts.minLength, opts.maxLength);
      emit(cut, true);
      i = segStart = cut;
      continue;
    }
    const c = text[i] as string;
    if (c === '\n' || c === '\r') {
      emit(i, false);
      segStart = i + 1;
      i++;
      continue;
    }
    if (CJK_TERMINAL.has(c)) {
      let end = i + 1;
      while (end < text.length && (CJK_TERMINAL.has(text[end] as string) || CLOSERS.has(text[end] as string)))
        end++;
      if (end === text.length && !final) break;
      emit(end, false);
      i = segStart = end;
      continue;
    }
    if (TERMINAL.has(c)) {
      let end = i + 1;
      while (end < text.length && TERMINAL.has(text[end] as string)) end++;
      while (end < text.length && CLOSERS.has(text[end] as string)) end++;
      if (end < text.length && !isSpace(text[end])) {
        i = end; // "3.5", "example.com", "10:30"
        continue;
      }
      const verdict = judge(text, segStart, i, end, final, atStart);
      if (verdict === 'wait') break;
      if (verdict === 'yes') {
        emit(end, false);
        segStart = end;
      }
      i = end;
      continue;
    }
    i++;
  }
  if (final) {
    emit(text.length, true);
    return { sentences, consumed: text.length };
  }
  return { sentences, consumed: pieceStart };
}

function resolve(options: SentenceOptions): Required<SentenceOptions> {
  const minLength = options.minLength ?? DEFAULTS.minLength;
  const maxLength = Math.max(options.maxLength ?? DEFAULTS.maxLength, minLength + 1, 8);
  return { minLength, maxLength };
}

/** Splits a whole text into sentences for speech. */
export function splitSentences(text: string, options: SentenceOptions = {}): string[] {
  return scan(text, true, true, resolve(options)).sentences;
}

/**
 * Incremental splitter for streamed text (LLM tokens): `push` a delta, get the sentences completed by it;
 * `flush` at the end for the rest. The result is the same as `splitSentences` on the whole text.
 */
export class SentenceSplitter {
  private buffer = '';
  private atStart = true;
  private readonly opts: Required<SentenceOptions>;

  constructor(options: SentenceOptions = {}) {
    this.opts = resolve(options);
  }

  push(delta: string): string[] {
    this.buffer += delta;
    const { sentences, consumed } = scan(this.buffer, false, this.atStart, this.opts);
    if (consumed > 0) {
      this.buffer = this.buffer.slice(consumed);
      this.atStart = false;
    }
    return sentences;
  }

  flush(): string[] {
    const { sentences } = scan(this.buffer, true, this.atStart, this.opts);
    this.buffer = '';
    this.atStart = true;
    return sentences;
  }
}
