// Streaming voice activity detection over 16 kHz mono audio, on top of Silero VAD probabilities.
// Behaviour and defaults follow LiveKit's Silero plugin: speech starts once enough speech has been heard,
// and ends only after a long enough silence, with hysteresis between the two thresholds.
//
// End-of-speech refinement. Silero's probability lags the audio: it typically stays above the threshold for a
// window or two (~70–100 ms) after the last audible speech, so "end of the last speech window" is late, and
// counting the minimum silence from there delays `speech_end` by the same amount. When the probability first
// drops below the deactivation threshold after speech, the detector therefore looks at the audio itself:
// - it keeps the RMS level (dBFS) of every 10 ms block of the recent audio (blocks run continuously over the
//   stream, so the result does not depend on how the audio is chunked);
// - a noise level: the median of the block levels of the last NOISE_HISTORY_MS of non-speech windows
//   (p < deactivation threshold). The median ignores speech tails and noise bursts that fill less than half
//   of that history, and follows stationary background noise;
// - the speech level of the current utterance: a high percentile (SPEECH_PERCENTILE) of the block levels of
//   its speech windows (p >= threshold);
// - it searches backwards from the end of the last speech window for the last block that is clearly speech:
//   louder than both noise level + NOISE_MARGIN_DB and speech level − SPEECH_RANGE_DB (so quiet word-final
//   consonants and decays count as speech in clean audio). The search covers at most MAX_REFINE_MS and never
//   goes before the start of the last window Silero was confident about (p >= CONFIDENT_PROB) nor before the
//   onset; the refined boundary is the end of the block found (the start of the range when none is loud),
//   and never later than the end of the last speech window.
// - The refinement is only used when the audio is clean enough to tell speech from background: at least
//   MIN_NOISE_MS of non-speech audio must have been seen, and the speech level must be at least MIN_SNR_DB
//   above the noise level. Otherwise (speech in heavy noise, where a quiet ending can be buried in the noise
//   but still heard by Silero; or no background estimate yet) the boundary stays at the end of the last
//   speech window, exactly as without refinement.
// The minimum silence is then counted from the boundary: `speech_end` is emitted at the end of the first
// window that ends at least `minSilenceMs` after it, provided every window since the drop has been silence (a
// speech or ambiguous window re-opens the speech exactly as before and the next drop is refined again). Its
// `timestampMs` is the boundary; `detectedAtMs` (the decision time) is >= timestampMs + minSilenceMs. Segments
// from `segments()` use the same boundaries. `new VadDetector(vad, config, { refineEnd: false })` turns it off.
//
// Deciding between windows. Silero needs whole 32 ms windows, so a decision taken only at window ends comes on
// average 16 ms (up to 32 ms) after the minimum silence has passed. With refinement on and a trusted noise
// level, `push` also looks at the samples of the partial window after the last whole one: once the minimum
// silence since the boundary has passed and every 10 ms of that partial audio is below the "clearly speech"
// level, `speech_end` is emitted right there (`detectedAtMs` is the end of the pushed audio). Speech that resumes
// inside the partial window is loud, so the decision waits for Silero's verdict on the whole window as before.
import { Framer } from '../audio/frames.ts';
import { TARGET_SAMPLE_RATE } from '../audio/resample.ts';
import { SILERO_WINDOW_SAMPLES, SileroVad } from './silero.ts';

export interface VadConfig {
  /** Analysis window. Silero v5 at 16 kHz only takes 512 samples, so this must be 32 ms. */
  windowMs: number;
  /** A window is speech when its probability is >= this (LiveKit `activation_threshold`). */
  threshold: number;
  /**
   * A window is silence when its probability is < this (LiveKit `deactivation_threshold`); windows in between
   * neither start nor end speech. `undefined` means `max(threshold - 0.15, 0.01)`.
   */
  negThreshold: number | undefined;
  /** Speech must last this long (counting speech windows since the last silence) before `speech_start`. */
  minSpeechMs: number;
  /** Silence must last this long before `speech_end`. */
  minSilenceMs: number;
  /**
   * Audio kept from before the detected onset and handed over with `speech_start` (`audio`), so a recogniser
   * gets the first syllable. Does not move the event timestamps or segment bounds.
   */
  prefixPaddingMs: number;
}

/** LiveKit-like defaults; every field can be overridden. */
export const DEFAULT_VAD_CONFIG: Readonly<VadConfig> = Object.freeze({
  windowMs: 32,
  threshold: 0.5,
  negThreshold: undefined,
  minSpeechMs: 250,
  minSilenceMs: 550,
  prefixPaddingMs: 500,
});

