// The neural long-term memory of "Titans: Learning to Memorize at Test Time" (Behrouz, Zhong & Mirrokni, 2025),
// for a stream of embeddings.
//
// ── Model ──────────────────────────────────────────────────────────────────────────────────────────────────────────
//   k = W_K·x_k / ‖W_K·x_k‖      (d_k; a zero vector stays zero)      q = W_Q·x / ‖W_Q·x‖   (d_k)
//   v = W_V·x_v                   (d_v; not normalised)
//   M(k) = MLP d_k → hiddenDims… → d_v: z_l = W_l·a_l + b_l, a_{l+1} = φ(z_l) on hidden layers, the last layer linear
//   ℓ(M; k, v) = ‖M(k) − v‖²      — a SUM over the d_v components (not a mean); all gradients are of this sum
//   gates, from a learned linear function of the input (x_v, the value-side input):
//     α = σ(w_α·x + b_α),  θ = thetaMax·σ(w_θ·x + b_θ),  η = σ(w_η·x + b_η)
//   inner update (one write; `innerSteps` times):
//     g = ∇_M ℓ · min(1, maxGradNorm/‖∇_M ℓ‖)                       (global-norm clipping over all memory params)
//     S ← η·S − θ·g                                                 (momentum: "past surprise")
//     M ← M₀ + (1−α)·(M − M₀) + S                                   (forgetting; forgetTarget 'zero': M ← (1−α)M + S)
//   retrieval: y = M(q), no update.
// In 'associative' mode an update with x writes (x_k, x_v) = (x, x); in 'sequence' mode it writes (x_{t−1}, x_t), so
// M(q(x_t)) predicts v(x_{t+1}). `write(xk, xv)` writes an explicit pair.
//
// ── Surprise (per write) ─────────────────────────────────────────────────────────────────────────────────────────────
//   loss (= rawSurprise): ℓ before the update; gradNorm: ‖∇ℓ‖ before clipping (first inner step).
//   surprise: the mid-rank of log ℓ among the last `surpriseWindow` (W = 256) logged losses —
//     (#{w < ℓ} + ½·#{w = ℓ}) / n — an empirical CDF in [0, 1]; 1 when the window is empty. Being relative to
//     recent losses, it cannot collapse as the memory fills up; forgetting (α) and the bounded momentum keep the
//     absolute losses of new items away from zero as well.
//   surpriseZ: (log ℓ − mean)/std over the same window (0 when fewer than 2 values or no spread).
//
// ── Variants ─────────────────────────────────────────────────────────────────────────────────────────────────────────
// All variants keep the same state: a window of the last W_attn (attnWindow, 16) written pairs (k_j, v_j) — k_j unit,
// v_j the raw value — which is updated on every write whatever the variant, so setVariant() can switch at any time.
// Attn(u; P) = Σ_{j∈P} softmax_j(s·u·k_j)·v_j with s = attnScale; max-sim(u) = max_j u·k_j.
//   NONE  read: y = M(q).  write: (k, v).
//   MAC   (memory as context) read: the memory's answer m = M(q) is one more context token, keyed by the query itself
//         (logit s·‖q‖² = s): y = [e^{s}·m + Σ_j e^{s·q·k_j}·v_j] / [e^{s} + Σ_j e^{s·q·k_j}]. Write as NONE.
//   MAG   (memory as gate) read: y = λ·Attn(q; window) + (1−λ)·M(q), λ = σ(magSharpness·(max-sim(q) − magThreshold))
//         (attention wins when the window holds a near-duplicate of the query).
//         write: ρ = cos(Attn(k; window), v) — how well the short-term window already predicts v —
//         g = magGateStrength·max(0, ρ), and the write uses α' = α(1−g), θ' = θ(1−g), η' = η(1−g): what the
//         window already explains is written, forgotten and carried over less.
//   MAL   (memory as layer) write: the value first goes through the sliding-window attention, including the current
//         pair itself: ṽ = Attn(k; window ∪ {(k, v)}), and the memory stores (k, ṽ). Read as NONE.
// With an empty window MAC, MAG and MAL behave exactly like NONE. `variantOutput` of an update is, for MAC and MAG,
// the variant's read for q(x) before the write, for MAL the written ṽ.
//
// ── Numerics ─────────────────────────────────────────────────────────────────────────────────────────────────────────
// All state is float32 in one heap (kernels.ts), with gate parameters and surprise statistics in float64. One write
// at the default sizes is: W_K·x (98k MAC), [W_V·x (590k MAC) unless W_V is still the identity], forward
// (65k + 393k), then per layer from the top one fused pass that back-propagates the delta and applies the momentum +
// forgetting step to W (clipping is applied exactly: layers above the first are updated with the unclipped step
// and corrected by a rank-1 pass in the rare case the norm exceeds maxGradNorm). Buffers are preallocated; an
// update allocates only its small result object (and, for MAC/MAG/MAL, the variant output).
import { AppError, badRequest } from '@synthians/kit';
import {
  logit,
  resolveConfig,
  VARIANTS,
  type NeuralMemoryConfig,
  type ResolvedConfig,
  type Variant,
} from './config.ts';
import { createKernels, HeapPlan, type Kernels, type Backend } from './kernels.ts';
import { Rng } from './rng.ts';
import { toFloat32 } from './validate.ts';
import { activation, type ActivationFn } from './activation.ts';
import { trainOuterLoop, type OuterOptions, type OuterParams, type OuterResult } from './outer.ts';
import { readState, writeState, type SerializedHeader } from './serialize.ts';

