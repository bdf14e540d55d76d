// The MCTS engine on small scenarios with known optima: the greedy trap, stochastic effects, constraints,
// preconditions, costs; bounds, determinism, cancellation; strict validation; the preferences evaluator.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '@synthians/kit';
import { Mcts, runSearch, solveExactly } from './mcts.ts';
import { compileScenario, withExtraWeights, type Scenario } from './scenario.ts';
import { extractPreferences, preferenceWeights } from './preferences.ts';

/** Greedy says "spend" (+5 now); investing first (−2) unlocks "harvest" (+20): best is invest → harvest = 18. */
const trap: Scenario = {
  state: { money: 0, invested: false },
  actions: [
    { name: 'spend', effects: { money: 5 } },
    { name: 'invest', effects: { money: -2, invested: true } },
    { name: 'harvest', effects: { money: 20 }, preconditions: [{ var: 'invested', equals: true }] },
  ],
  horizon: 2,
  metrics: [{ var: 'money', weight: 1 }],
};

function invalid(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    assert.ok(AppError.isInstance(err), String(err));
    return err;
  }
  assert.fail('expected a 400');
}

describe('MCTS', () => {
  test('finds the best first action where the greedy one is wrong (two steps)', async () => {
    const s = compileScenario(trap);
    assert.equal(solveExactly(s).best_action, 'invest');
    const r = await runSearch(s, { iterations: 2000, timeBudgetMs: 60_000, seed: 7 });
    assert.equal(r.best_action, 'invest');
    assert.equal(r.stopped_by, 'iterations');
    assert.equal(r.iterations_run, 2000);
    assert.ok(Math.abs(r.expected_value! - 18) < 1.5, `expected value near 18, got ${r.expected_value}`);
    assert.ok(r.uncertainty !== null && r.uncertainty >= 0);
    const spend = r.counterfactuals.find((c) => c.action === 'spend');
    assert.ok(spend && spend.expected_value < r.expected_value!);
    assert.equal(r.visits + r.counterfactuals.reduce((s, c) => s + c.visits, 0), 2000);
  });

  test('a constraint violation is terminal with the penalty: the risky shortcut loses', async () => {
    const s = compileScenario({
      state: { fuel: 3, distance: 0 },
      actions: [
        { name: 'sprint', effects: { fuel: -3, distance: 4 } },
        { name: 'walk', effects: { fuel: -1, distance: 1.5 } },
        { name: 'refuel', effects: { fuel: 2 }, cost: 0.5 },
      ],
      constraints: [{ var: 'fuel', min: 0 }],
      horizon: 3,
      metrics: [{ var: 'distance', weight: 1 }],
      violation_penalty: 50,
    });
    const exact = solveExactly(s);
    const r = await runSearch(s, { iterations: 5000, timeBudgetMs: 60_000, seed: 3 });
    assert.equal(r.best_action, exact.best_action);
  });

  test('stochastic effects: prefers the safer expected value', async () => {
    const s = compileScenario({
      state: { wealth: 0 },
      actions: [
        { name: 'lottery', effects: { wealth: { delta: 100, probability: 0.02 } } },
        { name: 'work', effects: { wealth: 3 } },
        { name: 'gamble', effects: { wealth: { delta: 10, probability: 0.5 } } },
      ],
      horizon: 2,
      metrics: [{ var: 'wealth', weight: 1 }],
    });
    assert.equal(solveExactly(s).best_action, 'gamble');
    const r = await runSearch(s, { iterations: 20_000, timeBudgetMs: 60_000, seed: 11 });
    assert.equal(r.best_action, 'gamble');
    // UCT's mean mixes in exploring visits below the best action: near, not at, the optimum of 10.
    assert.ok(r.expected_value! > 7 && r.expected_value! <= 10.5, String(r.expected_value));
  });

  test('the same seed gives the same result; the iteration bound is exact', () => {
    const s = compileScenario(trap);
    const a = new Mcts(s, { seed: 42 });
    const b = new Mcts(s, { seed: 42 });
    a.iterate(333);
    b.iterate(333);
    assert.deepEqual(a.result(), b.result());
    assert.equal(a.result().iterations_run, 333);
  });

  test('the time budget stops a long search (stopped_by "time"), a signal cancels it', async () => {
    const s = compileScenario({
      ...trap,
      horizon: 30,
      actions: [...trap.actions, { name: 'wait', effects: {} }],
    });
    // A fake clock: each reading advances 1 ms, so "time" is reached after a bounded number of iterations.
    let t = 0;
    const r = await runSearch(s, { iterations: 1e9, timeBudgetMs: 50, seed: 1, now: () => t++ });
    assert.equal(r.stopped_by, 'time');
    assert.ok(r.iterations_run > 0 && r.iterations_run < 1e9);
    const controller = new AbortController();
    const running = runSearch(s, { iterations: 1e9, timeBudgetMs: 1e9, seed: 1, signal: controller.signal });
    setImmediate(() => controller.abort());
    const c = await running;
    assert.equal(c.stopped_by, 'cancelled');
    assert.ok(c.iterations_run < 1e9);
  });

  test('random small scenarios: the result matches the brute-forced optimum', async () => {
    let hits = 0;
    const n = 20;
    for (let k = 0; k < n; k++) {
      const scenario = randomScenario(k + 1);
      const s = compileScenario(scenario);
      const exact = solveExactly(s);
      const r = await runSearch(s, { iterations: 4000, timeBudgetMs: 60_000, seed: k });
      const best = Math.max(...Object.values(exact.values));
      if (Math.abs(exact.values[r.best_action!]! - best) < 1e-9) hits++;
    }
    assert.ok(hits >= n - 2, `found the optimum in ${hits}/${n}`);
  });
});

