// The context cascade: store → choose variant → learn (neural memory) → surprise → QuickRecal boost → retrieve and
// predict → recall related memories. One promise chain per namespace keeps order within a namespace; different
// namespaces run concurrently (no global lock).
import { AppError, badRequest, type Logger } from '@synthians/kit';
import type { OrchestratorConfig, Variant } from './config.ts';
import type { MemoryCoreClient, NeuralMemoryClient } from './clients.ts';
import { adviseVariant, type LlmOptions } from './llm.ts';
import {
  boostReason,
  selectVariant,
  surpriseBoost,
  surpriseTrend,
  type BoostParams,
  type Trend,
  type VariantChoice,
} from './policy.ts';

export const NAMESPACE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Steps in the order they are reported. */
export const STEPS = [
  'store',
  'variant',
  'nm_config',
  'nm_update',
  'boost',
  'nm_retrieve',
  'nm_predict',
  'recall_content',
  'recall_nm',
] as const;
export type StepName = (typeof STEPS)[number];

export interface StepReport {
  name: StepName;
  ok: boolean;
  ms: number;
  error?: string;
  skipped?: boolean;
  note?: string;
}

export interface ProcessInput {
  content?: string;
  embedding?: unknown[] | null;
  metadata?: Record<string, unknown> | null;
  namespace?: string;
}

/** One memory of a batch (`POST /process_memories`). */
export interface BatchItem {
  /** The memory's id in the memory core (optional; makes retries idempotent). */
  id?: string;
  content: string;
  metadata?: Record<string, unknown>;
  namespace?: string;
}

export interface BatchResult {
  status: 'completed' | 'degraded';
  count: number;
  items: {
    memory_id: string;
    quickrecal_score: number;
    /** The neural memory's surprise (null: not learned: a duplicate, or the update failed). */
    surprise: number | null;
    boost_applied: number;
    /** Stored before (a retried batch): not stored or learned again. */
    duplicate?: boolean;
  }[];
  /** Learning steps that failed for some items (the memories are stored regardless). */
  degraded: string[];
}

interface StoredItem {
  id: string;
  quickrecal_score: number;
  embedding?: number[];
  duplicate?: boolean;
}

export interface RelatedMemory {
  id: string;
  content?: string;
  similarity?: number;
  relevance_score?: number;
  quickrecal_score?: number;
  via: ('content' | 'neural_memory')[];
  [key: string]: unknown;
}

export interface VariantReport {
  name: Variant;
  reason: string;
  source: 'policy' | 'llm';
  rule: VariantChoice['rule'];
  applied: boolean;
  llm_error?: string;
}

export interface CycleResult {
  status: 'success' | 'degraded';
  memory_id: string;
  namespace: string;
  neural_memory_update: { loss: number; grad_norm: number; surprise: number } | null;
  neural_memory_retrieval: { retrieved_embedding: number[] } | null;
  neural_memory_prediction: { predicted_embedding: number[] } | { skipped: true; note: string } | null;
  quickrecal: { score_before: number; boost_applied: number; score_after: number; reason: string | null };
  variant_output: number[] | null;
  related_memories: RelatedMemory[];
  variant: VariantReport;
  steps: StepReport[];
  failed_steps: StepName[];
  processing_time_ms: number;
}

interface NamespaceState {
  /** The variant the neural memory reported for this namespace (undefined: not known yet). */
  variant?: Variant;
  reason?: string;
  surprises: number[];
  cycles: number;
  lastAt: number;
  /** /predict_next answered 409 wrong_mode: skip it until this time. */
  associativeUntil: number;
}

export interface EngineOptions {
  core: MemoryCoreClient;
  nm: NeuralMemoryClient;
  config: OrchestratorConfig;
  logger: Logger;
  /** Called with every executed step's duration (and 'cycle'). */
  observe?: (step: string, ms: number) => void;
  /** Every surprise the neural memory reports (metrics). */
  observeSurprise?: (surprise: number, boost: number) => void;
}

const MODE_CACHE_MS = 30_000;
const round = (x: number, d = 6) => Math.round(x * 10 ** d) / 10 ** d;
const message = (err: unknown) =>
  AppError.isInstance(err) ? `${err.code}: ${err.message}` : (err as Error)?.message || String(err);

