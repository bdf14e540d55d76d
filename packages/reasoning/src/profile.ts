// The user's "digital twin": facts read from their memories (name, relations, likes, home, work, birthday, pets…),
// each with its provenance (the memory ids that state it). The newest memory decides a key's value; superseded
// values go to the fact's history; a manual edit (source "user") stands until a newer memory says otherwise; a
// deleted fact stays deleted unless a memory newer than the deletion states it again.
import { randomUUID } from 'node:crypto';
import { parseClaims, splitSentences, type Claim } from './language.ts';
import type { MemoryText } from './contradictions.ts';

export interface FactCandidate {
  key: string;
  value: string;
  memory_ids: string[];
  confidence: number;
  /** When the newest supporting memory was said (event_time, else created_at). */
  observed_at: string;
  /** Older values of the key in the memories, oldest first. */
  superseded: { value: string; memory_ids: string[]; observed_at: string }[];
}

export interface FactHistoryEntry {
  value: string;
  memory_ids: string[];
  source: 'memory' | 'user';
  observed_at: string | null;
  replaced_at: string;
}

export interface ProfileFact {
  id: string;
  key: string;
  value: string;
  memory_ids: string[];
  source: 'memory' | 'user';
  /** Provenance note: which memories, or "edited by the user". */
  note: string;
  confidence: number;
  extracted_at: string | null;
  updated_at: string;
  observed_at: string | null;
  history: FactHistoryEntry[];
}

export interface StoredProfile {
  user_id: string;
  facts: Record<string, ProfileFact>;
  /** key → when it was deleted (a memory must be newer to bring it back). */
  deleted: Record<string, string>;
  created_at: string;
  updated_at: string;
}

export const FACT_KEY_PATTERN = '^[a-z0-9_.:-]{1,128}$';
const HISTORY_LIMIT = 20;

const slug = (s: string) => s.trim().replace(/\s+/g, '_');

/** The profile key of a claim, or undefined when the claim is not a fact about the user or the people around them. */
export function factKey(c: Claim): string | undefined {
  if (c.negated) return undefined;
  const relation = c.relation;
  if (c.subject === 'user') {
    if (relation === 'born') return 'birthday';
    if (['name', 'lives_in', 'works_at', 'occupation', 'age'].includes(relation)) return relation;
    if (relation.startsWith('likes:')) return `likes.${slug(relation.slice(6))}`;
    if (relation.startsWith('count:')) return `has.${slug(relation.slice(6))}`;
    return undefined;
  }
  if (c.subject === 'birthday' && relation === 'date') return 'birthday';
  const fav = c.subject.match(/^favou?rite (.+)$/);
  if (fav && relation === 'is') return `favourite.${slug(fav[1]!)}`;
  const ownBirthday = c.subject.match(/^(.+) birthday$/);
  if (ownBirthday && relation === 'date') return `${slug(ownBirthday[1]!)}.birthday`;
  if (['name', 'lives_in', 'works_at', 'occupation', 'age'].includes(relation)) {
    return `${c.subject.split(' ').map(slug).join('.')}.${relation}`;
  }
  if (relation.startsWith('likes:')) return `${slug(c.subject)}.likes.${slug(relation.slice(6))}`;
  return undefined;
}

const BASE_CONFIDENCE: Record<string, number> = { name: 0.9, lives_in: 0.85, works_at: 0.85, birthday: 0.85 };

/** The value as the user wrote it (names keep their capitals): the span of `sentence` that normalises to `value`. */
function originalCase(sentence: string, value: string): string {
  const at = sentence.toLowerCase().indexOf(value);
  return at >= 0 ? sentence.slice(at, at + value.length) : value;
}

/**
 * Facts stated by `memories`, one candidate per key: the value of the newest memory stating the key (ties: the later
 * in the input), with every memory stating that same value as provenance and the older values as `superseded`.
 * Confidence: 0.7 (0.85–0.9 for names, homes, workplaces and birthdays) + 0.05 per further supporting memory, ≤ 0.99.
 */
