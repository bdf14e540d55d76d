// Configuration of a NeuralMemory: every option, its default and what it means.
import { badRequest } from '@synthians/kit';
import type { Backend } from './kernels.ts';

export type Activation = 'silu' | 'gelu' | 'tanh';
export type MemoryMode = 'associative' | 'sequence';
export type Variant = 'NONE' | 'MAC' | 'MAG' | 'MAL';
export const VARIANTS: readonly Variant[] = ['NONE', 'MAC', 'MAG', 'MAL'];

export interface NeuralMemoryConfig {
  /** d_in: length of the input embeddings x. */
  inputDim: number;
  /** d_k: length of keys k = W_K·x and queries q = W_Q·x (both L2-normalised). */
  keyDim: number;
  /** d_v: length of values v = W_V·x and of the memory's output. */
  valueDim: number;
  /**
   * Hidden layer widths of the memory MLP M: d_k → hiddenDims… → d_v. `[512]` is a 2-layer MLP (128→512→768);
   * `[]` is a linear memory (one d_v × d_k matrix plus bias, "depth 1").
   */
  hiddenDims: readonly number[];
  /** Hidden nonlinearity: SiLU z·σ(z) (default), GELU z·Φ(z) (exact, erf-based) or tanh. */
  activation: Activation;
  /**
   * 'associative': k and v both come from the current input x (auto-association; retrieve(x) recalls v(x)).
   * 'sequence': k comes from the previous input x_{t−1}, v from x_t, so predictNext(x_t) = M(q(x_t)) ≈ v(x_{t+1}).
   */
  mode: MemoryMode;
  /** How the short-term attention window is combined with the memory (see memory.ts for the exact definitions). */
  variant: Variant;

  // ---- initialisation ------------------------------------------------------------------------------------------
  /**
   * W_V at creation: 'identity' (needs valueDim = inputDim; values live in the embedding space, so retrieve() and
   * predictNext() return embeddings comparable with the inputs) or 'random' (N(0, 1/d_in) entries).
   */
  valueInit: 'identity' | 'random';
  /** W_Q starts equal to W_K (so a query addresses the slot its input was written to); trainOuter unties them. */
  tieQueryToKey: boolean;
  /**
   * Std of the first memory layer's weights. Keys are unit vectors, so pre-activations are ~N(bias, std²): with the
   * usual 1/√fan_in the layer would sit in SiLU's linear region and the MLP would act like a 128-d linear memory.
   */
  firstLayerInitStd: number;
  /** Std × √fan_in of the weights of hidden→hidden layers (only when hiddenDims has 2+ entries). */
  deepLayerInitGain: number;
  /**
   * Initial bias of every hidden unit. Negative values make the features sparse (fewer units active per key),
   * which decorrelates the features of similar keys and reduces interference between stored items.
   */
  hiddenBiasInit: number;
  /** Output layer at creation: 'zero' (an empty memory answers 0) or 'random' (N(0, 1/fan_in)). */
  outputInit: 'zero' | 'random';

  // ---- inner loop (test-time learning) ------------------------------------------------------------------------
  /**
   * What forgetting decays towards: 'init' — M ← M₀ + (1−α)(M − M₀) + S, i.e. the paper's rule applied to the
   * deviation from the initial memory M₀ (the random first-layer features survive, only what was written fades) —
   * or 'zero' — the paper's literal M ← (1−α)M + S (with α ≈ 0.01 this erases the first layer within a few hundred
   * updates and recall collapses). Identical for layers that start at zero (the output layer by default).
   */
  forgetTarget: 'init' | 'zero';
  /** α = σ(w_α·x + b_α): initial b_α is chosen so that α = alphaInit when w_α·x = 0. Forgetting rate per update. */
  alphaInit: number;
  /** θ = thetaMax · σ(w_θ·x + b_θ): initial b_θ gives σ = thetaInit, i.e. θ = thetaInit·thetaMax. Learning rate. */
  thetaInit: number;
  /**
   * The scale of θ (its upper bound). The loss is a sum over d_v and the output layer's gradient is 2e⊗h with
   * ‖h‖² ≈ 100 at the defaults, so a write removes ≈ 2θ‖h‖² ≈ 0.1 of the item's error at once and ≈ 0.2 once
   * its momentum has decayed (× 1/(1−η)).
   */
  thetaMax: number;
  /** η = σ(w_η·x + b_η): initial b_η gives η = etaInit. Momentum ("past surprise") decay. */
  etaInit: number;
  /** Initial gate weights w ~ N(0, gateInitStd²) per component: σ's argument varies by ≈ ±gateInitStd for unit x. */
  gateInitStd: number;
  /** Gradient-norm clipping: the inner gradient is scaled by min(1, maxGradNorm/‖∇ℓ‖). Infinity disables it. */
  maxGradNorm: number;
  /** Gradient steps per write (each a full momentum + forgetting step on the same (k, v)). */
  innerSteps: number;

