// The fused audio preprocessor: one streaming pass over incoming PCM that decodes, resamples to 16 kHz mono,
// high-passes, suppresses noise (RNNoise), applies automatic gain and runs VAD on the cleaned audio.
//
// Signal path (each stage can be switched off):
//   bytes -> decode + downmix (input rate)
//     denoise on:  -> resample to 48 kHz (skipped for 48 kHz input) -> high-pass @48k -> RNNoise @48k
//                  -> resample 48 kHz -> 16 kHz
//     denoise off: -> resample to 16 kHz -> high-pass @16k
//   -> AGC @16k -> output samples; VAD (Silero) on the output.
// Why RNNoise runs at 48 kHz even for 16 kHz input (16k -> 48k -> 16k round trip): see denoise.ts. The
// high-pass runs before RNNoise so rumble and DC do not reach its noise estimate.
// With every stage off the output is exactly `PcmTo16k`'s (same decoder, same resampler).
//
// Every stage is chunk-invariant (the decoder keeps partial frames, the resamplers are streaming, the filters
// and the AGC work per sample on absolute positions, RNNoise and VAD buffer partial frames), so the
// concatenated output and the events do not depend on how the input is split.
//
// The 48 kHz hop around RNNoise for input at <= 16 kHz (content below 8 kHz, output at 16 kHz) uses a short
// resampling filter (DENOISE_HOP_RESAMPLER: 8 zero crossings instead of 24, cutoff 0.95 instead of 0.9 of
// the 8 kHz Nyquist), 3x cheaper. The 16k -> 48k -> 16k round trip then passes 5 kHz within 0.01 dB,
// 6 kHz at -0.7 dB and 7 kHz at -5.2 dB (long filter: 0.0 / 0.0 / -5.3 dB); the denoise quality figures
// (noise drop, speech level, SNR gain; denoise.test.ts) were unchanged to within 0.1 dB. Higher input rates
// keep the long filter: their 48 kHz signal has content up to 20 kHz that the 48k -> 16k step must reject.
//
// Latency (`latencyMs`): RNNoise adds 10 ms of algorithmic delay plus up to 10 ms of frame buffering; the
// resamplers wait for their filter look-ahead (~0.5-3 ms each). Output stays aligned to the input timeline
// (delays are compensated), so VAD timestamps are in input stream time.
import { badRequest } from '@synthians/kit';
import { type PcmFormat, PcmStreamDecoder } from '../audio/pcm.ts';
import { Resampler, type ResamplerOptions, TARGET_SAMPLE_RATE } from '../audio/resample.ts';
import { VadDetector, type VadConfig, type VadEvent } from '../vad/detector.ts';
import { SileroVad } from '../vad/silero.ts';
import { AutoGain, type AgcOptions } from './agc.ts';
import {
  NoiseSuppressor,
  RNNOISE_DELAY_SAMPLES,
  RNNOISE_FRAME_SIZE,
  RNNOISE_SAMPLE_RATE,
} from './denoise.ts';
import { DEFAULT_HIGHPASS_HZ, HighPassFilter } from './highpass.ts';

export type StageName = 'decode' | 'resample' | 'highpass' | 'denoise' | 'agc' | 'vad';
export const STAGE_NAMES: readonly StageName[] = ['decode', 'resample', 'highpass', 'denoise', 'agc', 'vad'];

export interface StageSwitches {
  highpass?: boolean;
  denoise?: boolean;
  agc?: boolean;
  vad?: boolean;
}

export interface FusedPreprocessorOptions {
  input: PcmFormat;
  /** Every stage defaults to on. Decoding and resampling to 16 kHz always run. */
  stages?: StageSwitches;
  /** High-pass cutoff in Hz (default 80). */
  highpassHz?: number;
  /** AGC target level of active speech in dBFS (default -20). */
  agcTargetDbfs?: number;
  /** AGC maximum boost in dB (default 30). */
  agcMaxGainDb?: number;
  /** Further AGC tuning; `agcTargetDbfs` / `agcMaxGainDb` win over the same fields here. */
  agc?: Partial<AgcOptions>;
  /** VAD configuration (see `VadConfig`). */
  vad?: Partial<VadConfig>;
}

