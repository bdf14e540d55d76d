// Analytic gradients against central finite differences, in float64:
//  (1) the memory MLP's inner gradient (the δ-recursion used by the fast path and by the outer loop) w.r.t. every
//      weight and bias, for each activation and a 3-layer MLP;
//  (2) the tape's reverse mode through the inner updates (outer-loop gradients) w.r.t. W_K, W_Q, W_V and the gate
//      parameters, on tiny configurations (clipping inactive and active, momentum, forgetting, 2 inner steps).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activation } from './activation.ts';
import { resolveConfig, type NeuralMemoryConfig } from './config.ts';
import { NeuralMemory } from './memory.ts';
import {
  DiffMemory,
  Ops,
  Tape,
  chunkLoss,
  constant,
  constParams,
  param,
  type InitLayer,
  type OuterParams,
  type Pair,
} from './outer.ts';
import { Rng } from './rng.ts';

const close = (a: number, n: number, abs: number, rel: number) => Math.abs(a - n) <= abs + rel * Math.abs(n);

test('memory MLP: inner gradient δ⊗a matches finite differences of ‖M(k) − v‖² (silu, tanh, gelu)', () => {
  for (const name of ['silu', 'tanh', 'gelu'] as const) {
    const act = activation(name);
    const rng = new Rng(11);
    const widths = [3, 4, 5, 3];
    const L = widths.length - 1;
    const W = widths
      .slice(1)
      .map((r, l) => Float64Array.from({ length: r * widths[l]! }, () => rng.gaussian()));
    const b = widths.slice(1).map((r) => Float64Array.from({ length: r }, () => 0.5 * rng.gaussian()));
    const k = Float64Array.from({ length: 3 }, () => rng.gaussian());
    const v = Float64Array.from({ length: 3 }, () => rng.gaussian());
    // an independent plain forward for the finite differences
    const loss = () => {
      let a = k;
      for (let l = 0; l < L; l++) {
        const rows = widths[l + 1]!;
        const cols = widths[l]!;
        const z = new Float64Array(rows);
        for (let i = 0; i < rows; i++) {
          let s = b[l]![i]!;
          for (let j = 0; j < cols; j++) s += W[l]![i * cols + j]! * a[j]!;
          z[i] = s;
        }
        a = l < L - 1 ? z.map((x) => act.f(x)) : z;
      }
      return a.reduce((s, y, i) => s + (y - v[i]!) ** 2, 0);
    };
    // analytic: forward, δ_{L-1} = 2(y − v), δ_{l−1} = (W_lᵀ δ_l) ⊙ φ'(z_{l−1}), ∇W_l = δ_l ⊗ a_l, ∇b_l = δ_l
    const ops = new Ops(new Tape(), act);
    const a = [constant(k)];
    const z = [];
    for (let l = 0; l < L; l++) {
      z.push(ops.affine(constant(W[l]!), constant(b[l]!), a[l]!, widths[l + 1]!, widths[l]!));
      if (l < L - 1) a.push(ops.activate(z[l]!));
    }
    const deltas = new Array(L);
    deltas[L - 1] = ops.outputDelta(z[L - 1]!, constant(v));
    for (let l = L - 1; l >= 1; l--)
      deltas[l - 1] = ops.backDelta(constant(W[l]!), deltas[l], z[l - 1]!, widths[l + 1]!, widths[l]!);
    const eps = 1e-6;
    const tol = name === 'gelu' ? 1e-5 : 1e-7;
    let checked = 0;
    for (let l = 0; l < L; l++) {
      const cols = widths[l]!;
      for (let i = 0; i < widths[l + 1]!; i++) {
        for (let j = 0; j <= cols; j++) {
          const arr = j < cols ? W[l]! : b[l]!;
          const idx = j < cols ? i * cols + j : i;
          const analytic = deltas[l].v[i]! * (j < cols ? a[l]!.v[j]! : 1);
          const x0 = arr[idx]!;
          arr[idx] = x0 + eps;
          const lp = loss();
          arr[idx] = x0 - eps;
          const lm = loss();
          arr[idx] = x0;
          const numeric = (lp - lm) / (2 * eps);
          assert.ok(
            close(analytic, numeric, tol, 1e-5),
            `${name} layer ${l} (${i},${j}): analytic ${analytic} vs numeric ${numeric}`,
          );
          checked++;
        }
      }
    }
    assert.equal(checked, 4 * 4 + 5 * 5 + 3 * 6);
  }
});

