// The outer loop: learns the projections W_K, W_Q, W_V and the gate parameters (w, b for α, θ, η) by
// back-propagating through the memory's inner (test-time) updates.
//
// Objective, per chunk of C consecutive pairs of a training sequence (C = chunkSize, default 16):
//   pairs: 'associative' (x_t → x_t), 'sequence' (x_{t−1} → x_t)
//   write every pair of the chunk with the inner update (the NONE variant's dynamics: gates, clipping, momentum,
//   forgetting towards M₀, innerSteps — the same arithmetic as memory.ts, in float64), then recall every pair:
//   L_chunk = (1/C) Σ_i ‖M_C(q(x_src,i)) − target_i‖²
//   with target = the raw input x_tgt when d_v = d_in (a fixed target: W_V cannot shrink the loss by shrinking the
//   values), otherwise W_V·x_tgt with W_V frozen (then W_V is not trained).
// Truncated BPTT: each sequence starts from the initial memory M₀ (not learned; kept fixed) with zero momentum; the
// state is carried from chunk to chunk, but gradients stop at chunk boundaries. One Adam step per chunk.
// The attention variants (MAC/MAG/MAL) have no learned parameters and are not part of this objective.
//
// Differentiation is exact reverse mode over a small tape of vector operations. The inner gradient itself is
// written as tape operations (forward, output delta, delta back-propagation), so back-propagating through an
// inner update involves the MLP's second derivatives (φ'') and the derivative of the clipping scale; the tests
// check every parameter's gradient against central finite differences.
import { badRequest } from '@synthians/kit';
import { activation, type ActivationFn } from './activation.ts';
import type { ResolvedConfig } from './config.ts';
import type { Rng } from './rng.ts';

export interface OuterOptions {
  /** Passes over the sequences (default 1). */
  epochs?: number;
  /** Adam learning rate (default 1e-3). */
  lr?: number;
  /** Pairs per truncated-BPTT chunk (default 16). */
  chunkSize?: number;
  /** Which parameters to learn (default: all; values only when valueDim === inputDim). */
  train?: { keys?: boolean; queries?: boolean; values?: boolean; gates?: boolean };
  /** Shuffle the sequence order each epoch with the memory's RNG (default true). */
  shuffle?: boolean;
  /** Called after each epoch with its mean training loss. */
  onEpoch?: (epoch: number, meanLoss: number) => void;
}

export interface OuterResult {
  /** Mean chunk recall loss over all training chunks before training. */
  lossBefore: number;
  /** The same after training. */
  lossAfter: number;
  /** Mean training loss of each epoch (measured while the parameters change). */
  epochLosses: number[];
  /** Number of Adam steps taken. */
  steps: number;
}

export interface OuterParams {
  WK: Float64Array;
  WQ: Float64Array;
  WV: Float64Array;
  gateW: Float64Array;
  gateB: Float64Array;
}

export interface InitLayer {
  W: Float64Array;
  b: Float64Array;
  rows: number;
  cols: number;
  anchored: boolean;
}

// ---- the tape --------------------------------------------------------------------------------------------------
export class Node {
  g: Float64Array | null = null;
  constructor(
    readonly v: Float64Array,
    readonly rg: boolean,
  ) {}
  grad(): Float64Array {
    return (this.g ??= new Float64Array(this.v.length));
  }
}

export class Tape {
  private readonly backs: (() => void)[] = [];
  /** Records a backward step if any input needs a gradient; returns whether the output needs one. */
  op(inputs: Node[], back: () => void): boolean {
    const rg = inputs.some((n) => n.rg);
    if (rg) this.backs.push(back);
    return rg;
  }
  backward(out: Node): void {
    out.grad()[0] = 1;
    for (let i = this.backs.length - 1; i >= 0; i--) this.backs[i]!();
    this.backs.length = 0;
  }
}

export const constant = (v: Float64Array) => new Node(v, false);
export const param = (v: Float64Array) => new Node(v, true);

/** Vector operations with their adjoints. Every op reads its inputs' values and never mutates them. */
export class Ops {
  constructor(
    readonly tape: Tape,
    readonly act: ActivationFn,
  ) {}

