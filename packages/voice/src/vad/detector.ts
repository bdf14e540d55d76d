// Streaming voice activity detection over 16 kHz mono audio, on top of Silero VAD probabilities.
// Behaviour and defaults follow LiveKit's Silero plugin: speech starts once enough speech has been heard,
// and ends only after a long enough silence, with hysteresis between the two thresholds.
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
   * for `speech_start` the start of the first speech window, for `speech_end` the end of the last speech window.
   */
  timestampMs: number;
  /** Probability of the window that triggered the event. */
  probability: number;
  /** Stream time (ms) at which the decision was made (end of the triggering window); >= `timestampMs`. */
  detectedAtMs: number;
  /** `speech_start` only: audio from `prefixPaddingMs` before the onset up to `detectedAtMs`. */
  audio?: Float32Array;
}

export interface VadSegment {
  start_ms: number;
  end_ms: number;
}

const SAMPLES_PER_MS = TARGET_SAMPLE_RATE / 1000;

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
  private silenceRunMs = 0;
  private onsetMs: number | undefined;
  private lastSpeechEndMs = 0;
  // Recent audio (windows) for the prefix padding handed over with speech_start.
  private history: Float32Array[] = [];
  private readonly historyMax: number;

  constructor(
    private readonly vad: SileroVad,
    config: Partial<VadConfig> = {},
  ) {
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
  static async create(config: Partial<VadConfig> = {}): Promise<VadDetector> {
    return new VadDetector(await SileroVad.create(), config);
  }

  get isSpeaking(): boolean {
    return this.speaking;
  }

  /** Feeds samples; resolves to the events the complete 32 ms windows produced. Calls are serialised. */
  push(samples: Float32Array): Promise<VadEvent[]> {
    return this.enqueue(async () => {
      const events: VadEvent[] = [];
      for (const w of this.framer.push(samples)) await this.step(w, events);
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
    this.silenceRunMs = 0;
    this.onsetMs = undefined;
    this.lastSpeechEndMs = 0;
    this.history = [];
  }

  /** One 512-sample window; `valid` is how many of its samples are real audio (the rest is padding). */
  private async step(window: Float32Array, events: VadEvent[], valid = window.length): Promise<void> {
    const p = await this.vad.process(window);
    const { windowMs, minSpeechMs, minSilenceMs } = this.config;
    const startMs = this.windowIndex * windowMs;
    const endMs = this.consumedSamples / SAMPLES_PER_MS + valid / SAMPLES_PER_MS;
    this.windowIndex++;
    this.consumedSamples += valid;
    this.history.push(valid === window.length ? window : window.subarray(0, valid));
    if (this.history.length > this.historyMax) this.history.shift();

    if (p >= this.config.threshold) {
      this.onsetMs ??= startMs;
      this.speechRunMs += windowMs;
      this.silenceRunMs = 0;
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
      this.silenceRunMs += windowMs;
      if (!this.speaking) {
        // A short burst that never reached minSpeechMs: forget it.
        this.speechRunMs = 0;
        this.onsetMs = undefined;
      } else if (this.silenceRunMs >= minSilenceMs) {
        this.speaking = false;
        events.push({
          type: 'speech_end',
          timestampMs: this.lastSpeechEndMs,
          probability: p,
          detectedAtMs: endMs,
        });
        this.speechRunMs = 0;
        this.onsetMs = undefined;
      }
    } else if (this.speaking) {
      // Ambiguous window inside speech: keeps the speech open.
      this.silenceRunMs = 0;
      this.lastSpeechEndMs = endMs;
    }
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
