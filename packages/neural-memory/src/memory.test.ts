import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '@synthians/kit';
import {
  NeuralMemory,
  DeltaRuleMemory,
  VARIANTS,
  defaults,
  type NeuralMemoryConfig,
  type Variant,
} from './index.ts';
import { resolveConfig } from './config.ts';
import { DiffMemory, Tape, constParams, constant, type InitLayer } from './outer.ts';
import { Rng } from './rng.ts';
import { bitEqual, clustered, cosine, maxAbs, maxAbsDiff, unitVec } from './test-util.ts';

const small: Partial<NeuralMemoryConfig> = {
  inputDim: 32,
  keyDim: 16,
  valueDim: 32,
  hiddenDims: [32],
  thetaMax: 0.05,
  firstLayerInitStd: 2,
  hiddenBiasInit: -2,
};

test('defaults: 768-d inputs, 128-d keys, a 128→512→768 SiLU memory; the resolved config is frozen', () => {
  const m = NeuralMemory.create({}, 1);
  assert.equal(m.config.inputDim, 768);
  assert.equal(m.config.keyDim, 128);
  assert.equal(m.config.valueDim, 768);
  assert.deepEqual([...m.config.hiddenDims], [512]);
  assert.equal(m.memoryParameterCount, 128 * 512 + 512 + 512 * 768 + 768);
  assert.equal(m.backend, 'wasm');
  assert.ok(Object.isFrozen(m.config), 'config is frozen');
  const g = m.calculateGates(unitVec(new Rng(1), 768));
  assert.ok(
    Math.abs(g.alpha - defaults.alphaInit) < 0.5 * defaults.alphaInit,
    `alpha ≈ alphaInit (${g.alpha})`,
  );
  const theta0 = defaults.thetaInit * defaults.thetaMax;
  assert.ok(Math.abs(g.theta - theta0) < 0.5 * theta0, `theta ≈ thetaInit·thetaMax (${g.theta})`);
  assert.ok(Math.abs(g.eta - defaults.etaInit) < 0.2, `eta ≈ etaInit (${g.eta})`);
  assert.throws(
    () => NeuralMemory.create({ keyDim: 0 }),
    (e: unknown) => AppError.isInstance(e) && e.code === 'invalid_config',
  );
  assert.throws(
    () => NeuralMemory.create({ valueDim: 100 }),
    (e: unknown) => AppError.isInstance(e) && e.code === 'invalid_config',
    "valueInit 'identity' needs valueDim === inputDim",
  );
});

