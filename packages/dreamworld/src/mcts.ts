// Monte Carlo tree search (UCT) over a compiled scenario. Pure: no I/O; the only clock is the one the async runner
// reads for the time budget. Open-loop search: a node is a sequence of actions, and each iteration samples the
// stochastic effects afresh, so a node's mean is the expected return of that plan prefix under random rollouts.
// With a seed and an iteration bound the result is deterministic.
import { applicable, evaluate, violates, type CompiledAction, type CompiledScenario } from './scenario.ts';

/** mulberry32: a small, fast, seedable generator of floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Node {
  visits: number;
  sum: number;
  sumSq: number;
  /** By action index; undefined until first tried from here. */
  children: (Node | undefined)[];
}

const newNode = (actions: number): Node => ({ visits: 0, sum: 0, sumSq: 0, children: new Array(actions) });

export interface ActionEstimate {
  action: string;
  expected_value: number;
  /** Standard error of the mean return. */
  uncertainty: number;
  visits: number;
}

export interface SearchResult {
  best_action: string | null;
  expected_value: number | null;
  uncertainty: number | null;
  visits: number;
  /** Every other action legal at the start, best first. */
  counterfactuals: ActionEstimate[];
  iterations_run: number;
}

export interface MctsOptions {
  /** UCT exploration constant over returns normalised to [0, 1] (default √2). */
  exploration?: number;
  seed?: number;
}

export class Mcts {
  readonly root: Node;
  iterations = 0;
  private readonly random: () => number;
  private readonly c: number;
  private readonly state: Float64Array;
  private readonly path: Node[] = [];
  private readonly legal: number[] = [];
  private low = Infinity;
  private high = -Infinity;

  constructor(
    readonly scenario: CompiledScenario,
    options: MctsOptions = {},
  ) {
    this.random = seededRandom(options.seed ?? 1);
    this.c = options.exploration ?? Math.SQRT2;
    this.root = newNode(scenario.actions.length);
    this.state = new Float64Array(scenario.initial.length);
  }

  /** Runs `n` iterations (selection, expansion, rollout, back-propagation). */
  iterate(n: number): void {
    const { scenario, state, path } = this;
    const actions = scenario.actions;
    for (let it = 0; it < n; it++) {
      state.set(scenario.initial);
      path.length = 0;
      let node = this.root;
      path.push(node);
      let cost = 0;
      let depth = 0;
      let violated = false;
      let expanded = false;
      // Selection and expansion.
      while (depth < scenario.horizon) {
        const legal = this.legalActions();
        if (legal.length === 0) break;
        const a = this.select(node, legal);
        let child = node.children[a];
        if (!child) {
          child = newNode(actions.length);
          node.children[a] = child;
        }
        if (child.visits === 0) expanded = true;
        cost += this.apply(actions[a]!);
        depth++;
        node = child;
        path.push(node);
        if (violates(scenario, state)) {
          violated = true;
          break;
        }
        if (expanded) break;
      }
      // Rollout: uniformly random legal actions to the horizon.
      while (!violated && depth < scenario.horizon) {
        const legal = this.legalActions();
        if (legal.length === 0) break;
        cost += this.apply(actions[legal[Math.floor(this.random() * legal.length)]!]!);
        depth++;
        violated = violates(scenario, state);
      }
      const value = evaluate(scenario, state) - cost - (violated ? scenario.penalty : 0);
      if (value < this.low) this.low = value;
      if (value > this.high) this.high = value;
      for (const p of path) {
        p.visits++;
        p.sum += value;
        p.sumSq += value * value;
      }
      this.iterations++;
    }
  }

  /** The first untried legal action (in a seeded random order), else the UCT maximum. */
  private select(node: Node, legal: number[]): number {
    const start = Math.floor(this.random() * legal.length);
    for (let k = 0; k < legal.length; k++) {
      const a = legal[(start + k) % legal.length]!;
      const child = node.children[a];
      if (!child || child.visits === 0) return a;
    }
    const span = this.high - this.low || 1;
    const logN = Math.log(node.visits);
    let best = legal[0]!;
    let bestScore = -Infinity;
    for (const a of legal) {
      const child = node.children[a]!;
      const mean = (child.sum / child.visits - this.low) / span;
      const score = mean + this.c * Math.sqrt(logN / child.visits);
      if (score > bestScore) {
        bestScore = score;
        best = a;
      }
    }
    return best;
  }

  private legalActions(): number[] {
    const legal = this.legal;
    legal.length = 0;
    const actions = this.scenario.actions;
    for (let a = 0; a < actions.length; a++) if (applicable(actions[a]!, this.state)) legal.push(a);
    return legal;
  }

  /** Applies an action's effects (sampling the stochastic ones); returns its cost. */
  private apply(action: CompiledAction): number {
    const state = this.state;
    for (const e of action.effects) {
      if (e.probability < 1 && this.random() >= e.probability) continue;
      if (e.kind === 'delta') state[e.index]! += e.value;
      else state[e.index] = e.value;
    }
    return action.cost;
  }

