// Assemblies: groups of related memories, formed and merged incrementally at ingest.
// A new memory looks only at its nearest earlier neighbours (already found for novelty), so the work per memory
// is bounded and there is no O(n²) sweep:
//   • it joins the assembly (of those its close neighbours, cosine ≥ join threshold, belong to) whose composite is
//     most similar, if that similarity is ≥ the join threshold and the assembly is not full;
//   • otherwise, if its nearest neighbour is ≥ the seed threshold and belongs to no assembly, the two start one;
//   • after a join, another of those assemblies whose composite is ≥ the merge threshold is merged into the larger.
// The composite is the normalised mean of member embeddings, updated incrementally; keywords are the most frequent
// content words of the members. Every change is written with its change-log entry in the caller's transaction.
import { randomUUID } from 'node:crypto';
import { dot } from './embeddings.ts';
import { l2normalize } from './embedding/provider.ts';
import type { AssemblyRecord, MemoryRecord, MemoryStore } from './store.ts';

export interface AssemblyConfig {
  join: number;
  seed: number;
  merge: number;
  maxMembers: number;
}

const wordPattern = /[\p{L}][\p{L}\p{N}'-]{2,}/gu;
const stop = new Set(
  "about after again also and are because been before being but can could did does doing don't down during each few for from further had has have having her here hers him his how i'm into it's its just more most much not now off once only other our ours out over own same she should some such than that that's the their theirs them then there these they this those through too under until very was were what when where which while who whom why will with would you your yours yeah yes okay really thing things like just know think".split(
    ' ',
  ),
);

function contentWords(text: string): string[] {
  const out: string[] = [];
  for (const m of text.toLowerCase().matchAll(wordPattern)) if (!stop.has(m[0])) out.push(m[0]);
  return out;
}

export function topKeywords(counts: Record<string, number>, n = 8): string[] {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, n)
    .map(([w]) => w);
}

function addKeywords(counts: Record<string, number>, text: string, sign: 1 | -1): Record<string, number> {
  const next = { ...counts };
  for (const w of new Set(contentWords(text))) {
    const v = (next[w] ?? 0) + sign;
    if (v > 0) next[w] = v;
    else delete next[w];
  }
  // Keep the table small: the 64 most frequent words.
  const entries = Object.entries(next);
  if (entries.length <= 64) return next;
  return Object.fromEntries(entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 64));
}

const nameOf = (counts: Record<string, number>) => topKeywords(counts, 3).join(' · ') || 'assembly';

export class Assemblies {
  /** In-memory cache of every assembly, by key (assemblies are few next to memories). */
  private byKey = new Map<number, AssemblyRecord>();

  constructor(
    private readonly store: MemoryStore,
    private readonly config: AssemblyConfig,
  ) {
    this.reload();
  }

  reload(): void {
    this.byKey = new Map(this.store.allAssemblies().map((a) => [a.key, a]));
  }

  get count(): number {
    return this.byKey.size;
  }

  get(key: number): AssemblyRecord | undefined {
    return this.byKey.get(key);
  }

  all(): AssemblyRecord[] {
    return [...this.byKey.values()];
  }

  /** Places a new memory; `prior` are its earlier neighbours, best first. Call inside a transaction. */
  place(memory: MemoryRecord, prior: { keys: number[]; similarities: number[] }, now: number): void {
    const best = prior.similarities[0];
    if (best === undefined || best < Math.min(this.config.join, this.config.seed)) return;
    const close = prior.keys.filter((_, i) => (prior.similarities[i] ?? 0) >= this.config.join);
    const memberships = this.store.membershipsOf(close);
    const candidates = new Set<number>();
    for (const list of memberships.values()) for (const k of list) candidates.add(k);

    let target: AssemblyRecord | undefined;
    let targetSim = -1;
    for (const k of candidates) {
      const a = this.byKey.get(k);
      if (!a || a.memberCount >= this.config.maxMembers) continue;
      const s = dot(a.composite, memory.embedding);
      if (s > targetSim || (s === targetSim && target && a.key < target.key)) {
        target = a;
        targetSim = s;
      }
    }
    if (target && targetSim >= this.config.join) {
      // The merge check looks at the composite as it is after this member joined.
      target = this.addMember(target, memory, now);
      for (const k of candidates) {
        const other = this.byKey.get(k);
        if (!other || other.key === target.key) continue;
        if (dot(other.composite, target.composite) >= this.config.merge) {
          target = this.merge(target, other, now);
        }
      }
      return;
    }
    const nearestKey = prior.keys[0]!;
    if (best >= this.config.seed && this.store.assembliesOf(nearestKey).length === 0) {
      const neighbour = this.store.getByKey(nearestKey);
      if (neighbour) this.create([neighbour, memory], now);
    }
  }

  private create(members: MemoryRecord[], now: number): AssemblyRecord {
    const composite = new Float32Array(members[0]!.embedding.length);
    let counts: Record<string, number> = {};
    for (const m of members) {
      for (let i = 0; i < composite.length; i++) composite[i]! += m.embedding[i]!;
      counts = addKeywords(counts, m.content, 1);
    }
    l2normalize(composite);
    const id = `asm_${randomUUID().replaceAll('-', '')}`;
    const record: Omit<AssemblyRecord, 'key'> = {
      id,
      name: nameOf(counts),
      composite,
      keywordCounts: counts,
      memberCount: members.length,
      activationCount: 0,
      lastActivated: null,
      createdAt: now,
      updatedAt: now,
      seq: 0,
    };
    const key = this.store.insertAssembly(record);
    for (const m of members) this.store.addMember(key, m.key, now);
    const full = { ...record, key };
    this.byKey.set(key, full);
    this.logged(full, now);
    return full;
  }

