// Band-limited sample-rate conversion to (by default) 16 kHz: a windowed-sinc polyphase FIR resampler.
//
// Filter: ideal low-pass sinc with cutoff fc = ROLLOFF * min(inRate, outRate) / 2, multiplied by a
// Kaiser window (beta = KAISER_BETA) spanning ZERO_CROSSINGS sinc zero crossings each side at the lower
// of the two rates. For a rational ratio outRate/inRate = L/M the output sample n sits at input time
// n*M/L, so only L distinct fractional offsets ("phases") exist; the taps for each phase are computed
// once and normalised to unity DC gain. Taps per phase = 2 * ceil(ZERO_CROSSINGS * inRate / min(in, out)):
// 48 for upsampling 8 kHz -> 16 kHz, 144 for 48 kHz -> 16 kHz, 134 for 44.1 kHz -> 16 kHz.
// The filter is zero-phase (symmetric and centred on the output instant): no delay is added, and the
// input is treated as zero before its start and after its end (flush()).
//
// Why not the `speex-resampler` npm package (v3, WASM)? It works from Node, but its only entry point is
// 16-bit interleaved integer I/O (float input would be quantised and clipped), it exposes no way to
// drain the filter tail, and its wrapper ignores how much input Speex consumed when its output buffer is
// undersized, so small chunks silently lose samples (pushing a 44.1 kHz tone one sample at a time gave 0
// output samples instead of 1600): chunked streaming could not match one-shot processing.

export const ZERO_CROSSINGS = 24;
export const ROLLOFF = 0.9;
export const KAISER_BETA = 8.6;

export const TARGET_SAMPLE_RATE = 16000;

export interface ResamplerOptions {
  /**
   * Filter length: sinc zero crossings each side at the lower of the two rates (default ZERO_CROSSINGS = 24).
   * Cost per output sample is proportional to it. Shorter filters have a wider transition band (less
   * attenuation just below the cutoff, less rejection just above it); e.g. 8 is enough for an internal hop
   * whose content is well below the cutoff. Must be an integer >= 1.
   */
  zeroCrossings?: number;
  /**
   * Cutoff as a fraction of the lower rate's Nyquist frequency (default ROLLOFF = 0.9), in (0, 1].
   * A short filter can move it up to keep more of the top of the band, at the price of some aliasing
   * just below the lower Nyquist frequency.
   */
  rolloff?: number;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Modified Bessel function of the first kind, order 0 (power series). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 64; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

interface Filter {
  up: number; // L
  down: number; // M
  half: number; // taps each side of the output instant
  taps: Float64Array[]; // per phase, 2*half taps for input offsets -half+1 .. half
}

const filterCache = new Map<string, Filter>();

function designFilter(inRate: number, outRate: number, zeroCrossings: number, rolloff: number): Filter {
  const key = `${inRate}:${outRate}:${zeroCrossings}:${rolloff}`;
  const cached = filterCache.get(key);
  if (cached) return cached;
  const g = gcd(inRate, outRate);
  const up = outRate / g;
  const down = inRate / g;
  const scale = Math.min(1, outRate / inRate); // cutoff relative to the input Nyquist
  const fc = (rolloff * scale) / 2; // cycles per input sample
  const half = Math.ceil(zeroCrossings / scale);
  const i0Beta = besselI0(KAISER_BETA);
  const taps: Float64Array[] = [];
  for (let p = 0; p < up; p++) {
    const frac = p / up;
    const h = new Float64Array(2 * half);
    let sum = 0;
    for (let j = 0; j < 2 * half; j++) {
      const k = j - half + 1; // input offset relative to floor(t)
      const x = frac - k; // distance from the output instant, in input samples (t - (i + k))
      const r = x / half;
      let v = 0;
      if (Math.abs(r) < 1) {
        const arg = 2 * fc * x;
        const sinc = arg === 0 ? 1 : Math.sin(Math.PI * arg) / (Math.PI * arg);
        v = 2 * fc * sinc * (besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0Beta);
      }
      h[j] = v;
      sum += v;
    }
    for (let j = 0; j < h.length; j++) h[j] = (h[j] ?? 0) / sum;
    taps.push(h);
  }
  const filter = { up, down, half, taps };
  filterCache.set(key, filter);
  return filter;
}

/**
 * Streaming mono resampler. `push` returns every output sample whose filter window is fully
 * available; `flush` pads the end with silence and returns the rest. The concatenated outputs of any
 * sequence of pushes followed by flush are bit-identical to `resample(wholeInput, ...)`, and hold
 * ceil(inputLength * outRate / inRate) samples.
 */
export class Resampler {
  readonly inRate: number;
  readonly outRate: number;
  private readonly filter: Filter | null;
  private buf: Float32Array = new Float32Array(0); // input samples from absolute index bufStart
  private bufStart = 0;
  private bufLen = 0;
  private totalIn = 0;
  private outIndex = 0; // input integer position of the next output: floor(n*M/L)
  private outPhase = 0; // (n*M) mod L
  private flushed = false;