export interface Gates {
  /** Forgetting rate α ∈ (0, 1). */
  alpha: number;
  /** Inner learning rate θ ∈ (0, thetaMax). */
  theta: number;
  /** Momentum decay η ∈ (0, 1). */
  eta: number;
}

export interface SurpriseInfo {
  /** ℓ = ‖M(k) − v‖² before the update (sum over d_v). */
  loss: number;
  /** Same as `loss`: the momentary, un-normalised surprise. */
  rawSurprise: number;
  /** ‖∇_M ℓ‖ over all memory parameters, before clipping. */
  gradNorm: number;
  /** Normalised surprise in [0, 1]: the loss's empirical CDF over the last `surpriseWindow` losses. */
  surprise: number;
  /** z-score of log ℓ against the same window. */
  surpriseZ: number;
  /** Gates used (for update: after MAG's modulation). */
  gates: Gates;
  /** False in sequence mode for the first input (no previous input to key from): nothing evaluated or written. */
  evaluated: boolean;
}

export interface UpdateResult extends SurpriseInfo {
  /** Whether a pair was written (false only for the first input in sequence mode). */
  written: boolean;
  /** The gradient was scaled down by clipping (first inner step). */
  clipped: boolean;
  /** Number of writes since creation / reset, including this one. */
  step: number;
  /** MAC/MAG: the variant's read for q(x) before the write; MAL: the attended value ṽ that was written. */
  variantOutput?: Float32Array;
}

export interface Projections {
  /** W_K, d_k × d_in row-major. */
  WK: Float32Array;
  /** W_Q, d_k × d_in row-major. */
  WQ: Float32Array;
  /** W_V, d_v × d_in row-major. */
  WV: Float32Array;
  /** Gate weights, 3 × d_in row-major, rows α, θ, η. */
  gateW: Float64Array;
  /** Gate biases [b_α, b_θ, b_η]. */
  gateB: Float64Array;
}

interface Layer {
  rows: number;
  cols: number;
  hidden: boolean;
  anchored: boolean;
  W: number;
  b: number;
  SW: number;
  Sb: number;
  W0: number;
  b0: number;
  /** Offset of the layer's input activation (k for layer 0). */
  input: number;
  z: number;
  /** Output activation φ(z) for hidden layers; for the last layer the same as z (y). */
  out: number;
  dact: number;
  delta: number;
}

interface Block {
  start: number;
  end: number;
}

const LOG_EPS = 1e-12;

export class NeuralMemory {
  readonly config: ResolvedConfig;
  private readonly k: Kernels;
  private readonly h: Float32Array;
  private readonly act: ActivationFn;
  private readonly layers: Layer[];
  private readonly din: number;
  private readonly dk: number;
  private readonly dv: number;
  // heap offsets
  private readonly oWK: number;
  private readonly oWQ: number;
  private readonly oWV: number;
  private readonly mem: Block;
  private readonly mom: Block;
  private readonly init: Block;
  private readonly oX: number;
  private readonly oXk: number;
  private readonly oXr: number;
  private readonly oPrev: number;
  private readonly oK: number;
  private readonly oQ: number;
  private readonly oV: number;
  private readonly oT: number;
  private readonly oBwd: number;
  private readonly oOne: number;
  private readonly oY: number;
  // gates
  private readonly gateW: Float64Array;
  private readonly gateB: Float64Array;
  // windows
  private readonly winK: Float32Array;
  private readonly winV: Float32Array;
  private winCount = 0;
  private winHead = 0;
  private readonly surp: Float64Array;
  private surpCount = 0;
  private surpHead = 0;
  // scratch
  private readonly scores: Float64Array;
  private readonly attnOut: Float64Array;
  // state
  private variantNow: Variant;
  private stepCount = 0;
  private hasPrev = false;
  private valueIdentity: boolean;
  private rng: Rng;