  private out(inputs: Node[], v: Float64Array, back: (o: Node) => void): Node {
    let node: Node | null = null;
    const rg = this.tape.op(inputs, () => {
      if (node!.g !== null) back(node!);
    });
    node = new Node(v, rg);
    return node;
  }

  /** z = W·a (+ b), W rows × cols. */
  affine(W: Node, b: Node | null, a: Node, rows: number, cols: number): Node {
    const z = new Float64Array(rows);
    const w = W.v;
    const av = a.v;
    for (let i = 0, o = 0; i < rows; i++, o += cols) {
      let s = b === null ? 0 : b.v[i]!;
      for (let j = 0; j < cols; j++) s += w[o + j]! * av[j]!;
      z[i] = s;
    }
    return this.out(b === null ? [W, a] : [W, b, a], z, (n) => {
      const zg = n.g!;
      if (W.rg) {
        const wg = W.grad();
        for (let i = 0, o = 0; i < rows; i++, o += cols) {
          const gi = zg[i]!;
          if (gi !== 0) for (let j = 0; j < cols; j++) wg[o + j] = wg[o + j]! + gi * av[j]!;
        }
      }
      if (b !== null && b.rg) {
        const bg = b.grad();
        for (let i = 0; i < rows; i++) bg[i] = bg[i]! + zg[i]!;
      }
      if (a.rg) {
        const ag = a.grad();
        for (let i = 0, o = 0; i < rows; i++, o += cols) {
          const gi = zg[i]!;
          if (gi !== 0) for (let j = 0; j < cols; j++) ag[j] = ag[j]! + gi * w[o + j]!;
        }
      }
    });
  }

  /** u/‖u‖ (a zero vector stays zero). */
  normalize(u: Node): Node {
    let n2 = 0;
    for (const x of u.v) n2 += x * x;
    const norm = Math.sqrt(n2);
    const k = norm > 0 ? u.v.map((x) => x / norm) : new Float64Array(u.v.length);
    return this.out([u], k, (n) => {
      if (!(norm > 0) || !u.rg) return;
      const kg = n.g!;
      let dot = 0;
      for (let i = 0; i < k.length; i++) dot += k[i]! * kg[i]!;
      const ug = u.grad();
      for (let i = 0; i < k.length; i++) ug[i] = ug[i]! + (kg[i]! - k[i]! * dot) / norm;
    });
  }

  /** φ(z) elementwise. */
  activate(z: Node): Node {
    const { act } = this;
    const h = z.v.map((x) => act.f(x));
    return this.out([z], h, (n) => {
      if (!z.rg) return;
      const zg = z.grad();
      for (let i = 0; i < h.length; i++) zg[i] = zg[i]! + n.g![i]! * act.d(z.v[i]!);
    });
  }

  /** δ = 2(y − t): the gradient of ‖y − t‖² w.r.t. y. */
  outputDelta(y: Node, t: Node): Node {
    const d = y.v.map((x, i) => 2 * (x - t.v[i]!));
    return this.out([y, t], d, (n) => {
      const g = n.g!;
      if (y.rg) {
        const yg = y.grad();
        for (let i = 0; i < d.length; i++) yg[i] = yg[i]! + 2 * g[i]!;
      }
      if (t.rg) {
        const tg = t.grad();
        for (let i = 0; i < d.length; i++) tg[i] = tg[i]! - 2 * g[i]!;
      }
    });
  }

  /** ‖y − t‖² (a scalar node). */
  sqDist(y: Node, t: Node): Node {
    let s = 0;
    for (let i = 0; i < y.v.length; i++) s += (y.v[i]! - t.v[i]!) ** 2;
    return this.out([y, t], Float64Array.of(s), (n) => {
      const g = n.g![0]!;
      if (y.rg) {
        const yg = y.grad();
        for (let i = 0; i < y.v.length; i++) yg[i] = yg[i]! + 2 * g * (y.v[i]! - t.v[i]!);
      }
      if (t.rg) {
        const tg = t.grad();
        for (let i = 0; i < y.v.length; i++) tg[i] = tg[i]! - 2 * g * (y.v[i]! - t.v[i]!);
      }
    });
  }