  /** Sinc zero crossings each side (see `ResamplerOptions.zeroCrossings`). */
  readonly zeroCrossings: number;
  /** Cutoff relative to the lower Nyquist frequency (see `ResamplerOptions.rolloff`). */
  readonly rolloff: number;

  constructor(inRate: number, outRate: number = TARGET_SAMPLE_RATE, options: ResamplerOptions = {}) {
    if (!Number.isInteger(inRate) || !Number.isInteger(outRate) || inRate <= 0 || outRate <= 0) {
      throw new RangeError(`Sample rates must be positive integers (got ${inRate} -> ${outRate})`);
    }
    const zc = options.zeroCrossings ?? ZERO_CROSSINGS;
    if (!Number.isInteger(zc) || zc < 1) {
      throw new RangeError(`zeroCrossings must be an integer >= 1 (got ${zc})`);
    }
    const rolloff = options.rolloff ?? ROLLOFF;
    if (!(rolloff > 0 && rolloff <= 1)) throw new RangeError(`rolloff must be in (0, 1] (got ${rolloff})`);
    this.inRate = inRate;
    this.outRate = outRate;
    this.zeroCrossings = zc;
    this.rolloff = rolloff;
    this.filter = inRate === outRate ? null : designFilter(inRate, outRate, zc, rolloff);
  }

  /**
   * Input samples of look-ahead: an output sample is emitted once the input reaches this many samples past
   * its instant (0 when the rates are equal).
   */
  get lookahead(): number {
    return this.filter ? this.filter.half : 0;
  }

  push(chunk: Float32Array): Float32Array {
    if (this.flushed) throw new Error('Resampler.push after flush');
    if (!this.filter) {
      this.totalIn += chunk.length;
      return chunk.slice();
    }
    this.append(chunk);
    return this.produce(false);
  }

  flush(): Float32Array {
    if (this.flushed) return new Float32Array(0);
    this.flushed = true;
    if (!this.filter) return new Float32Array(0);
    return this.produce(true);
  }

  private append(chunk: Float32Array): void {
    if (this.bufLen + chunk.length > this.buf.length) {
      const next = new Float32Array(Math.max(1024, 2 * (this.bufLen + chunk.length)));
      next.set(this.buf.subarray(0, this.bufLen));
      this.buf = next;
    }
    this.buf.set(chunk, this.bufLen);
    this.bufLen += chunk.length;
    this.totalIn += chunk.length;
  }

  private produce(final: boolean): Float32Array {
    const f = this.filter as Filter;
    const { up, down, half, taps } = f;
    // Outputs n with n*M/L < totalIn exist in total; without `final`, also need input up to index + half.
    const buf = this.buf;
    const start = this.bufStart;
    const end = start + this.bufLen; // absolute index just past the last buffered sample
    const limit = final ? this.totalIn : this.totalIn - half; // outputs need outIndex < limit
    // Number of outputs: the n-th next one sits at outIndex + floor((outPhase + n*M) / L).
    const avail = limit - this.outIndex;
    const count = avail <= 0 ? 0 : Math.ceil((avail * up - this.outPhase) / down);
    const out = new Float32Array(count);
    let i = this.outIndex;
    let phase = this.outPhase;
    for (let n = 0; n < count; n++) {
      const h = taps[phase] as Float64Array;
      const first = i - half + 1;
      // Taps whose input index lies in the buffer (outside it the input is zero), in ascending order.
      const jLo = first < start ? start - first : 0;
      const jHi = Math.min(h.length, end - first);
      let acc = 0;
      for (let j = jLo, k = first + jLo - start; j < jHi; j++, k++) {
        acc += (h[j] as number) * (buf[k] as number);
      }
      out[n] = acc;
      phase += down;
      i += Math.floor(phase / up);
      phase %= up;
    }
    this.outIndex = i;
    this.outPhase = phase;
    // Drop input no future output can reach (the next output needs indices >= outIndex - half + 1).
    const keepFrom = Math.max(start, Math.min(end, this.outIndex - half + 1));
    if (keepFrom > start) {
      this.buf.copyWithin(0, keepFrom - start, this.bufLen);
      this.bufLen = end - keepFrom;
      this.bufStart = keepFrom;
    }
    return out;
  }
}

/** One-shot resampling of a whole mono signal. */
export function resample(
  samples: Float32Array,
  inRate: number,
  outRate: number = TARGET_SAMPLE_RATE,
  options: ResamplerOptions = {},
): Float32Array {
  const r = new Resampler(inRate, outRate, options);
  const a = r.push(samples);
  const b = r.flush();
  if (b.length === 0) return a;
  const out = new Float32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
