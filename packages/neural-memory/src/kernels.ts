// The hot loops behind the memory, over one float32 heap: every array of a NeuralMemory (projections, memory
// weights, momentum, scratch buffers) lives in a single Float32Array and is addressed by element offset. Two
// backends share that layout: 'wasm' (SIMD kernels from wasm.ts, the heap is the WebAssembly memory) and 'js'
// (plain loops; the fallback, and the reference the wasm kernels are tested against). They agree to float32
// rounding, not bit for bit (different summation order); each is deterministic.
import { instantiateKernels, type WasmExports } from './wasm.ts';

export type Backend = 'wasm' | 'js';

export interface Kernels {
  readonly backend: Backend;
  /** The heap; offsets below index into it. */
  readonly f32: Float32Array;
  /** y[i] = Σ_j W[i,j]·x[j] */
  mv(W: number, x: number, y: number, rows: number, cols: number): void;
  /** out[j] = Σ_i d[i]·W[i,j] */
  mtv(W: number, d: number, out: number, rows: number, cols: number): void;
  /**
   * Fused Titans step for a `rows × cols` matrix W with momentum S and gradient d ⊗ a (per row t = −tau·d[i]):
   * S ← eta·S + t·a; W ← keep·W + om·W0 + S (W0 < 0: no anchor term). When out ≥ 0, first out[j] = Σ_i d[i]·W_old[i,j].
   */
  upd(
    W: number,
    S: number,
    W0: number,
    d: number,
    a: number,
    out: number,
    rows: number,
    cols: number,
    tau: number,
    eta: number,
    keep: number,
    om: number,
  ): void;
  /** S += coef·d ⊗ a; W += coef·d ⊗ a */
  rank1(W: number, S: number, d: number, a: number, rows: number, cols: number, coef: number): void;
}

/** Bump allocator over a float32 heap; every block starts on a 16-byte boundary. */
export class HeapPlan {
  private size = 0;
  alloc(n: number): number {
    const off = this.size;
    this.size += Math.ceil(n / 4) * 4;
    return off;
  }
  get floats(): number {
    return this.size;
  }
}

class JsKernels implements Kernels {
  readonly backend = 'js' as const;
  constructor(readonly f32: Float32Array) {}

  mv(W: number, x: number, y: number, rows: number, cols: number): void {
    const h = this.f32;
    for (let i = 0, o = W; i < rows; i++, o += cols) {
      let s0 = 0;
      let s1 = 0;
      let j = 0;
      for (; j + 1 < cols; j += 2) {
        s0 += h[o + j]! * h[x + j]!;
        s1 += h[o + j + 1]! * h[x + j + 1]!;
      }
      if (j < cols) s0 += h[o + j]! * h[x + j]!;
      h[y + i] = s0 + s1;
    }
  }

  mtv(W: number, d: number, out: number, rows: number, cols: number): void {
    const h = this.f32;
    h.fill(0, out, out + cols);
    for (let i = 0, o = W; i < rows; i++, o += cols) {
      const di = h[d + i]!;
      for (let j = 0; j < cols; j++) h[out + j] = h[out + j]! + di * h[o + j]!;
    }
  }

  upd(
    W: number,
    S: number,
    W0: number,
    d: number,
    a: number,
    out: number,
    rows: number,
    cols: number,
    tau: number,
    eta: number,
    keep: number,
    om: number,
  ): void {
    const h = this.f32;
    if (out >= 0) h.fill(0, out, out + cols);
    for (let i = 0, o = 0; i < rows; i++, o += cols) {
      const di = h[d + i]!;
      const t = -tau * di;
      for (let j = 0; j < cols; j++) {
        const w = h[W + o + j]!;
        const s = Math.fround(eta * h[S + o + j]! + t * h[a + j]!);
        h[S + o + j] = s;
        if (out >= 0) h[out + j] = h[out + j]! + di * w;
        h[W + o + j] = keep * w + (W0 >= 0 ? om * h[W0 + o + j]! : 0) + s;
      }
    }
  }

  rank1(W: number, S: number, d: number, a: number, rows: number, cols: number, coef: number): void {
    const h = this.f32;
    for (let i = 0, o = 0; i < rows; i++, o += cols) {
      const t = coef * h[d + i]!;
      for (let j = 0; j < cols; j++) {
        const u = t * h[a + j]!;
        h[S + o + j] = h[S + o + j]! + u;
        h[W + o + j] = h[W + o + j]! + u;
      }
    }
  }
}

/** WASM kernels; calls whose column count is not a positive multiple of 4 go to the JS loops on the same heap. */
class WasmKernels implements Kernels {
  readonly backend = 'wasm' as const;
  private readonly js: JsKernels;
  constructor(
    readonly f32: Float32Array,
    private readonly x: WasmExports,
  ) {
    this.js = new JsKernels(f32);
  }
  mv(W: number, x: number, y: number, rows: number, cols: number): void {
    if (cols % 4 !== 0 || cols === 0) this.js.mv(W, x, y, rows, cols);
    else if (rows > 0) this.x.mv(W * 4, x * 4, y * 4, rows, cols);
  }
  mtv(W: number, d: number, out: number, rows: number, cols: number): void {
    if (cols % 4 !== 0 || cols === 0 || rows === 0) this.js.mtv(W, d, out, rows, cols);
    else this.x.mtv(W * 4, d * 4, out * 4, rows, cols);
  }
  upd(
    W: number,
    S: number,
    W0: number,
    d: number,
    a: number,
    out: number,
    rows: number,
    cols: number,
    tau: number,
    eta: number,
    keep: number,
    om: number,
  ): void {
    if (cols % 4 !== 0 || cols === 0) {
      this.js.upd(W, S, W0, d, a, out, rows, cols, tau, eta, keep, om);
      return;
    }
    if (rows === 0) return;
    const f = W0 >= 0 ? (out >= 0 ? this.x.updAB : this.x.updA) : out >= 0 ? this.x.updB : this.x.upd;
    f(W * 4, S * 4, Math.max(0, W0) * 4, d * 4, a * 4, Math.max(0, out) * 4, rows, cols, tau, eta, keep, om);
  }
  rank1(W: number, S: number, d: number, a: number, rows: number, cols: number, coef: number): void {
    if (cols % 4 !== 0 || cols === 0) this.js.rank1(W, S, d, a, rows, cols, coef);
    else if (rows > 0) this.x.rank1(W * 4, S * 4, d * 4, a * 4, rows, cols, coef);
  }
}

/**
 * A heap of `floats` float32 values with kernels over it. 'wasm' is used when `wasmOk` (the caller's big matrices
 * all have a multiple of 4 columns) and WebAssembly SIMD is available, otherwise the JS kernels.
 */
export function createKernels(floats: number, preferred: Backend, wasmOk: boolean): Kernels {
  if (preferred === 'wasm' && wasmOk) {
    const wasm = instantiateKernels(floats * 4);
    if (wasm !== null) return new WasmKernels(new Float32Array(wasm.buffer, 0, floats), wasm.exports);
  }
  return new JsKernels(new Float32Array(floats));
}