  private constructor(config: ResolvedConfig, seed: number | null) {
    this.config = config;
    const { inputDim: din, keyDim: dk, valueDim: dv, hiddenDims } = config;
    this.din = din;
    this.dk = dk;
    this.dv = dv;
    this.act = activation(config.activation);
    this.variantNow = config.variant;
    const widths = [dk, ...hiddenDims, dv];

    // ---- layout ------------------------------------------------------------------------------------------------
    const p = new HeapPlan();
    this.oWK = p.alloc(dk * din);
    this.oWQ = p.alloc(dk * din);
    this.oWV = p.alloc(dv * din);
    const mats = (): { W: number; b: number }[] =>
      widths.slice(1).map((rows, l) => ({ W: p.alloc(rows * widths[l]!), b: p.alloc(rows) }));
    const start = () => p.floats;
    const s0 = start();
    const memL = mats();
    this.mem = { start: s0, end: start() };
    const s1 = start();
    const momL = mats();
    this.mom = { start: s1, end: start() };
    const s2 = start();
    const initL = mats();
    this.init = { start: s2, end: start() };
    this.oX = p.alloc(din);
    this.oXk = p.alloc(din);
    this.oXr = p.alloc(din);
    this.oPrev = p.alloc(din);
    this.oK = p.alloc(dk);
    this.oQ = p.alloc(dk);
    this.oV = p.alloc(dv);
    this.oT = p.alloc(dv);
    this.oBwd = p.alloc(Math.max(...widths));
    this.oOne = p.alloc(1);
    const L = widths.length - 1;
    const layers: Layer[] = [];
    let input = this.oK;
    for (let l = 0; l < L; l++) {
      const rows = widths[l + 1]!;
      const hidden = l < L - 1;
      const z = p.alloc(rows);
      const out = hidden ? p.alloc(rows) : z;
      layers.push({
        rows,
        cols: widths[l]!,
        hidden,
        anchored: false,
        W: memL[l]!.W,
        b: memL[l]!.b,
        SW: momL[l]!.W,
        Sb: momL[l]!.b,
        W0: initL[l]!.W,
        b0: initL[l]!.b,
        input,
        z,
        out,
        dact: p.alloc(rows),
        delta: p.alloc(rows),
      });
      input = out;
    }
    this.layers = layers;
    this.oY = layers[L - 1]!.out;
    const wasmOk = [din, ...widths.slice(0, -1)].every((c) => c % 4 === 0);
    this.k = createKernels(p.floats, config.backend, wasmOk);
    this.h = this.k.f32;
    this.h[this.oOne] = 1;

    this.gateW = new Float64Array(3 * din);
    this.gateB = new Float64Array(3);
    this.winK = new Float32Array(config.attnWindow * dk);
    this.winV = new Float32Array(config.attnWindow * dv);
    this.surp = new Float64Array(config.surpriseWindow);
    this.scores = new Float64Array(config.attnWindow + 1);
    this.attnOut = new Float64Array(dv);
    this.rng = new Rng(seed ?? 0);
    this.valueIdentity = false;
    if (seed !== null) this.initialise();
  }

  /** A new memory with `config` over the defaults, deterministically initialised from `seed`. */
  static create(config: Partial<NeuralMemoryConfig> = {}, seed = 0): NeuralMemory {
    if (typeof seed !== 'number' || !Number.isFinite(seed))
      throw badRequest('invalid_config', 'seed must be a finite number', { field: 'seed' });
    return new NeuralMemory(resolveConfig(config), seed);
  }

  // ---- initialisation ------------------------------------------------------------------------------------------
  private initialise(): void {
    const { h, rng, din, dk, dv, config: c } = this;
    const gauss = (off: number, n: number, std: number) => {
      for (let i = 0; i < n; i++) h[off + i] = std * rng.gaussian();
    };
    gauss(this.oWK, dk * din, 1 / Math.sqrt(din));
    if (c.tieQueryToKey) h.copyWithin(this.oWQ, this.oWK, this.oWK + dk * din);
    else gauss(this.oWQ, dk * din, 1 / Math.sqrt(din));
    if (c.valueInit === 'identity') {
      h.fill(0, this.oWV, this.oWV + dv * din);
      for (let i = 0; i < dv; i++) h[this.oWV + i * din + i] = 1;
    } else gauss(this.oWV, dv * din, 1 / Math.sqrt(din));
    for (let i = 0; i < this.gateW.length; i++) this.gateW[i] = c.gateInitStd * rng.gaussian();
    this.gateB[0] = logit(c.alphaInit);
    this.gateB[1] = logit(c.thetaInit);
    this.gateB[2] = logit(c.etaInit);
    for (const [l, layer] of this.layers.entries()) {
      const n = layer.rows * layer.cols;
      if (!layer.hidden) {
        if (c.outputInit === 'random') gauss(layer.W, n, 1 / Math.sqrt(layer.cols));
        else h.fill(0, layer.W, layer.W + n);
        h.fill(0, layer.b, layer.b + layer.rows);
      } else {
        gauss(layer.W, n, l === 0 ? c.firstLayerInitStd : c.deepLayerInitGain / Math.sqrt(layer.cols));
        h.fill(c.hiddenBiasInit, layer.b, layer.b + layer.rows);
      }
    }
    h.copyWithin(this.init.start, this.mem.start, this.mem.end);
    this.refreshDerived();
    this.reset();
  }

  /** Flags that depend on parameter values: anchored layers and whether W_V is exactly the identity. */
  private refreshDerived(): void {
    const { h } = this;
    for (const layer of this.layers) {
      let nonzero = false;
      for (let i = layer.W0, e = layer.W0 + layer.rows * layer.cols; i < e && !nonzero; i++)
        nonzero = h[i] !== 0;
      for (let i = layer.b0, e = layer.b0 + layer.rows; i < e && !nonzero; i++) nonzero = h[i] !== 0;
      layer.anchored = this.config.forgetTarget === 'init' && nonzero;
    }
    let identity = this.dv === this.din;
    for (let i = 0; i < this.dv && identity; i++)
      for (let j = 0; j < this.din && identity; j++)
        identity = h[this.oWV + i * this.din + j] === (i === j ? 1 : 0);
    this.valueIdentity = identity;
  }