  /** δ_below = (Wᵀ·δ) ⊙ φ'(z_below), W rows × cols (cols = size of the layer below). */
  backDelta(W: Node, delta: Node, zBelow: Node, rows: number, cols: number): Node {
    const { act } = this;
    const w = W.v;
    const d = delta.v;
    const wtd = new Float64Array(cols);
    for (let i = 0, o = 0; i < rows; i++, o += cols) {
      const di = d[i]!;
      for (let j = 0; j < cols; j++) wtd[j] = wtd[j]! + w[o + j]! * di;
    }
    const dphi = zBelow.v.map((z) => act.d(z));
    const out = wtd.map((x, j) => x * dphi[j]!);
    return this.out([W, delta, zBelow], out, (n) => {
      const g = n.g!;
      const u = g.map((x, j) => x * dphi[j]!); // adjoint of Wᵀδ
      if (W.rg) {
        const wg = W.grad();
        for (let i = 0, o = 0; i < rows; i++, o += cols) {
          const di = d[i]!;
          for (let j = 0; j < cols; j++) wg[o + j] = wg[o + j]! + di * u[j]!;
        }
      }
      if (delta.rg) {
        const dg = delta.grad();
        for (let i = 0, o = 0; i < rows; i++, o += cols) {
          let s = 0;
          for (let j = 0; j < cols; j++) s += w[o + j]! * u[j]!;
          dg[i] = dg[i]! + s;
        }
      }
      if (zBelow.rg) {
        const zg = zBelow.grad();
        for (let j = 0; j < cols; j++) zg[j] = zg[j]! + g[j]! * wtd[j]! * act.dd(zBelow.v[j]!);
      }
    });
  }

  /** [α, θ, η] = [σ(r₀), thetaMax·σ(r₁), σ(r₂)], r_g = w_g·x + b_g. */
  gates(gW: Node, gB: Node, x: Node, thetaMax: number): Node {
    const din = x.v.length;
    const sig = new Float64Array(3);
    for (let g = 0; g < 3; g++) {
      let r = gB.v[g]!;
      for (let j = 0; j < din; j++) r += gW.v[g * din + j]! * x.v[j]!;
      sig[g] = 1 / (1 + Math.exp(-r));
    }
    const scale = [1, thetaMax, 1];
    const v = sig.map((s, g) => s * scale[g]!);
    return this.out([gW, gB, x], v, (n) => {
      for (let g = 0; g < 3; g++) {
        const s = sig[g]!;
        const dr = n.g![g]! * scale[g]! * s * (1 - s);
        if (dr === 0) continue;
        if (gW.rg) {
          const wg = gW.grad();
          for (let j = 0; j < din; j++) wg[g * din + j] = wg[g * din + j]! + dr * x.v[j]!;
        }
        if (gB.rg) gB.grad()[g] = gB.grad()[g]! + dr;
        if (x.rg) {
          const xg = x.grad();
          for (let j = 0; j < din; j++) xg[j] = xg[j]! + dr * gW.v[g * din + j]!;
        }
      }
    });
  }

  pick(v: Node, i: number): Node {
    return this.out([v], Float64Array.of(v.v[i]!), (n) => {
      if (v.rg) v.grad()[i] = v.grad()[i]! + n.g![0]!;
    });
  }

  mul(a: Node, b: Node): Node {
    return this.out([a, b], Float64Array.of(a.v[0]! * b.v[0]!), (n) => {
      const g = n.g![0]!;
      if (a.rg) a.grad()[0] = a.grad()[0]! + g * b.v[0]!;
      if (b.rg) b.grad()[0] = b.grad()[0]! + g * a.v[0]!;
    });
  }

  /** Mean of scalar nodes. */
  mean(xs: Node[]): Node {
    let s = 0;
    for (const x of xs) s += x.v[0]!;
    return this.out(xs, Float64Array.of(s / xs.length), (n) => {
      const g = n.g![0]! / xs.length;
      for (const x of xs) if (x.rg) x.grad()[0] = x.grad()[0]! + g;
    });
  }

