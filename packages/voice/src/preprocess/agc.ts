// Automatic gain control toward a target speech level, with a gate and a peak limiter.
//
// Design (streaming, sample-accurate, independent of how the stream is chunked):
// - Level detection runs on fixed 10 ms blocks counted from the start of the stream. At the end of each
//   block its power, smoothed over ~30 ms (dBFS, RMS re full scale), is compared with the gate: a block
//   counts as "active" only if it is above `gateDbfs` AND at least `gateAboveFloorDb` above the tracked noise
//   floor. The floor falls quickly toward quieter levels and rises slowly (FLOOR_RISE_DB_PER_S), a
//   minimum-statistics tracker. (Pink noise without a high-pass wanders ~11 dB between 10 ms blocks, hence
//   the smoothing and the 12 dB default margin.)
// - Active blocks update the speech level estimate (power averaged with time constant `levelMs`); the
//   desired gain is target - level, clamped to [-maxCutDb, maxGainDb]. Inactive blocks (silence, steady
//   noise) leave the gain where it was, so the noise floor is never pumped up; before the first active
//   block the gain is 0 dB.
// - The applied gain follows the desired gain per sample with one-pole smoothing: `attackMs` when the gain
//   must fall (loud onset), `releaseMs` when it may rise.
// - A peak limiter (instant attack, `limiterReleaseMs` release) keeps |output| <= 10^(limiterDbfs/20) < 1,
//   so the output never clips whatever the gain.
// The gain applied within a block is decided from earlier blocks only: no look-ahead, no added latency.

export interface AgcOptions {
  /** Target RMS level of active speech, dBFS (default -20). */
  targetDbfs: number;
  /** Largest boost, dB (default 30). */
  maxGainDb: number;
  /** Largest cut, dB (default 20). */
  maxCutDb: number;
  /** Blocks below this level (dBFS) never move the gain (default -55). */
  gateDbfs: number;
  /** Blocks must also be this far above the tracked noise floor (default 12 dB). */
  gateAboveFloorDb: number;
  /** Time constant of the speech level estimate over active audio, ms (default 400). */
  levelMs: number;
  /** Gain smoothing when the gain falls, ms (default 20). */
  attackMs: number;
  /** Gain smoothing when the gain rises, ms (default 300). */
  releaseMs: number;
  /** Limiter ceiling, dBFS (default -1). */
  limiterDbfs: number;
  /** Limiter release, ms (default 50). */
  limiterReleaseMs: number;
}

export const DEFAULT_AGC_OPTIONS: Readonly<AgcOptions> = Object.freeze({
  targetDbfs: -20,
  maxGainDb: 30,
  maxCutDb: 20,
  gateDbfs: -55,
  gateAboveFloorDb: 12,
  levelMs: 400,
  attackMs: 20,
  releaseMs: 300,
  limiterDbfs: -1,
  limiterReleaseMs: 50,
});

const BLOCK_MS = 10;
const FLOOR_RISE_DB_PER_S = 2;
/** The gate looks at the block power smoothed over ~30 ms (one-pole, per block). */
const GATE_SMOOTH = 1 - Math.exp(-1 / 3);
/** The floor falls to a quieter level quickly (per block) but not instantly, so it sits near a low percentile. */
const FLOOR_FALL = 0.3;
const POWER_EPS = 1e-12;

const db2lin = (db: number) => Math.pow(10, db / 20);
const coef = (ms: number, rate: number) => (ms <= 0 ? 1 : 1 - Math.exp(-1000 / (ms * rate)));

export class AutoGain {
  readonly options: Readonly<AgcOptions>;
  private readonly blockLen: number;
  private readonly levelCoef: number;
  private readonly attack: number;
  private readonly release: number;
  private readonly ceiling: number;
  private readonly limRelease: number;
  private readonly floorRise: number;
  private blockPow = 0;
  private blockFill = 0;
  private floorDb: number | undefined;
  private gatePow: number | undefined; // block power smoothed over ~GATE_SMOOTH_BLOCKS blocks
  private levelPow: number | undefined;
  private target = 1; // desired linear gain
  private gain = 1; // applied linear gain
  private peak = 0; // limiter envelope