export interface VadEvent {
  type: 'speech_start' | 'speech_end';
  /**
   * Stream time of the boundary in ms (from the first sample pushed since construction / `reset`):
   * for `speech_start` the start of the first speech window; for `speech_end` the end of the speech: the end of
   * the last speech window, refined backwards from the audio energy when the signal is clean enough (see the
   * header comment).
   */
  timestampMs: number;
  /** Probability of the window that triggered the event. */
  probability: number;
  /**
   * Stream time (ms) at which the decision was made (end of the triggering window, or for an end decided
   * between windows the end of the audio pushed so far); >= `timestampMs`, and for `speech_end`
   * >= `timestampMs + minSilenceMs` (except when `flush` closes open speech).
   */
  detectedAtMs: number;
  /** `speech_start` only: audio from `prefixPaddingMs` before the onset up to `detectedAtMs`. */
  audio?: Float32Array;
}

export interface VadSegment {
  start_ms: number;
  end_ms: number;
}

const SAMPLES_PER_MS = TARGET_SAMPLE_RATE / 1000;

// End-of-speech refinement (see the header comment). Levels are dBFS of 10 ms block RMS.
const BLOCK_MS = 10;
const BLOCK_SAMPLES = BLOCK_MS * SAMPLES_PER_MS;
/** Levels are clamped to [MIN_DB, 0]; digital silence reads as MIN_DB. */
const MIN_DB = -120;
/** Furthest the boundary may move back from the end of the last speech window. */
const MAX_REFINE_MS = 200;
/** The boundary never moves before the start of the last window with at least this probability. */
const CONFIDENT_PROB = 0.8;
/** A block is clearly speech when it is this far above the noise level ... */
const NOISE_MARGIN_DB = 4;
/** ... and no more than this below the utterance's speech level. */
const SPEECH_RANGE_DB = 35;
/** Refinement needs the speech level this far above the noise level; below, the boundary is not moved. */
const MIN_SNR_DB = 10;
/** Non-speech audio needed before the noise level is trusted. */
const MIN_NOISE_MS = 200;
/** Noise level: the median of the last NOISE_HISTORY_MS of non-speech blocks. */
const NOISE_HISTORY_MS = 5000;
/** Speech level: this percentile of the utterance's speech blocks. */
const SPEECH_PERCENTILE = 0.9;
/** Block levels kept for the backward search (must cover MAX_REFINE_MS plus a window). */
const BLOCK_HISTORY = Math.ceil((MAX_REFINE_MS + 64) / BLOCK_MS);

/** Options that are not part of the LiveKit-like configuration. */
export interface VadDetectorOptions {
  /**
   * Refine `speech_end` boundaries from the audio energy and count the minimum silence from there (default
   * true). `false` gives the plain behaviour: the end of the last speech window.
   */
  refineEnd?: boolean;
}

/** Streaming VAD: `push` 16 kHz mono samples (any chunk size), receive start/end events. */
export class VadDetector {
  readonly config: Readonly<VadConfig>;
  private readonly negThreshold: number;
  private readonly framer = new Framer(SILERO_WINDOW_SAMPLES);
  private queue: Promise<unknown> = Promise.resolve();
  // State machine, all times in ms of stream time.
  private windowIndex = 0;
  private consumedSamples = 0;
  private speaking = false;
  private speechRunMs = 0;
  private onsetMs: number | undefined;
  private lastSpeechEndMs = 0;
  // End of speech: the boundary after the drop below the deactivation threshold (undefined while speech goes on).
  private endBoundaryMs: number | undefined;
  /** Probability of the last window processed. */
  private lastProbability = 0;
  private readonly refineEnd: boolean;
  /** Start of the last window with p >= CONFIDENT_PROB in the current utterance. */
  private lastConfidentStartMs = 0;
  // 10 ms block levels: the block being filled, recent levels (ring) for the search, the noise history (ring)
  // and a 1 dB histogram of the current utterance's speech blocks.
  private blockSumSq = 0;
  private blockFill = 0;
  private blockCount = 0;
  private readonly blockDb = new Float64Array(BLOCK_HISTORY);
  private readonly noiseDb = new Float64Array(NOISE_HISTORY_MS / BLOCK_MS);
  private noiseCount = 0;
  private readonly speechHist = new Uint32Array(-MIN_DB + 1);
  private speechBlocks = 0;
  // Recent audio (windows) for the prefix padding handed over with speech_start.
  private history: Float32Array[] = [];
  private readonly historyMax: number;