  // ---- surprise ---------------------------------------------------------------------------------------------------
  /** W: the normalised surprise is the loss's mid-rank among the last W losses (empirical CDF), in [0, 1]. */
  surpriseWindow: number;

  // ---- variants -----------------------------------------------------------------------------------------------------
  /** W_attn: number of recent (k, v) pairs the attention of MAC/MAG/MAL sees. */
  attnWindow: number;
  /** Attention logits are attnScale·(q·k_j) (unit vectors, so this is an inverse temperature). */
  attnScale: number;
  /** MAG output gate: λ = σ(magSharpness·(max_j q·k_j − magThreshold)) weighs attention against memory. */
  magThreshold: number;
  magSharpness: number;
  /** MAG write: gates are scaled by (1 − magGateStrength·max(0, cos(Attn(k), v))). */
  magGateStrength: number;

  /** Compute backend: 'wasm' (SIMD, used when every layer's input width is a multiple of 4) or 'js'. */
  backend: Backend;
}

/**
 * The defaults: a 768-d embedding stream, 128-d keys, memory 128→512→768 (SiLU). The memory's initialisation and
 * gates were tuned with bench/neural-memory.ts (associative recall of clustered embeddings against a delta-rule
 * baseline, and surprise as a novelty detector):
 *  - firstLayerInitStd 3 with hiddenBiasInit −4.5: pre-activations ~N(−4.5, 3²), ≈ 7 % of the 512 units active per
 *    key — sparse, nearly decorrelated features for similar keys (at std 1, bias −1 recall of 256 clustered pairs
 *    was 0.34 instead of 0.81);
 *  - α ≈ 0.001 (forgetting time scale ~1000 writes; α = 0.01 halved recall at N = 256, to below the baseline);
 *  - θ ≈ 0.1 · thetaMax = 0.0005 (the scale is documented at thetaMax);
 *  - η ≈ 0.5: with η = 0.9 a write takes effect over ~10 later updates, so the most recent items are under-written
 *    (recall of 16 pairs fell to 0.91); 0.5 keeps the momentum ("past surprise") with a short horizon.
 */
export const defaults = {
  inputDim: 768,
  keyDim: 128,
  valueDim: 768,
  hiddenDims: [512],
  activation: 'silu',
  mode: 'associative',
  variant: 'NONE',
  valueInit: 'identity',
  tieQueryToKey: true,
  firstLayerInitStd: 3,
  deepLayerInitGain: 2,
  hiddenBiasInit: -4.5,
  outputInit: 'zero',
  forgetTarget: 'init',
  alphaInit: 0.001,
  thetaInit: 0.1,
  thetaMax: 0.005,
  etaInit: 0.5,
  gateInitStd: 0.1,
  maxGradNorm: 50,
  innerSteps: 1,
  surpriseWindow: 256,
  attnWindow: 16,
  attnScale: 10,
  magThreshold: 0.8,
  magSharpness: 20,
  magGateStrength: 0.5,
  backend: 'wasm',
} as const satisfies NeuralMemoryConfig;

export type ResolvedConfig = Readonly<
  Omit<NeuralMemoryConfig, 'hiddenDims'> & { hiddenDims: readonly number[] }
>;