  /** Memory back to its initial weights, momentum zero, windows and step count cleared. Parameters are kept. */
  reset(): void {
    const { h } = this;
    h.copyWithin(this.mem.start, this.init.start, this.init.end);
    h.fill(0, this.mom.start, this.mom.end);
    this.winK.fill(0);
    this.winV.fill(0);
    this.winCount = 0;
    this.winHead = 0;
    this.surp.fill(0);
    this.surpCount = 0;
    this.surpHead = 0;
    this.stepCount = 0;
    this.hasPrev = false;
    h.fill(0, this.oPrev, this.oPrev + this.din);
  }

  // ---- public API ----------------------------------------------------------------------------------------------
  get variant(): Variant {
    return this.variantNow;
  }

  /** Switches the variant; all state is shared by the variants, so this is safe between any two calls. */
  setVariant(v: Variant): void {
    if (!VARIANTS.includes(v))
      throw badRequest('invalid_variant', `variant must be one of ${VARIANTS.join(', ')}`);
    this.variantNow = v;
  }

  get step(): number {
    return this.stepCount;
  }

  get backend(): Backend {
    return this.k.backend;
  }

  /** Number of float32 memory parameters (the size of M, and of the momentum S). */
  get memoryParameterCount(): number {
    return this.layers.reduce((n, l) => n + l.rows * (l.cols + 1), 0);
  }

  /** One write of the current input (associative: (x, x); sequence: (x_{t−1}, x_t)). */
  update(x: ArrayLike<number>): UpdateResult {
    toFloat32(x, this.din, 'embedding', this.h.subarray(this.oX, this.oX + this.din));
    if (this.config.mode === 'sequence') {
      if (!this.hasPrev) {
        this.h.copyWithin(this.oPrev, this.oX, this.oX + this.din);
        this.hasPrev = true;
        return this.notWritten();
      }
      this.h.copyWithin(this.oXk, this.oPrev, this.oPrev + this.din);
      const r = this.writeLoaded();
      this.h.copyWithin(this.oPrev, this.oX, this.oX + this.din);
      return r;
    }
    this.h.copyWithin(this.oXk, this.oX, this.oX + this.din);
    return this.writeLoaded();
  }

  /**
   * One write of an explicit pair: key from `keyInput`, value (and gates) from `valueInput` — the general form of
   * update() (in sequence mode it does not touch the remembered previous input).
   */
  write(keyInput: ArrayLike<number>, valueInput: ArrayLike<number>): UpdateResult {
    toFloat32(keyInput, this.din, 'key embedding', this.h.subarray(this.oXk, this.oXk + this.din));
    toFloat32(valueInput, this.din, 'value embedding', this.h.subarray(this.oX, this.oX + this.din));
    return this.writeLoaded();
  }

  /** The variant's read for query x (NONE/MAL: M(q)); no state changes. */
  retrieve(x: ArrayLike<number>, out?: Float32Array): Float32Array {
    toFloat32(x, this.din, 'embedding', this.h.subarray(this.oXr, this.oXr + this.din));
    const dst = out ?? new Float32Array(this.dv);
    this.readLoaded(dst);
    return dst;
  }

  /** Sequence mode: the predicted value of the input that follows x (M(q(x)) with the variant's read). */
  predictNext(x: ArrayLike<number>, out?: Float32Array): Float32Array {
    if (this.config.mode !== 'sequence')
      throw badRequest('invalid_mode', "predictNext needs a memory in 'sequence' mode");
    return this.retrieve(x, out);
  }

  /** The base gates for input x (before MAG's modulation). */
  calculateGates(x: ArrayLike<number>): Gates {
    toFloat32(x, this.din, 'embedding', this.h.subarray(this.oXr, this.oXr + this.din));
    return this.gatesAt(this.oXr);
  }

  /** Loss, gradient norm and normalised surprise of writing x now, without changing any state. */
  analyzeSurprise(x: ArrayLike<number>): SurpriseInfo {
    const { h, din } = this;
    // analysed inputs go through the update buffers, which hold nothing between calls
    toFloat32(x, din, 'embedding', h.subarray(this.oX, this.oX + din));
    if (this.config.mode === 'sequence') {
      if (!this.hasPrev) return this.notWritten();
      h.copyWithin(this.oXk, this.oPrev, this.oPrev + din);
    } else h.copyWithin(this.oXk, this.oX, this.oX + din);
    const gates = this.gatesAt(this.oX);
    this.prepareWrite();
    const target = this.variantNow === 'MAL' ? this.malTarget() : this.oV;
    if (this.variantNow === 'MAG') this.magModulate(gates);
    const { loss, gradNorm } = this.lossAndGradNorm(target);
    return { ...this.normalise(loss), gradNorm, gates, evaluated: true };
  }

