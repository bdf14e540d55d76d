// A linear-attention delta-rule memory, the baseline the neural memory is compared with:
//   k = R·x / ‖R·x‖ (a fixed random projection, or the input itself), S ∈ R^{d_v × d_k}
//   write: S ← S + β·(v − S·k)·kᵀ          read: y = S·k
// With unit keys and β = 1 a write stores v exactly under k (and disturbs other keys in proportion to their
// overlap with k); smaller β trades that for less interference.
import { badRequest } from '@synthians/kit';
import { Rng } from './rng.ts';
import { toFloat32 } from './validate.ts';

export interface DeltaRuleConfig {
  inputDim: number;
  /** Key width: the state is valueDim × keyDim floats. */
  keyDim: number;
  valueDim: number;
  /** Write strength β ∈ (0, 1]. */
  beta: number;
  /** 'random': R ~ N(0, 1/d_in) (seeded); 'identity': k = x/‖x‖ (needs keyDim === inputDim). */
  keyProjection: 'random' | 'identity';
}

export class DeltaRuleMemory {
  readonly config: Readonly<DeltaRuleConfig>;
  private readonly R: Float32Array;
  private readonly S: Float32Array;
  private readonly k: Float64Array;
  private readonly y: Float64Array;

  private constructor(config: DeltaRuleConfig, seed: number) {
    const { inputDim, keyDim, valueDim, beta, keyProjection } = config;
    for (const [n, v] of Object.entries({ inputDim, keyDim, valueDim }))
      if (!Number.isInteger(v) || v < 1)
        throw badRequest('invalid_config', `${n} must be a positive integer`);
    if (!(beta > 0 && beta <= 1)) throw badRequest('invalid_config', 'beta must be in (0, 1]');
    if (keyProjection === 'identity' && keyDim !== inputDim)
      throw badRequest('invalid_config', "keyProjection 'identity' needs keyDim === inputDim");
    this.config = Object.freeze({ ...config });
    this.R = new Float32Array(keyProjection === 'random' ? keyDim * inputDim : 0);
    const rng = new Rng(seed);
    const std = 1 / Math.sqrt(inputDim);
    for (let i = 0; i < this.R.length; i++) this.R[i] = std * rng.gaussian();
    this.S = new Float32Array(valueDim * keyDim);
    this.k = new Float64Array(keyDim);
    this.y = new Float64Array(valueDim);
  }

  static create(config: Partial<DeltaRuleConfig> = {}, seed = 0): DeltaRuleMemory {
    return new DeltaRuleMemory(
      { inputDim: 768, keyDim: 768, valueDim: 768, beta: 1, keyProjection: 'random', ...config },
      seed,
    );
  }

  /** Number of floats in the state S. */
  get stateSize(): number {
    return this.S.length;
  }

  private key(x: ArrayLike<number>): void {
    const { inputDim, keyDim, keyProjection } = this.config;
    const xs = toFloat32(x, inputDim, 'key embedding');
    let n2 = 0;
    for (let i = 0; i < keyDim; i++) {
      let s = 0;
      if (keyProjection === 'identity') s = xs[i]!;
      else for (let j = 0, o = i * inputDim; j < inputDim; j++, o++) s += this.R[o]! * xs[j]!;
      this.k[i] = s;
      n2 += s * s;
    }
    const norm = Math.sqrt(n2);
    if (norm > 0) for (let i = 0; i < keyDim; i++) this.k[i] = this.k[i]! / norm;
  }

  private readKey(): void {
    const { keyDim, valueDim } = this.config;
    for (let i = 0; i < valueDim; i++) {
      let s = 0;
      for (let j = 0, o = i * keyDim; j < keyDim; j++, o++) s += this.S[o]! * this.k[j]!;
      this.y[i] = s;
    }
  }

  /** Stores `value` under the key of `keyInput`; returns ‖v − S·k‖² before the write. */
  write(keyInput: ArrayLike<number>, value: ArrayLike<number>): number {
    const { keyDim, valueDim, beta } = this.config;
    const v = toFloat32(value, valueDim, 'value');
    this.key(keyInput);
    this.readKey();
    let loss = 0;
    for (let i = 0; i < valueDim; i++) {
      const e = v[i]! - this.y[i]!;
      loss += e * e;
      const t = beta * e;
      for (let j = 0, o = i * keyDim; j < keyDim; j++, o++) this.S[o] = this.S[o]! + t * this.k[j]!;
    }
    return loss;
  }

  read(keyInput: ArrayLike<number>, out?: Float32Array): Float32Array {
    this.key(keyInput);
    this.readKey();
    const dst = out ?? new Float32Array(this.config.valueDim);
    for (let i = 0; i < this.config.valueDim; i++) dst[i] = this.y[i]!;
    return dst;
  }

  reset(): void {
    this.S.fill(0);
  }
}
