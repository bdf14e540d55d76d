// Dream cycles: what DreamWorld does while the assistant is idle. One cycle reads the most recently stored memories
// (with embeddings) and runs four phases, each recording its changes:
//   consolidation — replays each session's memories, in time order, through the neural memory's /update_memory;
//   assemblies    — proposes merges (similar composites) and splits (two clusters inside one assembly);
//   associations  — pairs close in embedding space but far apart in time or session, not in one assembly;
//   decay         — lowers the QuickRecal of stale memories through the boost endpoint (reason "dream_decay").
// A cycle is bounded by max_memories and budget_ms, cancellable, and yields to the event loop every few ms.
import { createHash, randomUUID } from 'node:crypto';
import { conflict, type Logger } from '@synthians/kit';
import type { DreamworldConfig } from './config.ts';
import type { Publisher } from './publisher.ts';
import { listMemories, type Upstream, type WireAssembly, type WireMemory } from './upstream.ts';
import { dot, twoMeans, unit } from './vectors.ts';

export const CHANGE_KINDS = [
  'consolidation',
  'assembly_merge',
  'assembly_split',
  'association',
  'decay',
] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export interface Change {
  kind: ChangeKind;
  /** false for proposals the memory core has no endpoint to apply (assembly merges and splits). */
  applied: boolean;
  [key: string]: unknown;
}

export type CycleStatus = 'completed' | 'cancelled' | 'budget_exhausted' | 'failed';

export interface CycleResult {
  cycle_id: string;
  trigger: 'manual' | 'idle';
  status: CycleStatus;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  max_memories: number;
  budget_ms: number;
  memories_read: number;
  counts: Record<ChangeKind, number>;
  changes: Change[];
  errors: { phase: string; code: string; message: string }[];
}

/** The endpoints the memory core would need for DreamWorld to apply its assembly proposals itself. */
export const NEEDED_ENDPOINTS = {
  assembly_merge: 'POST /v1/assemblies/{id}/merge {"with": "<other assembly id>"} → the merged assembly',
  assembly_split:
    'POST /v1/assemblies/{id}/split {"groups": [["<memory id>", …], ["<memory id>", …]]} → the two assemblies',
} as const;

class Stop extends Error {
  override readonly name = 'Stop';
  constructor(readonly status: 'cancelled' | 'budget_exhausted') {
    super(status);
  }
}

const DAY_MS = 86_400_000;
const timeOf = (m: WireMemory) => Date.parse(m.event_time ?? m.created_at);
const lastTouchOf = (m: WireMemory) => Date.parse(m.last_access ?? m.event_time ?? m.created_at);
const round = (x: number, digits = 6) => Math.round(x * 10 ** digits) / 10 ** digits;
const mean = (xs: number[]) => (xs.length === 0 ? NaN : xs.reduce((s, x) => s + x, 0) / xs.length);

/** The neural-memory namespace of a user, as the orchestrator derives it (non-[A-Za-z0-9_.-] → _, else "default"). */
export function namespaceOf(userId: string | null): string {
  const u = userId?.trim();
  return u ? u.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64) : 'default';
}

export interface DreamerDeps {
  core: Upstream;
  nm: Upstream;
  config: DreamworldConfig;
  publisher: Publisher;
  logger: Logger;
  /** Called when a cycle ends (metrics, history). */
  onCycle?: (result: CycleResult) => void;
}

interface Running {
  cycleId: string;
  controller: AbortController;
  done: Promise<CycleResult>;
}

export class Dreamer {
  private running: Running | undefined;

  constructor(private readonly deps: DreamerDeps) {}

  get current(): string | undefined {
    return this.running?.cycleId;
  }

  /** Runs one cycle; 409 dream_in_progress while another runs. Resolves when the cycle ends (whatever its status). */
  dream(
    options: { maxMemories?: number; budgetMs?: number; trigger?: 'manual' | 'idle' } = {},
  ): Promise<CycleResult> {
    if (this.running)
      throw conflict('dream_in_progress', `Dream cycle ${this.running.cycleId} is running`, {
        cycle_id: this.running.cycleId,
      });
    const cycleId = `dream_${randomUUID().replaceAll('-', '')}`;
    const controller = new AbortController();
    const done = new Cycle(this.deps, cycleId, controller, {
      maxMemories: options.maxMemories ?? this.deps.config.DREAM_MAX_MEMORIES,
      budgetMs: options.budgetMs ?? this.deps.config.DREAM_BUDGET_MS,
      trigger: options.trigger ?? 'manual',
    })
      .run()
      .finally(() => {
        this.running = undefined;
      });
    this.running = { cycleId, controller, done };
    return done;
  }

