// Hand-assembled WebAssembly (SIMD, f32x4) kernels for the memory's hot loops.
//
// Pure JavaScript runs these loops at ~1.3 ns per multiply-add on the target machine (V8 emits scalar code with a
// float32→float64 conversion per load), which cannot meet the 1 ms update budget at the default sizes; the same loops
// in WASM SIMD run ~6–8× faster. There is no toolchain dependency: the module is assembled here, from the small
// instruction encoder below, into a few hundred bytes at load time. `kernels.ts` holds a plain-JS twin of every
// kernel (same signatures, same memory layout) used as a fallback and as the reference in tests.
//
// Conventions: every pointer is a byte offset into the imported memory `env.memory`; matrices are row-major
// float32, `rows × cols`; every kernel needs `rows ≥ 1` and `cols` a positive multiple of 4 (the caller checks and
// otherwise uses the JS kernels). Inner loops run 16 floats (four v128) per iteration, then 4 at a time.

type Bytes = number[];

const uleb = (n: number): Bytes => {
  const out: Bytes = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};

const sleb = (n: number): Bytes => {
  const out: Bytes = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};

const vec = (items: Bytes[]): Bytes => [...uleb(items.length), ...items.flat()];
const name = (s: string): Bytes => vec([...new TextEncoder().encode(s)].map((b) => [b]));
const section = (id: number, body: Bytes): Bytes => [id, ...uleb(body.length), ...body];

const T = { i32: 0x7f, f32: 0x7d, v128: 0x7b } as const;

// ---- instructions ----------------------------------------------------------------------------------------------
const get = (i: number): Bytes => [0x20, ...uleb(i)];
const set = (i: number): Bytes => [0x21, ...uleb(i)];
const i32 = (n: number): Bytes => [0x41, ...sleb(n)];
const f32zero: Bytes = [0x43, 0, 0, 0, 0];
const i32Add: Bytes = [0x6a];
const i32Sub: Bytes = [0x6b];
const i32Mul: Bytes = [0x6c];
const i32And: Bytes = [0x71];
const i32Ne: Bytes = [0x47];
const i32GeU: Bytes = [0x4f];
const f32Load: Bytes = [0x2a, 2, 0];
const f32Store: Bytes = [0x38, 2, 0];
const f32Add: Bytes = [0x92];
const f32Mul: Bytes = [0x94];
const f32Neg: Bytes = [0x8c];
const simd = (op: number): Bytes => [0xfd, ...uleb(op)];
const vLoad = (offset = 0): Bytes => [...simd(0x00), 2, ...uleb(offset)];
const vStore = (offset = 0): Bytes => [...simd(0x0b), 2, ...uleb(offset)];
const vSplat = simd(0x13); // f32x4.splat
const vAdd = simd(0xe4); // f32x4.add
const vMul = simd(0xe6); // f32x4.mul
const lane = (l: number): Bytes => [...simd(0x1f), l]; // f32x4.extract_lane
const block = (...body: Bytes[]): Bytes => [0x02, 0x40, ...body.flat(), 0x0b];
const loop = (...body: Bytes[]): Bytes => [0x03, 0x40, ...body.flat(), 0x0b];
const br = (depth: number): Bytes => [0x0c, ...uleb(depth)];
const brIf = (depth: number): Bytes => [0x0d, ...uleb(depth)];
const inc = (local: number, by: number): Bytes => [...get(local), ...i32(by), ...i32Add, ...set(local)];

/**
 * A vectorised loop over one row: `body(off)` is emitted for byte offsets 0/16/32/48 per 16-float step, then for
 * offset 0 per 4-float step, with every pointer in `ptrs` advanced after each step. `cur` is the pointer compared
 * against `end16` / `end` (byte addresses held in locals).
 */
function rowLoop(
  ptrs: number[],
  cur: number,
  end16: number,
  end: number,
  body: (off: number) => Bytes,
): Bytes {
  const advance = (by: number) => ptrs.flatMap((p) => inc(p, by));
  return [
    ...block(
      loop(
        [...get(cur), ...get(end16), ...i32GeU, ...brIf(1)],
        body(0),
        body(16),
        body(32),
        body(48),
        advance(64),
        br(0),
      ),
    ),
    ...block(loop([...get(cur), ...get(end), ...i32GeU, ...brIf(1)], body(0), advance(16), br(0))),
  ];
}