  /**
   * Clipping scale c = min(1, m/n), n² = Σ_l ‖δ_l‖²(‖a_l‖² + 1): the global norm of the inner gradient
   * {δ_l ⊗ a_l, δ_l} over all layers.
   */
  clipScale(deltas: Node[], inputs: Node[], maxNorm: number): Node {
    const dd = deltas.map((d) => d.v.reduce((s, x) => s + x * x, 0));
    const aa = inputs.map((a) => a.v.reduce((s, x) => s + x * x, 0));
    let n2 = 0;
    for (let l = 0; l < dd.length; l++) n2 += dd[l]! * (aa[l]! + 1);
    const norm = Math.sqrt(n2);
    const active = norm > maxNorm;
    const c = active ? maxNorm / norm : 1;
    return this.out(active ? [...deltas, ...inputs] : [], Float64Array.of(c), (n) => {
      const nBar = (n.g![0]! * -maxNorm) / (norm * norm);
      for (let l = 0; l < deltas.length; l++) {
        const d = deltas[l]!;
        const a = inputs[l]!;
        if (d.rg) {
          const dg = d.grad();
          const f = (nBar * (aa[l]! + 1)) / norm;
          for (let i = 0; i < d.v.length; i++) dg[i] = dg[i]! + f * d.v[i]!;
        }
        if (a.rg) {
          const ag = a.grad();
          const f = (nBar * dd[l]!) / norm;
          for (let j = 0; j < a.v.length; j++) ag[j] = ag[j]! + f * a.v[j]!;
        }
      }
    });
  }

  /**
   * The Titans step for one parameter matrix W (rows × cols) with momentum S and gradient τ·(δ ⊗ a):
   *   S' = η·S − τ·δ⊗a,   W' = (1−α)·W + α·W₀ + S'   (W₀ = null: forgetting towards zero)
   */
  titans(
    W: Node,
    S: Node,
    W0: Float64Array | null,
    delta: Node,
    a: Node,
    alpha: Node,
    eta: Node,
    tau: Node,
    rows: number,
    cols: number,
  ): [Node, Node] {
    const al = alpha.v[0]!;
    const et = eta.v[0]!;
    const ta = tau.v[0]!;
    const w = W.v;
    const s = S.v;
    const d = delta.v;
    const av = a.v;
    const Sn = new Float64Array(rows * cols);
    const Wn = new Float64Array(rows * cols);
    for (let i = 0, o = 0; i < rows; i++, o += cols) {
      const t = -ta * d[i]!;
      for (let j = 0; j < cols; j++) {
        const sn = et * s[o + j]! + t * av[j]!;
        Sn[o + j] = sn;
        Wn[o + j] = (1 - al) * w[o + j]! + (W0 === null ? 0 : al * W0[o + j]!) + sn;
      }
    }
    const inputs = [W, S, delta, a, alpha, eta, tau];
    let wNode: Node | null = null;
    let sNode: Node | null = null;
    const rg = this.tape.op(inputs, () => {
      const wg = wNode!.g;
      const sg = sNode!.g;
      if (wg === null && sg === null) return;
      const n = rows * cols;
      const hat = new Float64Array(n); // adjoint of S' including the path through W'
      for (let i = 0; i < n; i++) hat[i] = (sg === null ? 0 : sg[i]!) + (wg === null ? 0 : wg[i]!);
      if (W.rg && wg !== null) {
        const g = W.grad();
        for (let i = 0; i < n; i++) g[i] = g[i]! + (1 - al) * wg[i]!;
      }
      if (alpha.rg && wg !== null) {
        let acc = 0;
        for (let i = 0; i < n; i++) acc += wg[i]! * ((W0 === null ? 0 : W0[i]!) - w[i]!);
        alpha.grad()[0] = alpha.grad()[0]! + acc;
      }
      if (S.rg) {
        const g = S.grad();
        for (let i = 0; i < n; i++) g[i] = g[i]! + et * hat[i]!;
      }
      if (eta.rg) {
        let acc = 0;
        for (let i = 0; i < n; i++) acc += hat[i]! * s[i]!;
        eta.grad()[0] = eta.grad()[0]! + acc;
      }
      let tauBar = 0;
      const dg = delta.rg ? delta.grad() : null;
      const ag = a.rg ? a.grad() : null;
      for (let i = 0, o = 0; i < rows; i++, o += cols) {
        let rowDot = 0;
        for (let j = 0; j < cols; j++) rowDot += hat[o + j]! * av[j]!;
        tauBar -= d[i]! * rowDot;
        if (dg !== null) dg[i] = dg[i]! - ta * rowDot;
        if (ag !== null) {
          const f = -ta * d[i]!;
          for (let j = 0; j < cols; j++) ag[j] = ag[j]! + f * hat[o + j]!;
        }
      }
      if (tau.rg) tau.grad()[0] = tau.grad()[0]! + tauBar;
    });
    wNode = new Node(Wn, rg);
    sNode = new Node(Sn, rg);
    return [wNode, sNode];
  }
}