  /** Cancels the running cycle; returns its id, or undefined when none runs. */
  cancel(): string | undefined {
    const r = this.running;
    if (!r) return undefined;
    r.controller.abort(new Stop('cancelled'));
    return r.cycleId;
  }

  /** Waits for the running cycle, if any (for shutdown). */
  async idle(): Promise<void> {
    await this.running?.done.catch(() => undefined);
  }
}

class Cycle {
  private readonly changes: Change[] = [];
  private readonly errors: CycleResult['errors'] = [];
  private readonly signal: AbortSignal;
  private lastYield = performance.now();

  constructor(
    private readonly deps: DreamerDeps,
    private readonly id: string,
    private readonly controller: AbortController,
    private readonly options: { maxMemories: number; budgetMs: number; trigger: 'manual' | 'idle' },
  ) {
    this.signal = controller.signal;
  }

  async run(): Promise<CycleResult> {
    const started = Date.now();
    const t0 = performance.now();
    const timer = setTimeout(
      () => this.controller.abort(new Stop('budget_exhausted')),
      this.options.budgetMs,
    );
    let status: CycleStatus = 'completed';
    let memories: WireMemory[] = [];
    try {
      memories = await listMemories(this.deps.core, this.options.maxMemories, this.signal);
      await this.phase('consolidation', () => this.consolidate(memories));
      await this.phase('assemblies', () => this.assemblies(memories));
      await this.phase('associations', () => this.associate(memories));
      await this.phase('decay', () => this.decay(memories));
    } catch (err) {
      if (err instanceof Stop) status = err.status;
      else if (this.signal.aborted && this.signal.reason instanceof Stop) status = this.signal.reason.status;
      else {
        status = 'failed';
        const e = err as { code?: string; message?: string };
        this.errors.push({ phase: 'read', code: e.code ?? 'error', message: e.message ?? String(err) });
      }
    } finally {
      clearTimeout(timer);
    }
    const finished = Date.now();
    const counts = Object.fromEntries(CHANGE_KINDS.map((k) => [k, 0])) as Record<ChangeKind, number>;
    for (const c of this.changes) counts[c.kind]++;
    const result: CycleResult = {
      cycle_id: this.id,
      trigger: this.options.trigger,
      status,
      started_at: new Date(started).toISOString(),
      finished_at: new Date(finished).toISOString(),
      duration_ms: round(performance.now() - t0, 1),
      max_memories: this.options.maxMemories,
      budget_ms: this.options.budgetMs,
      memories_read: memories.length,
      counts,
      changes: this.changes,
      errors: this.errors,
    };
    this.deps.publisher.history.saveCycle(result);
    const { changes: _omitted, ...summary } = result;
    void _omitted;
    this.deps.publisher.publish('dream.cycle', result.cycle_id, summary, finished);
    this.deps.onCycle?.(result);
    this.deps.logger.info({ cycle_id: this.id, status, counts, ms: result.duration_ms }, 'dream cycle');
    return result;
  }

  /** Runs a phase; an upstream failure is recorded and the cycle goes on, a Stop ends it. */
  private async phase(name: string, body: () => Promise<void>): Promise<void> {
    this.checkpoint();
    try {
      await body();
    } catch (err) {
      if (err instanceof Stop) throw err;
      if (this.signal.aborted && this.signal.reason instanceof Stop) throw this.signal.reason;
      const e = err as { code?: string; message?: string };
      this.errors.push({ phase: name, code: e.code ?? 'error', message: e.message ?? String(err) });
      this.deps.logger.warn({ cycle_id: this.id, phase: name, code: e.code }, 'dream phase failed');
    }
  }

  private checkpoint(): void {
    if (this.signal.aborted)
      throw this.signal.reason instanceof Stop ? this.signal.reason : new Stop('cancelled');
  }

  /** Yields to the event loop when the cycle has held it for 5 ms, and stops when cancelled or out of budget. */
  private async breathe(): Promise<void> {
    this.checkpoint();
    if (performance.now() - this.lastYield < 5) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.lastYield = performance.now();
    this.checkpoint();
  }

  // ---- consolidation ------------------------------------------------------------------------------------------