interface Fn {
  name: string;
  params: number[];
  locals: number[];
  body: Bytes;
}

// mv(W, x, y, rows, cols): y[i] = Σ_j W[i,j]·x[j]
function mvFn(): Fn {
  const [W, x, y, rows, cols] = [0, 1, 2, 3, 4];
  const [wp, xp, xEnd, xEnd16, a0, a1, a2, a3] = [5, 6, 7, 8, 9, 10, 11, 12];
  const acc = [a0, a1, a2, a3];
  const body: Bytes = [
    ...get(W),
    ...set(wp),
    ...get(x),
    ...get(cols),
    ...i32(4),
    ...i32Mul,
    ...i32Add,
    ...set(xEnd),
    ...get(x),
    ...get(cols),
    ...i32(-16),
    ...i32And,
    ...i32(4),
    ...i32Mul,
    ...i32Add,
    ...set(xEnd16),
    ...loop(
      acc.flatMap((a) => [...f32zero, ...vSplat, ...set(a)]),
      get(x),
      set(xp),
      rowLoop([wp, xp], xp, xEnd16, xEnd, (off) => {
        const a = acc[off / 16]!;
        return [...get(a), ...get(wp), ...vLoad(off), ...get(xp), ...vLoad(off), ...vMul, ...vAdd, ...set(a)];
      }),
      [...get(a0), ...get(a1), ...vAdd, ...get(a2), ...get(a3), ...vAdd, ...vAdd, ...set(a0)],
      get(y),
      [
        ...get(a0),
        ...lane(0),
        ...get(a0),
        ...lane(1),
        ...f32Add,
        ...get(a0),
        ...lane(2),
        ...get(a0),
        ...lane(3),
      ],
      [...f32Add, ...f32Add, ...f32Store],
      inc(y, 4),
      [...get(rows), ...i32(1), ...i32Sub, ...set(rows), ...get(rows), ...i32(0), ...i32Ne, ...brIf(0)],
    ),
  ];
  return { name: 'mv', params: [T.i32, T.i32, T.i32, T.i32, T.i32], locals: [4, T.i32, 4, T.v128], body };
}

// mtv(W, d, out, rows, cols): out[j] = Σ_i d[i]·W[i,j]
function mtvFn(): Fn {
  const [W, d, out, rows, cols] = [0, 1, 2, 3, 4];
  const [wp, op, oEnd, oEnd16, dv] = [5, 6, 7, 8, 9];
  const zeroLoop = rowLoop([op], op, oEnd16, oEnd, (off) => [
    ...get(op),
    ...f32zero,
    ...vSplat,
    ...vStore(off),
  ]);
  const body: Bytes = [
    ...get(W),
    ...set(wp),
    ...get(out),
    ...get(cols),
    ...i32(4),
    ...i32Mul,
    ...i32Add,
    ...set(oEnd),
    ...get(out),
    ...get(cols),
    ...i32(-16),
    ...i32And,
    ...i32(4),
    ...i32Mul,
    ...i32Add,
    ...set(oEnd16),
    ...get(out),
    ...set(op),
    ...zeroLoop,
    ...loop(
      [...get(d), ...f32Load, ...vSplat, ...set(dv)],
      get(out),
      set(op),
      rowLoop([wp, op], op, oEnd16, oEnd, (off) => [
        ...get(op),
        ...get(op),
        ...vLoad(off),
        ...get(wp),
        ...vLoad(off),
        ...get(dv),
        ...vMul,
        ...vAdd,
        ...vStore(off),
      ]),
      inc(d, 4),
      [...get(rows), ...i32(1), ...i32Sub, ...set(rows), ...get(rows), ...i32(0), ...i32Ne, ...brIf(0)],
    ),
  ];
  return { name: 'mtv', params: [T.i32, T.i32, T.i32, T.i32, T.i32], locals: [4, T.i32, 1, T.v128], body };
}

