// Parsing helpers of the rule-based skills: text normalisation, number words, durations and clock times (in a time
// zone). Everything is deterministic and offline.
import { SMALL_NUMBER_WORDS } from '@synthians/kit';

/**
 * Lower case, typographic quotes folded, "p.m." → "pm", punctuation other than ':' and "'" removed, hyphens
 * between words become spaces ("twenty-five" → "twenty five"), whitespace collapsed.
 */
export function normalize(text: string): string {
  return text
    .toLowerCase()
    .replace(/[’‘`]/g, "'")
    .replace(/\b(what|that|it|who|where|how|there|here|when)'s\b/g, '$1 is')
    .replace(/\b([ap])\.\s?m\b\.?/g, '$1m')
    .replace(/(\d)\s*:\s*(\d)/g, '$1:$2')
    .replace(/[^\p{L}\p{N}:'\s]+/gu, ' ')
    .replace(/(^|\s)'+|'+(?=\s|$)/g, '$1')
    .replace(/:(?!\d)|(?<!\d):/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Trims whitespace and trailing sentence punctuation. */
export const trimPunctuation = (s: string) => s.replace(/^[\s"'“‘]+|[\s.!?,;:"'”’]+$/g, '');

const UNITS: Record<string, number> = {
  ...SMALL_NUMBER_WORDS,
  a: 1,
  an: 1,
  couple: 2,
  few: 3,
  dozen: 12,
};
const TENS: Record<string, number> = {
  twenty: 20,
  thirty: 30,
  forty: 40,
  fourty: 40,
  fifty: 50,
  sixty: 60,
  seventy: 70,
  eighty: 80,
  ninety: 90,
};

/** The words a number may be made of (for regexes). */
export const NUMBER_WORD = `(?:\\d+(?:\\.\\d+)?|${[...Object.keys(UNITS), ...Object.keys(TENS), 'hundred', 'and', 'half', 'of', 'quarter'].join('|')})`;

/**
 * A number written in digits or words: "5", "2.5", "five", "twenty five", "a hundred and ten", "a couple of",
 * "one and a half". Undefined when the words are not a number.
 */
export function parseNumber(words: string): number | undefined {
  const t = words.trim().split(/\s+/).filter(Boolean);
  if (t.length === 0) return undefined;
  if (t.length === 1 && /^\d+(?:\.\d+)?$/.test(t[0] as string)) return Number(t[0]);
  let total = 0;
  let current = 0;
  let seen = false;
  for (let i = 0; i < t.length; i++) {
    const w = t[i] as string;
    if (/^\d+(?:\.\d+)?$/.test(w)) {
      current += Number(w);
      seen = true;
    } else if (w in UNITS) {
      current += UNITS[w] as number;
      seen = true;
    } else if (w in TENS) {
      current += TENS[w] as number;
      seen = true;
    } else if (w === 'hundred') {
      current = (current || 1) * 100;
      seen = true;
    } else if (w === 'half' && (t[i - 1] === 'a' || t[i - 1] === 'and')) {
      // "one and a half": the "a" already added 1.
      if (t[i - 1] === 'a') current -= 1;
      current += 0.5;
      seen = true;
    } else if (w === 'and' || w === 'of') {
      continue;
    } else return undefined;
  }
  total += current;
  return seen ? total : undefined;
}

const UNIT_MS: [RegExp, number][] = [
  [/^(?:s|secs?|seconds?)$/, 1000],
  [/^(?:m|mins?|minutes?)$/, 60_000],
  [/^(?:h|hrs?|hours?)$/, 3_600_000],
  [/^days?$/, 86_400_000],
];

const DURATION_PART = new RegExp(
  `((?:${NUMBER_WORD}\\s+)*?${NUMBER_WORD})\\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?)\\b`,
  'g',
);

export interface Duration {
  ms: number;
  /** The matched words (for "a five minute timer"). */
  text: string;
}

/**
 * The first duration in normalised text: "5 minutes", "five minutes and thirty seconds", "an hour and a half",
 * "half an hour", "1 hour 20 minutes", "90 seconds", "10 min".
 */
export function parseDuration(norm: string): Duration | undefined {
  if (/\bhalf an? hour\b/.test(norm)) return { ms: 30 * 60_000, text: 'half an hour' };
  if (/\ba quarter of an hour\b|\bquarter hour\b/.test(norm))
    return { ms: 15 * 60_000, text: 'a quarter of an hour' };
  let ms = 0;
  let first = -1;
  let last = -1;
  DURATION_PART.lastIndex = 0;
  for (let m = DURATION_PART.exec(norm); m; m = DURATION_PART.exec(norm)) {
    // Parts must be adjacent ("1 hour 20 minutes", "5 minutes and 30 seconds").
    if (last >= 0 && !/^\s*(?:and\s+)?$/.test(norm.slice(last, m.index))) break;
    const n = parseNumber((m[1] as string).replace(/^and\s+/, ''));
    const unit = UNIT_MS.find(([re]) => re.test(m[2] as string));
    if (n === undefined || !unit) {
      if (last >= 0) break;
      continue;
    }
    if (first < 0) first = m.index;
    ms += n * unit[1];
    last = m.index + m[0].length;
    // "an hour and a half"
    const rest = norm.slice(last);
    const half = /^\s+and a half\b/.exec(rest);
    if (half) {
      ms += 0.5 * unit[1];
      last += half[0].length;
    }
  }
  if (first < 0 || ms <= 0) return undefined;
  return { ms: Math.round(ms), text: norm.slice(first, last) };
}

/** Says a duration in words: 300000 → "5 minutes", 5400000 → "1 hour and 30 minutes". */
export function formatDuration(ms: number): string {
  let s = Math.max(0, Math.round(ms / 1000));
  const parts: string[] = [];
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const unit = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  if (d) parts.push(unit(d, 'day'));
  if (h) parts.push(unit(h, 'hour'));
  if (m) parts.push(unit(m, 'minute'));
  if (s || parts.length === 0) parts.push(unit(s, 'second'));
  return parts.length === 1 ? (parts[0] as string) : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}

// ---- Clock times in a time zone -------------------------------------------------------------------------------

export interface WallTime {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number; // 0 = Sunday
}

const partsFormatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock time of `epochMs` in `timeZone`. */
export function wallTime(epochMs: number, timeZone: string): WallTime {
  let f = partsFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    partsFormatters.set(timeZone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(epochMs))) p[part.type] = part.value;
  const weekdays = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  return {
    year: Number(p.year),
    month: Number(p.month),
    day: Number(p.day),
    hour: Number(p.hour) % 24,
    minute: Number(p.minute),
    second: Number(p.second),
    weekday: weekdays.indexOf(p.weekday ?? 'Sun'),
  };
}

/** The epoch time of a wall-clock time in `timeZone` (the later instant when a DST change makes it ambiguous). */
export function fromWallTime(
  w: Pick<WallTime, 'year' | 'month' | 'day' | 'hour' | 'minute'> & { second?: number },
  timeZone: string,
): number {
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second ?? 0);
  let guess = asUtc;
  for (let i = 0; i < 3; i++) {
    const seen = wallTime(guess, timeZone);
    const seenUtc = Date.UTC(seen.year, seen.month - 1, seen.day, seen.hour, seen.minute, seen.second);
    const diff = asUtc - seenUtc;
    if (diff === 0) break;
    guess += diff;
  }
  return guess;
}

/** Whether a time zone name is known to this Node.js (ICU). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export interface ClockTime {
  epochMs: number;
  /** e.g. "5:00 PM" or "tomorrow at 9:30 AM" */
  spoken: string;
}

const HOUR_WORDS = `(?:\\d{1,2}(?::\\d{2})?|${Object.keys(UNITS)
  .filter(
    (w) =>
      (UNITS[w] as number) >= 1 &&
      (UNITS[w] as number) <= 12 &&
      !['a', 'an', 'couple', 'few', 'dozen'].includes(w),
  )
  .join('|')})`;

/** A clock time in normalised text: "at 5 pm", "at 5:30", "at 17:00", "at noon", "tomorrow at nine am". */
export const CLOCK_RE = new RegExp(
  `\\b(?:(tomorrow|today|tonight)\\s+)?(?:at\\s+)(noon|midnight|${HOUR_WORDS}(?:\\s+(?:oh\\s+)?(?:${NUMBER_WORD}(?:\\s+${NUMBER_WORD})?))?(?:\\s*(?:am|pm|o'?clock|in the (?:morning|afternoon|evening)))?)(?:\\s+(tomorrow|today|tonight))?\\b`,
);

/** The next occurrence of the clock time in `norm` after `now` (in `timeZone`), or undefined. */
export function parseClockTime(norm: string, now: number, timeZone: string): ClockTime | undefined {
  const m = CLOCK_RE.exec(norm);
  if (!m) return undefined;
  const dayWord = m[1] ?? m[3];
  let spec = (m[2] as string).trim();
  let hour: number;
  let minute = 0;
  let meridiem: 'am' | 'pm' | undefined;
  if (spec === 'noon') {
    hour = 12;
    meridiem = 'pm';
  } else if (spec === 'midnight') hour = 0;
  else {
    const mer = /\s*(am|pm|o'?clock|in the (morning|afternoon|evening))$/.exec(spec);
    if (mer) {
      if (mer[1] === 'am' || mer[2] === 'morning') meridiem = 'am';
      else if (mer[1] === 'pm' || mer[2] === 'afternoon' || mer[2] === 'evening') meridiem = 'pm';
      spec = spec.slice(0, mer.index).trim();
    }
    const digits = /^(\d{1,2})(?::(\d{2}))?$/.exec(spec);
    if (digits) {
      hour = Number(digits[1]);
      minute = digits[2] ? Number(digits[2]) : 0;
    } else {
      const [h, ...rest] = spec.split(' ');
      const hv = parseNumber(h ?? '');
      if (hv === undefined) return undefined;
      hour = hv;
      const mv = rest.length ? parseNumber(rest.filter((w) => w !== 'oh').join(' ')) : 0;
      if (mv === undefined) return undefined;
      minute = mv;
    }
  }
  if (!Number.isInteger(hour) || !Number.isInteger(minute) || hour > 23 || minute > 59) return undefined;
  if (dayWord === 'tonight' && !meridiem && hour < 12) meridiem = 'pm';
  if (meridiem === 'pm' && hour < 12) hour += 12;
  if (meridiem === 'am' && hour === 12) hour = 0;
  const today = wallTime(now, timeZone);
  const candidates: number[] = [];
  const at = (dayOffset: number, h: number) => {
    const d = new Date(Date.UTC(today.year, today.month - 1, today.day + dayOffset));
    return fromWallTime(
      { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: h, minute },
      timeZone,
    );
  };
  // "at 5" without am/pm: the next of 5:00 and 17:00.
  const hours = meridiem || hour > 12 || hour === 0 ? [hour] : [hour, hour === 12 ? 0 : hour + 12];
  const startDay = dayWord === 'tomorrow' ? 1 : 0;
  for (let d = startDay; d <= startDay + 1; d++) for (const h of hours) candidates.push(at(d, h));
  const next = candidates.filter((t) => t > now).sort((a, b) => a - b)[0];
  if (next === undefined) return undefined;
  return { epochMs: next, spoken: speakTime(next, now, timeZone) };
}

/** "5:00 PM", "tomorrow at 9:30 AM", "on Friday, March 7 at 8:00 AM". */
export function speakTime(epochMs: number, now: number, timeZone: string): string {
  const clock = new Intl.DateTimeFormat('en-US', { timeZone, hour: 'numeric', minute: '2-digit' }).format(
    epochMs,
  );
  const a = wallTime(now, timeZone);
  const b = wallTime(epochMs, timeZone);
  const days = Math.round(
    (Date.UTC(b.year, b.month - 1, b.day) - Date.UTC(a.year, a.month - 1, a.day)) / 86_400_000,
  );
  if (days === 0) return clock;
  if (days === 1) return `tomorrow at ${clock}`;
  const date = new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'long',
    month: 'long',
    day: 'numeric',
  }).format(epochMs);
  return `on ${date} at ${clock}`;
}

/** First person → second person, for repeating what the user said: "my sister" → "your sister". */
export function toSecondPerson(text: string): string {
  const map: Record<string, string> = {
    i: 'you',
    "i'm": "you're",
    'i’m': 'you’re',
    me: 'you',
    my: 'your',
    mine: 'yours',
    myself: 'yourself',
    am: 'are',
    "i've": "you've",
    "i'll": "you'll",
    "i'd": "you'd",
    we: 'you',
    our: 'your',
    us: 'you',
  };
  let prevWasI = false;
  return text.replace(/[\p{L}'’]+/gu, (w) => {
    const lower = w.toLowerCase();
    let out = map[lower];
    if (lower === 'am' && !prevWasI) out = undefined;
    if (lower === 'us' && !prevWasI) out = map.us;
    prevWasI = lower === 'i';
    if (out === undefined) return w;
    return w[0] === w[0]?.toUpperCase() && lower !== 'i' ? out[0]?.toUpperCase() + out.slice(1) : out;
  });
}