export interface StageStat {
  /** Wall seconds spent in the stage (for VAD: including the wait on onnxruntime). */
  seconds: number;
  /** Number of times the stage ran (once per push / end that had audio for it). */
  calls: number;
}

export interface PreprocessorStats {
  stages: Record<StageName, StageStat>;
  /** Seconds of input audio decoded so far. */
  audioSeconds: number;
  /** 16 kHz samples emitted so far. */
  outputSamples: number;
}

export interface PreprocessResult {
  /** Cleaned 16 kHz mono samples (the next part of the output stream). */
  samples: Float32Array;
  /** VAD events produced by this chunk (empty when VAD is off). */
  events: VadEvent[];
}

/**
 * Silero sessions are pooled per process: a stream takes an idle `SileroVad` (or loads a new one) and gives
 * it back, reset, on `close()`. Each stream thus has exclusive use of its VAD state while sessions are
 * reused; `SileroVad` binds state to the session object, so sharing one across live streams is not possible.
 */
const MAX_IDLE_VADS = 8;
const idleVads: SileroVad[] = [];

async function acquireVad(): Promise<SileroVad> {
  return idleVads.pop() ?? (await SileroVad.create());
}

async function releaseVad(vad: SileroVad): Promise<void> {
  vad.reset();
  if (idleVads.length < MAX_IDLE_VADS) idleVads.push(vad);
  else await vad.close();
}

/** Closes the idle pooled Silero sessions (e.g. on shutdown or at the end of a test file). */
export async function closeIdleVads(): Promise<void> {
  const all = idleVads.splice(0);
  await Promise.all(all.map((v) => v.close()));
}

const EMPTY = new Float32Array(0);

/** Filter of the 48 kHz hop around RNNoise for input at <= 16 kHz (see the header comment). */
export const DENOISE_HOP_RESAMPLER: Readonly<ResamplerOptions> = Object.freeze({
  zeroCrossings: 8,
  rolloff: 0.95,
});

/** Option validation inside the stages throws RangeError; a service wants a 400: `invalid_preprocess_options`. */
function optionError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RangeError) throw badRequest('invalid_preprocess_options', err.message);
    throw err;
  }
}

