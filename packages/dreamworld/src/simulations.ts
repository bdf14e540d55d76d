// Running simulations for the API: validation, the evaluator (metrics, or metrics plus the user's preferences read
// from the memory core), bounds, cancellation by id, results published and kept.
import { randomUUID } from 'node:crypto';
import { badRequest, conflict, notFound } from '@synthians/kit';
import type { DreamworldConfig } from './config.ts';
import { runSearch, type SearchResult, type StoppedBy } from './mcts.ts';
import { extractPreferences, preferenceWeights, type PreferenceWeight } from './preferences.ts';
import type { Publisher } from './publisher.ts';
import { compileScenario, withExtraWeights } from './scenario.ts';
import { listMemories, type Upstream } from './upstream.ts';

export interface SimulateRequest {
  scenario: unknown;
  iterations?: number;
  time_budget_ms?: number;
  exploration?: number;
  seed?: number;
  evaluator?:
    | 'metrics'
    | { type: 'metrics' }
    | { type: 'preferences'; user_id?: string; scale?: number; limit?: number };
  async?: boolean;
  id?: string;
}

export interface SimulationResult extends SearchResult {
  simulation_id: string;
  stopped_by: StoppedBy;
  elapsed_ms: number;
  seed: number;
  iterations_requested: number;
  time_budget_ms: number;
  evaluator: { type: 'metrics' | 'preferences'; user_id?: string | null; weights?: PreferenceWeight[] };
  finished_at: string;
}

interface Entry {
  controller: AbortController;
  result?: SimulationResult;
  done: Promise<SimulationResult>;
}

export class Simulations {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly deps: {
      core: Upstream;
      config: DreamworldConfig;
      publisher: Publisher;
      onResult?: (r: SimulationResult) => void;
    },
  ) {}

  /** Validates and starts a simulation; the promise resolves with its result. */
  async start(req: SimulateRequest): Promise<{ id: string; done: Promise<SimulationResult> }> {
    const { config } = this.deps;
    let scenario = compileScenario(req.scenario);
    const iterations = req.iterations ?? config.SIM_DEFAULT_ITERATIONS;
    const timeBudgetMs = req.time_budget_ms ?? config.SIM_DEFAULT_TIME_MS;
    if (iterations > config.SIM_MAX_ITERATIONS)
      throw badRequest('invalid_options', `iterations: at most ${config.SIM_MAX_ITERATIONS}`, {
        path: 'iterations',
      });
    if (timeBudgetMs > config.SIM_MAX_TIME_MS)
      throw badRequest('invalid_options', `time_budget_ms: at most ${config.SIM_MAX_TIME_MS}`, {
        path: 'time_budget_ms',
      });
    const id = req.id ?? `sim_${randomUUID().replaceAll('-', '')}`;
    if (this.entries.has(id) || this.deps.publisher.history.has(id))
      throw conflict('duplicate_id', `A simulation with id ${id} exists`, { id });
    const seed = req.seed ?? Math.floor(Math.random() * 2 ** 31);
    const evaluator: SimulationResult['evaluator'] = { type: 'metrics' };
    const ev =
      typeof req.evaluator === 'string' ? { type: req.evaluator } : (req.evaluator ?? { type: 'metrics' });
    const controller = new AbortController();
    if (ev.type === 'preferences') {
      const p = ev as { user_id?: string; scale?: number; limit?: number };
      const memories = await listMemories(
        this.deps.core,
        p.limit ?? 500,
        undefined,
        p.user_id ? { user_id: p.user_id, include_embedding: 'false' } : { include_embedding: 'false' },
      );
      const weights = preferenceWeights(extractPreferences(memories), scenario.vars, p.scale ?? 1);
      scenario = withExtraWeights(scenario, Object.fromEntries(weights.map((w) => [w.var, w.weight])));
      Object.assign(evaluator, { type: 'preferences', user_id: p.user_id ?? null, weights });
    }
    const done = runSearch(scenario, {
      iterations,
      timeBudgetMs,
      seed,
      exploration: req.exploration,
      signal: controller.signal,
    }).then((r) => {
      const result: SimulationResult = {
        simulation_id: id,
        ...r,
        seed,
        iterations_requested: iterations,
        time_budget_ms: timeBudgetMs,
        evaluator,
        finished_at: new Date().toISOString(),
      };
      entry.result = result;
      this.deps.publisher.publish('dream.simulation', id, result as unknown as Record<string, unknown>);
      this.deps.onResult?.(result);
      // Finished simulations are read from the history; only running ones stay here.
      this.entries.delete(id);
      return result;
    });
    const entry: Entry = { controller, done };
    this.entries.set(id, entry);
    return { id, done };
  }

  /** A running simulation's status, or a finished one's result from the history. */
  get(id: string): { simulation_id: string; status: 'running' | 'done'; result?: unknown } {
    if (this.entries.has(id)) return { simulation_id: id, status: 'running' };
    const [event] = this.deps.publisher.history.eventById(id);
    if (!event) throw notFound(`No simulation with id ${id}`, { id });
    return { simulation_id: id, status: 'done', result: event.payload };
  }

  /** Cancels a running simulation (it ends with stopped_by "cancelled"); 404 when none runs with this id. */
  async cancel(id: string): Promise<SimulationResult> {
    const entry = this.entries.get(id);
    if (!entry) throw notFound(`No running simulation with id ${id}`, { id });
    entry.controller.abort();
    return entry.done;
  }

  async close(): Promise<void> {
    for (const e of this.entries.values()) e.controller.abort();
    await Promise.allSettled([...this.entries.values()].map((e) => e.done));
  }
}
