import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createKernels, HeapPlan } from './kernels.ts';

test('wasm kernels are available and agree with the JS kernels (any width)', () => {
  for (const [rows, cols] of [
    [1, 4],
    [5, 8],
    [7, 20],
    [33, 36],
    [64, 128],
    [3, 768],
    [4, 1], // not a multiple of 4: the wasm wrapper falls back to JS loops (e.g. bias vectors as 1-column matrices)
    [3, 6],
  ] as const) {
    const p = new HeapPlan();
    const n = rows * cols;
    const W = p.alloc(n);
    const S = p.alloc(n);
    const W0 = p.alloc(n);
    const x = p.alloc(cols);
    const d = p.alloc(rows);
    const y = p.alloc(rows);
    const out = p.alloc(cols);
    const kw = createKernels(p.floats, 'wasm', true);
    const kj = createKernels(p.floats, 'js', true);
    assert.equal(kw.backend, 'wasm', 'WebAssembly SIMD is available on Node 20');
    for (let i = 0; i < p.floats; i++) kw.f32[i] = kj.f32[i] = Math.sin(i * 1.37);
    const check = (what: string) => {
      let err = 0;
      let scale = 1;
      for (let i = 0; i < p.floats; i++) {
        err = Math.max(err, Math.abs(kw.f32[i]! - kj.f32[i]!));
        scale = Math.max(scale, Math.abs(kj.f32[i]!));
      }
      assert.ok(err <= 1e-5 * scale, `${what} ${rows}×${cols}: wasm and js differ by ${err}`);
    };
    for (const k of [kw, kj]) k.mv(W, x, y, rows, cols);
    check('mv');
    for (const k of [kw, kj]) k.mtv(W, d, out, rows, cols);
    check('mtv');
    for (const [w0, o] of [
      [-1, -1],
      [W0, -1],
      [-1, out],
      [W0, out],
    ] as const) {
      for (const k of [kw, kj]) k.upd(W, S, w0, d, x, o, rows, cols, 0.1, 0.9, 0.99, 0.01);
      check(`upd(anchor=${w0 >= 0}, bwd=${o >= 0})`);
    }
    for (const k of [kw, kj]) k.rank1(W, S, d, x, rows, cols, 0.3);
    check('rank1');
  }
});

test('JS upd kernel computes the documented step exactly', () => {
  const p = new HeapPlan();
  const W = p.alloc(2 * 4);
  const S = p.alloc(2 * 4);
  const W0 = p.alloc(2 * 4);
  const d = p.alloc(2);
  const a = p.alloc(4);
  const out = p.alloc(4);
  const k = createKernels(p.floats, 'js', false);
  const h = k.f32;
  h.set([1, 2, 3, 4, 5, 6, 7, 8], W);
  h.set([0.5, 0.5, 0.5, 0.5, -1, -1, -1, -1], S);
  h.set([1, 1, 1, 1, 2, 2, 2, 2], W0);
  h.set([1, -2], d);
  h.set([1, 0, -1, 2], a);
  k.upd(W, S, W0, d, a, out, 2, 4, 0.5, 0.9, 0.75, 0.25);
  // out[j] = Σ_i d_i W_old[i,j]
  assert.deepEqual([...h.subarray(out, out + 4)], [1 - 10, 2 - 12, 3 - 14, 4 - 16]);
  // S' = 0.9 S − 0.5 d_i a_j ; W' = 0.75 W + 0.25 W0 + S'
  const s00 = 0.9 * 0.5 - 0.5 * 1 * 1;
  assert.ok(Math.abs(h[S]! - s00) < 1e-7, 'momentum step');
  assert.ok(Math.abs(h[W]! - (0.75 * 1 + 0.25 * 1 + s00)) < 1e-7, 'forgetting step towards W0');
  const s13 = 0.9 * -1 - 0.5 * -2 * 2;
  assert.ok(Math.abs(h[S + 7]! - s13) < 1e-6, 'momentum step, row 2');
  assert.ok(Math.abs(h[W + 7]! - (0.75 * 8 + 0.25 * 2 + s13)) < 1e-6, 'forgetting step, row 2');
});