function concat2(a: Float32Array, b: Float32Array): Float32Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Float32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export class FusedPreprocessor {
  readonly input: Readonly<PcmFormat>;
  readonly stages: Readonly<Required<StageSwitches>>;
  /** Worst-case delay between a sample arriving and its cleaned version being emitted, ms. */
  readonly latencyMs: number;
  private readonly decoder: PcmStreamDecoder;
  /** denoise on: input -> 48 kHz (null for 48 kHz input); denoise off: input -> 16 kHz. */
  private readonly resampleIn: Resampler | null;
  /** denoise on: 48 kHz -> 16 kHz. */
  private readonly resampleOut: Resampler | null;
  private readonly highpass: HighPassFilter | null;
  private readonly denoise: NoiseSuppressor | null;
  private readonly agc: AutoGain | null;
  private readonly vad: VadDetector | null;
  private readonly sileroVad: SileroVad | null;
  private readonly timing: Record<StageName, StageStat>;
  private inputFrames = 0;
  private outputSamples = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private ended = false;
  private closed = false;
  private failure: unknown;

  private constructor(
    options: FusedPreprocessorOptions,
    denoise: NoiseSuppressor | null,
    silero: SileroVad | null,
  ) {
    const s = options.stages ?? {};
    this.stages = Object.freeze({
      highpass: s.highpass ?? true,
      denoise: s.denoise ?? true,
      agc: s.agc ?? true,
      vad: s.vad ?? true,
    });
    this.decoder = new PcmStreamDecoder(options.input);
    this.input = Object.freeze({ ...this.decoder.format });
    const rate = this.input.sampleRate;
    this.denoise = denoise;
    this.sileroVad = silero;
    const workRate = denoise ? RNNOISE_SAMPLE_RATE : TARGET_SAMPLE_RATE;
    // Input at <= 16 kHz has no content above 8 kHz: the hop to 48 kHz and back can use the short filter.
    const hop = denoise && rate <= TARGET_SAMPLE_RATE ? DENOISE_HOP_RESAMPLER : {};
    this.resampleIn = denoise && rate === RNNOISE_SAMPLE_RATE ? null : new Resampler(rate, workRate, hop);
    this.resampleOut = denoise ? new Resampler(RNNOISE_SAMPLE_RATE, TARGET_SAMPLE_RATE, hop) : null;
    this.highpass = this.stages.highpass
      ? new HighPassFilter(workRate, options.highpassHz ?? DEFAULT_HIGHPASS_HZ)
      : null;
    const agc: Partial<AgcOptions> = { ...options.agc };
    if (options.agcTargetDbfs !== undefined) agc.targetDbfs = options.agcTargetDbfs;
    if (options.agcMaxGainDb !== undefined) agc.maxGainDb = options.agcMaxGainDb;
    this.agc = this.stages.agc ? new AutoGain(TARGET_SAMPLE_RATE, agc) : null;
    this.vad = silero ? new VadDetector(silero, options.vad) : null;
    this.timing = Object.fromEntries(STAGE_NAMES.map((n) => [n, { seconds: 0, calls: 0 }])) as Record<
      StageName,
      StageStat
    >;
    // Resampler look-ahead: ceil(zeroCrossings / min(1, out/in)) input samples (see resample.ts).
    const lookahead = (r: Resampler | null) => (r ? (r.lookahead / r.inRate) * 1000 : 0);
    this.latencyMs = denoise
      ? lookahead(this.resampleIn) +
        ((RNNOISE_FRAME_SIZE + RNNOISE_DELAY_SAMPLES) / RNNOISE_SAMPLE_RATE) * 1000 +
        lookahead(this.resampleOut)
      : lookahead(this.resampleIn);
  }

  /**
   * Validates the format (throws AppError `unsupported_audio_format`), loads RNNoise / Silero as needed
   * (shared per process) and returns a preprocessor for one stream.
   */
  static async create(options: FusedPreprocessorOptions): Promise<FusedPreprocessor> {
    // Validate the format and the options before loading anything (a throw-away instance without models).
    optionError(
      () =>
        new FusedPreprocessor(
          { ...options, stages: { ...options.stages, denoise: false, vad: false } },
          null,
          null,
        ),
    );
    const wantDenoise = options.stages?.denoise ?? true;
    const wantVad = options.stages?.vad ?? true;
    const denoise = wantDenoise ? await NoiseSuppressor.create() : null;
    let silero: SileroVad | null = null;
    try {
      silero = wantVad ? await acquireVad() : null;
      const vad = silero;
      return optionError(() => new FusedPreprocessor(options, denoise, vad));
    } catch (err) {
      denoise?.close();
      if (silero) await releaseVad(silero);
      throw err;
    }
  }

  /** Feeds raw PCM bytes in the input format (any chunk size). */
  push(bytes: Uint8Array): Promise<PreprocessResult> {
    return this.enqueue(async () => {
      const x = this.timed('decode', () => this.decoder.push(bytes));
      return this.process(x, false);
    });
  }

  /** Feeds mono float samples at the input rate (already decoded and downmixed). */
  pushSamples(samples: Float32Array): Promise<PreprocessResult> {
    return this.enqueue(async () => {
      const x = this.timed('decode', () => {
        for (let i = 0; i < samples.length; i++) {
          const v = samples[i] as number;
          if (!Number.isFinite(v)) {
            throw badRequest(
              'non_finite_samples',
              `Sample ${this.inputFrames + i} is ${v}; audio must be finite`,
              {
                frame: this.inputFrames + i,
                channel: 0,
              },
            );
          }
        }
        return samples.slice();
      });
      return this.process(x, false);
    });
  }

  /**
   * Ends the stream: returns the rest of the output and the final VAD events (open speech is closed).
   * Throws AppError `truncated_audio` if the bytes ended mid-frame.
   */
  /**
   * The VAD's open pause: while speech is open and silent since its (refined) end, that end in output stream
   * time (ms); undefined otherwise or without the VAD stage. See `VadDetector.pausedSinceMs`.
   */
  get vadPausedSinceMs(): number | undefined {
    return this.vad?.pausedSinceMs;
  }

  end(): Promise<PreprocessResult> {
    return this.enqueue(async () => {
      this.timed('decode', () => this.decoder.end());
      const result = await this.process(EMPTY, true);
      this.ended = true;
      return result;
    });
  }

  /** Per-stage time and the amount of audio processed. */
  stats(): PreprocessorStats {
    const stages = Object.fromEntries(STAGE_NAMES.map((n) => [n, { ...this.timing[n] }])) as Record<
      StageName,
      StageStat
    >;
    return {
      stages,
      audioSeconds: this.inputFrames / this.input.sampleRate,
      outputSamples: this.outputSamples,
    };
  }

  /** Frees the RNNoise state and returns the Silero session to the pool; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    this.denoise?.close();
    if (this.sileroVad) await releaseVad(this.sileroVad);
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      if (this.closed) throw new Error('FusedPreprocessor is closed');
      if (this.failure !== undefined) throw this.failure;
      if (this.ended) throw badRequest('stream_ended', 'The audio stream has already ended');
      try {
        return await fn();
      } catch (err) {
        // The stages hold partial state for the failed chunk: the stream cannot continue.
        this.failure = err;
        throw err;
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private timed<T>(stage: StageName, fn: () => T): T {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      const t = this.timing[stage];
      t.seconds += (performance.now() - t0) / 1000;
      t.calls++;
    }
  }

  private async process(x: Float32Array, final: boolean): Promise<PreprocessResult> {
    this.inputFrames += x.length;
    let y: Float32Array;
    if (this.denoise) {
      const denoise = this.denoise;
      const up = this.resampleIn;
      const down = this.resampleOut as Resampler;
      let w = up ? this.timed('resample', () => (final ? concat2(up.push(x), up.flush()) : up.push(x))) : x;
      if (this.highpass && w.length > 0) {
        // In place: `w` is the resampler's fresh output, or the decoder's / pushSamples' own copy.
        const hp = this.highpass;
        const src = w;
        w = this.timed('highpass', () => hp.process(src));
      }
      const d = this.timed('denoise', () => {
        const a = w.length > 0 ? denoise.push(w) : EMPTY;
        return final ? concat2(a, denoise.flush()) : a;
      });
      y = this.timed('resample', () => (final ? concat2(down.push(d), down.flush()) : down.push(d)));
    } else {
      const r = this.resampleIn as Resampler;
      y = this.timed('resample', () => (final ? concat2(r.push(x), r.flush()) : r.push(x)));
      if (this.highpass && y.length > 0) {
        const hp = this.highpass;
        const src = y;
        y = this.timed('highpass', () => hp.process(src));
      }
    }
    if (this.agc && y.length > 0) {
      const agc = this.agc;
      const src = y;
      this.timed('agc', () => agc.process(src));
    }
    this.outputSamples += y.length;
    let events: VadEvent[] = [];
    if (this.vad && (y.length > 0 || final)) {
      const vad = this.vad;
      const t0 = performance.now();
      events = await vad.push(y);
      if (final) events = events.concat(await vad.flush());
      const t = this.timing.vad;
      t.seconds += (performance.now() - t0) / 1000;
      t.calls++;
    }
    return { samples: y, events };
  }
}

/**
 * Runs a whole float32 mono signal through a fresh preprocessor in 1 s pushes (as a microphone stream arrives)
 * and returns the cleaned 16 kHz samples: the assistant's audio path, offline (tests, training scripts).
 */
export async function preprocessOffline(
  samples: Float32Array,
  sampleRate = TARGET_SAMPLE_RATE,
  stages: StageSwitches = { highpass: true, denoise: true, agc: true, vad: false },
): Promise<Float32Array> {
  const pre = await FusedPreprocessor.create({
    input: { encoding: 'pcm_f32le', sampleRate, channels: 1 },
    stages,
  });
  try {
    const parts: Float32Array[] = [];
    for (let at = 0; at < samples.length; at += sampleRate)
      parts.push((await pre.pushSamples(samples.subarray(at, at + sampleRate))).samples);
    parts.push((await pre.end()).samples);
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  } finally {
    await pre.close();
  }
}