// ---- the differentiable memory ---------------------------------------------------------------------------------
export interface MemState {
  W: Node[];
  b: Node[];
  SW: Node[];
  Sb: Node[];
}

export interface ParamNodes {
  WK: Node;
  WQ: Node;
  WV: Node;
  gateW: Node;
  gateB: Node;
}

export class DiffMemory {
  readonly ops: Ops;
  private readonly one = constant(Float64Array.of(1));
  constructor(
    readonly config: ResolvedConfig,
    readonly init: InitLayer[],
    readonly tape: Tape,
    /** W_V·x is computed (and differentiated) only when true; otherwise v = x (identity W_V, not trained). */
    readonly useWV: boolean,
  ) {
    this.ops = new Ops(tape, activation(config.activation));
  }

  initialState(): MemState {
    return {
      W: this.init.map((l) => constant(l.W.slice())),
      b: this.init.map((l) => constant(l.b.slice())),
      SW: this.init.map((l) => constant(new Float64Array(l.rows * l.cols))),
      Sb: this.init.map((l) => constant(new Float64Array(l.rows))),
    };
  }

  /** Forward pass: pre-activations z_l and layer inputs a_l (a_0 = key); the output is z_{L−1}. */
  forward(M: MemState, key: Node): { z: Node[]; a: Node[] } {
    const z: Node[] = [];
    const a: Node[] = [key];
    const L = this.init.length;
    for (let l = 0; l < L; l++) {
      const { rows, cols } = this.init[l]!;
      z.push(this.ops.affine(M.W[l]!, M.b[l]!, a[l]!, rows, cols));
      if (l < L - 1) a.push(this.ops.activate(z[l]!));
    }
    return { z, a };
  }

  read(M: MemState, p: ParamNodes, x: Node): Node {
    const q = this.ops.normalize(this.ops.affine(p.WQ, null, x, this.config.keyDim, this.config.inputDim));
    const { z } = this.forward(M, q);
    return z[z.length - 1]!;
  }

  value(p: ParamNodes, x: Node): Node {
    return this.useWV ? this.ops.affine(p.WV, null, x, this.config.valueDim, this.config.inputDim) : x;
  }

