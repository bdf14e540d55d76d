// The scenario format of DreamWorld's simulations, its strict validation (400 invalid_scenario with the path of the
// bad field) and its compiled form: variables in a Float64Array, effects and constraints as index lists.
import { z } from 'zod';
import { badRequest } from '@synthians/kit';

export const LIMITS = { vars: 64, actions: 64, effects: 64, constraints: 64, horizon: 100 } as const;

const VarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a variable name: letters, digits and _');
const Finite = z.number().refine(Number.isFinite, 'a finite number');
const Probability = z.number().min(0).max(1);

const Constraint = z
  .object({
    var: VarName,
    min: Finite.optional(),
    max: Finite.optional(),
    equals: z.union([Finite, z.boolean()]).optional(),
  })
  .strict()
  .refine(
    (c) => c.min !== undefined || c.max !== undefined || c.equals !== undefined,
    'give min, max or equals',
  );

const Effect = z.union([
  Finite,
  z.boolean(),
  z
    .object({
      delta: Finite.optional(),
      set: z.union([Finite, z.boolean()]).optional(),
      probability: Probability.default(1),
    })
    .strict()
    .refine((e) => (e.delta === undefined) !== (e.set === undefined), 'give exactly one of delta or set'),
]);

const Action = z
  .object({
    name: z.string().min(1).max(128),
    effects: z.record(VarName, Effect),
    preconditions: z.array(Constraint).max(LIMITS.constraints).optional(),
    cost: Finite.min(0).default(0),
  })
  .strict();

export const ScenarioSchema = z
  .object({
    state: z.record(VarName, z.union([Finite, z.boolean()])),
    actions: z.array(Action).min(1).max(LIMITS.actions),
    constraints: z.array(Constraint).max(LIMITS.constraints).default([]),
    horizon: z.number().int().min(1).max(LIMITS.horizon),
    metrics: z
      .array(z.object({ var: VarName, weight: Finite }).strict())
      .max(LIMITS.vars)
      .default([]),
    violation_penalty: Finite.min(0).default(100),
  })
  .strict();

export type Scenario = z.input<typeof ScenarioSchema>;
type ParsedScenario = z.output<typeof ScenarioSchema>;

export interface CompiledConstraint {
  index: number;
  min: number;
  max: number;
}

export interface CompiledEffect {
  index: number;
  kind: 'delta' | 'set';
  value: number;
  probability: number;
}

export interface CompiledAction {
  name: string;
  cost: number;
  effects: CompiledEffect[];
  preconditions: CompiledConstraint[];
  /** How many effects are stochastic (0 < probability < 1). */
  stochastic: number;
}

/** A validated scenario ready for the search: variable i of `initial` is `vars[i]` (booleans as 0/1). */
export interface CompiledScenario {
  vars: string[];
  boolean: boolean[];
  initial: Float64Array;
  actions: CompiledAction[];
  constraints: CompiledConstraint[];
  horizon: number;
  /** Weight of each variable in the evaluation (0 for variables no metric names). */
  weights: Float64Array;
  penalty: number;
}

const invalid = (path: (string | number | symbol)[], message: string) =>
  badRequest('invalid_scenario', `${['scenario', ...path.map(String)].join('.')}: ${message}`, {
    path: ['scenario', ...path.map(String)].join('.'),
  });

/** Validates and compiles a scenario; throws 400 invalid_scenario naming the first bad field. */
export function compileScenario(input: unknown): CompiledScenario {
  const parsed = ScenarioSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalid(issue.path, issue.message);
  }
  return compileParsed(parsed.data);
}