  /** Copies of the learned projections and gate parameters. */
  projections(): Projections {
    const { h, din, dk, dv } = this;
    return {
      WK: h.slice(this.oWK, this.oWK + dk * din),
      WQ: h.slice(this.oWQ, this.oWQ + dk * din),
      WV: h.slice(this.oWV, this.oWV + dv * din),
      gateW: this.gateW.slice(),
      gateB: this.gateB.slice(),
    };
  }

  /** Copies of the memory MLP's current weights, per layer (W rows × cols row-major, b rows). */
  memoryWeights(): { W: Float32Array; b: Float32Array; rows: number; cols: number }[] {
    return this.layers.map((l) => ({
      W: this.h.slice(l.W, l.W + l.rows * l.cols),
      b: this.h.slice(l.b, l.b + l.rows),
      rows: l.rows,
      cols: l.cols,
    }));
  }

  /**
   * Outer loop: learns W_K, W_Q, W_V and the gate parameters by back-propagating through the inner updates (see
   * outer.ts). The memory state is reset afterwards (stored content was keyed with the old projections).
   */
  trainOuter(sequences: ArrayLike<number>[][], opts: OuterOptions = {}): OuterResult {
    if (!Array.isArray(sequences) || !sequences.every((s) => Array.isArray(s)))
      throw badRequest('invalid_options', 'sequences must be an array of arrays of embeddings');
    const seqs = sequences.map((s, i) => s.map((x, t) => toFloat32(x, this.din, `sequences[${i}][${t}]`)));
    const params = this.outerParams();
    const result = trainOuterLoop(this.config, params, this.initLayers(), seqs, opts, this.rng);
    this.setOuterParams(result.params);
    this.refreshDerived();
    this.reset();
    return result.summary;
  }

  /**
   * The complete state, versioned, with a checksum; `NeuralMemory.deserialize` restores it bit for bit.
   * `annotations` (JSON) are stored with it and returned by `deserializeAnnotated`.
   */
  serialize(annotations?: Record<string, unknown>): Uint8Array {
    const { h } = this;
    const header: SerializedHeader = {
      config: this.config,
      backend: this.k.backend,
      variant: this.variantNow,
      step: this.stepCount,
      hasPrev: this.hasPrev,
      winCount: this.winCount,
      winHead: this.winHead,
      surpCount: this.surpCount,
      surpHead: this.surpHead,
      rng: this.rng.state(),
    };
    if (annotations) header.annotations = annotations;
    return writeState(header, [
      h.subarray(this.oWK, this.oWK + this.dk * this.din),
      h.subarray(this.oWQ, this.oWQ + this.dk * this.din),
      h.subarray(this.oWV, this.oWV + this.dv * this.din),
      this.gateW,
      this.gateB,
      h.subarray(this.mem.start, this.mem.end),
      h.subarray(this.mom.start, this.mom.end),
      h.subarray(this.init.start, this.init.end),
      this.winK,
      this.winV,
      this.surp,
      h.subarray(this.oPrev, this.oPrev + this.din),
    ]);
  }

  static deserialize(bytes: Uint8Array): NeuralMemory {
    return NeuralMemory.deserializeAnnotated(bytes).memory;
  }

  /** `deserialize`, with the annotations stored by `serialize` ({} when there were none). */
  static deserializeAnnotated(bytes: Uint8Array): {
    memory: NeuralMemory;
    annotations: Record<string, unknown>;
  } {
    const { header, sections } = readState(bytes);
    let config: ResolvedConfig;
    try {
      config = resolveConfig({ ...(header.config as NeuralMemoryConfig), backend: header.backend });
    } catch (err) {
      if (AppError.isInstance(err)) throw badRequest('invalid_state', `serialized config: ${err.message}`);
      throw err;
    }
    const m = new NeuralMemory(config, null);
    const { h } = m;
    const targets: (Float32Array | Float64Array)[] = [
      h.subarray(m.oWK, m.oWK + m.dk * m.din),
      h.subarray(m.oWQ, m.oWQ + m.dk * m.din),
      h.subarray(m.oWV, m.oWV + m.dv * m.din),
      m.gateW,
      m.gateB,
      h.subarray(m.mem.start, m.mem.end),
      h.subarray(m.mom.start, m.mom.end),
      h.subarray(m.init.start, m.init.end),
      m.winK,
      m.winV,
      m.surp,
      h.subarray(m.oPrev, m.oPrev + m.din),
    ];
    if (sections.length !== targets.length)
      throw badRequest('invalid_state', 'serialized state: wrong sections');
    for (const [i, t] of targets.entries()) {
      const src = sections[i]!;
      if (src.byteLength !== t.byteLength)
        throw badRequest('invalid_state', `serialized state: section ${i} has the wrong size`);
      new Uint8Array(t.buffer, t.byteOffset, t.byteLength).set(src);
    }
    if (!VARIANTS.includes(header.variant))
      throw badRequest('invalid_state', 'serialized state: bad variant');
    if (
      header.winCount > config.attnWindow ||
      header.winHead >= config.attnWindow ||
      header.surpCount > config.surpriseWindow ||
      header.surpHead >= config.surpriseWindow
    )
      throw badRequest('invalid_state', 'serialized state: window positions out of range');
    m.variantNow = header.variant;
    m.stepCount = header.step;
    m.hasPrev = header.hasPrev;
    m.winCount = header.winCount;
    m.winHead = header.winHead;
    m.surpCount = header.surpCount;
    m.surpHead = header.surpHead;
    m.rng = Rng.fromState(header.rng);
    m.refreshDerived();
    return { memory: m, annotations: header.annotations ?? {} };
  }