export function extractFacts(memories: MemoryText[]): FactCandidate[] {
  interface Statement {
    value: string;
    norm: string;
    id: string;
    time: number;
    order: number;
    at: string;
  }
  const byKey = new Map<string, Statement[]>();
  memories.forEach((m, order) => {
    const at = m.event_time ?? m.created_at ?? new Date(0).toISOString();
    const time = Date.parse(at) || 0;
    for (const sentence of splitSentences(m.content)) {
      for (const claim of parseClaims(sentence)) {
        const key = factKey(claim);
        if (!key) continue;
        const value = claim.kind === 'text' ? originalCase(sentence, claim.value) : claim.value;
        let list = byKey.get(key);
        if (!list) byKey.set(key, (list = []));
        list.push({ value, norm: claim.value, id: m.id, time, order, at });
      }
    }
  });
  const out: FactCandidate[] = [];
  for (const [key, statements] of byKey) {
    statements.sort((a, b) => a.time - b.time || a.order - b.order);
    const latest = statements.at(-1)!;
    const support = statements.filter((s) => s.norm === latest.norm);
    const ids = [...new Set(support.map((s) => s.id))];
    const superseded: FactCandidate['superseded'] = [];
    for (const s of statements) {
      if (s.norm === latest.norm) continue;
      const prior = superseded.find((x) => x.value.toLowerCase() === s.norm);
      if (prior) {
        if (!prior.memory_ids.includes(s.id)) prior.memory_ids.push(s.id);
        prior.observed_at = s.at;
      } else {
        superseded.push({ value: s.value, memory_ids: [s.id], observed_at: s.at });
      }
    }
    const base = BASE_CONFIDENCE[key] ?? (key.endsWith('.name') ? 0.9 : 0.7);
    out.push({
      key,
      value: latest.value,
      memory_ids: ids,
      confidence: Math.round(Math.min(0.99, base + 0.05 * (ids.length - 1)) * 100) / 100,
      observed_at: latest.at,
      superseded,
    });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function emptyProfile(userId: string, now: string): StoredProfile {
  return { user_id: userId, facts: {}, deleted: {}, created_at: now, updated_at: now };
}

const pushHistory = (fact: ProfileFact, now: string) => {
  fact.history.push({
    value: fact.value,
    memory_ids: fact.memory_ids,
    source: fact.source,
    observed_at: fact.observed_at,
    replaced_at: now,
  });
  if (fact.history.length > HISTORY_LIMIT) fact.history.splice(0, fact.history.length - HISTORY_LIMIT);
};

const provenance = (ids: string[]) => `from memor${ids.length === 1 ? 'y' : 'ies'} ${ids.join(', ')}`;

/** Merges freshly extracted candidates into a stored profile (mutates and returns it) with the rules above. */
export function mergeFacts(
  profile: StoredProfile,
  candidates: FactCandidate[],
  now: string,
): { profile: StoredProfile; added: string[]; updated: string[]; unchanged: string[] } {
  const added: string[] = [];
  const updated: string[] = [];
  const unchanged: string[] = [];
  for (const c of candidates) {
    const deletedAt = profile.deleted[c.key];
    if (deletedAt !== undefined) {
      if (Date.parse(c.observed_at) <= Date.parse(deletedAt)) continue;
      delete profile.deleted[c.key];
    }
    const fact = profile.facts[c.key];
    if (!fact) {
      profile.facts[c.key] = {
        id: randomUUID(),
        key: c.key,
        value: c.value,
        memory_ids: c.memory_ids,
        source: 'memory',
        note: provenance(c.memory_ids),
        confidence: c.confidence,
        extracted_at: now,
        updated_at: now,
        observed_at: c.observed_at,
        history: c.superseded.slice(-HISTORY_LIMIT).map((s) => ({
          value: s.value,
          memory_ids: s.memory_ids,
          source: 'memory' as const,
          observed_at: s.observed_at,
          replaced_at: now,
        })),
      };
      added.push(c.key);
      continue;
    }
    if (fact.source === 'user' && Date.parse(fact.updated_at) >= Date.parse(c.observed_at)) {
      unchanged.push(c.key);
      continue;
    }
    if (fact.value.toLowerCase() === c.value.toLowerCase()) {
      const same =
        fact.source === 'memory' &&
        fact.memory_ids.length === c.memory_ids.length &&
        fact.memory_ids.every((id) => c.memory_ids.includes(id));
      fact.memory_ids = c.memory_ids;
      fact.confidence = c.confidence;
      fact.extracted_at = now;
      fact.observed_at = c.observed_at;
      fact.note = provenance(c.memory_ids);
      if (fact.source === 'user') {
        fact.source = 'memory';
        fact.updated_at = now;
      }
      (same ? unchanged : updated).push(c.key);
      continue;
    }
    pushHistory(fact, now);
    Object.assign(fact, {
      value: c.value,
      memory_ids: c.memory_ids,
      source: 'memory',
      note: provenance(c.memory_ids),
      confidence: c.confidence,
      extracted_at: now,
      updated_at: now,
      observed_at: c.observed_at,
    });
    updated.push(c.key);
  }
  profile.updated_at = now;
  return { profile, added, updated, unchanged };
}

/** A manual edit: the value with provenance "user"; the previous value goes to the history. */
export function setFact(profile: StoredProfile, key: string, value: string, now: string): ProfileFact {
  delete profile.deleted[key];
  const fact = profile.facts[key];
  profile.updated_at = now;
  if (!fact) {
    const created: ProfileFact = {
      id: randomUUID(),
      key,
      value,
      memory_ids: [],
      source: 'user',
      note: 'edited by the user',
      confidence: 1,
      extracted_at: null,
      updated_at: now,
      observed_at: now,
      history: [],
    };
    profile.facts[key] = created;
    return created;
  }
  pushHistory(fact, now);
  Object.assign(fact, {
    value,
    memory_ids: [],
    source: 'user',
    note: 'edited by the user',
    confidence: 1,
    updated_at: now,
    observed_at: now,
  });
  return fact;
}

/** The public view of a profile: facts as a list sorted by key. */
export function profileView(profile: StoredProfile) {
  return {
    user_id: profile.user_id,
    facts: Object.values(profile.facts).sort((a, b) => (a.key < b.key ? -1 : 1)),
    created_at: profile.created_at,
    updated_at: profile.updated_at,
  };
}