export class CascadeEngine {
  readonly counts = { cycles: 0, success: 0, degraded: 0, failed: 0, boosts: 0, in_flight: 0 };
  private readonly chains = new Map<string, Promise<void>>();
  private readonly states = new Map<string, NamespaceState>();
  private readonly boost: BoostParams;
  private readonly llm: LlmOptions | undefined;

  constructor(private readonly o: EngineOptions) {
    const c = o.config;
    this.boost = {
      threshold: c.SURPRISE_BOOST_THRESHOLD,
      gain: c.SURPRISE_BOOST_GAIN,
      max: c.SURPRISE_BOOST_MAX,
    };
    this.llm = c.LLM_BASE_URL
      ? { baseUrl: c.LLM_BASE_URL, model: c.LLM_MODEL, apiKey: c.LLM_API_KEY, timeoutMs: c.LLM_TIMEOUT_MS }
      : undefined;
  }

  /** Validates the input (400s before anything is stored), then runs the cycle in the namespace's queue. */
  async process(input: ProcessInput): Promise<CycleResult> {
    const content = input.content ?? '';
    if (typeof content !== 'string') throw badRequest('invalid_content', 'content must be a string');
    const embedding = input.embedding ?? undefined;
    if (embedding !== undefined) {
      if (!Array.isArray(embedding) || embedding.length === 0)
        throw badRequest('invalid_embedding', 'embedding must be a non-empty array of numbers');
      const bad = embedding.findIndex((x) => typeof x !== 'number' || !Number.isFinite(x));
      if (bad >= 0)
        throw badRequest('invalid_embedding', `embedding[${bad}] is not a finite number`, { index: bad });
    }
    if (content.trim() === '' && embedding === undefined)
      throw badRequest('missing_content', 'Give content (a non-empty string) or an embedding');
    const metadata = input.metadata ?? {};
    const namespace = resolveNamespace(input.namespace, metadata);
    return this.enqueue(namespace, () =>
      this.cycle(namespace, content, embedding as number[] | undefined, metadata),
    );
  }

  /**
   * Background writes in bulk (the coordinator's memory outbox): every memory stored in one memory-core request (one
   * transaction), then the learning part of the cycle per namespace, in order (the variant, one neural-memory request
   * for all its updates, the surprise boosts sent together). Retrieval, prediction and recall are skipped: they only
   * serve a caller waiting for the answer. Ids make a retried batch idempotent: memories already stored are skipped
   * by the memory core (`skip_existing`) and come back as duplicates, not learned again.
   */
  async processBatch(items: BatchItem[]): Promise<BatchResult> {
    items.forEach((item, i) => {
      if (typeof item.content !== 'string' || item.content.trim() === '')
        throw badRequest('missing_content', `items[${i}].content must be a non-empty string`, { index: i });
    });
    const t0 = performance.now();
    const stored = await this.storeBatch(items);
    const degraded = new Set<string>();
    const results: BatchResult['items'] = items.map((_, i) => {
      const s = stored[i]!;
      return {
        memory_id: s.id,
        quickrecal_score: s.quickrecal_score,
        surprise: null,
        boost_applied: 0,
        ...(s.duplicate ? { duplicate: true } : {}),
      };
    });
    // The new memories of each namespace, in order: one neural-memory request learns them all.
    const groups = new Map<string, number[]>();
    items.forEach((item, i) => {
      if (stored[i]!.duplicate || !stored[i]!.embedding) return;
      const namespace = resolveNamespace(item.namespace, item.metadata ?? {});
      groups.set(namespace, [...(groups.get(namespace) ?? []), i]);
    });
    await Promise.all(
      [...groups].map(async ([namespace, indices]) => {
        const first = items[indices[0]!]!;
        const learned = await this.enqueue(namespace, () =>
          this.learn(
            namespace,
            indices.map((i) => stored[i]!.embedding!),
            first.content,
            first.metadata ?? {},
          ),
        );
        for (const d of learned.failed) degraded.add(d);
        // Boosts are independent of each other: sent together, not one by one behind a busy memory core.
        await Promise.all(
          learned.steps.map(async (step, n) => {
            const r = results[indices[n]!]!;
            r.surprise = step.surprise;
            if (!step.boost) return;
            const applied = await this.applyBoost(r.memory_id, step.boost.delta, step.boost.reason);
            if (applied === undefined) degraded.add('boost');
            else r.boost_applied = applied;
          }),
        );
      }),
    );
    this.counts.cycles += items.length;
    this.counts[degraded.size ? 'degraded' : 'success'] += items.length;
    this.o.observe?.('batch', performance.now() - t0);
    return {
      status: degraded.size ? 'degraded' : 'completed',
      count: items.length,
      items: results,
      degraded: [...degraded],
    };
  }