  constructor(
    private readonly vad: SileroVad,
    config: Partial<VadConfig> = {},
    options: VadDetectorOptions = {},
  ) {
    this.refineEnd = options.refineEnd ?? true;
    const c: VadConfig = { ...DEFAULT_VAD_CONFIG };
    for (const [k, v] of Object.entries(config))
      if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
    validate(c);
    this.config = Object.freeze(c);
    this.negThreshold = c.negThreshold ?? Math.max(c.threshold - 0.15, 0.01);
    // Enough for the prefix plus a long ambiguous run before the start decision.
    this.historyMax = Math.ceil((c.prefixPaddingMs + c.minSpeechMs) / c.windowMs) + 256;
  }

  /** Loads the bundled Silero model and returns a detector. */
  static async create(
    config: Partial<VadConfig> = {},
    options: VadDetectorOptions = {},
  ): Promise<VadDetector> {
    return new VadDetector(await SileroVad.create(), config, options);
  }

  get isSpeaking(): boolean {
    return this.speaking;
  }

  /**
   * While speech is open (after `speech_start`, before `speech_end`) and every window since its end has been
   * silence: the stream time (ms) of that end — the boundary `speech_end` will carry if the silence lasts.
   * Undefined otherwise (no speech, or speech going on). Lets a caller act on a pause before `minSilenceMs`.
   */
  get pausedSinceMs(): number | undefined {
    return this.speaking ? this.endBoundaryMs : undefined;
  }

  /** Feeds samples; resolves to the events the complete 32 ms windows produced. Calls are serialised. */
  push(samples: Float32Array): Promise<VadEvent[]> {
    return this.enqueue(async () => {
      const events: VadEvent[] = [];
      for (const w of this.framer.push(samples)) await this.step(w, events);
      this.endBetweenWindows(events);
      return events;
    });
  }

  /**
   * Ends the stream: the leftover partial window is zero-padded and processed, and open speech is closed
   * with a `speech_end` at the end of the audio. The detector is then reset.
   */
  flush(): Promise<VadEvent[]> {
    return this.enqueue(async () => {
      const events: VadEvent[] = [];
      await this.finish(events);
      return events;
    });
  }

  /** Speech segments of a whole 16 kHz mono recording (the detector is reset before and after). */
  segments(samples: Float32Array): Promise<VadSegment[]> {
    return this.enqueue(async () => {
      this.resetState();
      const out: VadSegment[] = [];
      const events: VadEvent[] = [];
      for (const w of this.framer.push(samples)) await this.step(w, events);
      await this.finish(events);
      let start: number | undefined;
      for (const e of events) {
        if (e.type === 'speech_start') start = e.timestampMs;
        else if (start !== undefined) {
          out.push({ start_ms: start, end_ms: e.timestampMs });
          start = undefined;
        }
      }
      return out;
    });
  }

