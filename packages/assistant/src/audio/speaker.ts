// The reply voice of one turn: sentences are synthesised in order as the turn engine completes them, and the audio
// goes to the client in FRAME_MS binary messages between `tts_start` and `tts_end`, paced at real time with at
// most `leadMs` sent ahead of the client's playback (so that a barge-in actually cuts what the user hears).
import type { PcmEncoding, TtsProvider } from '@synthians/voice';

/** Reply audio is sent in messages of this many ms (the granularity of pacing and of a stop). */
export const FRAME_MS = 40;

export interface SpeakerOptions {
  tts: TtsProvider;
  options: { sampleRate: number; encoding: PcmEncoding; pace: boolean };
  leadMs: number;
  send: (msg: object | Uint8Array) => void;
  signal?: AbortSignal;
  onStart?: () => void;
  onFirstAudio?: () => void;
  onError?: (err: unknown) => void;
}

export class Speaker {
  /** Resolves true when everything was spoken (or nothing had to be), false when stopped or failed. */
  readonly finished: Promise<boolean>;
  /** ms from the first sentence to its first audio message. */
  firstAudioMs: number | undefined;
  private readonly queue: string[] = [];
  private closed = false;
  private stopped = false;
  private started = false;
  private ended = false;
  private firstSayAt = 0;
  private readonly synth = new AbortController();
  private wakeUp: (() => void) | undefined;

  constructor(private readonly o: SpeakerOptions) {
    o.signal?.addEventListener('abort', () => this.stop(), { once: true });
    this.finished = this.loop();
  }

  say(sentence: string): void {
    if (this.closed || this.stopped) return;
    if (this.firstSayAt === 0) this.firstSayAt = performance.now();
    this.queue.push(sentence);
    this.poke();
  }

  /** No more sentences: `finished` resolves once the queued ones have been played. */
  close(): void {
    this.closed = true;
    this.poke();
  }

  /** Stops at once (no further audio message). True when audio had started and `tts_end` is still owed. */
  stop(): boolean {
    if (this.stopped) return false;
    this.stopped = true;
    const owed = this.started && !this.ended;
    this.ended = true;
    this.synth.abort();
    this.poke();
    return owed;
  }

  private poke(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  private nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async loop(): Promise<boolean> {
    const { sampleRate, encoding, pace } = this.o.options;
    const bps = encoding === 'pcm_f32le' ? 4 : 2;
    const frameBytes = Math.max(1, Math.round((sampleRate * FRAME_MS) / 1000)) * bps;
    let playEnd = 0;
    for (;;) {
      if (this.stopped) return false;
      const sentence = this.queue.shift();
      if (sentence === undefined) {
        if (this.closed) break;
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        continue;
      }
      try {
        for await (const chunk of this.o.tts.synthesize(sentence, {
          sampleRate,
          encoding,
          signal: this.synth.signal,
        })) {
          if (this.stopped) return false;
          if (!this.started) {
            this.started = true;
            this.o.send({ type: 'tts_start', sample_rate: sampleRate, encoding, channels: 1 });
            this.o.onStart?.();
          }
          const audio = chunk.audio;
          for (let at = 0; at < audio.length; at += frameBytes) {
            if (pace) {
              const ahead = playEnd - performance.now();
              if (ahead > this.o.leadMs) await this.nap(ahead - this.o.leadMs);
            }
            if (this.stopped) return false;
            const frame = audio.subarray(at, Math.min(audio.length, at + frameBytes));
            this.o.send(frame);
            if (this.firstAudioMs === undefined) {
              this.firstAudioMs = Math.round((performance.now() - this.firstSayAt) * 10) / 10;
              this.o.onFirstAudio?.();
            }
            const ms = (frame.length / bps / sampleRate) * 1000;
            playEnd = Math.max(playEnd, performance.now()) + ms;
          }
        }
      } catch (err) {
        if (this.stopped) return false;
        this.stopped = true;
        this.o.onError?.(err);
        if (this.started && !this.ended) {
          this.ended = true;
          this.o.send({ type: 'tts_end', interrupted: true, error: 'tts_failed' });
        }
        return false;
      }
    }
    if (!this.started) return true;
    if (pace) {
      const left = playEnd - performance.now();
      if (left > 0) await this.nap(left);
    }
    if (this.stopped) return false;
    this.ended = true;
    this.o.send({ type: 'tts_end', interrupted: false });
    return true;
  }
}