/**
 * The fused Titans step for one weight matrix, per row i with t = −tau·d[i]:
 *   S[i,:] ← eta·S[i,:] + t·a            (momentum: S ← η·S − θ·∇, ∇ = d ⊗ a)
 *   W[i,:] ← keep·W[i,:] (+ om·W0[i,:]) + S[i,:]   (forgetting, towards W0 when `anchor`)
 * and, when `bwd`, before W is overwritten: out[j] += d[i]·W_old[i,j] (out zeroed first) — the back-propagated
 * delta for the layer below, from the same pass over W.
 * Signature: (W, S, W0, d, a, out, rows, cols, tau, eta, keep, om); W0/out are ignored when not used.
 */
function updFn(anchor: boolean, bwd: boolean): Fn {
  const [W, S, W0, d, a, out, rows, cols, tau, eta, keep, om] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const [wp, sp, w0p, ap, op, aEnd, aEnd16, tV, etaV, keepV, omV, dV, sV] = [
    12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
  ];
  const oEnd = aEnd; // reused for the zeroing loop before the rows start
  const ptrs = [wp, sp, ap, ...(anchor ? [w0p] : []), ...(bwd ? [op] : [])];
  const step = (off: number): Bytes => [
    // s = eta·S + t·a ; S = s
    ...get(sp),
    ...get(etaV),
    ...get(sp),
    ...vLoad(off),
    ...vMul,
    ...get(tV),
    ...get(ap),
    ...vLoad(off),
    ...vMul,
    ...vAdd,
    ...set(sV),
    ...get(sV),
    ...vStore(off),
    ...(bwd
      ? [
          ...get(op),
          ...get(op),
          ...vLoad(off),
          ...get(wp),
          ...vLoad(off),
          ...get(dV),
          ...vMul,
          ...vAdd,
          ...vStore(off),
        ]
      : []),
    // W = keep·W (+ om·W0) + s
    ...get(wp),
    ...get(keepV),
    ...get(wp),
    ...vLoad(off),
    ...vMul,
    ...(anchor ? [...get(omV), ...get(w0p), ...vLoad(off), ...vMul, ...vAdd] : []),
    ...get(sV),
    ...vAdd,
    ...vStore(off),
  ];
  const body: Bytes = [
    ...get(W),
    ...set(wp),
    ...get(S),
    ...set(sp),
    ...get(W0),
    ...set(w0p),
    ...[...get(eta), ...vSplat, ...set(etaV)],
    ...[...get(keep), ...vSplat, ...set(keepV)],
    ...[...get(om), ...vSplat, ...set(omV)],
    ...[...get(a), ...get(cols), ...i32(4), ...i32Mul, ...i32Add, ...set(aEnd)],
    ...[...get(a), ...get(cols), ...i32(-16), ...i32And, ...i32(4), ...i32Mul, ...i32Add, ...set(aEnd16)],
    ...(bwd
      ? [
          // zero `out` (cols floats); aEnd temporarily holds out's end
          ...[...get(out), ...set(op)],
          ...[...get(out), ...get(cols), ...i32(4), ...i32Mul, ...i32Add, ...set(oEnd)],
          ...block(
            loop(
              [...get(op), ...get(oEnd), ...i32GeU, ...brIf(1)],
              [...get(op), ...f32zero, ...vSplat, ...vStore(0)],
              inc(op, 16),
              br(0),
            ),
          ),
          ...[...get(a), ...get(cols), ...i32(4), ...i32Mul, ...i32Add, ...set(aEnd)],
        ]
      : []),
    ...loop(
      [...get(tau), ...get(d), ...f32Load, ...f32Mul, ...f32Neg, ...vSplat, ...set(tV)],
      bwd ? [...get(d), ...f32Load, ...vSplat, ...set(dV)] : [],
      [...get(a), ...set(ap)],
      bwd ? [...get(out), ...set(op)] : [],
      rowLoop(ptrs, ap, aEnd16, aEnd, step),
      inc(d, 4),
      [...get(rows), ...i32(1), ...i32Sub, ...set(rows), ...get(rows), ...i32(0), ...i32Ne, ...brIf(0)],
    ),
  ];
  return {
    name: `upd${anchor ? 'A' : ''}${bwd ? 'B' : ''}`,
    params: [T.i32, T.i32, T.i32, T.i32, T.i32, T.i32, T.i32, T.i32, T.f32, T.f32, T.f32, T.f32],
    locals: [7, T.i32, 6, T.v128],
    body,
  };
}