  /** Forgets all stream state (time restarts at 0). */
  reset(): Promise<void> {
    return this.enqueue(async () => this.resetState());
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async finish(events: VadEvent[]): Promise<void> {
    const pending = this.framer.pending;
    if (pending > 0) await this.step(this.framer.flush(true), events, pending);
    if (this.speaking) {
      const end = this.consumedSamples / SAMPLES_PER_MS;
      events.push({ type: 'speech_end', timestampMs: end, probability: 0, detectedAtMs: end });
    }
    this.resetState();
  }

  private resetState(): void {
    this.vad.reset();
    this.framer.flush();
    this.windowIndex = 0;
    this.consumedSamples = 0;
    this.speaking = false;
    this.speechRunMs = 0;
    this.onsetMs = undefined;
    this.lastSpeechEndMs = 0;
    this.endBoundaryMs = undefined;
    this.lastProbability = 0;
    this.lastConfidentStartMs = 0;
    this.blockSumSq = 0;
    this.blockFill = 0;
    this.blockCount = 0;
    this.noiseCount = 0;
    this.clearSpeechLevel();
    this.history = [];
  }

  /** One 512-sample window; `valid` is how many of its samples are real audio (the rest is padding). */
  private async step(window: Float32Array, events: VadEvent[], valid = window.length): Promise<void> {
    const p = await this.vad.process(window);
    this.lastProbability = p;
    const { windowMs, minSpeechMs, minSilenceMs } = this.config;
    const startMs = this.windowIndex * windowMs;
    const endMs = this.consumedSamples / SAMPLES_PER_MS + valid / SAMPLES_PER_MS;
    this.windowIndex++;
    this.consumedSamples += valid;
    this.history.push(valid === window.length ? window : window.subarray(0, valid));
    if (this.history.length > this.historyMax) this.history.shift();
    const blocks = this.addBlocks(window, valid);

    if (p >= this.config.threshold) {
      if (this.onsetMs === undefined) {
        this.onsetMs = startMs;
        this.clearSpeechLevel();
        this.lastConfidentStartMs = startMs;
      }
      for (const db of blocks) this.addSpeechBlock(db);
      if (p >= CONFIDENT_PROB) this.lastConfidentStartMs = startMs;
      this.speechRunMs += windowMs;
      this.endBoundaryMs = undefined;
      this.lastSpeechEndMs = endMs;
      if (!this.speaking && this.speechRunMs >= minSpeechMs) {
        this.speaking = true;
        const onset = this.onsetMs;
        events.push({
          type: 'speech_start',
          timestampMs: onset,
          probability: p,
          detectedAtMs: endMs,
          audio: this.audioSince(Math.max(0, onset - this.config.prefixPaddingMs)),
        });
      }
    } else if (p < this.negThreshold) {
      for (const db of blocks) this.addNoiseBlock(db);
      if (!this.speaking) {
        // A short burst that never reached minSpeechMs: forget it.
        this.speechRunMs = 0;
        this.onsetMs = undefined;
      } else {
        // First silent window after speech: place the boundary; then wait until minSilenceMs have passed
        // since it (whole windows, all silent: any other window clears the boundary).
        this.endBoundaryMs ??= this.refineEnd ? this.refinedEnd() : this.lastSpeechEndMs;
        if (endMs - this.endBoundaryMs >= minSilenceMs) this.endSpeech(events, this.endBoundaryMs, p, endMs);
      }
    } else if (this.speaking) {
      // Ambiguous window inside speech: keeps the speech open.
      this.endBoundaryMs = undefined;
      this.lastSpeechEndMs = endMs;
    }
  }

  private endSpeech(events: VadEvent[], boundaryMs: number, probability: number, atMs: number): void {
    this.speaking = false;
    events.push({ type: 'speech_end', timestampMs: boundaryMs, probability, detectedAtMs: atMs });
    this.speechRunMs = 0;
    this.onsetMs = undefined;
    this.endBoundaryMs = undefined;
  }

  /**
   * After the whole windows of a push: ends the speech inside the partial window when the minimum silence has
   * passed and that partial audio is quiet (see "Deciding between windows" in the header comment).
   */
  private endBetweenWindows(events: VadEvent[]): void {
    const boundary = this.endBoundaryMs;
    if (!this.refineEnd || !this.speaking || boundary === undefined) return;
    const pending = this.framer.peek();
    const nowMs = (this.consumedSamples + pending.length) / SAMPLES_PER_MS;
    if (pending.length === 0 || nowMs - boundary < this.config.minSilenceMs) return;
    const loud = this.loudLevelDb();
    if (loud === undefined) return;
    for (let i = 0; i < pending.length; i += BLOCK_SAMPLES) {
      const block = pending.subarray(i, Math.min(pending.length, i + BLOCK_SAMPLES));
      if (levelDb(block) > loud) return;
    }
    this.endSpeech(events, boundary, this.lastProbability, nowMs);
  }

  /**
   * Adds the window's real samples to the 10 ms block levels; returns the levels of the blocks it completed.
   * Blocks run continuously over the stream (block k covers k·10 ms to (k+1)·10 ms), whatever the chunking.
   */
  private addBlocks(window: Float32Array, valid: number): number[] {
    const done: number[] = [];
    for (let i = 0; i < valid; i++) {
      const v = window[i] ?? 0;
      this.blockSumSq += v * v;
      if (++this.blockFill === BLOCK_SAMPLES) {
        const db = rmsToDb(Math.sqrt(this.blockSumSq / BLOCK_SAMPLES));
        this.blockDb[this.blockCount % BLOCK_HISTORY] = db;
        this.blockCount++;
        this.blockSumSq = 0;
        this.blockFill = 0;
        done.push(db);
      }
    }
    return done;
  }

  private addNoiseBlock(db: number): void {
    this.noiseDb[this.noiseCount % this.noiseDb.length] = db;
    this.noiseCount++;
  }

  private addSpeechBlock(db: number): void {
    this.speechHist[Math.round(db - MIN_DB)]!++;
    this.speechBlocks++;
  }

  private clearSpeechLevel(): void {
    this.speechHist.fill(0);
    this.speechBlocks = 0;
  }

  /** SPEECH_PERCENTILE of the current utterance's speech block levels (dBFS). */
  private speechLevelDb(): number {
    const rank = Math.ceil(SPEECH_PERCENTILE * this.speechBlocks);
    let seen = 0;
    for (let i = 0; i < this.speechHist.length; i++) {
      seen += this.speechHist[i]!;
      if (seen >= rank) return MIN_DB + i;
    }
    return 0;
  }

  /** Noise level: the median of the recent non-speech block levels (dBFS), or undefined with too little. */
  private noiseLevelDb(): number | undefined {
    const n = Math.min(this.noiseCount, this.noiseDb.length);
    if (n * BLOCK_MS < MIN_NOISE_MS) return undefined;
    const sorted = Array.from(this.noiseDb.subarray(0, n)).sort((a, b) => a - b);
    return sorted[Math.floor((n - 1) / 2)];
  }

  /**
   * The end of speech refined from the block levels (see the header comment): the end of the last clearly
   * loud block in the bounded range before the end of the last speech window, or that end itself when the
   * signal is too noisy to tell.
   */
  private refinedEnd(): number {
    const last = this.lastSpeechEndMs;
    const loud = this.loudLevelDb();
    if (loud === undefined) return last;
    const lo = Math.max(last - MAX_REFINE_MS, this.lastConfidentStartMs, this.onsetMs ?? 0);
    // Blocks that end after `lo` and start before `last`, newest first, among those still kept.
    const oldest = Math.max(0, this.blockCount - BLOCK_HISTORY);
    for (let k = Math.ceil(last / BLOCK_MS) - 1; k >= oldest && (k + 1) * BLOCK_MS > lo; k--) {
      if (k >= this.blockCount) continue;
      if (this.blockDb[k % BLOCK_HISTORY]! > loud) return Math.min(last, Math.max(lo, (k + 1) * BLOCK_MS));
    }
    return lo;
  }

  /**
   * The level above which a 10 ms block is clearly speech, or undefined when the audio is not clean enough to
   * tell (no trusted noise level, no speech level yet, or speech less than MIN_SNR_DB above the noise).
   */
  private loudLevelDb(): number | undefined {
    const noise = this.noiseLevelDb();
    if (noise === undefined || this.speechBlocks === 0) return undefined;
    const level = this.speechLevelDb();
    if (level - noise < MIN_SNR_DB) return undefined;
    return Math.max(noise + NOISE_MARGIN_DB, level - SPEECH_RANGE_DB);
  }

  /** Concatenated history from stream time `fromMs` to now (clamped to what is kept). */
  private audioSince(fromMs: number): Float32Array {
    const total = this.history.reduce((n, w) => n + w.length, 0);
    const want = Math.min(total, Math.max(0, Math.round(this.consumedSamples - fromMs * SAMPLES_PER_MS)));
    const out = new Float32Array(want);
    let at = want;
    for (let i = this.history.length - 1; i >= 0 && at > 0; i--) {
      const w = this.history[i] ?? new Float32Array(0);
      const take = Math.min(w.length, at);
      out.set(w.subarray(w.length - take), at - take);
      at -= take;
    }
    return out;
  }
}

function rmsToDb(rms: number): number {
  return rms > 0 ? Math.max(MIN_DB, Math.min(0, 20 * Math.log10(rms))) : MIN_DB;
}

/** RMS level of some samples in dBFS, clamped to [MIN_DB, 0]. */
function levelDb(samples: Float32Array): number {
  let sum = 0;
  for (const v of samples) sum += v * v;
  return rmsToDb(Math.sqrt(sum / Math.max(1, samples.length)));
}

function validate(c: VadConfig): void {
  const expectedWindowMs = (SILERO_WINDOW_SAMPLES / TARGET_SAMPLE_RATE) * 1000;
  if (c.windowMs !== expectedWindowMs) {
    throw new RangeError(
      `windowMs must be ${expectedWindowMs} (Silero v5 takes ${SILERO_WINDOW_SAMPLES} samples at 16 kHz)`,
    );
  }
  if (!(c.threshold > 0 && c.threshold < 1))
    throw new RangeError(`threshold must be in (0, 1) (got ${c.threshold})`);
  if (c.negThreshold !== undefined && !(c.negThreshold > 0 && c.negThreshold <= c.threshold)) {
    throw new RangeError(`negThreshold must be in (0, threshold] (got ${c.negThreshold})`);
  }
  for (const k of ['minSpeechMs', 'minSilenceMs', 'prefixPaddingMs'] as const) {
    if (!Number.isFinite(c[k]) || c[k] < 0)
      throw new RangeError(`${k} must be a non-negative number (got ${c[k]})`);
  }
}