  // ---- internals: gates, projections, variants ------------------------------------------------------------------
  private gatesAt(xOff: number): Gates {
    const { h, din, gateW, gateB } = this;
    const s = [0, 0, 0];
    for (let g = 0; g < 3; g++) {
      let acc = gateB[g]!;
      for (let j = 0, o = g * din; j < din; j++, o++) acc += gateW[o]! * h[xOff + j]!;
      s[g] = 1 / (1 + Math.exp(-acc));
    }
    return { alpha: s[0]!, theta: this.config.thetaMax * s[1]!, eta: s[2]! };
  }

  /** k = normalise(W_K·x_k) and v = W_V·x from the loaded buffers. */
  private prepareWrite(): void {
    const { k, din, dk, dv } = this;
    k.mv(this.oWK, this.oXk, this.oK, dk, din);
    normalise(this.h, this.oK, dk);
    if (this.valueIdentity) this.h.copyWithin(this.oV, this.oX, this.oX + dv);
    else k.mv(this.oWV, this.oX, this.oV, dv, din);
  }

  /** Attention of the unit vector at `qOff` over the window (+ an optional extra token): result in attnOut. */
  private attend(qOff: number, extraLogit: number | null, extraOff: number): number {
    const { h, dk, dv, winK, winV, scores, attnOut } = this;
    const s = this.config.attnScale;
    const n = this.winCount;
    let maxSim = -Infinity;
    let maxLogit = extraLogit ?? -Infinity;
    for (let j = 0; j < n; j++) {
      let d = 0;
      for (let i = 0, o = j * dk; i < dk; i++, o++) d += h[qOff + i]! * winK[o]!;
      scores[j] = s * d;
      if (d > maxSim) maxSim = d;
      if (s * d > maxLogit) maxLogit = s * d;
    }
    attnOut.fill(0);
    let total = 0;
    for (let j = 0; j < n; j++) {
      const w = Math.exp(scores[j]! - maxLogit);
      total += w;
      for (let i = 0, o = j * dv; i < dv; i++, o++) attnOut[i] = attnOut[i]! + w * winV[o]!;
    }
    if (extraLogit !== null) {
      const w = Math.exp(extraLogit - maxLogit);
      total += w;
      for (let i = 0; i < dv; i++) attnOut[i] = attnOut[i]! + w * h[extraOff + i]!;
    }
    if (total > 0) for (let i = 0; i < dv; i++) attnOut[i] = attnOut[i]! / total;
    return maxSim;
  }

  /** MAL: ṽ = Attn(k; window ∪ {(k, v)}) into the target buffer; returns its offset. */
  private malTarget(): number {
    const { h, dk } = this;
    let kk = 0;
    for (let i = 0; i < dk; i++) kk += h[this.oK + i]! * h[this.oK + i]!;
    this.attend(this.oK, this.config.attnScale * kk, this.oV);
    for (let i = 0; i < this.dv; i++) h[this.oT + i] = this.attnOut[i]!;
    return this.oT;
  }