  /** One write (all inner steps); returns the new state and the loss before the first step. */
  write(M: MemState, p: ParamNodes, xk: Node, xv: Node): { state: MemState; loss: number } {
    const { ops, config } = this;
    const g = ops.gates(p.gateW, p.gateB, xv, config.thetaMax);
    const alpha = ops.pick(g, 0);
    const theta = ops.pick(g, 1);
    const eta = ops.pick(g, 2);
    const k = ops.normalize(ops.affine(p.WK, null, xk, config.keyDim, config.inputDim));
    const v = this.value(p, xv);
    const L = this.init.length;
    let state = M;
    let firstLoss = NaN;
    for (let s = 0; s < config.innerSteps; s++) {
      const { z, a } = this.forward(state, k);
      const y = z[L - 1]!;
      if (s === 0) firstLoss = y.v.reduce((acc, yi, i) => acc + (yi - v.v[i]!) ** 2, 0);
      const deltas: Node[] = new Array<Node>(L);
      deltas[L - 1] = ops.outputDelta(y, v);
      for (let l = L - 1; l >= 1; l--) {
        const { rows, cols } = this.init[l]!;
        deltas[l - 1] = ops.backDelta(state.W[l]!, deltas[l]!, z[l - 1]!, rows, cols);
      }
      const c = ops.clipScale(deltas, a, config.maxGradNorm);
      const tau = ops.mul(theta, c);
      const next: MemState = { W: [], b: [], SW: [], Sb: [] };
      for (let l = 0; l < L; l++) {
        const { rows, cols, anchored, W: W0, b: b0 } = this.init[l]!;
        const [W, SW] = ops.titans(
          state.W[l]!,
          state.SW[l]!,
          anchored ? W0 : null,
          deltas[l]!,
          a[l]!,
          alpha,
          eta,
          tau,
          rows,
          cols,
        );
        const [b, Sb] = ops.titans(
          state.b[l]!,
          state.Sb[l]!,
          anchored ? b0 : null,
          deltas[l]!,
          this.one,
          alpha,
          eta,
          tau,
          rows,
          1,
        );
        next.W.push(W);
        next.b.push(b);
        next.SW.push(SW);
        next.Sb.push(Sb);
      }
      state = next;
    }
    return { state, loss: firstLoss };
  }
}

export interface Pair {
  src: Float64Array;
  tgt: Float64Array;
}

/** Pairs of a sequence for the memory's mode. */
export function pairsOf(seq: ArrayLike<number>[], mode: 'associative' | 'sequence'): Pair[] {
  const xs = seq.map((x) => Float64Array.from(x));
  if (mode === 'associative') return xs.map((x) => ({ src: x, tgt: x }));
  return xs.slice(1).map((x, i) => ({ src: xs[i]!, tgt: x }));
}

/**
 * Writes every pair of a chunk from `state`, then the mean recall loss of the chunk's pairs. `targetOf` maps a
 * target input to the (constant) recall target.
 */
export function chunkLoss(
  mem: DiffMemory,
  p: ParamNodes,
  state: MemState,
  chunk: Pair[],
  targetOf: (x: Float64Array) => Float64Array,
): { loss: Node; state: MemState } {
  let M = state;
  for (const pair of chunk) M = mem.write(M, p, constant(pair.src), constant(pair.tgt)).state;
  const losses = chunk.map((pair) =>
    mem.ops.sqDist(mem.read(M, p, constant(pair.src)), constant(targetOf(pair.tgt))),
  );
  return { loss: mem.ops.mean(losses), state: M };
}

const detach = (s: MemState): MemState => ({
  W: s.W.map((n) => constant(n.v)),
  b: s.b.map((n) => constant(n.v)),
  SW: s.SW.map((n) => constant(n.v)),
  Sb: s.Sb.map((n) => constant(n.v)),
});

class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  constructor(
    private readonly x: Float64Array,
    private readonly lr: number,
  ) {
    this.m = new Float64Array(x.length);
    this.v = new Float64Array(x.length);
  }
  step(g: Float64Array): void {
    const b1 = 0.9;
    const b2 = 0.999;
    this.t++;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    for (let i = 0; i < this.x.length; i++) {
      const gi = g[i]!;
      this.m[i] = b1 * this.m[i]! + (1 - b1) * gi;
      this.v[i] = b2 * this.v[i]! + (1 - b2) * gi * gi;
      this.x[i] = this.x[i]! - (this.lr * (this.m[i]! / c1)) / (Math.sqrt(this.v[i]! / c2) + 1e-8);
    }
  }
}

/** Float32 rounding of the parameters (the memory stores float32). */
function roundF32(p: OuterParams): void {
  for (const a of [p.WK, p.WQ, p.WV]) for (let i = 0; i < a.length; i++) a[i] = Math.fround(a[i]!);
}

function positiveInt(v: unknown, def: number, name: string): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw badRequest('invalid_options', `${name} must be a positive integer`);
  return v;
}