function compileParsed(s: ParsedScenario): CompiledScenario {
  const vars = Object.keys(s.state);
  if (vars.length === 0) throw invalid(['state'], 'needs at least one variable');
  if (vars.length > LIMITS.vars) throw invalid(['state'], `at most ${LIMITS.vars} variables`);
  const index = new Map(vars.map((v, i) => [v, i]));
  const boolean = vars.map((v) => typeof s.state[v] === 'boolean');
  const initial = Float64Array.from(vars.map((v) => Number(s.state[v])));

  const lookup = (name: string, path: (string | number)[]) => {
    const i = index.get(name);
    if (i === undefined)
      throw invalid(path, `unknown variable ${JSON.stringify(name)} (not in scenario.state)`);
    return i;
  };
  const constraint = (
    c: {
      var: string;
      min?: number | undefined;
      max?: number | undefined;
      equals?: number | boolean | undefined;
    },
    path: (string | number)[],
  ): CompiledConstraint => {
    const i = lookup(c.var, [...path, 'var']);
    if (c.equals !== undefined) {
      if ((typeof c.equals === 'boolean') !== boolean[i])
        throw invalid([...path, 'equals'], `must be a ${boolean[i] ? 'boolean' : 'number'} like ${c.var}`);
      const v = Number(c.equals);
      return { index: i, min: v, max: v };
    }
    if (boolean[i]) throw invalid(path, `${c.var} is a boolean: use equals`);
    const min = c.min ?? -Infinity;
    const max = c.max ?? Infinity;
    if (min > max) throw invalid([...path, 'min'], 'min is above max');
    return { index: i, min, max };
  };

  const names = new Set<string>();
  const actions = s.actions.map((a, ai): CompiledAction => {
    if (names.has(a.name))
      throw invalid(['actions', ai, 'name'], `duplicate action name ${JSON.stringify(a.name)}`);
    names.add(a.name);
    const entries = Object.entries(a.effects);
    if (entries.length > LIMITS.effects)
      throw invalid(['actions', ai, 'effects'], `at most ${LIMITS.effects} effects`);
    const effects = entries.map(([name, e]): CompiledEffect => {
      const path = ['actions', ai, 'effects', name];
      const i = lookup(name, path);
      const spec =
        typeof e === 'object'
          ? e
          : typeof e === 'boolean'
            ? { set: e, probability: 1 }
            : { delta: e, probability: 1 };
      if (spec.delta !== undefined) {
        if (boolean[i]) throw invalid(path, `${name} is a boolean: effects on it set true or false`);
        return { index: i, kind: 'delta', value: spec.delta, probability: spec.probability };
      }
      if ((typeof spec.set === 'boolean') !== boolean[i])
        throw invalid(path, `must set a ${boolean[i] ? 'boolean' : 'number'} like ${name}`);
      return { index: i, kind: 'set', value: Number(spec.set), probability: spec.probability };
    });
    return {
      name: a.name,
      cost: a.cost,
      effects,
      preconditions: (a.preconditions ?? []).map((c, ci) =>
        constraint(c, ['actions', ai, 'preconditions', ci]),
      ),
      stochastic: effects.filter((e) => e.probability > 0 && e.probability < 1).length,
    };
  });
  const constraints = s.constraints.map((c, ci) => constraint(c, ['constraints', ci]));
  const weights = new Float64Array(vars.length);
  s.metrics.forEach((m, mi) => {
    weights[lookup(m.var, ['metrics', mi, 'var'])]! += m.weight;
  });
  const compiled: CompiledScenario = {
    vars,
    boolean,
    initial,
    actions,
    constraints,
    horizon: s.horizon,
    weights,
    penalty: s.violation_penalty,
  };
  const broken = constraints.findIndex((c) => !satisfies(initial, c));
  if (broken >= 0)
    throw invalid(
      ['state', vars[constraints[broken]!.index]!],
      `the initial state violates scenario.constraints.${broken}`,
    );
  return compiled;
}

export const satisfies = (state: Float64Array, c: CompiledConstraint) => {
  const v = state[c.index]!;
  return v >= c.min && v <= c.max;
};

export const violates = (scenario: CompiledScenario, state: Float64Array) =>
  scenario.constraints.some((c) => !satisfies(state, c));

export const applicable = (action: CompiledAction, state: Float64Array) =>
  action.preconditions.every((c) => satisfies(state, c));

/** The weighted sum of the metrics over a state. */
export function evaluate(scenario: CompiledScenario, state: Float64Array): number {
  let v = 0;
  for (let i = 0; i < state.length; i++) v += scenario.weights[i]! * state[i]!;
  return v;
}

/** Adds weights to a compiled scenario's metrics (the preferences evaluator); returns a new scenario. */
export function withExtraWeights(
  scenario: CompiledScenario,
  extra: Record<string, number>,
): CompiledScenario {
  const weights = Float64Array.from(scenario.weights);
  for (const [name, w] of Object.entries(extra)) {
    const i = scenario.vars.indexOf(name);
    if (i >= 0) weights[i]! += w;
  }
  return { ...scenario, weights };
}