// rank1(W, S, d, a, rows, cols, coef): t = coef·d[i]; S[i,:] += t·a; W[i,:] += t·a (the clipping correction)
function rank1Fn(): Fn {
  const [W, S, d, a, rows, cols, coef] = [0, 1, 2, 3, 4, 5, 6];
  const [wp, sp, ap, aEnd, aEnd16, tV, uV] = [7, 8, 9, 10, 11, 12, 13];
  const step = (off: number): Bytes => [
    ...[...get(tV), ...get(ap), ...vLoad(off), ...vMul, ...set(uV)],
    ...[...get(sp), ...get(sp), ...vLoad(off), ...get(uV), ...vAdd, ...vStore(off)],
    ...[...get(wp), ...get(wp), ...vLoad(off), ...get(uV), ...vAdd, ...vStore(off)],
  ];
  const body: Bytes = [
    ...[...get(W), ...set(wp), ...get(S), ...set(sp)],
    ...[...get(a), ...get(cols), ...i32(4), ...i32Mul, ...i32Add, ...set(aEnd)],
    ...[...get(a), ...get(cols), ...i32(-16), ...i32And, ...i32(4), ...i32Mul, ...i32Add, ...set(aEnd16)],
    ...loop(
      [...get(coef), ...get(d), ...f32Load, ...f32Mul, ...vSplat, ...set(tV)],
      [...get(a), ...set(ap)],
      rowLoop([wp, sp, ap], ap, aEnd16, aEnd, step),
      inc(d, 4),
      [...get(rows), ...i32(1), ...i32Sub, ...set(rows), ...get(rows), ...i32(0), ...i32Ne, ...brIf(0)],
    ),
  ];
  return {
    name: 'rank1',
    params: [T.i32, T.i32, T.i32, T.i32, T.i32, T.i32, T.f32],
    locals: [5, T.i32, 2, T.v128],
    body,
  };
}

function assemble(fns: Fn[]): Uint8Array {
  const types = fns.map((f) => [0x60, ...vec(f.params.map((p) => [p])), ...vec([])]);
  const code = fns.map((f) => {
    const localDecls: Bytes[] = [];
    for (let i = 0; i < f.locals.length; i += 2) localDecls.push([...uleb(f.locals[i]!), f.locals[i + 1]!]);
    const b = [...vec(localDecls), ...f.body, 0x0b];
    return [...uleb(b.length), ...b];
  });
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(code)),
  ];
  return new Uint8Array(bytes);
}

export interface WasmExports {
  mv(W: number, x: number, y: number, rows: number, cols: number): void;
  mtv(W: number, d: number, out: number, rows: number, cols: number): void;
  upd: UpdFn;
  updA: UpdFn;
  updB: UpdFn;
  updAB: UpdFn;
  rank1(W: number, S: number, d: number, a: number, rows: number, cols: number, coef: number): void;
}

type UpdFn = (
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
) => void;

// The workspace compiles without the DOM lib, so the few WebAssembly APIs used are typed here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: object };
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
}
const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | null | undefined;

/** The compiled kernel module, or null when this runtime lacks WebAssembly SIMD. Compiled once per process. */
function wasmModule(): object | null {
  if (compiled !== undefined) return compiled;
  try {
    const bytes = assemble([
      mvFn(),
      mtvFn(),
      updFn(false, false),
      updFn(true, false),
      updFn(false, true),
      updFn(true, true),
      rank1Fn(),
    ]);
    compiled = WA !== undefined && WA.validate(bytes) ? new WA.Module(bytes) : null;
  } catch {
    compiled = null;
  }
  return compiled;
}

/** A fixed-size WebAssembly memory of `bytes` bytes with the kernels instantiated over it, or null. */
export function instantiateKernels(bytes: number): { buffer: ArrayBuffer; exports: WasmExports } | null {
  const mod = wasmModule();
  if (mod === null || WA === undefined) return null;
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  const memory = new WA.Memory({ initial: pages, maximum: pages });
  const instance = new WA.Instance(mod, { env: { memory } });
  return { buffer: memory.buffer, exports: instance.exports as WasmExports };
}