  private async storeBatch(items: BatchItem[]): Promise<StoredItem[]> {
    const r = await this.o.core.write(
      '/v1/memories/batch?include_embedding=true&skip_existing=true',
      {
        memories: items.map((item) => ({
          ...(item.id ? { id: item.id } : {}),
          content: item.content,
          metadata: item.metadata ?? {},
        })),
      },
      // One transaction for the whole batch: give it the time a batch takes, not the time of one request.
      Math.max(this.o.config.MEMORY_CORE_TIMEOUT_MS, 10_000 + 20 * items.length),
    );
    return (r.body as { items: (StoredItem & { existing?: boolean })[] }).items.map((s) =>
      s.existing ? { id: s.id, quickrecal_score: 0, duplicate: true } : s,
    );
  }

  /**
   * The learning steps of a cycle for a namespace's new memories, in order: the variant (chosen by the first one's
   * content), one neural-memory request for all the updates, and the boost each update's surprise earns.
   */
  private async learn(
    namespace: string,
    vectors: number[][],
    content: string,
    metadata: Record<string, unknown>,
  ): Promise<{
    steps: { surprise: number; boost?: { delta: number; reason: string } }[];
    failed: string[];
  }> {
    const { nm, config } = this.o;
    const state = this.state(namespace);
    state.cycles += vectors.length;
    state.lastAt = Date.now();
    const failed: string[] = [];
    try {
      const chosen = await this.chooseVariant(state, content, metadata.task_type);
      if (state.variant !== chosen.name) {
        await nm.post('/config', { variant: chosen.name, namespace });
        state.variant = chosen.name;
      }
      state.reason = chosen.reason;
    } catch {
      failed.push('nm_config');
    }
    let u: { variant?: Variant; results: { loss: number; surprise: number }[] };
    try {
      u = (await nm.post('/update_memory_batch', { input_embeddings: vectors, namespace })) as typeof u;
    } catch {
      failed.push('nm_update');
      return { steps: [], failed };
    }
    const variant = u.variant ?? state.variant ?? config.DEFAULT_VARIANT;
    if (u.variant) state.variant = u.variant;
    const steps = u.results.map((r) => {
      state.surprises.push(r.surprise);
      const delta = surpriseBoost(r.surprise, this.boost);
      this.o.observeSurprise?.(r.surprise, delta);
      return delta > 0
        ? { surprise: r.surprise, boost: { delta, reason: boostReason(r.surprise, r.loss, variant) } }
        : { surprise: r.surprise };
    });
    if (state.surprises.length > config.SURPRISE_WINDOW)
      state.surprises.splice(0, state.surprises.length - config.SURPRISE_WINDOW);
    return { steps, failed };
  }

  /** Raises a memory's QuickRecal by a surprise boost; the change applied, or undefined when it failed. */
  private async applyBoost(memoryId: string, delta: number, reason: string): Promise<number | undefined> {
    try {
      const b = await this.o.core.write('/api/memories/update_quickrecal_score', {
        memory_id: memoryId,
        delta,
        reason,
      });
      const body = b.body as { previous_score: number; new_score: number };
      this.counts.boosts++;
      return round(body.new_score - body.previous_score);
    } catch {
      return undefined;
    }
  }

  /** Per-namespace state for /status. */
  namespaces() {
    return [...this.states.entries()]
      .map(([namespace, s]) => {
        const trend = surpriseTrend(s.surprises);
        return {
          namespace,
          variant: s.variant ?? null,
          variant_reason: s.reason ?? null,
          cycles: s.cycles,
          last_at: new Date(s.lastAt).toISOString(),
          recent_surprises: s.surprises.map((x) => round(x, 4)),
          surprise_trend: {
            direction: trend.direction,
            recent_mean: Number.isFinite(trend.recent) ? round(trend.recent, 4) : null,
            earlier_mean: Number.isFinite(trend.earlier) ? round(trend.earlier, 4) : null,
            slope: round(trend.slope, 4),
          },
        };
      })
      .sort((a, b) => a.namespace.localeCompare(b.namespace));
  }