const invalid = (message: string, field: string) => badRequest('invalid_config', message, { field });

function int(cfg: NeuralMemoryConfig, key: keyof NeuralMemoryConfig, min: number, max: number): void {
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw invalid(`${key} must be an integer in [${min}, ${max}], got ${String(v)}`, key);
}

function num(
  cfg: NeuralMemoryConfig,
  key: keyof NeuralMemoryConfig,
  lo: number,
  hi: number,
  open = false,
): void {
  const v = cfg[key];
  const ok = typeof v === 'number' && !Number.isNaN(v) && (open ? v > lo && v < hi : v >= lo && v <= hi);
  if (!ok)
    throw invalid(`${key} must be a number in ${open ? '(' : '['}${lo}, ${hi}${open ? ')' : ']'}`, key);
}

function oneOf<T>(cfg: NeuralMemoryConfig, key: keyof NeuralMemoryConfig, values: readonly T[]): void {
  if (!values.includes(cfg[key] as T)) throw invalid(`${key} must be one of ${values.join(', ')}`, key);
}

/** Defaults overlaid with `partial`, validated (AppError 400 'invalid_config'), frozen. */
export function resolveConfig(partial: Partial<NeuralMemoryConfig> = {}): ResolvedConfig {
  const cfg: NeuralMemoryConfig = { ...defaults, ...stripUndefined(partial) };
  int(cfg, 'inputDim', 1, 1 << 16);
  int(cfg, 'keyDim', 1, 1 << 16);
  int(cfg, 'valueDim', 1, 1 << 16);
  if (!Array.isArray(cfg.hiddenDims) || cfg.hiddenDims.length > 8)
    throw invalid('hiddenDims must be an array of at most 8 widths', 'hiddenDims');
  for (const h of cfg.hiddenDims)
    if (!Number.isInteger(h) || h < 1 || h > 1 << 16)
      throw invalid('hiddenDims entries must be positive integers', 'hiddenDims');
  oneOf(cfg, 'activation', ['silu', 'gelu', 'tanh']);
  oneOf(cfg, 'mode', ['associative', 'sequence']);
  oneOf(cfg, 'variant', VARIANTS);
  oneOf(cfg, 'valueInit', ['identity', 'random']);
  if (cfg.valueInit === 'identity' && cfg.valueDim !== cfg.inputDim)
    throw invalid("valueInit 'identity' needs valueDim === inputDim", 'valueInit');
  if (typeof cfg.tieQueryToKey !== 'boolean')
    throw invalid('tieQueryToKey must be a boolean', 'tieQueryToKey');
  num(cfg, 'firstLayerInitStd', 0, 1e3);
  num(cfg, 'deepLayerInitGain', 0, 1e3);
  num(cfg, 'hiddenBiasInit', -1e3, 1e3);
  oneOf(cfg, 'outputInit', ['zero', 'random']);
  oneOf(cfg, 'forgetTarget', ['init', 'zero']);
  num(cfg, 'alphaInit', 0, 1, true);
  num(cfg, 'thetaInit', 0, 1, true);
  num(cfg, 'etaInit', 0, 1, true);
  num(cfg, 'thetaMax', 0, 1e6, true);
  num(cfg, 'gateInitStd', 0, 1e3);
  if (typeof cfg.maxGradNorm !== 'number' || !(cfg.maxGradNorm > 0))
    throw invalid('maxGradNorm must be a positive number (Infinity disables clipping)', 'maxGradNorm');
  int(cfg, 'innerSteps', 1, 64);
  int(cfg, 'surpriseWindow', 1, 1 << 20);
  int(cfg, 'attnWindow', 1, 4096);
  num(cfg, 'attnScale', 0, 1e4);
  num(cfg, 'magThreshold', -1, 1);
  num(cfg, 'magSharpness', 0, 1e4);
  num(cfg, 'magGateStrength', 0, 1);
  oneOf(cfg, 'backend', ['wasm', 'js']);
  return Object.freeze({ ...cfg, hiddenDims: Object.freeze([...cfg.hiddenDims]) });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

export const logit = (p: number) => Math.log(p / (1 - p));
