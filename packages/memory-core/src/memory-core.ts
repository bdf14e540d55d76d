// The memory core's domain: ingest, read, update, delete, search, boosts, the change feed and replication.
// Writes are applied synchronously (no await between the index update and the commit), so they never interleave.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { AppError, badRequest, notFound, unavailable, type Logger } from '@synthians/kit';
import { analyzeEmotion, type EmotionResult } from './emotion.ts';
import type { EmbeddingProvider } from './embedding/provider.ts';
import { dot, vectorFromBase64, vectorToBase64 } from './embeddings.ts';
import { compileFilter, type Sql } from './filter.ts';
import {
  effectiveQuickRecal,
  normaliseWeights,
  quickRecal,
  recencyFactor,
  round,
  type QuickRecalConfig,
} from './quickrecal.ts';
import { emotionalResonance, relevance, type RelevanceWeights, type UserEmotion } from './relevance.ts';
import { fuse, type FusionCandidate, type FusionWeights } from './search/fusion.ts';
import { ftsQuery } from './search/lexical.ts';
import { Assemblies, topKeywords, type AssemblyConfig } from './assemblies.ts';
import {
  MemoryStore,
  type AssemblyRecord,
  type Change,
  type MemoryRecord,
  type SurpriseEvent,
} from './store.ts';
import { VectorIndex, type IndexOptions, type Neighbours } from './vector-index.ts';

export interface MemoryCoreOptions {
  dir: string;
  dim: number;
  sync: 'full' | 'normal';
  index: Omit<IndexOptions, 'dim'>;
  snapshotEvery: number;
  quickrecal: QuickRecalConfig;
  relevance: RelevanceWeights;
  fusion: FusionWeights;
  assemblies: AssemblyConfig;
  readOnly: boolean;
}

export interface NewMemory {
  id?: string;
  content: string;
  embedding?: Float32Array;
  embeddingModel?: string;
  metadata: Record<string, unknown>;
  tags: string[];
  userId: string | null;
  sessionId: string | null;
  eventTime: number | null;
  importance: number | null;
}

export interface MemoryPatch {
  content?: string;
  embedding?: Float32Array;
  metadata?: Record<string, unknown>;
  mergeMetadata?: boolean;
  tags?: string[];
  eventTime?: number | null;
  importance?: number | null;
}

type Prepared = NewMemory & { emotion: EmotionResult };
interface Staged {
  items: Prepared[];
  keys: number[];
  indexed: Promise<Neighbours[]>;
}

export type SearchMode = 'vector' | 'lexical' | 'hybrid';

export interface SearchRequest {
  query?: string;
  embedding?: Float32Array;
  mode: SearchMode;
  topK: number;
  filter?: unknown;
  userId?: string;
  sessionId?: string;
  tags?: string[];
  since?: number;
  until?: number;
  userEmotion?: UserEmotion;
  threshold?: number;
  explain?: boolean;
  trackAccess?: boolean;
  /** relevance (default) or raw similarity. */
  rankBy?: 'relevance' | 'similarity';
}

export interface SearchHit {
  memory: MemoryRecord;
  similarity: number;
  relevance: number;
  effectiveQuickRecal: number;
  explain?: Record<string, unknown>;
}

/** Neighbours looked at per new memory for novelty and assemblies. */
const neighbourCount = 8;
/** Below this many memories matching a filter, vector search is exact over them. */
const exactScanLimit = 5000;