  /** Resolves once every queued cycle has finished. */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  private enqueue<T>(namespace: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(namespace) ?? Promise.resolve();
    const run = previous.then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(namespace, tail);
    void tail.then(() => {
      if (this.chains.get(namespace) === tail) this.chains.delete(namespace);
    });
    return run;
  }

  private state(namespace: string): NamespaceState {
    let s = this.states.get(namespace);
    if (s) {
      this.states.delete(namespace); // move to the end (LRU order)
    } else {
      s = { surprises: [], cycles: 0, lastAt: Date.now(), associativeUntil: 0 };
      while (this.states.size >= this.o.config.MAX_NAMESPACES) {
        const oldest = this.states.keys().next().value;
        if (oldest === undefined) break;
        this.states.delete(oldest);
      }
    }
    this.states.set(namespace, s);
    return s;
  }

  private async cycle(
    namespace: string,
    content: string,
    embedding: number[] | undefined,
    metadata: Record<string, unknown>,
  ): Promise<CycleResult> {
    const { core, nm, config, observe } = this.o;
    const t0 = performance.now();
    const steps: StepReport[] = [];
    this.counts.in_flight++;
    const timed = async <T>(
      name: StepName,
      fn: () => Promise<T>,
    ): Promise<{ ok: true; value: T } | { ok: false }> => {
      const started = performance.now();
      try {
        const value = await fn();
        const ms = performance.now() - started;
        steps.push({ name, ok: true, ms: round(ms, 3) });
        observe?.(name, ms);
        return { ok: true, value };
      } catch (err) {
        const ms = performance.now() - started;
        steps.push({ name, ok: false, ms: round(ms, 3), error: message(err) });
        observe?.(name, ms);
        return { ok: false };
      }
    };
    const skip = (name: StepName, note: string, ok: boolean) =>
      steps.push(
        ok ? { name, ok, ms: 0, skipped: true, note } : { name, ok, ms: 0, skipped: true, error: note },
      );

    try {
      // 1. Store in the memory core (a failure here fails the request: 503 or the core's 4xx).
      const storeStarted = performance.now();
      let stored: { memory_id: string; quickrecal_score: number; embedding: number[] };
      try {
        const r = await core.write('/process_memory', {
          content,
          ...(embedding ? { embedding } : {}),
          metadata,
        });
        stored = r.body;
      } finally {
        observe?.('store', performance.now() - storeStarted);
      }
      steps.push({ name: 'store', ok: true, ms: round(performance.now() - storeStarted, 3) });
      const memoryId = stored.memory_id;
      const vector = stored.embedding;
      const state = this.state(namespace);
      state.cycles++;
      state.lastAt = Date.now();

      const topK = config.RELATED_TOP_K;
      const recall = (name: StepName, query: number[]) =>
        timed(name, async () => {
          // Related memories are the same user's when the memory names one (memory core field user_id).
          const r = await core.read('POST', '/retrieve_memories', {
            query_embedding: query,
            top_k: topK + 1,
            ...(typeof metadata.user_id === 'string' && metadata.user_id !== ''
              ? { metadata_filter: { user_id: metadata.user_id } }
              : {}),
          });
          return (r.body.memories ?? []) as Record<string, unknown>[];
        });
      const recallContent = topK > 0 ? recall('recall_content', vector) : undefined;

      // 2. Choose the variant; tell the neural memory only when it changes for this namespace.
      const choice = await timed('variant', () => this.chooseVariant(state, content, metadata.task_type));
      const chosen: Omit<VariantReport, 'applied'> = choice.ok
        ? choice.value
        : {
            name: state.variant ?? config.DEFAULT_VARIANT,
            reason: 'variant selection failed: keep',
            source: 'policy',
            rule: 'keep',
          };
      const variant: VariantReport = { ...chosen, applied: state.variant === chosen.name };
      if (state.variant !== variant.name) {
        const set = await timed('nm_config', () => nm.post('/config', { variant: variant.name, namespace }));
        if (set.ok) {
          state.variant = variant.name;
          variant.applied = true;
        }
      } else skip('nm_config', 'variant unchanged', true);
      state.reason = variant.reason;

      // 3. Learn: one test-time update of the neural memory.
      const upd = await timed('nm_update', () =>
        nm.post('/update_memory', { input_embedding: vector, namespace }),
      );
      let update: CycleResult['neural_memory_update'] = null;
      let variantOutput: number[] | null = null;
      let boostDelta = 0;
      let reason: string | null = null;
      if (upd.ok) {
        const u = upd.value as {
          loss: number;
          grad_norm: number;
          surprise: number;
          variant?: Variant;
          variant_output?: number[];
        };
        update = { loss: u.loss, grad_norm: u.grad_norm, surprise: u.surprise };
        variantOutput = u.variant_output ?? null;
        if (u.variant) {
          state.variant = u.variant;
          variant.applied = u.variant === variant.name;
        }
        state.surprises.push(u.surprise);
        if (state.surprises.length > config.SURPRISE_WINDOW)
          state.surprises.splice(0, state.surprises.length - config.SURPRISE_WINDOW);
        boostDelta = surpriseBoost(u.surprise, this.boost);
        this.o.observeSurprise?.(u.surprise, boostDelta);
        reason = boostReason(u.surprise, u.loss, u.variant ?? variant.name);
      }

      // 4. Boost, retrieve, predict and recall (in parallel where independent).
      const quickrecal: CycleResult['quickrecal'] = {
        score_before: stored.quickrecal_score,
        boost_applied: 0,
        score_after: stored.quickrecal_score,
        reason: null,
      };
      const boostTask = (async () => {
        if (!upd.ok) return skip('boost', 'skipped: nm_update failed (no surprise)', false);
        if (boostDelta <= 0)
          return skip('boost', `surprise ${update!.surprise.toFixed(2)} below the threshold`, true);
        const b = await timed('boost', () =>
          core.write('/api/memories/update_quickrecal_score', {
            memory_id: memoryId,
            delta: boostDelta,
            reason,
          }),
        );
        if (b.ok) {
          const body = b.value.body as { previous_score: number; new_score: number };
          quickrecal.score_before = body.previous_score;
          quickrecal.score_after = body.new_score;
          quickrecal.boost_applied = round(body.new_score - body.previous_score);
          quickrecal.reason = reason;
          this.counts.boosts++;
        }
      })();
      let retrieval: CycleResult['neural_memory_retrieval'] = null;
      let recallNm: Awaited<ReturnType<typeof recall>> | undefined;
      const retrieveTask = (async () => {
        if (!upd.ok) {
          skip('nm_retrieve', 'skipped: nm_update failed', false);
          if (topK > 0) skip('recall_nm', 'skipped: nm_update failed', false);
          return;
        }
        const r = await timed('nm_retrieve', () =>
          nm.post('/retrieve', { input_embedding: vector, namespace }),
        );
        if (!r.ok) {
          if (topK > 0) skip('recall_nm', 'skipped: nm_retrieve failed', false);
          return;
        }
        retrieval = {
          retrieved_embedding: (r.value as { retrieved_embedding: number[] }).retrieved_embedding,
        };
        // A memory that has learned nothing yet (e.g. the first item of a sequence) answers with a zero vector,
        // which has no direction to search by.
        if (topK > 0 && retrieval.retrieved_embedding.every((x) => x === 0)) {
          skip('recall_nm', 'the neural memory has nothing to recall yet (zero answer)', true);
        } else if (topK > 0) recallNm = await recall('recall_nm', retrieval.retrieved_embedding);
      })();
      let prediction: CycleResult['neural_memory_prediction'] = null;
      const predictTask = (async () => {
        if (!upd.ok) return skip('nm_predict', 'skipped: nm_update failed', false);
        const note = 'namespace in associative mode: no next-embedding prediction';
        if (Date.now() < state.associativeUntil) {
          prediction = { skipped: true, note };
          return skip('nm_predict', note, true);
        }
        const started = performance.now();
        try {
          const p = await nm.post('/predict_next', { input_embedding: vector, namespace });
          prediction = { predicted_embedding: (p as { predicted_embedding: number[] }).predicted_embedding };
          steps.push({ name: 'nm_predict', ok: true, ms: round(performance.now() - started, 3) });
        } catch (err) {
          if (AppError.isInstance(err) && err.statusCode === 409) {
            state.associativeUntil = Date.now() + MODE_CACHE_MS;
            prediction = { skipped: true, note };
            steps.push({
              name: 'nm_predict',
              ok: true,
              ms: round(performance.now() - started, 3),
              skipped: true,
              note,
            });
          } else {
            steps.push({
              name: 'nm_predict',
              ok: false,
              ms: round(performance.now() - started, 3),
              error: message(err),
            });
          }
        } finally {
          observe?.('nm_predict', performance.now() - started);
        }
      })();
      if (topK === 0) skip('recall_content', 'RELATED_TOP_K is 0', true);
      const [contentHits] = await Promise.all([recallContent, boostTask, retrieveTask, predictTask]);

      // 5. Merge the related memories by id, without the memory just stored.
      const related = new Map<string, RelatedMemory>();
      const add = (hits: Record<string, unknown>[], via: 'content' | 'neural_memory') => {
        for (const h of hits) {
          const id = String(h.id);
          if (id === memoryId) continue;
          const seen = related.get(id);
          if (seen) {
            if (!seen.via.includes(via)) seen.via.push(via);
            if (Number(h.relevance_score) > Number(seen.relevance_score ?? -Infinity)) {
              seen.relevance_score = h.relevance_score as number;
              seen.similarity = h.similarity as number;
            }
          } else related.set(id, { ...h, id, via: [via] } as RelatedMemory);
        }
      };
      if (contentHits?.ok) add(contentHits.value, 'content');
      const nmHits = recallNm as Awaited<ReturnType<typeof recall>> | undefined;
      if (nmHits?.ok) add(nmHits.value, 'neural_memory');
      const relatedMemories = [...related.values()]
        .sort(
          (a, b) =>
            Number(b.relevance_score ?? b.similarity ?? 0) - Number(a.relevance_score ?? a.similarity ?? 0),
        )
        .slice(0, topK);

      steps.sort((a, b) => STEPS.indexOf(a.name) - STEPS.indexOf(b.name));
      const failed = steps.filter((s) => !s.ok).map((s) => s.name);
      const status = failed.length === 0 ? 'success' : 'degraded';
      this.counts.cycles++;
      this.counts[status]++;
      const total = performance.now() - t0;
      observe?.('cycle', total);
      if (status === 'degraded')
        this.o.logger.warn({ namespace, memory_id: memoryId, failed }, 'cascade degraded');
      return {
        status,
        memory_id: memoryId,
        namespace,
        neural_memory_update: update,
        neural_memory_retrieval: retrieval,
        neural_memory_prediction: prediction,
        quickrecal,
        variant_output: variantOutput,
        related_memories: relatedMemories,
        variant,
        steps,
        failed_steps: failed,
        processing_time_ms: round(total, 3),
      };
    } catch (err) {
      this.counts.failed++;
      throw err;
    } finally {
      this.counts.in_flight--;
    }
  }