  private async consolidate(memories: WireMemory[]): Promise<void> {
    const { nm, config } = this.deps;
    const bySession = new Map<string, WireMemory[]>();
    for (const m of memories) {
      if (!m.session_id || !m.embedding) continue;
      const key = `${m.user_id ?? ''}\u0000${m.session_id}`;
      const list = bySession.get(key) ?? [];
      list.push(m);
      bySession.set(key, list);
    }
    for (const group of bySession.values()) {
      if (group.length < 2) continue;
      const sequence = group
        .sort((a, b) => timeOf(a) - timeOf(b) || (a.created_at < b.created_at ? -1 : 1))
        .slice(-config.DREAM_SEQUENCE_MAX);
      const namespace = namespaceOf(sequence[0]!.user_id);
      const stepBefore = await this.nmStep(namespace);
      const probes = sequence.slice(0, 4).map((m) => m.embedding!);
      const before = await this.retrieve(namespace, probes);
      const passLosses: number[][] = [];
      for (let pass = 0; pass < config.DREAM_REPLAY_PASSES; pass++) {
        const losses: number[] = [];
        for (const m of sequence) {
          const r = (await nm.call(
            'POST',
            '/update_memory',
            { namespace, input_embedding: m.embedding },
            this.signal,
          )) as { loss: number };
          losses.push(r.loss);
          await this.breathe();
        }
        passLosses.push(losses);
      }
      const after = await this.retrieve(namespace, probes);
      const shift = mean(
        before.map((b, i) => Math.sqrt(b.reduce((s, x, k) => s + (x - after[i]![k]!) ** 2, 0))),
      );
      this.changes.push({
        kind: 'consolidation',
        applied: true,
        namespace,
        session_id: sequence[0]!.session_id,
        memory_ids: sequence.map((m) => m.id),
        passes: config.DREAM_REPLAY_PASSES,
        updates: sequence.length * config.DREAM_REPLAY_PASSES,
        loss_first_pass: round(mean(passLosses[0]!)),
        loss_last_pass: round(mean(passLosses[passLosses.length - 1]!)),
        step_before: stepBefore,
        step_after: await this.nmStep(namespace),
        retrieval_shift: round(shift),
      });
    }
  }

  private async nmStep(namespace: string): Promise<number> {
    const status = (await this.deps.nm.call('GET', '/status', undefined, this.signal)) as {
      namespaces: { namespace: string; step?: number }[];
    };
    return status.namespaces.find((n) => n.namespace === namespace)?.step ?? 0;
  }

  private async retrieve(namespace: string, probes: number[][]): Promise<number[][]> {
    const out: number[][] = [];
    for (const x of probes) {
      const r = (await this.deps.nm.call(
        'POST',
        '/retrieve',
        { namespace, input_embedding: x },
        this.signal,
      )) as {
        retrieved_embedding: number[];
      };
      out.push(r.retrieved_embedding);
    }
    return out;
  }

  // ---- assemblies ---------------------------------------------------------------------------------------------

  private async assemblies(memories: WireMemory[]): Promise<void> {
    const { core, config } = this.deps;
    const list = (await core.call('GET', '/v1/assemblies', undefined, this.signal)) as {
      items: WireAssembly[];
    };
    const known = new Map(memories.filter((m) => m.embedding).map((m) => [m.id, unit(m.embedding!)]));
    const details: { id: string; name: string; members: string[]; composite: Float32Array }[] = [];
    for (const a of list.items.slice(0, 500)) {
      const d = (await core.call(
        'GET',
        `/v1/assemblies/${encodeURIComponent(a.id)}`,
        undefined,
        this.signal,
      )) as WireAssembly;
      details.push({
        id: d.id,
        name: d.name,
        members: d.members ?? [],
        composite: unit(d.composite_embedding ?? []),
      });
      await this.breathe();
    }
    for (let i = 0; i < details.length; i++) {
      for (let j = i + 1; j < details.length; j++) {
        const a = details[i]!;
        const b = details[j]!;
        const similarity = dot(a.composite, b.composite);
        if (similarity < config.DREAM_MERGE_SIMILARITY) continue;
        const [keep, into] = a.members.length >= b.members.length ? [a, b] : [b, a];
        this.changes.push({
          kind: 'assembly_merge',
          applied: false,
          proposal: { merge: into.id, into: keep.id },
          assemblies: [a.id, b.id],
          names: [a.name, b.name],
          similarity: round(similarity),
          endpoint_needed: NEEDED_ENDPOINTS.assembly_merge,
        });
      }
      await this.breathe();
    }
    for (const a of details) {
      if (a.members.length < 4) continue;
      const ids: string[] = [];
      const vectors: Float32Array[] = [];
      for (const id of a.members.slice(0, 500)) {
        let v = known.get(id);
        if (!v) {
          const m = (await core.call(
            'GET',
            `/v1/memories/${encodeURIComponent(id)}?include_embedding=true`,
            undefined,
            this.signal,
          )) as WireMemory;
          v = unit(m.embedding ?? []);
          known.set(id, v);
        }
        ids.push(id);
        vectors.push(v);
      }
      const { groups, similarity } = twoMeans(vectors);
      await this.breathe();
      if (groups[0].length < 2 || groups[1].length < 2 || similarity >= config.DREAM_SPLIT_SIMILARITY)
        continue;
      this.changes.push({
        kind: 'assembly_split',
        applied: false,
        assembly: a.id,
        name: a.name,
        groups: groups.map((g) => g.map((k) => ids[k]!)),
        centroid_similarity: round(similarity),
        endpoint_needed: NEEDED_ENDPOINTS.assembly_split,
      });
    }
  }