  /** MAG: scales the gates by 1 − strength·max(0, cos(Attn(k; window), v)). */
  private magModulate(g: Gates): void {
    if (this.winCount === 0) return;
    this.attend(this.oK, null, 0);
    const { h, attnOut, dv } = this;
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let i = 0; i < dv; i++) {
      const a = attnOut[i]!;
      const b = h[this.oV + i]!;
      ab += a * b;
      aa += a * a;
      bb += b * b;
    }
    const rho = aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
    const f = 1 - this.config.magGateStrength * Math.max(0, rho);
    g.alpha *= f;
    g.theta *= f;
    g.eta *= f;
  }

  /** The variant's read for the query input loaded at oXr, into dst. */
  private readLoaded(dst: Float32Array): void {
    const { h, k, din, dk, dv } = this;
    k.mv(this.oWQ, this.oXr, this.oQ, dk, din);
    normalise(h, this.oQ, dk);
    this.forward(this.oQ, false);
    const y = this.oY;
    const v = this.variantNow;
    if ((v !== 'MAC' && v !== 'MAG') || this.winCount === 0) {
      for (let i = 0; i < dv; i++) dst[i] = h[y + i]!;
      return;
    }
    if (v === 'MAC') {
      let qq = 0;
      for (let i = 0; i < dk; i++) qq += h[this.oQ + i]! * h[this.oQ + i]!;
      this.attend(this.oQ, this.config.attnScale * qq, y);
      for (let i = 0; i < dv; i++) dst[i] = this.attnOut[i]!;
      return;
    }
    const maxSim = this.attend(this.oQ, null, 0);
    const lambda = 1 / (1 + Math.exp(-this.config.magSharpness * (maxSim - this.config.magThreshold)));
    for (let i = 0; i < dv; i++) dst[i] = lambda * this.attnOut[i]! + (1 - lambda) * h[y + i]!;
  }

  // ---- internals: the memory MLP ---------------------------------------------------------------------------------
  private forward(keyOff: number, withDeriv: boolean): void {
    const { h, k, act } = this;
    let input = keyOff;
    for (const layer of this.layers) {
      k.mv(layer.W, input, layer.z, layer.rows, layer.cols);
      const { z, b, out, dact, rows } = layer;
      if (layer.hidden) {
        if (withDeriv)
          for (let i = 0; i < rows; i++) h[z + i] = act.both(h[z + i]! + h[b + i]!, h, out + i, dact + i);
        else
          for (let i = 0; i < rows; i++) {
            const zi = h[z + i]! + h[b + i]!;
            h[z + i] = zi;
            h[out + i] = act.f(zi);
          }
      } else for (let i = 0; i < rows; i++) h[z + i] = h[z + i]! + h[b + i]!;
      input = out;
    }
  }

  /** Forward at k, then δ of the last layer = 2(y − target); returns the loss. */
  private outputDelta(target: number): number {
    const { h } = this;
    this.forward(this.oK, true);
    const last = this.layers[this.layers.length - 1]!;
    let loss = 0;
    for (let i = 0; i < last.rows; i++) {
      const e = h[this.oY + i]! - h[target + i]!;
      loss += e * e;
      h[last.delta + i] = 2 * e;
    }
    return loss;
  }

  /** ‖∇ℓ‖ without touching the weights (for analyzeSurprise). */
  private lossAndGradNorm(target: number): { loss: number; gradNorm: number } {
    const { h, k, layers } = this;
    const loss = this.outputDelta(target);
    let n2 = 0;
    for (let l = layers.length - 1; l >= 0; l--) {
      const layer = layers[l]!;
      n2 += sumSq(h, layer.delta, layer.rows) * (sumSq(h, layer.input, layer.cols) + 1);
      if (l > 0) {
        const below = layers[l - 1]!;
        k.mtv(layer.W, layer.delta, this.oBwd, layer.rows, layer.cols);
        for (let j = 0; j < layer.cols; j++) h[below.delta + j] = h[this.oBwd + j]! * h[below.dact + j]!;
      }
    }
    return { loss, gradNorm: Math.sqrt(n2) };
  }

  /** One inner step towards `target` with the given gates; returns the loss before it and ‖∇ℓ‖. */
  private innerStep(target: number, g: Gates): { loss: number; gradNorm: number; clipped: boolean } {
    const { h, k, layers } = this;
    const loss = this.outputDelta(target);
    const keep = 1 - g.alpha;
    const om = g.alpha;
    const theta = g.theta;
    const eta = g.eta;
    let n2 = 0;
    // layers above the first: one pass each that back-propagates δ and applies the (unclipped) step
    for (let l = layers.length - 1; l >= 1; l--) {
      const layer = layers[l]!;
      const below = layers[l - 1]!;
      n2 += sumSq(h, layer.delta, layer.rows) * (sumSq(h, layer.input, layer.cols) + 1);
      k.upd(
        layer.W,
        layer.SW,
        layer.anchored ? layer.W0 : -1,
        layer.delta,
        layer.input,
        this.oBwd,
        layer.rows,
        layer.cols,
        theta,
        eta,
        keep,
        om,
      );
      this.biasStep(layer, theta, eta, keep, om);
      for (let j = 0; j < layer.cols; j++) h[below.delta + j] = h[this.oBwd + j]! * h[below.dact + j]!;
    }
    const first = layers[0]!;
    n2 += sumSq(h, first.delta, first.rows) * (sumSq(h, first.input, first.cols) + 1);
    const gradNorm = Math.sqrt(n2);
    const c = gradNorm > this.config.maxGradNorm ? this.config.maxGradNorm / gradNorm : 1;
    k.upd(
      first.W,
      first.SW,
      first.anchored ? first.W0 : -1,
      first.delta,
      first.input,
      -1,
      first.rows,
      first.cols,
      theta * c,
      eta,
      keep,
      om,
    );
    this.biasStep(first, theta * c, eta, keep, om);
    if (c < 1) {
      const coef = theta * (1 - c);
      for (let l = 1; l < layers.length; l++) {
        const layer = layers[l]!;
        k.rank1(layer.W, layer.SW, layer.delta, layer.input, layer.rows, layer.cols, coef);
        k.rank1(layer.b, layer.Sb, layer.delta, this.oOne, layer.rows, 1, coef);
      }
    }
    return { loss, gradNorm, clipped: c < 1 };
  }

  private biasStep(layer: Layer, tau: number, eta: number, keep: number, om: number): void {
    const { h } = this;
    const { b, Sb, b0, delta, rows, anchored } = layer;
    for (let i = 0; i < rows; i++) {
      const s = Math.fround(eta * h[Sb + i]! - tau * h[delta + i]!);
      h[Sb + i] = s;
      h[b + i] = keep * h[b + i]! + (anchored ? om * h[b0 + i]! : 0) + s;
    }
  }

  // ---- internals: a write ------------------------------------------------------------------------------------------
  /** Writes the pair loaded at oXk (key input) / oX (value input). */
  private writeLoaded(): UpdateResult {
    const variant = this.variantNow;
    const gates = this.gatesAt(this.oX);
    let variantOutput: Float32Array | undefined;
    if (variant === 'MAC' || variant === 'MAG') {
      this.h.copyWithin(this.oXr, this.oX, this.oX + this.din);
      variantOutput = new Float32Array(this.dv);
      this.readLoaded(variantOutput);
    }
    this.prepareWrite();
    let target = this.oV;
    if (variant === 'MAL') {
      target = this.malTarget();
      variantOutput = this.h.slice(target, target + this.dv);
    } else if (variant === 'MAG') this.magModulate(gates);
    const first = this.innerStep(target, gates);
    for (let s = 1; s < this.config.innerSteps; s++) this.innerStep(target, gates);
    const surprise = this.normalise(first.loss);
    this.pushSurprise(first.loss);
    this.pushWindow();
    this.stepCount++;
    const result: UpdateResult = {
      ...surprise,
      gradNorm: first.gradNorm,
      gates,
      evaluated: true,
      written: true,
      clipped: first.clipped,
      step: this.stepCount,
    };
    if (variantOutput !== undefined) result.variantOutput = variantOutput;
    return result;
  }

  private notWritten(): UpdateResult {
    return {
      loss: 0,
      rawSurprise: 0,
      gradNorm: 0,
      surprise: 0,
      surpriseZ: 0,
      gates: this.gatesAt(this.oX),
      evaluated: false,
      written: false,
      clipped: false,
      step: this.stepCount,
    };
  }

  private pushWindow(): void {
    const { h, dk, dv } = this;
    const slot = this.winHead;
    for (let i = 0; i < dk; i++) this.winK[slot * dk + i] = h[this.oK + i]!;
    for (let i = 0; i < dv; i++) this.winV[slot * dv + i] = h[this.oV + i]!;
    this.winHead = (slot + 1) % this.config.attnWindow;
    if (this.winCount < this.config.attnWindow) this.winCount++;
  }

  private normalise(loss: number): {
    loss: number;
    rawSurprise: number;
    surprise: number;
    surpriseZ: number;
  } {
    const x = Math.log(loss + LOG_EPS);
    const n = this.surpCount;
    const w = this.surp;
    let less = 0;
    let equal = 0;
    let sum = 0;
    let sum2 = 0;
    for (let i = 0; i < n; i++) {
      const v = w[i]!;
      if (v < x) less++;
      else if (v === x) equal++;
      sum += v;
      sum2 += v * v;
    }
    const surprise = n === 0 ? 1 : (less + 0.5 * equal) / n;
    let z = 0;
    if (n >= 2) {
      const mean = sum / n;
      const variance = Math.max(0, sum2 / n - mean * mean);
      if (variance > 1e-18) z = (x - mean) / Math.sqrt(variance);
    }
    return { loss, rawSurprise: loss, surprise, surpriseZ: z };
  }

  private pushSurprise(loss: number): void {
    this.surp[this.surpHead] = Math.log(loss + LOG_EPS);
    this.surpHead = (this.surpHead + 1) % this.surp.length;
    if (this.surpCount < this.surp.length) this.surpCount++;
  }

  // ---- outer-loop plumbing -------------------------------------------------------------------------------------------
  private outerParams(): OuterParams {
    const { h, din, dk, dv } = this;
    const f64 = (off: number, n: number) => Float64Array.from(h.subarray(off, off + n));
    return {
      WK: f64(this.oWK, dk * din),
      WQ: f64(this.oWQ, dk * din),
      WV: f64(this.oWV, dv * din),
      gateW: this.gateW.slice(),
      gateB: this.gateB.slice(),
    };
  }

  private setOuterParams(p: OuterParams): void {
    const { h } = this;
    h.set(p.WK, this.oWK);
    h.set(p.WQ, this.oWQ);
    h.set(p.WV, this.oWV);
    this.gateW.set(p.gateW);
    this.gateB.set(p.gateB);
  }

  private initLayers(): {
    W: Float64Array;
    b: Float64Array;
    rows: number;
    cols: number;
    anchored: boolean;
  }[] {
    const { h } = this;
    return this.layers.map((l) => ({
      W: Float64Array.from(h.subarray(l.W0, l.W0 + l.rows * l.cols)),
      b: Float64Array.from(h.subarray(l.b0, l.b0 + l.rows)),
      rows: l.rows,
      cols: l.cols,
      anchored: l.anchored,
    }));
  }
}

function sumSq(h: Float32Array, off: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += h[off + i]! * h[off + i]!;
  return s;
}

function normalise(h: Float32Array, off: number, n: number): void {
  const norm = Math.sqrt(sumSq(h, off, n));
  if (norm > 0) for (let i = 0; i < n; i++) h[off + i] = h[off + i]! / norm;
}