  /** The answer so far: the most visited first action (ties: the higher mean) and the others. */
  result(): SearchResult {
    const estimates: ActionEstimate[] = [];
    this.scenario.actions.forEach((a, i) => {
      const child = this.root.children[i];
      if (!child || child.visits === 0) return;
      const mean = child.sum / child.visits;
      const variance = Math.max(0, child.sumSq / child.visits - mean * mean);
      estimates.push({
        action: a.name,
        expected_value: mean,
        uncertainty: child.visits > 1 ? Math.sqrt(variance / (child.visits - 1)) : Infinity,
        visits: child.visits,
      });
    });
    estimates.sort((x, y) => y.visits - x.visits || y.expected_value - x.expected_value);
    const best = estimates[0];
    return {
      best_action: best?.action ?? null,
      expected_value: best?.expected_value ?? null,
      uncertainty: best ? (Number.isFinite(best.uncertainty) ? best.uncertainty : null) : null,
      visits: best?.visits ?? 0,
      counterfactuals: estimates.slice(1).map((e) => ({
        ...e,
        uncertainty: Number.isFinite(e.uncertainty) ? e.uncertainty : (null as unknown as number),
      })),
      iterations_run: this.iterations,
    };
  }
}

export type StoppedBy = 'iterations' | 'time' | 'cancelled';

export interface RunOptions extends MctsOptions {
  iterations: number;
  timeBudgetMs: number;
  signal?: AbortSignal;
  /** Longest stretch of search between yields to the event loop (default 8 ms). */
  sliceMs?: number;
  now?: () => number;
}

/**
 * Runs the search in slices, yielding to the event loop between them, until the iteration bound, the time budget or
 * the abort signal stops it. The iteration bound is exact; the time budget is checked every 32 iterations.
 */
export async function runSearch(
  scenario: CompiledScenario,
  options: RunOptions,
): Promise<SearchResult & { stopped_by: StoppedBy; elapsed_ms: number }> {
  const now = options.now ?? (() => performance.now());
  const mcts = new Mcts(scenario, options);
  const started = now();
  const deadline = started + options.timeBudgetMs;
  const sliceMs = options.sliceMs ?? 8;
  let stoppedBy: StoppedBy = 'iterations';
  outer: for (;;) {
    const sliceEnd = Math.min(deadline, now() + sliceMs);
    for (;;) {
      if (options.signal?.aborted) {
        stoppedBy = 'cancelled';
        break outer;
      }
      const left = options.iterations - mcts.iterations;
      if (left <= 0) {
        stoppedBy = 'iterations';
        break outer;
      }
      mcts.iterate(Math.min(32, left));
      const t = now();
      if (t >= deadline && mcts.iterations < options.iterations) {
        stoppedBy = 'time';
        break outer;
      }
      if (t >= sliceEnd) break;
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return { ...mcts.result(), stopped_by: stoppedBy, elapsed_ms: now() - started };
}

/**
 * The exact optimum by exhaustive expectimax (closed-loop: each step may depend on the outcomes so far). For tests
 * and the benchmark on small scenarios: the work is (actions · 2^stochastic effects)^horizon.
 */
export function solveExactly(scenario: CompiledScenario): {
  best_action: string | null;
  values: Record<string, number>;
} {
  const { actions, horizon } = scenario;
  const valueOf = (state: Float64Array, depth: number): number => {
    if (violates(scenario, state)) return evaluate(scenario, state) - scenario.penalty;
    if (depth === horizon) return evaluate(scenario, state);
    let best = -Infinity;
    for (const a of actions) if (applicable(a, state)) best = Math.max(best, actionValue(a, state, depth));
    return best === -Infinity ? evaluate(scenario, state) : best;
  };
  const actionValue = (a: CompiledAction, state: Float64Array, depth: number): number => {
    const stochastic = a.effects.filter((e) => e.probability < 1 && e.probability > 0);
    let expected = 0;
    for (let mask = 0; mask < 1 << stochastic.length; mask++) {
      let p = 1;
      const next = Float64Array.from(state);
      for (const e of a.effects) {
        const k = stochastic.indexOf(e);
        let happens = e.probability >= 1;
        if (k >= 0) {
          happens = (mask & (1 << k)) !== 0;
          p *= happens ? e.probability : 1 - e.probability;
        }
        if (!happens) continue;
        if (e.kind === 'delta') next[e.index]! += e.value;
        else next[e.index] = e.value;
      }
      if (p > 0) expected += p * valueOf(next, depth + 1);
    }
    return expected - a.cost;
  };
  const values: Record<string, number> = {};
  let best: string | null = null;
  for (const a of actions) {
    if (!applicable(a, scenario.initial)) continue;
    const v = actionValue(a, scenario.initial, 0);
    values[a.name] = v;
    if (best === null || v > values[best]!) best = a.name;
  }
  return { best_action: best, values };
}