function tinySetup(overrides: Partial<NeuralMemoryConfig>, seed: number) {
  const cfg: Partial<NeuralMemoryConfig> = {
    inputDim: 5,
    keyDim: 3,
    valueDim: 5,
    hiddenDims: [4],
    innerSteps: 2,
    thetaMax: 0.5,
    thetaInit: 0.3,
    etaInit: 0.6,
    alphaInit: 0.05,
    gateInitStd: 0.5,
    firstLayerInitStd: 1,
    hiddenBiasInit: -0.3,
    outputInit: 'random',
    valueInit: 'random',
    tieQueryToKey: false,
    backend: 'js',
    ...overrides,
  };
  const m = NeuralMemory.create(cfg, seed);
  const config = resolveConfig(cfg);
  const p = m.projections();
  const params: OuterParams = {
    WK: Float64Array.from(p.WK),
    WQ: Float64Array.from(p.WQ),
    WV: Float64Array.from(p.WV),
    gateW: p.gateW,
    gateB: p.gateB,
  };
  const init: InitLayer[] = m.memoryWeights().map((l) => ({
    W: Float64Array.from(l.W),
    b: Float64Array.from(l.b),
    rows: l.rows,
    cols: l.cols,
    anchored: config.forgetTarget === 'init' && [...l.W, ...l.b].some((x) => x !== 0),
  }));
  const rng = new Rng(seed + 100);
  const xs = Array.from({ length: 5 }, () => Float64Array.from({ length: 5 }, () => rng.gaussian()));
  const chunk: Pair[] = xs.slice(1).map((x, i) => ({ src: xs[i]!, tgt: x }));
  return { config, params, init, chunk };
}

function checkOuterGradients(overrides: Partial<NeuralMemoryConfig>, seed: number, label: string) {
  const { config, params, init, chunk } = tinySetup(overrides, seed);
  const lossOf = (): number => {
    const mem = new DiffMemory(config, init, new Tape(), true);
    return chunkLoss(mem, constParams(params), mem.initialState(), chunk, (x) => x).loss.v[0]!;
  };
  const tape = new Tape();
  const mem = new DiffMemory(config, init, tape, true);
  const nodes = {
    WK: param(params.WK),
    WQ: param(params.WQ),
    WV: param(params.WV),
    gateW: param(params.gateW),
    gateB: param(params.gateB),
  };
  const { loss } = chunkLoss(mem, nodes, mem.initialState(), chunk, (x) => x);
  tape.backward(loss);
  const eps = 1e-6;
  let checked = 0;
  let maxGrad = 0;
  for (const key of ['WK', 'WQ', 'WV', 'gateW', 'gateB'] as const) {
    const arr = params[key];
    const g = nodes[key].g;
    assert.ok(g !== null, `${label}: ${key} received a gradient`);
    for (let i = 0; i < arr.length; i++) {
      const x0 = arr[i]!;
      arr[i] = x0 + eps;
      const lp = lossOf();
      arr[i] = x0 - eps;
      const lm = lossOf();
      arr[i] = x0;
      const numeric = (lp - lm) / (2 * eps);
      maxGrad = Math.max(maxGrad, Math.abs(numeric));
      assert.ok(
        close(g[i]!, numeric, 1e-7, 1e-5),
        `${label}: d loss / d ${key}[${i}] analytic ${g[i]} vs numeric ${numeric}`,
      );
      checked++;
    }
  }
  assert.ok(maxGrad > 1e-4, `${label}: gradients are not trivially zero (max ${maxGrad})`);
  return checked;
}

test('outer loop: gradients through the inner updates match finite differences (sequence pairs)', () => {
  const n = checkOuterGradients({ maxGradNorm: 1e6 }, 1, 'no clipping');
  assert.equal(n, 15 + 15 + 25 + 15 + 3);
});

test('outer loop: gradients with active gradient clipping match finite differences', () => {
  // check that clipping is in fact active for these writes
  const { config, params, init, chunk } = tinySetup({ maxGradNorm: 0.05 }, 2);
  const ops = new Ops(new Tape(), activation(config.activation));
  const mem = new DiffMemory(config, init, new Tape(), true);
  const p = constParams(params);
  const k = ops.normalize(ops.affine(p.WK, null, constant(chunk[0]!.src), 3, 5));
  const { z, a } = mem.forward(mem.initialState(), k);
  const d1 = ops.outputDelta(z[1]!, constant(chunk[0]!.tgt));
  const d0 = ops.backDelta(mem.initialState().W[1]!, d1, z[0]!, 5, 4);
  const c = ops.clipScale([d0, d1], a, 0.05).v[0]!;
  assert.ok(c < 0.5, `clipping is active (scale ${c})`);
  checkOuterGradients({ maxGradNorm: 0.05 }, 2, 'clipping');
});

test('outer loop: gradients for a linear memory and a deeper tanh MLP, forgetting towards zero', () => {
  checkOuterGradients({ hiddenDims: [], innerSteps: 1, forgetTarget: 'zero', maxGradNorm: 1e6 }, 3, 'linear');
  checkOuterGradients(
    { hiddenDims: [4, 3], activation: 'tanh', forgetTarget: 'zero', maxGradNorm: 1e6 },
    4,
    'deep tanh',
  );
});