export class MemoryCore {
  readonly store: MemoryStore;
  readonly index: VectorIndex;
  readonly assemblies: Assemblies;
  private snapshotSeq = 0;
  private changesSinceSnapshot = 0;
  private pendingAccess = new Map<number, { count: number; last: number }>();
  private pendingActivations = new Map<number, number>();
  private waiters = new Set<() => void>();
  private flushScheduled = false;
  private nextFreeKey = 0;
  private pendingWrites: {
    items: Prepared[];
    resolve: (r: MemoryRecord[]) => void;
    reject: (e: unknown) => void;
  }[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private writeChain: Promise<void> = Promise.resolve();
  private closing = false;
  readonly startedAt = Date.now();
  replication: ReplicationState | undefined;

  private constructor(
    readonly options: MemoryCoreOptions,
    readonly embedder: EmbeddingProvider,
    private readonly log: Logger,
  ) {
    this.store = new MemoryStore(options.dir, { sync: options.sync });
    this.index = new VectorIndex({ ...options.index, dim: options.dim }, options.dir);
    this.assemblies = new Assemblies(this.store, options.assemblies);
  }

  static async open(
    options: MemoryCoreOptions,
    embedder: EmbeddingProvider,
    log: Logger,
  ): Promise<MemoryCore> {
    const core = new MemoryCore(
      {
        ...options,
        relevance: normaliseWeights({ ...options.relevance }),
        fusion: normaliseWeights({ ...options.fusion }),
        quickrecal: { ...options.quickrecal, weights: normaliseWeights({ ...options.quickrecal.weights }) },
      },
      embedder,
      log,
    );
    try {
      core.checkDimension();
      await core.recoverIndex();
    } catch (err) {
      await core.index.close();
      core.store.close();
      throw err;
    }
    core.flushTimer = setInterval(() => core.flushAccess(), 2000);
    core.flushTimer.unref();
    return core;
  }

  private checkDimension(): void {
    const stored = this.store.getMeta('embedding_dim');
    if (stored === undefined) this.store.setMeta('embedding_dim', String(this.options.dim));
    else if (Number(stored) !== this.options.dim) {
      throw new AppError(
        500,
        'dimension_mismatch',
        `The store at ${this.options.dir} holds ${stored}-d embeddings but EMBEDDING_DIM is ${this.options.dim}`,
      );
    }
  }

  // ---- index recovery -------------------------------------------------------------------------------------

  private async recoverIndex(): Promise<void> {
    const started = performance.now();
    const loaded = await this.index.loadSnapshot();
    const count = this.store.count();
    if (!loaded.ok) {
      if (count > 0 || loaded.reason !== 'no snapshot') {
        this.log.warn(
          { reason: loaded.reason, memories: count },
          'vector index snapshot unusable; rebuilding from the store',
        );
      }
      await this.rebuildIndex();
    } else {
      const applied = await this.catchUp(loaded.seq);
      this.snapshotSeq = loaded.seq;
      if (this.index.size !== count) {
        this.log.warn(
          { index: this.index.size, memories: count },
          'vector index disagrees with the store; rebuilding',
        );
        await this.rebuildIndex();
      } else if (applied > 0) {
        this.changesSinceSnapshot = applied;
      }
    }
    this.log.info(
      { memories: count, assemblies: this.assemblies.count, ms: Math.round(performance.now() - started) },
      'vector index ready',
    );
  }

  /** Replays the change log after the snapshot's seq into the index, in batches (multi-threaded adds). */
  private async catchUp(fromSeq: number): Promise<number> {
    let applied = 0;
    let seq = fromSeq;
    for (;;) {
      const changes = this.store.changesSince(seq, 20_000);
      if (changes.length === 0) break;
      seq = changes[changes.length - 1]!.seq;
      // Only the last change of each memory matters; its current row (or absence) is the truth.
      const last = new Map<number, Change>();
      for (const c of changes) if (c.kind === 'memory') last.set(c.key, c);
      applied += last.size;
      const keys = [...last.keys()];
      const present = new Map<number, Float32Array>();
      for (let i = 0; i < keys.length; i += 500) {
        for (const [key, r] of this.store.embeddingsOf(keys.slice(i, i + 500))) present.set(key, r);
      }
      await this.index.remove(keys.filter((key) => !present.has(key)));
      const addKeys = [...present.keys()];
      const matrix = new Float32Array(addKeys.length * this.options.dim);
      addKeys.forEach((key, i) => matrix.set(present.get(key)!, i * this.options.dim));
      await this.index.add(addKeys, matrix);
    }
    return applied;
  }

  private async rebuildIndex(): Promise<void> {
    await this.index.clear();
    const batch = 4096;
    let keys: number[] = [];
    let matrix = new Float32Array(batch * this.options.dim);
    const head = this.store.headSeq();
    const pending: Promise<void>[] = [];
    for (const { key, embedding } of this.store.allEmbeddings()) {
      matrix.set(embedding, keys.length * this.options.dim);
      keys.push(key);
      if (keys.length === batch) {
        pending.push(this.index.add(keys, matrix));
        keys = [];
        matrix = new Float32Array(batch * this.options.dim);
      }
    }
    if (keys.length) pending.push(this.index.add(keys, matrix.subarray(0, keys.length * this.options.dim)));
    await Promise.all(pending);
    await this.snapshot(head);
  }

  /** Saves the index as of `seq`: call when every index operation up to `seq` has been sent. */
  private async snapshot(seq = this.store.headSeq()): Promise<void> {
    const started = performance.now();
    this.changesSinceSnapshot = 0;
    await this.index.saveSnapshot(seq);
    this.snapshotSeq = seq;
    this.log.debug({ seq, ms: Math.round(performance.now() - started) }, 'index snapshot written');
  }

  private changed(count: number): void {
    this.changesSinceSnapshot += count;
    for (const wake of this.waiters) wake();
    this.waiters.clear();
    if (this.changesSinceSnapshot >= this.options.snapshotEvery) {
      // Queued in the worker behind every index operation sent so far; the main thread goes on meanwhile.
      this.snapshot().catch((err: Error) => this.log.error({ err: err.message }, 'index snapshot failed'));
    }
  }

  /** Runs writes one at a time (keys, index updates and commits must not interleave). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeChain.then(fn);
    this.writeChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private assertWritable(): void {
    if (this.options.readOnly) {
      throw unavailable(
        'read_only_standby',
        'This memory core is a read-only standby; send writes to the primary',
        {
          primary: this.replication?.upstream,
        },
      );
    }
    if (this.closed) throw unavailable('shutting_down', 'The memory core is shutting down');
  }

  // ---- ingest ---------------------------------------------------------------------------------------------

  /** Stores new memories; every one is durable when this returns. */
  async create(items: NewMemory[]): Promise<MemoryRecord[]> {
    this.assertWritable();
    for (const item of items) {
      if (item.content.trim() === '' && !item.embedding) {
        throw badRequest('missing_content', 'A memory needs content or an embedding');
      }
    }
    const toEmbed = items.filter((i) => !i.embedding);
    if (toEmbed.length) {
      const vectors = await this.embedder.embed(toEmbed.map((i) => i.content));
      toEmbed.forEach((item, n) => {
        item.embedding = vectors[n];
        item.embeddingModel = this.embedder.model;
      });
    }
    // Emotion is read here, outside the write queue, so that it overlaps with the commit of earlier writes.
    return this.enqueue(items.map((item) => ({ ...item, emotion: analyzeEmotion(item.content) })));
  }

  /**
   * Group commit: writes that arrive while earlier ones are being committed share one transaction (one fsync) and
   * one index update. If the group fails, each request is retried alone so that one bad request fails alone.
   */
  private enqueue(items: Prepared[]): Promise<MemoryRecord[]> {
    return new Promise((resolve, reject) => {
      this.pendingWrites.push({ items, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => void this.flushWrites());
      }
    });
  }

  /**
   * Two stages, so that consecutive groups overlap: (1) at once, keys are reserved and the vectors sent to the index
   * worker, which adds them and looks up their neighbours; (2) in order, under the write lock, the group commits.
   * The worker can index group n+1 while the main thread commits group n.
   */
  private async flushWrites(): Promise<void> {
    this.flushScheduled = false;
    const group = this.pendingWrites;
    this.pendingWrites = [];
    if (group.length === 0) return;
    let staged: Staged | undefined;
    try {
      staged = this.stage(group.flatMap((g) => g.items));
    } catch (err) {
      for (const g of group) g.reject(err);
      return;
    }
    const first = staged;
    await this.serial(async () => {
      try {
        const records = await this.commitStaged(first);
        let at = 0;
        for (const g of group) {
          g.resolve(records.slice(at, at + g.items.length));
          at += g.items.length;
        }
      } catch (err) {
        if (group.length === 1) {
          group[0]!.reject(err);
          return;
        }
        // One request spoiled the group: retry each alone, so that only it fails.
        for (const g of group) {
          try {
            g.resolve(await this.commitStaged(this.stage(g.items)));
          } catch (e) {
            g.reject(e);
          }
        }
      }
    });
  }

  /** Reserves keys (never reused, even if the commit fails) for new memories or replicas. */
  private allocateKeys(n: number): number {
    const first = Math.max(this.nextFreeKey, this.store.nextKey());
    this.nextFreeKey = first + n;
    return first;
  }

  private stage(items: Prepared[]): Staged {
    this.assertWritable();
    const dim = this.options.dim;
    const firstKey = this.allocateKeys(items.length);
    const keys = items.map((_, n) => firstKey + n);
    const matrix = new Float32Array(items.length * dim);
    items.forEach((item, n) => matrix.set(item.embedding!, n * dim));
    // Added before the commit so that each memory sees the earlier ones (its batch's and earlier groups') as
    // neighbours; taken out again if the commit fails.
    const indexed = Promise.all([
      this.index.add(keys, matrix),
      this.index.neighboursBatch(matrix, items.length, neighbourCount + 1),
    ]).then(([, neighbours]) => neighbours);
    indexed.catch(() => undefined); // awaited in commitStaged
    return { items, keys, indexed };
  }

  private async commitStaged({ items, keys, indexed }: Staged): Promise<MemoryRecord[]> {
    try {
      const neighbours = await indexed;
      this.assertWritable();
      const seen = new Set<string>();
      for (const item of items) {
        if (item.id === undefined) continue;
        if (seen.has(item.id) || this.store.keyOf(item.id) !== undefined) {
          throw new AppError(409, 'duplicate_id', `A memory with id ${item.id} already exists`);
        }
        seen.add(item.id);
      }
      const now = Date.now();
      const records: MemoryRecord[] = [];
      this.store.transaction(() => {
        items.forEach((item, n) => {
          const key = keys[n]!;
          const prior = earlier(neighbours[n]!, key);
          const qr = quickRecal(
            {
              content: item.content,
              importance: item.importance,
              emotionIntensity: item.emotion.intensity,
              nearestSimilarity: prior.similarities[0],
              ageMs: item.eventTime === null ? 0 : now - item.eventTime,
            },
            this.options.quickrecal,
          );
          const id = item.id ?? newMemoryId();
          const seq = this.store.logChange('memory', 'upsert', id, key, now);
          const record: MemoryRecord = {
            key,
            id,
            content: item.content,
            embedding: item.embedding!,
            embeddingModel: item.embeddingModel ?? 'client',
            metadata: item.metadata,
            tags: [...new Set(item.tags)],
            userId: item.userId,
            sessionId: item.sessionId,
            importance: item.importance,
            quickrecal: qr.score,
            quickrecalFactors: qr.factors,
            emotion: item.emotion,
            createdAt: now,
            updatedAt: now,
            eventTime: item.eventTime,
            accessCount: 0,
            lastAccess: null,
            seq,
          };
          this.store.insert(record);
          this.assemblies.place(record, prior, now);
          records.push(record);
        });
      });
      this.changed(records.length);
      return records;
    } catch (err) {
      await this.index.remove(keys);
      this.assemblies.reload();
      throw err;
    }
  }

  // ---- reads ----------------------------------------------------------------------------------------------

  get(id: string): MemoryRecord {
    const record = this.store.getById(id);
    if (!record) throw notFound(`No memory with id ${id}`, { id });
    return record;
  }

  surprises(record: MemoryRecord): SurpriseEvent[] {
    return this.store.surprises(record.key);
  }

  assemblyIdsOf(record: MemoryRecord): string[] {
    return this.store
      .assembliesOf(record.key)
      .map((k) => this.assemblies.get(k)?.id)
      .filter((x): x is string => x !== undefined);
  }

  effectiveScore(record: MemoryRecord, now = Date.now()): number {
    const since = Math.max(
      record.updatedAt,
      record.lastAccess ?? 0,
      this.pendingAccess.get(record.key)?.last ?? 0,
    );
    return effectiveQuickRecal(record.quickrecal, since, now, this.options.quickrecal);
  }

  list(opts: { filter?: unknown; cursor?: string; limit: number; order: 'asc' | 'desc' }): {
    items: MemoryRecord[];
    nextCursor: string | null;
  } {
    const sql = compileFilter(opts.filter ?? {});
    const after =
      opts.cursor === undefined
        ? opts.order === 'asc'
          ? 0
          : Number.MAX_SAFE_INTEGER
        : decodeCursor(opts.cursor);
    const items = this.store.list(sql, after, opts.limit + 1, opts.order);
    const more = items.length > opts.limit;
    if (more) items.pop();
    return { items, nextCursor: more ? encodeCursor(items[items.length - 1]!.key) : null };
  }

  // ---- updates --------------------------------------------------------------------------------------------

  async update(id: string, patch: MemoryPatch): Promise<MemoryRecord> {
    this.assertWritable();
    const first = this.get(id);
    const contentChanged = patch.content !== undefined && patch.content !== first.content;
    let embedding = patch.embedding;
    let model = embedding ? 'client' : first.embeddingModel;
    if (!embedding && contentChanged) {
      [embedding] = await this.embedder.embed([patch.content!]);
      model = this.embedder.model;
    }
    return this.serial(() => this.applyUpdate(id, patch, embedding, model));
  }

  private async applyUpdate(
    id: string,
    patch: MemoryPatch,
    embedding: Float32Array | undefined,
    model: string,
  ): Promise<MemoryRecord> {
    this.assertWritable();
    const current = this.get(id); // it may have changed while we embedded
    const contentChanged = patch.content !== undefined && patch.content !== current.content;
    const now = Date.now();
    const content = patch.content ?? current.content;
    const metadata =
      patch.metadata === undefined
        ? current.metadata
        : patch.mergeMetadata
          ? { ...current.metadata, ...patch.metadata }
          : patch.metadata;
    const next: MemoryRecord = {
      ...current,
      content,
      metadata,
      tags: patch.tags ? [...new Set(patch.tags)] : current.tags,
      eventTime: patch.eventTime === undefined ? current.eventTime : patch.eventTime,
      importance: patch.importance === undefined ? current.importance : patch.importance,
      embedding: embedding ?? current.embedding,
      embeddingModel: model,
      updatedAt: now,
    };
    if (contentChanged || embedding || patch.importance !== undefined) {
      const emotion = contentChanged ? analyzeEmotion(content) : current.emotion;
      const around = await this.index.neighbours(next.embedding, 3);
      const nearest = around.similarities.find((_, i) => around.keys[i] !== current.key);
      const qr = quickRecal(
        {
          content,
          importance: next.importance,
          emotionIntensity: emotion.intensity,
          nearestSimilarity: nearest,
          ageMs: next.eventTime === null ? now - current.createdAt : now - next.eventTime,
        },
        this.options.quickrecal,
      );
      const boosts = this.store.surprises(current.key).reduce((s, e) => s + (e.new - e.previous), 0);
      next.emotion = emotion;
      next.quickrecalFactors = qr.factors;
      next.quickrecal = round(Math.min(1, Math.max(0, qr.score + boosts)));
    }
    const vectorChanged = next.embedding !== current.embedding;
    const around = vectorChanged
      ? await this.index.neighbours(next.embedding, neighbourCount + 1)
      : undefined;
    this.store.transaction(() => {
      if (vectorChanged) this.assemblies.removeMember(current, now);
      next.seq = this.store.logChange('memory', 'upsert', id, current.key, now);
      this.store.update(next);
      if (around) {
        // A re-embedded memory finds its place again among its new neighbours.
        const others = { keys: [] as number[], similarities: [] as number[] };
        around.keys.forEach((k, i) => {
          if (k !== current.key) {
            others.keys.push(k);
            others.similarities.push(around.similarities[i]!);
          }
        });
        this.assemblies.place(next, others, now);
      }
    });
    if (vectorChanged) await this.index.add([current.key], next.embedding);
    this.changed(1);
    return next;
  }

  delete(id: string): Promise<void> {
    this.assertWritable();
    this.get(id);
    return this.serial(async () => {
      this.assertWritable();
      const current = this.get(id);
      const now = Date.now();
      this.store.transaction(() => {
        this.assemblies.removeMember(current, now);
        this.store.deleteByKey(current.key);
        this.store.logChange('memory', 'delete', id, current.key, now);
      });
      await this.index.remove([current.key]);
      this.pendingAccess.delete(current.key);
      this.changed(1);
    });
  }

  /** Adds `delta` to the stored QuickRecal score (clamped to [0,1]) and records why. */
  boost(
    id: string,
    delta: number,
    reason: string,
  ): Promise<{ previous: number; next: number; record: MemoryRecord }> {
    this.assertWritable();
    this.get(id);
    return this.serial(async () => {
      this.assertWritable();
      const current = this.get(id);
      const now = Date.now();
      const previous = current.quickrecal;
      const next = round(Math.min(1, Math.max(0, previous + delta)));
      const record: MemoryRecord = { ...current, quickrecal: next, updatedAt: now };
      this.store.transaction(() => {
        this.store.addSurprise(current.key, { at: now, delta, previous, new: next, reason });
        record.seq = this.store.logChange('memory', 'upsert', id, current.key, now);
        this.store.update(record);
      });
      this.changed(1);
      return { previous, next, record };
    });
  }

  // ---- search ---------------------------------------------------------------------------------------------

  async search(req: SearchRequest): Promise<SearchHit[]> {
    const filter = compileFilter(scopeFilter(req));
    const unfiltered = filter.sql === '1';
    const match = req.mode === 'vector' || !req.query ? null : ftsQuery(req.query);
    let queryVector = req.embedding;
    if (!queryVector && req.mode !== 'lexical') {
      if (!req.query || req.query.trim() === '') {
        throw badRequest('missing_query', 'Vector and hybrid search need a query text or a query embedding');
      }
      [queryVector] = await this.embedder.embed([req.query]);
    }
    if (req.mode === 'lexical' && (!req.query || req.query.trim() === '')) {
      throw badRequest('missing_query', 'Lexical search needs a query text');
    }
    const wanted = Math.max(50, req.topK * 5);
    const candidates = new Map<number, FusionCandidate>();

    if (queryVector && req.mode !== 'lexical') {
      for (const [key, sim] of await this.vectorCandidates(queryVector, filter, unfiltered, wanted)) {
        candidates.set(key, { key, vector: sim });
      }
    }
    if (match && req.mode !== 'vector') {
      for (const { key, score } of this.store.lexical(match, filter, wanted)) {
        const c = candidates.get(key);
        if (c) c.lexical = score;
        else candidates.set(key, { key, lexical: score });
      }
    }
    if (candidates.size === 0) return [];
    const records = this.store.getManyByKeys([...candidates.keys()]);
    for (const c of candidates.values()) {
      const r = records.get(c.key);
      if (!r) candidates.delete(c.key);
      else if (queryVector) c.vector = dot(queryVector, r.embedding); // exact, whatever the index's precision
      if (c.lexical === undefined && req.mode !== 'vector') c.lexical = 0;
    }
    const fused = fuseFor(req.mode, [...candidates.values()], this.options.fusion);
    const memberships = this.store.membershipsOf([...candidates.keys()]);
    const now = Date.now();
    const hits: SearchHit[] = [];
    for (const f of fused) {
      const memory = records.get(f.key)!;
      const similarity = f.similarity;
      if (req.threshold !== undefined && similarity < req.threshold) continue;
      const eff = this.effectiveScore(memory, now);
      const components = {
        similarity,
        quickrecal: eff,
        recency: recencyFactor(
          now - (memory.eventTime ?? memory.createdAt),
          this.options.quickrecal.halfLifeDays,
        ),
        assembly: Math.max(0, this.assemblies.activation(queryVector, memberships.get(f.key))),
        emotion: emotionalResonance(memory.emotion, req.userEmotion),
      };
      const score = relevance(components, this.options.relevance);
      const hit: SearchHit = {
        memory,
        similarity: round(similarity),
        relevance: round(score),
        effectiveQuickRecal: eff,
      };
      if (req.explain) {
        hit.explain = {
          mode: req.mode,
          vector_similarity:
            f.vectorComponent === undefined ? null : round(candidates.get(f.key)?.vector ?? 0),
          lexical_bm25: candidates.get(f.key)?.lexical ?? null,
          vector_component: round(f.vectorComponent),
          lexical_component: round(f.lexicalComponent),
          fusion_weights: this.options.fusion,
          components: Object.fromEntries(Object.entries(components).map(([k, v]) => [k, round(v)])),
          weights: this.options.relevance,
          relevance: round(score),
        };
      }
      hits.push(hit);
    }
    if (req.rankBy === 'similarity')
      hits.sort((a, b) => b.similarity - a.similarity || a.memory.key - b.memory.key);
    else hits.sort((a, b) => b.relevance - a.relevance || a.memory.key - b.memory.key);
    const top = hits.slice(0, req.topK);
    if (req.trackAccess !== false) this.noteAccess(top, memberships, now);
    return top;
  }

  private async vectorCandidates(
    query: Float32Array,
    filter: Sql,
    unfiltered: boolean,
    wanted: number,
  ): Promise<[number, number][]> {
    if (unfiltered) {
      const n = await this.index.neighbours(query, wanted, true);
      return n.keys.map((k, i) => [k, n.similarities[i]!]);
    }
    const matching = this.store.countWhere(filter, exactScanLimit + 1);
    if (matching <= exactScanLimit) {
      const rows = this.store.embeddingsWhere(filter, exactScanLimit);
      return rows
        .map((r) => [r.key, dot(query, r.embedding)] as [number, number])
        .sort((a, b) => b[1] - a[1] || a[0] - b[0])
        .slice(0, wanted);
    }
    // A broad filter: over-fetch from the index and keep what matches.
    for (let k = wanted * 4; ; k *= 4) {
      const n = await this.index.neighbours(query, Math.min(k, this.index.size), true);
      const ok = this.store.keysMatching(n.keys, filter);
      const out = n.keys
        .map((key, i) => [key, n.similarities[i]!] as [number, number])
        .filter(([key]) => ok.has(key));
      if (out.length >= wanted || k >= this.index.size) return out.slice(0, wanted);
    }
  }

  private noteAccess(hits: SearchHit[], memberships: Map<number, number[]>, now: number): void {
    for (const h of hits) {
      const p = this.pendingAccess.get(h.memory.key);
      this.pendingAccess.set(h.memory.key, { count: (p?.count ?? 0) + 1, last: now });
      for (const a of memberships.get(h.memory.key) ?? []) {
        this.pendingActivations.set(a, (this.pendingActivations.get(a) ?? 0) + 1);
      }
    }
  }

  /** Writes batched access statistics and assembly activations (not part of the change log). */
  flushAccess(): void {
    if (this.pendingAccess.size === 0 && this.pendingActivations.size === 0) return;
    if (!this.store.db.open) return;
    const access = this.pendingAccess;
    const activations = this.pendingActivations;
    this.pendingAccess = new Map();
    this.pendingActivations = new Map();
    const now = Date.now();
    this.store.bumpAccess(access);
    this.store.activateAssemblies(activations, now);
    this.assemblies.noteActivations(activations, now);
  }

  /** Access count including what is not flushed yet. */
  accessOf(record: MemoryRecord): { count: number; last: number | null } {
    const p = this.pendingAccess.get(record.key);
    return { count: record.accessCount + (p?.count ?? 0), last: p?.last ?? record.lastAccess };
  }

  // ---- change feed and replication ------------------------------------------------------------------------

  headSeq(): number {
    return this.store.headSeq();
  }

  /** Changes after `since`, waiting up to `waitMs` for one when there is none. One entry per item: its latest state. */
  async changes(
    since: number,
    limit: number,
    waitMs: number,
  ): Promise<{ changes: WireChange[]; lastSeq: number; headSeq: number }> {
    if (this.store.headSeq() <= since && waitMs > 0 && !this.closing) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.add(done);
      });
    }
    if (this.closed) return { changes: [], lastSeq: since, headSeq: since };
    const raw = this.store.changesSince(since, limit);
    const latest = new Map<string, Change>();
    for (const c of raw) {
      latest.delete(`${c.kind}:${c.ref}`);
      latest.set(`${c.kind}:${c.ref}`, c);
    }
    const changes: WireChange[] = [];
    for (const c of latest.values()) changes.push(this.wireChange(c));
    const lastSeq = raw.length ? raw[raw.length - 1]!.seq : since;
    return { changes, lastSeq, headSeq: this.store.headSeq() };
  }

  private wireChange(c: Change): WireChange {
    if (c.kind === 'memory') {
      const record = c.op === 'upsert' ? this.store.getById(c.ref) : undefined;
      if (!record) return { seq: c.seq, kind: 'memory', op: 'delete', id: c.ref, at: c.at };
      return { seq: c.seq, kind: 'memory', op: 'upsert', id: c.ref, at: c.at, memory: this.toWire(record) };
    }
    const a = c.op === 'upsert' ? this.store.assemblyById(c.ref) : undefined;
    if (!a) return { seq: c.seq, kind: 'assembly', op: 'delete', id: c.ref, at: c.at };
    return {
      seq: c.seq,
      kind: 'assembly',
      op: 'upsert',
      id: c.ref,
      at: c.at,
      assembly: this.assemblyToWire(a),
    };
  }

  /** The full, lossless form of a memory (change feed, export). */
  toWire(r: MemoryRecord): WireMemory {
    return {
      id: r.id,
      content: r.content,
      embedding_b64: vectorToBase64(r.embedding),
      embedding_model: r.embeddingModel,
      metadata: r.metadata,
      tags: r.tags,
      user_id: r.userId,
      session_id: r.sessionId,
      importance: r.importance,
      quickrecal_score: r.quickrecal,
      quickrecal_factors: r.quickrecalFactors,
      emotion: r.emotion,
      created_at: r.createdAt,
      updated_at: r.updatedAt,
      event_time: r.eventTime,
      access_count: r.accessCount,
      last_access: r.lastAccess,
      surprise_events: this.store.surprises(r.key),
    };
  }

  assemblyToWire(a: AssemblyRecord): WireAssembly {
    return {
      id: a.id,
      name: a.name,
      composite_b64: vectorToBase64(a.composite),
      keyword_counts: a.keywordCounts,
      member_ids: this.store.memberIdsOf(a.key),
      activation_count: a.activationCount,
      last_activated: a.lastActivated,
      created_at: a.createdAt,
      updated_at: a.updatedAt,
    };
  }

  /** Applies a page of the primary's changes (standby); records how far it got in the same transaction. */
  applyReplicated(changes: WireChange[], upstreamSeq: number): Promise<void> {
    return this.serial(() => this.applyReplicatedNow(changes, upstreamSeq));
  }

  private async applyReplicatedNow(changes: WireChange[], upstreamSeq: number): Promise<void> {
    const now = Date.now();
    const removed: number[] = [];
    const added = new Map<number, Float32Array>();
    this.store.transaction(() => {
      for (const c of changes) {
        if (c.kind === 'memory') {
          if (c.op === 'delete' || !c.memory) {
            const existing = this.store.getById(c.id);
            if (!existing) continue;
            this.assemblies.removeMember(existing, now);
            this.store.deleteByKey(existing.key);
            this.store.logChange('memory', 'delete', c.id, existing.key, now);
            added.delete(existing.key);
            removed.push(existing.key);
          } else {
            const m = c.memory;
            const embedding = vectorFromBase64(m.embedding_b64, this.options.dim);
            const seq = this.store.headSeq() + 1;
            const key = this.store.upsertReplica(fromWire(m, embedding, seq), m.surprise_events, () =>
              this.allocateKeys(1),
            );
            this.store.logChange('memory', 'upsert', m.id, key, now);
            added.set(key, embedding);
          }
        } else if (c.op === 'delete' || !c.assembly) {
          this.assemblies.deleteReplica(c.id, now);
        } else {
          const a = c.assembly;
          this.assemblies.applyReplica(
            {
              id: a.id,
              name: a.name,
              composite: vectorFromBase64(a.composite_b64, this.options.dim, 'composite_b64'),
              keywordCounts: a.keyword_counts,
              memberCount: a.member_ids.length,
              activationCount: a.activation_count,
              lastActivated: a.last_activated,
              createdAt: a.created_at,
              updatedAt: a.updated_at,
              seq: 0,
            },
            a.member_ids,
            now,
          );
        }
      }
      this.store.setMeta('follow_upstream_seq', String(upstreamSeq));
    });
    await this.index.remove(removed);
    await this.addVectors(added);
    if (changes.length) this.changed(changes.length);
  }

  private addVectors(vectors: Map<number, Float32Array>): Promise<void> {
    const keys = [...vectors.keys()];
    const matrix = new Float32Array(keys.length * this.options.dim);
    keys.forEach((key, i) => matrix.set(vectors.get(key)!, i * this.options.dim));
    return this.index.add(keys, matrix);
  }

  upstreamSeq(): number {
    return Number(this.store.getMeta('follow_upstream_seq') ?? 0);
  }

  /**
   * Imports exported memories (keeping ids and history) in one transaction: all or nothing.
   * With `skip`, ids that exist are left alone; with `error`, any existing id refuses the whole import.
   */
  importMany(
    items: { wire: WireMemory; embedding: Float32Array }[],
    onConflict: 'skip' | 'replace' | 'error',
  ): Promise<{ imported: number; skipped: number }> {
    this.assertWritable();
    return this.serial(async () => {
      this.assertWritable();
      const now = Date.now();
      const added = new Map<number, Float32Array>();
      let skipped = 0;
      this.store.transaction(() => {
        for (const { wire, embedding } of items) {
          const existing = this.store.getById(wire.id);
          if (existing && onConflict === 'error') {
            throw new AppError(409, 'duplicate_id', `A memory with id ${wire.id} already exists`);
          }
          if (existing && onConflict === 'skip') {
            skipped++;
            continue;
          }
          if (existing) this.assemblies.removeMember(existing, now);
          const seq = this.store.headSeq() + 1;
          const key = this.store.upsertReplica(
            fromWire(wire, embedding, seq),
            wire.surprise_events ?? [],
            () => this.allocateKeys(1),
          );
          this.store.logChange('memory', 'upsert', wire.id, key, now);
          added.set(key, embedding);
        }
      });
      await this.addVectors(added);
      this.changed(added.size);
      return { imported: added.size, skipped };
    });
  }

  // ---- stats and lifecycle --------------------------------------------------------------------------------

  stats(): Record<string, unknown> {
    const dbFile = join(this.options.dir, 'memory.db');
    let dbBytes = 0;
    try {
      dbBytes = statSync(dbFile).size + (statSync(`${dbFile}-wal`, { throwIfNoEntry: false })?.size ?? 0);
    } catch {
      /* not there yet */
    }
    return {
      role: this.options.readOnly ? 'standby' : 'primary',
      memory_count: this.store.count(),
      assembly_count: this.assemblies.count,
      index_size: this.index.size,
      head_seq: this.store.headSeq(),
      snapshot_seq: this.snapshotSeq,
      embedding: { provider_model: this.embedder.model, dim: this.options.dim },
      storage: { path: this.options.dir, bytes: dbBytes, sync: this.options.sync },
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      replication: this.replication?.report(),
    };
  }

  assemblyKeywords(a: AssemblyRecord): string[] {
    return topKeywords(a.keywordCounts);
  }

  /** Ends every waiting long-poll now (shutdown must not wait for them). */
  stopWaiting(): void {
    this.closing = true;
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /** Finishes queued writes, flushes access statistics, snapshots the index and closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.stopWaiting();
    await this.writeChain;
    this.closed = true;
    clearInterval(this.flushTimer);
    this.flushAccess();
    if (this.changesSinceSnapshot > 0) await this.snapshot();
    await this.index.close();
    this.store.close();
  }
}

export interface ReplicationState {
  upstream: string;
  report(): Record<string, unknown>;
}

export interface WireMemory {
  id: string;
  content: string;
  embedding_b64: string;
  embedding_model: string;
  metadata: Record<string, unknown>;
  tags: string[];
  user_id: string | null;
  session_id: string | null;
  importance: number | null;
  quickrecal_score: number;
  quickrecal_factors: Record<string, number>;
  emotion: EmotionResult;
  created_at: number;
  updated_at: number;
  event_time: number | null;
  access_count: number;
  last_access: number | null;
  surprise_events: SurpriseEvent[];
}

export interface WireAssembly {
  id: string;
  name: string;
  composite_b64: string;
  keyword_counts: Record<string, number>;
  member_ids: string[];
  activation_count: number;
  last_activated: number | null;
  created_at: number;
  updated_at: number;
}

export interface WireChange {
  seq: number;
  kind: 'memory' | 'assembly';
  op: 'upsert' | 'delete';
  id: string;
  at: number;
  memory?: WireMemory;
  assembly?: WireAssembly;
}

function fromWire(m: WireMemory, embedding: Float32Array, seq: number): Omit<MemoryRecord, 'key'> {
  return {
    id: m.id,
    content: m.content,
    embedding,
    embeddingModel: m.embedding_model,
    metadata: m.metadata,
    tags: m.tags ?? [],
    userId: m.user_id,
    sessionId: m.session_id,
    importance: m.importance,
    quickrecal: m.quickrecal_score,
    quickrecalFactors: m.quickrecal_factors ?? {},
    emotion: m.emotion,
    createdAt: m.created_at,
    updatedAt: m.updated_at,
    eventTime: m.event_time,
    accessCount: m.access_count ?? 0,
    lastAccess: m.last_access ?? null,
    seq,
  };
}

function earlier(n: { keys: number[]; similarities: number[] }, key: number) {
  const keys: number[] = [];
  const similarities: number[] = [];
  n.keys.forEach((k, i) => {
    if (k < key && keys.length < neighbourCount) {
      keys.push(k);
      similarities.push(n.similarities[i]!);
    }
  });
  return { keys, similarities };
}

function fuseFor(mode: SearchMode, candidates: FusionCandidate[], weights: FusionWeights) {
  if (mode === 'vector') {
    return candidates
      .map((c) => ({
        key: c.key,
        similarity: Math.max(0, c.vector ?? 0),
        vectorComponent: c.vector ?? 0,
        lexicalComponent: 0,
      }))
      .sort((a, b) => b.similarity - a.similarity || a.key - b.key);
  }
  if (mode === 'lexical') {
    const max = Math.max(...candidates.map((c) => c.lexical ?? 0), 1e-9);
    return candidates
      .map((c) => ({
        key: c.key,
        similarity: (c.lexical ?? 0) / max,
        vectorComponent: 0,
        lexicalComponent: (c.lexical ?? 0) / max,
      }))
      .sort((a, b) => b.similarity - a.similarity || a.key - b.key);
  }
  return fuse(candidates, weights);
}

function scopeFilter(req: SearchRequest): unknown {
  const parts: unknown[] = [];
  if (req.filter !== undefined) parts.push(req.filter);
  if (req.userId !== undefined) parts.push({ user_id: req.userId });
  if (req.sessionId !== undefined) parts.push({ session_id: req.sessionId });
  if (req.tags?.length) parts.push({ tags: { $all: req.tags } });
  if (req.since !== undefined) parts.push({ created_at: { $gte: req.since } });
  if (req.until !== undefined) parts.push({ created_at: { $lt: req.until } });
  return parts.length === 0 ? {} : parts.length === 1 ? parts[0] : { $and: parts };
}

export function newMemoryId(): string {
  return `mem_${randomUUID().replaceAll('-', '')}`;
}

function encodeCursor(key: number): string {
  return Buffer.from(`k:${key}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString();
  const key = Number(text.slice(2));
  if (!text.startsWith('k:') || !Number.isSafeInteger(key))
    throw badRequest('invalid_cursor', 'The cursor is not one this service issued');
  return key;
}