  private addMember(a: AssemblyRecord, memory: MemoryRecord, now: number): AssemblyRecord {
    const n = a.memberCount;
    const composite = new Float32Array(a.composite.length);
    for (let i = 0; i < composite.length; i++) composite[i] = a.composite[i]! * n + memory.embedding[i]!;
    l2normalize(composite);
    const next: AssemblyRecord = {
      ...a,
      composite,
      memberCount: n + 1,
      keywordCounts: addKeywords(a.keywordCounts, memory.content, 1),
      updatedAt: now,
    };
    next.name = nameOf(next.keywordCounts);
    this.store.addMember(a.key, memory.key, now);
    this.byKey.set(a.key, next);
    this.logged(next, now);
    return next;
  }

  private merge(a: AssemblyRecord, b: AssemblyRecord, now: number): AssemblyRecord {
    const [big, small] = a.memberCount >= b.memberCount ? [a, b] : [b, a];
    const composite = new Float32Array(big.composite.length);
    for (let i = 0; i < composite.length; i++) {
      composite[i] = big.composite[i]! * big.memberCount + small.composite[i]! * small.memberCount;
    }
    l2normalize(composite);
    const counts = { ...big.keywordCounts };
    for (const [w, c] of Object.entries(small.keywordCounts)) counts[w] = (counts[w] ?? 0) + c;
    for (const m of this.store.membersOf(small.key)) this.store.addMember(big.key, m, now);
    this.store.deleteAssembly(small.key);
    this.byKey.delete(small.key);
    this.store.logChange('assembly', 'delete', small.id, small.key, now);
    const members = this.store.membersOf(big.key).length;
    const next: AssemblyRecord = {
      ...big,
      composite,
      keywordCounts: counts,
      name: nameOf(counts),
      memberCount: members,
      activationCount: big.activationCount + small.activationCount,
      updatedAt: now,
    };
    this.byKey.set(big.key, next);
    this.logged(next, now);
    return next;
  }

  /** Takes a memory out of its assemblies (before it is deleted or re-embedded). Call inside a transaction. */
  removeMember(memory: MemoryRecord, now: number): void {
    for (const key of this.store.assembliesOf(memory.key)) {
      const a = this.byKey.get(key);
      if (!a) continue;
      this.store.removeMember(key, memory.key);
      const n = a.memberCount - 1;
      if (n < 2) {
        this.store.deleteAssembly(key);
        this.byKey.delete(key);
        this.store.logChange('assembly', 'delete', a.id, key, now);
        continue;
      }
      const composite = new Float32Array(a.composite.length);
      for (let i = 0; i < composite.length; i++)
        composite[i] = a.composite[i]! * a.memberCount - memory.embedding[i]!;
      l2normalize(composite);
      const next: AssemblyRecord = {
        ...a,
        composite,
        memberCount: n,
        keywordCounts: addKeywords(a.keywordCounts, memory.content, -1),
        updatedAt: now,
      };
      next.name = nameOf(next.keywordCounts);
      this.byKey.set(key, next);
      this.logged(next, now);
    }
  }

  /** Best cosine between a query and the composites of the given assemblies (0 when none). */
  activation(query: Float32Array | undefined, assemblyKeys: number[] | undefined): number {
    if (!query || !assemblyKeys) return 0;
    let best = 0;
    for (const k of assemblyKeys) {
      const a = this.byKey.get(k);
      if (a) best = Math.max(best, dot(a.composite, query));
    }
    return best;
  }

  noteActivations(counts: Map<number, number>, now: number): void {
    for (const [k, n] of counts) {
      const a = this.byKey.get(k);
      if (a) this.byKey.set(k, { ...a, activationCount: a.activationCount + n, lastActivated: now });
    }
  }

  /** Upserts an assembly as received from a primary (standby). */
  applyReplica(a: Omit<AssemblyRecord, 'key'>, memberIds: string[], now: number): void {
    const existing = this.store.assemblyById(a.id);
    let key: number;
    if (existing) {
      key = existing.key;
      this.store.updateAssembly({ ...a, key });
      for (const m of this.store.membersOf(key)) this.store.removeMember(key, m);
    } else {
      key = this.store.insertAssembly(a);
    }
    let members = 0;
    for (const id of memberIds) {
      const mk = this.store.keyOf(id);
      if (mk !== undefined) {
        this.store.addMember(key, mk, now);
        members++;
      }
    }
    const full = { ...a, key, memberCount: members };
    this.byKey.set(key, full);
    this.logged(full, now);
  }

  deleteReplica(id: string, now: number): void {
    const existing = this.store.assemblyById(id);
    if (!existing) return;
    this.store.deleteAssembly(existing.key);
    this.byKey.delete(existing.key);
    this.store.logChange('assembly', 'delete', id, existing.key, now);
  }

  private logged(a: AssemblyRecord, now: number): void {
    const seq = this.store.logChange('assembly', 'upsert', a.id, a.key, now);
    a.seq = seq;
    this.store.updateAssembly(a);
  }
}
