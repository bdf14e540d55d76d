// Contradiction detection between memories about the same subject. Two detectors, both deterministic:
//  1. claims: each sentence is read as (subject, relation, value) by `parseClaims`; two memories conflict when they
//     give a single-valued relation different values (a name, a home, a count, a date, a like/dislike) or when one
//     denies what the other asserts.
//  2. skeletons: two sentences that are word for word the same except one slot — a number, a date, or a negation —
//     conflict too ("the boiler service costs 80 euros" / "… 95 euros"). Only for stative sentences (a form of be or
//     have): events may recur ("i went to the gym on monday" / "… on friday" is no contradiction).
// The newer memory (event_time, else created_at) is taken to win; each pair says which one that is.
import {
  canonicalSubject,
  contentWords,
  findDate,
  normalise,
  parseClaims,
  splitSentences,
  STOPWORDS,
  tokens,
  type Claim,
} from './language.ts';

export type ContradictionReason = 'conflicting_value' | 'negation' | 'changed_number' | 'changed_date';

export interface MemoryText {
  id: string;
  content: string;
  /** ISO time; event_time wins over created_at when deciding which memory is newer. */
  created_at?: string | null;
  event_time?: string | null;
}

export interface PairSide {
  id: string;
  content: string;
  at: string | null;
}

export interface ContradictionPair {
  /** The older memory. */
  a: PairSide;
  /** The newer memory (the one taken to be true now). */
  b: PairSide;
  newer_id: string;
  subject: string;
  reason: ContradictionReason;
  confidence: number;
  explanation: string;
}

export interface FindOptions {
  /** Most pairs returned (highest confidence first). Default 100. */
  limit?: number;
  /** Claims per (subject, relation) group compared pairwise (the newest kept). Default 200. */
  maxGroup?: number;
}

/** The confidence of each rule (documented in the README). */
export const CONFIDENCE = {
  name: 0.95,
  single_value: 0.85,
  number: 0.9,
  date: 0.9,
  negation: 0.9,
  preference: 0.85,
  skeleton_number: 0.7,
  skeleton_date: 0.7,
  skeleton_negation: 0.75,
  /** Added when both detectors agree on a pair. */
  agreement_bonus: 0.05,
} as const;

interface Item {
  memory: MemoryText;
  order: number;
  time: number;
  sentence: string;
}

interface Found {
  older: Item;
  newer: Item;
  subject: string;
  reason: ContradictionReason;
  confidence: number;
  explanation: string;
  detectors: number;
}

const timeOf = (m: MemoryText): number => {
  const t = Date.parse(m.event_time ?? m.created_at ?? '');
  return Number.isFinite(t) ? t : 0;
};

/** Older first: by time, then by input order. */
const ordered = (x: Item, y: Item): [Item, Item] =>
  x.time < y.time || (x.time === y.time && x.order < y.order) ? [x, y] : [y, x];

/** Values that do not exclude each other: equal, or one's words contained in the other's ("paris" / "paris france"). */
function compatible(a: string, b: string): boolean {
  if (a === b) return true;
  const wa = a.split(' ');
  const wb = b.split(' ');
  const [short, long] = wa.length <= wb.length ? [wa, wb] : [wb, wa];
  const set = new Set(long);
  return short.every((w) => set.has(w));
}

function judgeClaims(x: Claim, y: Claim): { reason: ContradictionReason; confidence: number } | undefined {
  if (x.kind === 'polarity') {
    return x.value === y.value ? undefined : { reason: 'negation', confidence: CONFIDENCE.preference };
  }
  if (x.negated !== y.negated) {
    // "Ana is a doctor" / "Ana is not a doctor"; a denial of a different value is no conflict.
    return compatible(x.value, y.value) ? { reason: 'negation', confidence: CONFIDENCE.negation } : undefined;
  }
  if (x.negated || !x.single || compatible(x.value, y.value)) return undefined;
  if (x.kind === 'number') return { reason: 'changed_number', confidence: CONFIDENCE.number };
  if (x.kind === 'date') return { reason: 'changed_date', confidence: CONFIDENCE.date };
  return {
    reason: 'conflicting_value',
    confidence: x.relation === 'name' ? CONFIDENCE.name : CONFIDENCE.single_value,
  };
}