export function trainOuterLoop(
  config: ResolvedConfig,
  params: OuterParams,
  init: InitLayer[],
  sequences: Float32Array[][],
  opts: OuterOptions,
  rng: Rng,
): { params: OuterParams; summary: OuterResult } {
  const epochs = positiveInt(opts.epochs, 1, 'epochs');
  const chunkSize = positiveInt(opts.chunkSize, 16, 'chunkSize');
  const lr = opts.lr ?? 1e-3;
  if (!(typeof lr === 'number' && lr > 0 && Number.isFinite(lr)))
    throw badRequest('invalid_options', 'lr must be a positive number');
  const sameSpace = config.valueDim === config.inputDim;
  const train = {
    keys: opts.train?.keys ?? true,
    queries: opts.train?.queries ?? true,
    values: (opts.train?.values ?? true) && sameSpace,
    gates: opts.train?.gates ?? true,
  };
  const isIdentity = (() => {
    if (!sameSpace) return false;
    const n = config.inputDim;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) if (params.WV[i * n + j] !== (i === j ? 1 : 0)) return false;
    return true;
  })();
  const useWV = train.values || !isIdentity;
  const targetOf = (x: Float64Array): Float64Array => {
    if (sameSpace) return x;
    const out = new Float64Array(config.valueDim);
    for (let i = 0; i < config.valueDim; i++) {
      let s = 0;
      for (let j = 0; j < config.inputDim; j++) s += params.WV[i * config.inputDim + j]! * x[j]!;
      out[i] = s;
    }
    return out;
  };
  const seqPairs = sequences.map((s) => pairsOf(s, config.mode)).filter((p) => p.length > 0);
  const chunksOf = (pairs: Pair[]) => {
    const out: Pair[][] = [];
    for (let i = 0; i < pairs.length; i += chunkSize) out.push(pairs.slice(i, i + chunkSize));
    return out;
  };

  const evaluate = (): number => {
    const tape = new Tape();
    const mem = new DiffMemory(config, init, tape, useWV);
    const p = constParams(params);
    let total = 0;
    let n = 0;
    for (const pairs of seqPairs) {
      let state = mem.initialState();
      for (const chunk of chunksOf(pairs)) {
        const r = chunkLoss(mem, p, state, chunk, targetOf);
        total += r.loss.v[0]!;
        n++;
        state = r.state;
      }
    }
    return n === 0 ? 0 : total / n;
  };

  const lossBefore = evaluate();
  const optims = {
    WK: new Adam(params.WK, lr),
    WQ: new Adam(params.WQ, lr),
    WV: new Adam(params.WV, lr),
    gateW: new Adam(params.gateW, lr),
    gateB: new Adam(params.gateB, lr),
  };
  const epochLosses: number[] = [];
  let steps = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = seqPairs.map((_, i) => i);
    if (opts.shuffle ?? true) rng.shuffle(order);
    let total = 0;
    let n = 0;
    for (const si of order) {
      const tape = new Tape();
      const mem = new DiffMemory(config, init, tape, useWV);
      let state = mem.initialState();
      for (const chunk of chunksOf(seqPairs[si]!)) {
        const p: ParamNodes = {
          WK: new Node(params.WK, train.keys),
          WQ: new Node(params.WQ, train.queries),
          WV: new Node(params.WV, train.values),
          gateW: new Node(params.gateW, train.gates),
          gateB: new Node(params.gateB, train.gates),
        };
        const r = chunkLoss(mem, p, state, chunk, targetOf);
        total += r.loss.v[0]!;
        n++;
        if (r.loss.rg) {
          tape.backward(r.loss);
          for (const key of ['WK', 'WQ', 'WV', 'gateW', 'gateB'] as const)
            if (p[key].rg && p[key].g !== null) optims[key].step(p[key].g);
          roundF32(params);
          steps++;
        }
        state = detach(r.state);
      }
    }
    const mean = n === 0 ? 0 : total / n;
    epochLosses.push(mean);
    opts.onEpoch?.(epoch, mean);
  }
  const lossAfter = evaluate();
  return { params, summary: { lossBefore, lossAfter, epochLosses, steps } };
}

export function constParams(p: OuterParams): ParamNodes {
  return {
    WK: constant(p.WK),
    WQ: constant(p.WQ),
    WV: constant(p.WV),
    gateW: constant(p.gateW),
    gateB: constant(p.gateB),
  };
}