  constructor(
    readonly sampleRate: number,
    options: Partial<AgcOptions> = {},
  ) {
    const o: AgcOptions = { ...DEFAULT_AGC_OPTIONS };
    for (const [k, v] of Object.entries(options))
      if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
    for (const [k, v] of Object.entries(o)) {
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new RangeError(`agc ${k} must be a finite number`);
    }
    if (o.targetDbfs >= 0) throw new RangeError(`agc targetDbfs must be < 0 (got ${o.targetDbfs})`);
    if (o.maxGainDb < 0 || o.maxCutDb < 0) throw new RangeError('agc maxGainDb and maxCutDb must be >= 0');
    if (o.limiterDbfs > 0) throw new RangeError(`agc limiterDbfs must be <= 0 (got ${o.limiterDbfs})`);
    this.options = Object.freeze(o);
    this.blockLen = Math.max(1, Math.round((sampleRate * BLOCK_MS) / 1000));
    this.levelCoef = 1 - Math.exp(-BLOCK_MS / o.levelMs);
    this.attack = coef(o.attackMs, sampleRate);
    this.release = coef(o.releaseMs, sampleRate);
    this.ceiling = db2lin(o.limiterDbfs);
    this.limRelease = 1 - coef(o.limiterReleaseMs, sampleRate);
    this.floorRise = (FLOOR_RISE_DB_PER_S * BLOCK_MS) / 1000;
  }

  /** Current applied gain in dB. */
  get gainDb(): number {
    return 20 * Math.log10(this.gain);
  }

  /** Processes `samples` in place and returns them. */
  process(samples: Float32Array): Float32Array {
    const { attack, release, ceiling, limRelease, blockLen } = this;
    let { gain, peak, blockPow, blockFill, target } = this;
    for (let i = 0; i < samples.length; i++) {
      const x = samples[i] as number;
      blockPow += x * x;
      if (++blockFill === blockLen) {
        this.endBlock(blockPow / blockLen);
        target = this.target;
        blockPow = 0;
        blockFill = 0;
      }
      gain += (target - gain) * (target < gain ? attack : release);
      let y = x * gain;
      const a = y < 0 ? -y : y;
      peak *= limRelease;
      if (a > peak) peak = a;
      if (peak > ceiling) y *= ceiling / peak;
      samples[i] = y;
    }
    this.gain = gain;
    this.peak = peak;
    this.blockPow = blockPow;
    this.blockFill = blockFill;
    return samples;
  }

  private endBlock(power: number): void {
    const o = this.options;
    this.gatePow = this.gatePow === undefined ? power : this.gatePow + GATE_SMOOTH * (power - this.gatePow);
    const lvl = 10 * Math.log10(this.gatePow + POWER_EPS);
    if (this.floorDb === undefined) this.floorDb = lvl;
    else if (lvl < this.floorDb) this.floorDb += FLOOR_FALL * (lvl - this.floorDb);
    else this.floorDb += this.floorRise;
    const active = lvl > o.gateDbfs && lvl >= this.floorDb + o.gateAboveFloorDb;
    if (!active) return;
    this.levelPow =
      this.levelPow === undefined ? power : this.levelPow + this.levelCoef * (power - this.levelPow);
    const levelDb = 10 * Math.log10(this.levelPow + POWER_EPS);
    const want = Math.max(-o.maxCutDb, Math.min(o.maxGainDb, o.targetDbfs - levelDb));
    this.target = db2lin(want);
  }

  reset(): void {
    this.blockPow = this.blockFill = this.peak = 0;
    this.floorDb = this.levelPow = this.gatePow = undefined;
    this.target = this.gain = 1;
  }
}
