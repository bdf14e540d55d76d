import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '@synthians/kit';
import { NeuralMemory, type NeuralMemoryConfig } from './index.ts';
import { Rng } from './rng.ts';
import { clustered, maxAbsDiff } from './test-util.ts';

const cfg: Partial<NeuralMemoryConfig> = {
  inputDim: 16,
  keyDim: 8,
  valueDim: 16,
  hiddenDims: [16],
  thetaMax: 0.05,
  firstLayerInitStd: 2,
  hiddenBiasInit: -2,
};

/** The outer objective measured with the fast path: write each sequence from a reset memory, then recall it. */
function fastRecallLoss(m: NeuralMemory, seqs: Float32Array[][]): number {
  let total = 0;
  let n = 0;
  for (const seq of seqs) {
    m.reset();
    for (const x of seq) m.update(x);
    for (const x of seq) {
      const y = m.retrieve(x);
      let s = 0;
      for (let i = 0; i < x.length; i++) s += (y[i]! - x[i]!) ** 2;
      total += s;
      n++;
    }
  }
  m.reset();
  return total / n;
}

function data(seed: number, count: number, len: number): Float32Array[][] {
  const rng = new Rng(seed);
  const gen = clustered(rng, 16, 4, 0.6);
  return Array.from({ length: count }, () => Array.from({ length: len }, () => gen()));
}

test('trainOuter reduces the recall loss on the training sequences (associative)', () => {
  const m = NeuralMemory.create(cfg, 1);
  const seqs = data(5, 6, 12);
  const before = m.projections();
  const fastBefore = fastRecallLoss(m, seqs);
  const epochs: number[] = [];
  const r = m.trainOuter(seqs, { epochs: 8, lr: 0.02, chunkSize: 12, onEpoch: (_, l) => epochs.push(l) });
  assert.equal(epochs.length, 8);
  assert.equal(r.steps, 8 * 6);
  assert.ok(r.lossAfter < 0.8 * r.lossBefore, `loss ${r.lossBefore} → ${r.lossAfter}`);
  assert.ok(epochs[7]! < epochs[0]!, `epoch losses decrease: ${epochs.join(', ')}`);
  // the trained parameters were written back; the memory was reset
  assert.equal(m.step, 0);
  const after = m.projections();
  assert.ok(maxAbsDiff(after.WK, before.WK) > 1e-4, 'W_K changed');
  assert.ok(maxAbsDiff(after.WQ, before.WQ) > 1e-4, 'W_Q changed');
  assert.ok(maxAbsDiff(after.WV, before.WV) > 1e-4, 'W_V changed');
  assert.ok(maxAbsDiff(after.gateB, before.gateB) > 1e-4, 'gate biases changed');
  // the fast path sees the same improvement (chunk = whole sequence)
  const fastAfter = fastRecallLoss(m, seqs);
  assert.ok(
    Math.abs(fastBefore - r.lossBefore) < 1e-3 * r.lossBefore,
    `fast path and tape agree before training (${fastBefore} vs ${r.lossBefore})`,
  );
  assert.ok(fastAfter < 0.8 * fastBefore, `fast-path recall loss ${fastBefore} → ${fastAfter}`);
  // and the memory still serialises and restores after training
  const restored = NeuralMemory.deserialize(m.serialize());
  assert.ok(maxAbsDiff(restored.projections().WV, after.WV) === 0, 'trained W_V restored');
});

test('trainOuter in sequence mode with truncated BPTT chunks reduces the next-item recall loss', () => {
  const m = NeuralMemory.create({ ...cfg, mode: 'sequence' }, 2);
  const seqs = data(6, 4, 17);
  const r = m.trainOuter(seqs, { epochs: 6, lr: 0.02, chunkSize: 8 });
  assert.equal(r.steps, 6 * 4 * 2);
  assert.ok(r.lossAfter < 0.9 * r.lossBefore, `loss ${r.lossBefore} → ${r.lossAfter}`);
});

test('trainOuter validates its options and inputs', () => {
  const m = NeuralMemory.create(cfg, 1);
  const seqs = data(1, 1, 3);
  const isBad = (code: string) => (e: unknown) => AppError.isInstance(e) && e.code === code;
  assert.throws(() => m.trainOuter(seqs, { epochs: 0 }), isBad('invalid_options'));
  assert.throws(() => m.trainOuter(seqs, { lr: -1 }), isBad('invalid_options'));
  assert.throws(() => m.trainOuter([[new Float32Array(3)]]), isBad('invalid_embedding'));
  assert.throws(
    () => m.trainOuter([new Float32Array(16)] as unknown as Float32Array[][]),
    isBad('invalid_options'),
  );
});