  private async chooseVariant(
    state: NamespaceState,
    content: string,
    taskType: unknown,
  ): Promise<Omit<VariantReport, 'applied'>> {
    const policy = selectVariant({
      content,
      taskType,
      surprises: state.surprises,
      current: state.variant,
      defaultVariant: this.o.config.DEFAULT_VARIANT,
    });
    const fromPolicy = {
      name: policy.variant,
      reason: policy.reason,
      source: 'policy' as const,
      rule: policy.rule,
    };
    if (!this.llm) return fromPolicy;
    const trend: Trend = surpriseTrend(state.surprises);
    const advice = await adviseVariant(
      { content, taskType, trend, current: state.variant, policy },
      this.llm,
    );
    if (!advice.ok) {
      this.o.logger.debug({ error: advice.error }, 'LLM variant advice failed; using the policy');
      return { ...fromPolicy, llm_error: advice.error };
    }
    return { name: advice.variant, reason: `llm: ${advice.reason}`, source: 'llm', rule: policy.rule };
  }
}

/** The namespace: given, else metadata.user_id (characters outside [A-Za-z0-9_.-] become _), else 'default'. */
export function resolveNamespace(given: unknown, metadata: Record<string, unknown>): string {
  if (given !== undefined && given !== null) {
    if (typeof given !== 'string' || !NAMESPACE_PATTERN.test(given))
      throw badRequest(
        'invalid_namespace',
        'namespace must be 1–64 characters of letters, digits, _, . and -',
      );
    return given;
  }
  const user = metadata.user_id;
  if (typeof user === 'string' && user.trim() !== '')
    return user
      .trim()
      .replace(/[^A-Za-z0-9_.-]/g, '_')
      .slice(0, 64);
  return 'default';
}