/** A deterministic small scenario: 3 actions with random deltas on 2 variables, horizon 3. */
export function randomScenario(seed: number): Scenario {
  let a = seed * 2654435761;
  const rnd = () => {
    a = (a * 1103515245 + 12345) % 2147483648;
    return a / 2147483648;
  };
  const delta = () => Math.round((rnd() * 10 - 4) * 10) / 10;
  return {
    state: { x: 0, y: 0 },
    actions: ['a', 'b', 'c'].map((name) => ({ name, effects: { x: delta(), y: delta() } })),
    horizon: 3,
    metrics: [
      { var: 'x', weight: 1 },
      { var: 'y', weight: Math.round((rnd() * 2 - 1) * 10) / 10 },
    ],
  };
}

describe('scenario validation', () => {
  const cases: [string, unknown, string][] = [
    ['no actions', { ...trap, actions: [] }, 'scenario.actions'],
    [
      'unknown variable in an effect',
      { ...trap, actions: [{ name: 'x', effects: { gold: 1 } }] },
      'scenario.actions.0.effects.gold',
    ],
    [
      'a number effect on a boolean',
      { ...trap, actions: [{ name: 'x', effects: { invested: 1 } }] },
      'scenario.actions.0.effects.invested',
    ],
    [
      'a bad probability',
      { ...trap, actions: [{ name: 'x', effects: { money: { delta: 1, probability: 2 } } }] },
      'scenario.actions.0.effects.money.probability',
    ],
    ['horizon 0', { ...trap, horizon: 0 }, 'scenario.horizon'],
    [
      'a metric on an unknown variable',
      { ...trap, metrics: [{ var: 'nope', weight: 1 }] },
      'scenario.metrics.0.var',
    ],
    [
      'duplicate action names',
      { ...trap, actions: [trap.actions[0], trap.actions[0]] },
      'scenario.actions.1.name',
    ],
    ['an unknown field', { ...trap, extra: 1 }, 'scenario'],
    [
      'an initial state outside the constraints',
      { ...trap, constraints: [{ var: 'money', min: 1 }] },
      'scenario.state.money',
    ],
    ['a string in the state', { ...trap, state: { money: 'lots' } }, 'scenario.state.money'],
  ];
  for (const [what, scenario, path] of cases) {
    test(`400 invalid_scenario naming the field: ${what}`, () => {
      const err = invalid(() => compileScenario(scenario));
      assert.equal(err.statusCode, 400);
      assert.equal(err.code, 'invalid_scenario');
      assert.equal((err.details as { path: string }).path, path, err.message);
    });
  }
});

describe('preferences evaluator', () => {
  test('reads "I love/hate X" statements and weights the variables named after them', async () => {
    const prefs = extractPreferences([
      { id: 'm1', content: 'I really love hiking in the mountains.' },
      { id: 'm2', content: 'Honestly I hate traffic jams, they ruin my day' },
      { id: 'm3', content: 'We talked about the weather.' },
    ]);
    assert.deepEqual(
      prefs.map((p) => [p.object, p.strength, p.memory_id]),
      [
        ['hiking in the mountains', 1, 'm1'],
        ['traffic jams', -1, 'm2'],
      ],
    );
    const weights = preferenceWeights(prefs, ['hiking_hours', 'trafficMinutes', 'money']);
    assert.deepEqual(
      weights.map((w) => [w.var, w.weight]),
      [
        ['hiking_hours', 1],
        ['trafficMinutes', -1],
      ],
    );
    // With the preferences, the drive that costs traffic loses to the hike.
    const s = compileScenario({
      state: { hiking_hours: 0, trafficMinutes: 0 },
      actions: [
        { name: 'drive_to_city', effects: { trafficMinutes: 2 } },
        { name: 'go_hiking', effects: { hiking_hours: 1 } },
      ],
      horizon: 1,
      metrics: [],
    });
    const weighted = withExtraWeights(s, Object.fromEntries(weights.map((w) => [w.var, w.weight])));
    const r = await runSearch(weighted, { iterations: 100, timeBudgetMs: 60_000, seed: 1 });
    assert.equal(r.best_action, 'go_hiking');
  });
});