  // ---- associations -------------------------------------------------------------------------------------------

  private async associate(memories: WireMemory[]): Promise<void> {
    const { config, publisher } = this.deps;
    const ms = memories.filter((m) => m.embedding && m.embedding.length > 0);
    const vectors = ms.map((m) => unit(m.embedding!));
    const times = ms.map(timeOf);
    const gapMs = config.DREAM_ASSOCIATION_GAP_HOURS * 3_600_000;
    const limit = config.DREAM_MAX_INSIGHTS;
    const found: { i: number; j: number; similarity: number }[] = [];
    for (let i = 0; i < ms.length; i++) {
      const a = ms[i]!;
      for (let j = i + 1; j < ms.length; j++) {
        const b = ms[j]!;
        if (a.user_id !== b.user_id) continue;
        const otherSession = a.session_id !== null && b.session_id !== null && a.session_id !== b.session_id;
        if (!otherSession && Math.abs(times[i]! - times[j]!) < gapMs) continue;
        if (a.assemblies.some((x) => b.assemblies.includes(x))) continue;
        const similarity = dot(vectors[i]!, vectors[j]!);
        if (similarity >= config.DREAM_ASSOCIATION_SIMILARITY) found.push({ i, j, similarity });
      }
      await this.breathe();
    }
    found.sort((x, y) => y.similarity - x.similarity);
    let published = 0;
    for (const f of found) {
      if (published >= limit) break;
      const [a, b] = [ms[f.i]!, ms[f.j]!].sort((x, y) => timeOf(x) - timeOf(y)) as [WireMemory, WireMemory];
      const insightId = `ins_${createHash('sha1').update(`${a.id}\u0000${b.id}`).digest('hex').slice(0, 24)}`;
      if (publisher.history.has(insightId)) continue;
      const days = Math.abs(timeOf(b) - timeOf(a)) / DAY_MS;
      const sessions =
        a.session_id !== b.session_id
          ? `sessions ${a.session_id ?? '(none)'} and ${b.session_id ?? '(none)'}`
          : `one session`;
      const why = `Similar in meaning (cosine ${f.similarity.toFixed(3)}) though ${days.toFixed(1)} days apart, in ${sessions}, and in no common assembly`;
      const view = (m: WireMemory) => ({
        id: m.id,
        content: m.content.slice(0, 280),
        session_id: m.session_id,
        time: new Date(timeOf(m)).toISOString(),
      });
      const insight = {
        insight_id: insightId,
        cycle_id: this.id,
        kind: 'association' as const,
        user_id: a.user_id,
        a: view(a),
        b: view(b),
        similarity: round(f.similarity),
        days_apart: round(days, 2),
        why,
      };
      publisher.publish('dream.insight', insightId, insight);
      published++;
      this.changes.push({ ...insight, kind: 'association', applied: true });
    }
  }

  // ---- decay --------------------------------------------------------------------------------------------------

  private async decay(memories: WireMemory[]): Promise<void> {
    const { core, config } = this.deps;
    const now = Date.now();
    const staleMs = config.DREAM_STALE_DAYS * DAY_MS;
    for (const m of memories) {
      const touched = lastTouchOf(m);
      if (now - touched < staleMs) continue;
      const delta = -Math.min(1, config.DREAM_DECAY * m.quickrecal_stored);
      if (delta > -1e-6) continue;
      const r = (await core.call(
        'POST',
        `/v1/memories/${encodeURIComponent(m.id)}/boost`,
        { delta, reason: 'dream_decay' },
        this.signal,
      )) as { previous_score: number; new_score: number };
      this.changes.push({
        kind: 'decay',
        applied: true,
        memory_id: m.id,
        delta: round(delta),
        previous_score: round(r.previous_score),
        new_score: round(r.new_score),
        last_touched: new Date(touched).toISOString(),
        idle_days: round((now - touched) / DAY_MS, 2),
      });
      await this.breathe();
    }
  }
}