const describe = (c: Claim) => {
  if (c.kind === 'polarity') return `${c.value} ${c.relation.slice('likes:'.length)}`;
  const rel = c.relation.startsWith('count:') ? `number of ${c.relation.slice(6)}` : c.relation;
  return `${rel} ${c.negated ? 'is not' : '='} "${c.value}"`;
};

const STATIVE = new Set([
  'is',
  'are',
  'am',
  'was',
  'were',
  'be',
  'been',
  'have',
  'has',
  'had',
  'costs',
  'cost',
]);
const NEGATORS = new Set(['not', 'never', 'no']);
const AUXILIARIES = new Set(['do', 'does', 'did']);

interface Skeleton {
  key: string;
  value: string;
  reason: ContradictionReason;
  subject: string;
}

/** The masked skeletons of a sentence (see the module comment); none for non-stative or too-short sentences. */
export function skeletons(sentence: string): Skeleton[] {
  const text = normalise(sentence).replace(/[,:]/g, ' ');
  const words = tokens(text);
  const verbAt = words.findIndex((w) => STATIVE.has(w));
  if (verbAt < 0) return [];
  const subject = canonicalSubject(words.slice(0, verbAt).join(' ')) || words.slice(0, verbAt).join(' ');
  const out: Skeleton[] = [];
  const enough = (ws: string[]) => ws.filter((w) => !STOPWORDS.has(w) && !/^[#<]/.test(w)).length >= 2;
  const date = findDate(text);
  if (date) {
    const masked = tokens(`${text.slice(0, date.index)} <date> ${text.slice(date.index + date.length)}`);
    const ws = masked.map((w) => (w === 'date' ? '<date>' : w));
    if (enough(ws))
      out.push({ key: `D|${ws.join(' ')}`, value: date.value, reason: 'changed_date', subject });
  } else {
    const numeric = words.map((w, i) => (/^\d+(\.\d+)?$/.test(w) ? i : -1)).filter((i) => i >= 0);
    if (numeric.length === 1) {
      const i = numeric[0]!;
      const ws = words.map((w, j) => (j === i ? '#' : w));
      if (enough(ws))
        out.push({ key: `N|${ws.join(' ')}`, value: words[i]!, reason: 'changed_number', subject });
    }
  }
  const negated = words.some((w) => NEGATORS.has(w));
  const bare = words.filter((w) => !NEGATORS.has(w) && !AUXILIARIES.has(w) && w !== 'any');
  if (enough(bare)) {
    out.push({ key: `G|${bare.join(' ')}`, value: negated ? 'no' : 'yes', reason: 'negation', subject });
  }
  return out;
}

/**
 * Pairs of memories that contradict each other, highest confidence first (ties: the newer pair first). Pure and
 * deterministic. Cost: one pass over the sentences plus pairwise comparison inside each (subject, relation) group.
 */
export function findContradictions(memories: MemoryText[], options: FindOptions = {}): ContradictionPair[] {
  const limit = options.limit ?? 100;
  const maxGroup = options.maxGroup ?? 200;
  const claimGroups = new Map<string, { item: Item; claim: Claim }[]>();
  const skeletonGroups = new Map<string, { item: Item; skeleton: Skeleton }[]>();
  memories.forEach((memory, order) => {
    const time = timeOf(memory);
    for (const sentence of splitSentences(memory.content)) {
      const item: Item = { memory, order, time, sentence };
      for (const claim of parseClaims(sentence)) {
        const key = `${claim.subject}|${claim.relation}`;
        let group = claimGroups.get(key);
        if (!group) claimGroups.set(key, (group = []));
        group.push({ item, claim });
      }
      for (const skeleton of skeletons(sentence)) {
        let group = skeletonGroups.get(skeleton.key);
        if (!group) skeletonGroups.set(skeleton.key, (group = []));
        group.push({ item, skeleton });
      }
    }
  });

  const found = new Map<string, Found>();
  const record = (x: Item, y: Item, f: Omit<Found, 'older' | 'newer' | 'detectors'>) => {
    const [older, newer] = ordered(x, y);
    const key = `${older.memory.id}\u0000${newer.memory.id}`;
    const prior = found.get(key);
    if (!prior) {
      found.set(key, { older, newer, ...f, detectors: 1 });
    } else if (f.confidence > prior.confidence) {
      found.set(key, { older, newer, ...f, detectors: prior.detectors + 1 });
    } else {
      prior.detectors++;
    }
  };

  for (const group of claimGroups.values()) {
    const members = newest(group, maxGroup);
    for (let i = 0; i < members.length; i++) {
      for (let j = i + 1; j < members.length; j++) {
        const x = members[i]!;
        const y = members[j]!;
        if (x.item.memory.id === y.item.memory.id) continue;
        const verdict = judgeClaims(x.claim, y.claim);
        if (!verdict) continue;
        const [older, newer] = ordered(x.item, y.item);
        const [oc, nc] = older === x.item ? [x.claim, y.claim] : [y.claim, x.claim];
        record(x.item, y.item, {
          subject: oc.subject,
          ...verdict,
          explanation: `${oc.subject}: ${describe(oc)} in ${older.memory.id}, but ${describe(nc)} in the newer ${newer.memory.id}, which wins`,
        });
      }
    }
  }

  for (const group of skeletonGroups.values()) {
    const members = newest(group, maxGroup);
    for (let i = 0; i < members.length; i++) {
      for (let j = i + 1; j < members.length; j++) {
        const x = members[i]!;
        const y = members[j]!;
        if (x.item.memory.id === y.item.memory.id || x.skeleton.value === y.skeleton.value) continue;
        const [older, newer] = ordered(x.item, y.item);
        const [os, ns] = older === x.item ? [x.skeleton, y.skeleton] : [y.skeleton, x.skeleton];
        const reason = os.reason;
        const confidence =
          reason === 'negation'
            ? CONFIDENCE.skeleton_negation
            : reason === 'changed_date'
              ? CONFIDENCE.skeleton_date
              : CONFIDENCE.skeleton_number;
        const what =
          reason === 'negation'
            ? `one sentence denies what the other asserts`
            : `the same sentence with ${reason === 'changed_date' ? 'date' : 'number'} ${os.value} → ${ns.value}`;
        record(x.item, y.item, {
          subject: os.subject,
          reason,
          confidence,
          explanation: `${os.subject}: ${what} (${older.memory.id} → the newer ${newer.memory.id}, which wins)`,
        });
      }
    }
  }

  const pairs = [...found.values()]
    .map((f) => ({
      ...f,
      confidence:
        Math.round(Math.min(1, f.confidence + (f.detectors > 1 ? CONFIDENCE.agreement_bonus : 0)) * 1000) /
        1000,
    }))
    .sort(
      (p, q) =>
        q.confidence - p.confidence ||
        q.newer.time - p.newer.time ||
        p.older.order - q.older.order ||
        p.newer.order - q.newer.order,
    );
  return pairs.slice(0, limit).map((f) => ({
    a: side(f.older),
    b: side(f.newer),
    newer_id: f.newer.memory.id,
    subject: f.subject,
    reason: f.reason,
    confidence: f.confidence,
    explanation: f.explanation,
  }));
}

function side(item: Item): PairSide {
  return {
    id: item.memory.id,
    content: item.memory.content,
    at: item.memory.event_time ?? item.memory.created_at ?? null,
  };
}

function newest<T extends { item: Item }>(group: T[], max: number): T[] {
  if (group.length <= max) return group;
  return [...group].sort((x, y) => y.item.time - x.item.time || y.item.order - x.item.order).slice(0, max);
}

/** Content-word overlap (Jaccard) of two texts; used by the summary's citations and exported for tests. */
export function overlap(a: string, b: string): number {
  const wa = new Set(contentWords(a));
  const wb = new Set(contentWords(b));
  let shared = 0;
  for (const w of wa) if (wb.has(w)) shared++;
  const union = wa.size + wb.size - shared;
  return union === 0 ? 0 : shared / union;
}