function referenceFor(m: NeuralMemory) {
  const config = resolveConfig(m.config);
  const p = m.projections();
  const params = {
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
  return { mem: new DiffMemory(config, init, new Tape(), true), p: constParams(params) };
}

test('fast path (wasm and js) matches the float64 reference of the inner update, with and without clipping', () => {
  for (const backend of ['wasm', 'js'] as const) {
    for (const maxGradNorm of [1e6, 0.5]) {
      const m = NeuralMemory.create(
        {
          ...small,
          hiddenDims: [12, 8],
          innerSteps: 2,
          thetaMax: 0.3,
          alphaInit: 0.05,
          etaInit: 0.7,
          gateInitStd: 0.5,
          valueInit: 'random',
          outputInit: 'random',
          maxGradNorm,
          backend,
        },
        7,
      );
      assert.equal(m.backend, backend);
      const { mem, p } = referenceFor(m);
      let state = mem.initialState();
      const rng = new Rng(3);
      let clipped = 0;
      for (let t = 0; t < 12; t++) {
        const xk = unitVec(rng, 32);
        const xv = unitVec(rng, 32);
        const r = m.write(xk, xv);
        const ref = mem.write(state, p, constant(Float64Array.from(xk)), constant(Float64Array.from(xv)));
        state = ref.state;
        if (r.clipped) clipped++;
        assert.ok(
          Math.abs(r.loss - ref.loss) <= 1e-4 * Math.max(1, ref.loss),
          `${backend} step ${t}: loss ${r.loss} vs reference ${ref.loss}`,
        );
      }
      if (maxGradNorm < 1) assert.ok(clipped > 0, `${backend}: clipping was exercised`);
      const weights = m.memoryWeights();
      for (const [l, w] of weights.entries()) {
        const scale = Math.max(1, maxAbs(state.W[l]!.v));
        const d = maxAbsDiff(w.W, state.W[l]!.v);
        assert.ok(d <= 2e-5 * scale, `${backend} layer ${l}: weights differ by ${d}`);
        assert.ok(maxAbsDiff(w.b, state.b[l]!.v) <= 2e-5 * scale, `${backend} layer ${l}: biases differ`);
      }
      const q = unitVec(rng, 32);
      const y = m.retrieve(q);
      const yRef = mem.read(state, p, constant(Float64Array.from(q))).v;
      assert.ok(
        maxAbsDiff(y, yRef) <= 1e-4 * Math.max(1, maxAbs(yRef)),
        `${backend}: retrieval matches reference`,
      );
    }
  }
});

test('initialisation and behaviour are deterministic for a seed and differ across seeds', () => {
  const run = (seed: number) => {
    const m = NeuralMemory.create(small, seed);
    const rng = new Rng(5);
    const losses = Array.from({ length: 20 }, () => m.update(unitVec(rng, 32)).loss);
    return { bytes: m.serialize(), y: m.retrieve(unitVec(rng, 32)), losses };
  };
  const a = run(1);
  const b = run(1);
  const c = run(2);
  assert.deepEqual(a.bytes, b.bytes, 'same seed, same state');
  assert.ok(bitEqual(a.y, b.y), 'same seed, same output');
  assert.deepEqual(a.losses, b.losses);
  assert.ok(maxAbsDiff(a.y, c.y) > 1e-6, 'another seed, another memory');
});

function variantRun(variant: Variant, switchAt = -1, from: Variant = 'NONE') {
  const m = NeuralMemory.create({ ...small, variant: switchAt >= 0 ? from : variant }, 11);
  const rng = new Rng(21);
  const gen = clustered(rng, 32, 4, 0.5);
  const xs = Array.from({ length: 60 }, () => gen());
  const results = xs.map((x, t) => {
    if (t === switchAt) m.setVariant(variant);
    return m.update(x);
  });
  const probes = [xs[59]!, xs[55]!, xs[40]!, xs[3]!, gen(), gen()];
  const outputs = probes.map((p) => m.retrieve(p));
  return { m, results, outputs, weights: m.memoryWeights() };
}

test('variants: NONE, MAC, MAG and MAL behave measurably differently and deterministically', () => {
  const runs = Object.fromEntries(VARIANTS.map((v) => [v, variantRun(v)])) as Record<
    Variant,
    ReturnType<typeof variantRun>
  >;
  for (const v of VARIANTS) {
    const again = variantRun(v);
    runs[v].outputs.forEach((y, i) =>
      assert.ok(bitEqual(y, again.outputs[i]!), `${v}: identical reruns (${i})`),
    );
    assert.deepEqual(
      runs[v].results.map((r) => [r.loss, r.surprise, r.gates]),
      again.results.map((r) => [r.loss, r.surprise, r.gates]),
      `${v}: identical update results`,
    );
    assert.equal(
      runs[v].results[10]!.variantOutput === undefined,
      v === 'NONE',
      `${v}: variantOutput presence`,
    );
  }
  for (let i = 0; i < VARIANTS.length; i++)
    for (let j = i + 1; j < VARIANTS.length; j++) {
      const [a, b] = [VARIANTS[i]!, VARIANTS[j]!];
      const ra = runs[a];
      const rb = runs[b];
      const outDiff = Math.max(...ra.outputs.map((y, k) => maxAbsDiff(y, rb.outputs[k]!)));
      const varDiff = Math.max(
        ...ra.results.map((r, k) =>
          maxAbsDiff(
            r.variantOutput ?? new Float32Array(32),
            rb.results[k]!.variantOutput ?? new Float32Array(32),
          ),
        ),
      );
      const lossDiff = Math.max(...ra.results.map((r, k) => Math.abs(r.loss - rb.results[k]!.loss)));
      assert.ok(
        Math.max(outDiff, varDiff, lossDiff) > 1e-3,
        `${a} vs ${b}: outputs differ by ${outDiff}, variant outputs by ${varDiff}, losses by ${lossDiff}`,
      );
    }
  // what each variant changes: MAC only the read; MAG the gates; MAL the written value
  runs.MAC.weights.forEach((w, l) =>
    assert.ok(bitEqual(w.W, runs.NONE.weights[l]!.W), 'MAC writes like NONE'),
  );
  assert.ok(maxAbsDiff(runs.MAC.outputs[0]!, runs.NONE.outputs[0]!) > 1e-3, 'MAC reads differently');
  assert.ok(
    runs.MAG.results.slice(1).some((r, k) => r.gates.theta < runs.NONE.results[k + 1]!.gates.theta * 0.99),
    'MAG lowers θ when the window already predicts the value',
  );
  assert.ok(maxAbsDiff(runs.MAG.weights[1]!.W, runs.NONE.weights[1]!.W) > 1e-6, 'MAG writes differently');
  assert.ok(maxAbsDiff(runs.MAL.weights[1]!.W, runs.NONE.weights[1]!.W) > 1e-6, 'MAL writes differently');
});

test('setVariant at run time keeps the state consistent', () => {
  // MAC writes exactly like NONE, so switching NONE → MAC mid-stream must equal MAC all along
  const switched = variantRun('MAC', 30, 'NONE');
  const macAll = variantRun('MAC');
  switched.outputs.forEach((y, i) =>
    assert.ok(bitEqual(y, macAll.outputs[i]!), `NONE→MAC equals MAC (${i})`),
  );
  switched.weights.forEach((w, l) => assert.ok(bitEqual(w.W, macAll.weights[l]!.W), 'same weights'));
  // switching is deterministic and round-trips through every variant
  const a = variantRun('MAL', 20, 'MAG');
  const b = variantRun('MAL', 20, 'MAG');
  a.outputs.forEach((y, i) => assert.ok(bitEqual(y, b.outputs[i]!), `MAG→MAL deterministic (${i})`));
  const m = a.m;
  for (const v of [...VARIANTS, 'NONE' as const]) {
    m.setVariant(v);
    assert.equal(m.variant, v);
    const r = m.update(unitVec(new Rng(1), 32));
    assert.ok(Number.isFinite(r.loss) && r.written, `${v}: update after switching`);
  }
  assert.throws(
    () => m.setVariant('XYZ' as Variant),
    (e: unknown) => AppError.isInstance(e),
  );
});

test('serialize/deserialize round-trips exactly (every variant, both modes) and rejects corrupt bytes', () => {
  for (const mode of ['associative', 'sequence'] as const) {
    for (const variant of VARIANTS) {
      const m = NeuralMemory.create({ ...small, mode, variant }, 3);
      const rng = new Rng(8);
      const gen = clustered(rng, 32, 3, 0.5);
      for (let t = 0; t < 40; t++) m.update(gen());
      const bytes = m.serialize();
      const r = NeuralMemory.deserialize(bytes);
      assert.deepEqual(r.serialize(), bytes, `${mode}/${variant}: re-serialises to the same bytes`);
      assert.deepEqual(r.config, m.config);
      assert.equal(r.step, m.step);
      assert.equal(r.variant, m.variant);
      assert.equal(r.backend, m.backend);
      for (let t = 0; t < 20; t++) {
        const x = gen();
        const a = m.update(x);
        const b = r.update(x);
        assert.deepEqual(b, a, `${mode}/${variant}: identical update ${t}`);
        const q = gen();
        assert.ok(bitEqual(m.retrieve(q), r.retrieve(q)), `${mode}/${variant}: identical retrieval ${t}`);
      }
      assert.deepEqual(r.serialize(), m.serialize(), `${mode}/${variant}: same state after continuing`);
    }
  }
  const m = NeuralMemory.create(small, 4);
  m.update(unitVec(new Rng(1), 32));
  const bytes = m.serialize();
  const isState = (e: unknown) => AppError.isInstance(e) && e.code === 'invalid_state';
  const corrupt = bytes.slice();
  corrupt[bytes.length >> 1] = corrupt[bytes.length >> 1]! ^ 1;
  assert.throws(() => NeuralMemory.deserialize(corrupt), isState, 'flipped bit');
  assert.throws(() => NeuralMemory.deserialize(bytes.subarray(0, bytes.length - 9)), isState, 'truncated');
  assert.throws(() => NeuralMemory.deserialize(new Uint8Array(100)), isState, 'not a state');
  const v2 = bytes.slice();
  v2[4] = 2;
  assert.throws(() => NeuralMemory.deserialize(v2), isState, 'unknown version');
});

test('serialize/deserialize at the default sizes, including the RNG state used by trainOuter', () => {
  const m = NeuralMemory.create({}, 9);
  const rng = new Rng(2);
  for (let t = 0; t < 30; t++) m.update(unitVec(rng, 768));
  const bytes = m.serialize();
  assert.ok(bytes.length > 4 * m.memoryParameterCount * 3, 'memory, momentum and initial memory are stored');
  const r = NeuralMemory.deserialize(bytes);
  const x = unitVec(rng, 768);
  assert.deepEqual(r.update(x), m.update(x));
  // RNG continuity: trainOuter shuffles with the memory's RNG
  const t1 = NeuralMemory.create(small, 5);
  const t2 = NeuralMemory.deserialize(t1.serialize());
  const seqs = Array.from({ length: 3 }, () => Array.from({ length: 4 }, () => unitVec(rng, 32)));
  assert.deepEqual(
    t2.trainOuter(seqs, { epochs: 2, lr: 0.01 }),
    t1.trainOuter(seqs, { epochs: 2, lr: 0.01 }),
  );
  assert.deepEqual(t2.serialize(), t1.serialize());
});

test('reset returns to the initial state; analyzeSurprise changes nothing', () => {
  const fresh = NeuralMemory.create(small, 6).serialize();
  const m = NeuralMemory.create(small, 6);
  const rng = new Rng(4);
  for (let t = 0; t < 25; t++) m.update(unitVec(rng, 32));
  const before = m.serialize();
  const s = m.analyzeSurprise(unitVec(rng, 32));
  assert.ok(s.evaluated && s.loss > 0 && s.gradNorm > 0, 'analysis evaluated');
  assert.deepEqual(m.serialize(), before, 'analyzeSurprise leaves the state untouched');
  m.reset();
  assert.equal(m.step, 0);
  assert.deepEqual(m.serialize(), fresh, 'reset = freshly created');
});

test('surprise stays informative after 5,000 updates: novel items are more surprising than repeated ones', () => {
  const m = NeuralMemory.create({}, 3);
  const rng = new Rng(77);
  const gen = clustered(rng, 768, 16, 0.8);
  const pool = Array.from({ length: 32 }, () => gen());
  const recent: number[] = [];
  for (let t = 0; t < 5000; t++) {
    const r = m.update(rng.uniform() < 0.5 ? pool[rng.int(pool.length)]! : gen());
    if (t >= 4500) recent.push(r.surprise);
  }
  assert.equal(m.step, 5000);
  const novel = Array.from({ length: 32 }, () => m.analyzeSurprise(gen()));
  const seen = pool.map((x) => m.analyzeSurprise(x));
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const novelS = mean(novel.map((s) => s.surprise));
  const seenS = mean(seen.map((s) => s.surprise));
  assert.ok(novelS > seenS + 0.3, `novel ${novelS} vs repeated ${seenS}`);
  let wins = 0;
  for (const a of novel) for (const b of seen) wins += a.surprise > b.surprise ? 1 : 0;
  const aucValue = wins / (novel.length * seen.length);
  assert.ok(aucValue > 0.9, `AUC ${aucValue}`);
  assert.ok(mean(novel.map((s) => s.loss)) > 2 * mean(seen.map((s) => s.loss)), 'raw losses separate too');
  // the stream's normalised surprise has not collapsed
  const mu = mean(recent);
  const sd = Math.sqrt(mean(recent.map((x) => (x - mu) ** 2)));
  assert.ok(mu > 0.2 && mu < 0.8 && sd > 0.15, `surprise over the last 500 updates: mean ${mu}, std ${sd}`);
});

test('sequence mode: the first input writes nothing; predictNext recalls the successor', () => {
  const m = NeuralMemory.create({ ...small, mode: 'sequence' }, 2);
  const rng = new Rng(12);
  const seq = Array.from({ length: 5 }, () => unitVec(rng, 32));
  const first = m.update(seq[0]!);
  assert.equal(first.written, false);
  assert.equal(first.evaluated, false);
  assert.equal(m.step, 0);
  for (let rep = 0; rep < 40; rep++) for (let i = rep === 0 ? 1 : 0; i < seq.length; i++) m.update(seq[i]!);
  for (let i = 0; i < seq.length; i++) {
    const y = m.predictNext(seq[i]!);
    const sims = seq.map((s) => cosine(y, s));
    const best = sims.indexOf(Math.max(...sims));
    assert.equal(best, (i + 1) % seq.length, `after item ${i} comes item ${(i + 1) % seq.length}`);
  }
  const assoc = NeuralMemory.create(small, 2);
  assert.throws(
    () => assoc.predictNext(seq[0]!),
    (e: unknown) => AppError.isInstance(e) && e.code === 'invalid_mode',
  );
});

test('associative recall: written items are recalled; linear memory, tanh/gelu and JS-only sizes work', () => {
  for (const cfg of [
    {},
    { hiddenDims: [], activation: 'silu' as const },
    { activation: 'tanh' as const, hiddenBiasInit: 0 },
    { activation: 'gelu' as const },
    { inputDim: 30, valueDim: 30, keyDim: 10, hiddenDims: [18] },
  ]) {
    const m = NeuralMemory.create({ ...small, thetaMax: 0.2, ...cfg }, 1);
    if (cfg.inputDim === 30)
      assert.equal(m.backend, 'js', 'widths that are not multiples of 4 use the JS kernels');
    const rng = new Rng(6);
    const d = m.config.inputDim;
    const xs = Array.from({ length: 6 }, () => unitVec(rng, d));
    for (let rep = 0; rep < 15; rep++) for (const x of xs) m.update(x);
    xs.forEach((x, i) => {
      const y = m.retrieve(x);
      const sims = xs.map((s) => cosine(y, s));
      assert.equal(sims.indexOf(Math.max(...sims)), i, `${JSON.stringify(cfg)}: item ${i} recalled`);
    });
  }
});

test('DeltaRuleMemory stores exactly with β = 1 and reports its state size', () => {
  const d = DeltaRuleMemory.create({ inputDim: 16, keyDim: 8, valueDim: 4, beta: 1 }, 1);
  assert.equal(d.stateSize, 32);
  const rng = new Rng(3);
  const x = unitVec(rng, 16);
  const v = [1, -2, 3, 0.5];
  assert.equal(d.write(x, v), 1 + 4 + 9 + 0.25);
  assert.ok(maxAbsDiff(d.read(x), v) < 1e-5, 'exact recall of the last write');
  assert.ok(d.write(x, v) < 1e-9, 'no error left');
});
