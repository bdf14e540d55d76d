// Pieces every STT provider shares: input checks, the two upstream error codes, WAV conversion, a buffering
// stream for engines that only take whole utterances, and abort/timeout plumbing.
import { AppError, badRequest, unavailable } from '@synthians/kit';
import { encodePcmMono, encodeWav } from '../audio/encode.ts';
import { TARGET_SAMPLE_RATE } from '../audio/resample.ts';
import type { SttStream, Transcript, TranscribeOptions } from './types.ts';

export const STT_SAMPLE_RATE = TARGET_SAMPLE_RATE;

/** The engine answered, but not with a usable transcript (bad response, rejected request): 502. */
export const sttFailed = (message: string, details?: unknown) =>
  new AppError(502, 'stt_failed', message, details);

/** The engine cannot be reached / is overloaded / is not installed: 503. */
export const sttUnavailable = (message: string, details?: unknown) =>
  unavailable('stt_unavailable', message, details);

/** Throws `invalid_audio` unless `samples` is a Float32Array of finite numbers (`non_finite_samples`). */
export function checkSamples(samples: unknown): asserts samples is Float32Array {
  if (!(samples instanceof Float32Array)) {
    throw badRequest('invalid_audio', 'Audio must be a Float32Array of 16 kHz mono samples');
  }
  for (let i = 0; i < samples.length; i++) {
    if (!Number.isFinite(samples[i])) {
      throw badRequest('non_finite_samples', `Audio sample ${i} is ${samples[i]}; samples must be finite`, {
        index: i,
      });
    }
  }
}

export const durationMsOf = (sampleCount: number) => Math.round((sampleCount / STT_SAMPLE_RATE) * 1000);

/** The transcript of no audio at all. */
export function emptyTranscript(provider: string, language?: string): Transcript {
  const out: Transcript = { text: '', durationMs: 0, provider };
  if (language) out.language = language;
  return out;
}

/** 16 kHz, 16-bit mono WAV bytes. */
export const wav16k = (samples: Float32Array): Uint8Array => encodeWav(samples, STT_SAMPLE_RATE);

/** s16le bytes of 16 kHz samples (clipped to [-1, 1]). */
export const s16le = (samples: Float32Array): Uint8Array => encodePcmMono(samples, 'pcm_s16le');

/** Collapses runs of whitespace and trims. */
export const tidyText = (text: string) => text.replace(/\s+/g, ' ').trim();

/** Growable sample buffer (amortised copies). */
export class SampleBuffer {
  private buf = new Float32Array(16000);
  private n = 0;

  push(samples: Float32Array): void {
    if (this.n + samples.length > this.buf.length) {
      const next = new Float32Array(Math.max(this.buf.length * 2, this.n + samples.length));
      next.set(this.buf.subarray(0, this.n), 0);
      this.buf = next;
    }
    this.buf.set(samples, this.n);
    this.n += samples.length;
  }

  get length(): number {
    return this.n;
  }

  take(): Float32Array {
    return this.buf.slice(0, this.n);
  }
}

/**
 * A stream for engines that recognise whole utterances: `write` buffers (checking each block), `end`
 * runs `transcribe` once on everything. `cancel` aborts a running recognition and makes `end` reject.
 */
export function bufferedStream(
  transcribe: (samples: Float32Array, options: TranscribeOptions) => Promise<Transcript>,
  options: TranscribeOptions = {},
): SttStream {
  const buffer = new SampleBuffer();
  const controller = new AbortController();
  let state: 'open' | 'ended' | 'cancelled' = 'open';
  const onOuterAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  return {
    write(samples) {
      if (state !== 'open')
        throw badRequest('stream_closed', `Cannot write to an STT stream that is ${state}`);
      checkSamples(samples);
      buffer.push(samples);
    },
    async end() {
      if (state !== 'open') throw badRequest('stream_closed', `STT stream already ${state}`);
      state = 'ended';
      try {
        return await transcribe(buffer.take(), { ...options, signal: controller.signal });
      } finally {
        options.signal?.removeEventListener('abort', onOuterAbort);
      }
    },
    cancel() {
      if (state === 'cancelled') return;
      state = 'cancelled';
      options.signal?.removeEventListener('abort', onOuterAbort);
      controller.abort(new DOMException('STT stream cancelled', 'AbortError'));
    },
  };
}

/** The reason of an aborted signal as an Error (what `fetch` and our clients reject with). */
export function abortError(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new DOMException('The operation was aborted', 'AbortError');
}

/** Checks a positive finite timeout (ms). */
export function checkTimeout(value: unknown, name = 'timeoutMs'): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw badRequest('invalid_stt_config', `${name} must be a positive number of milliseconds`, {
      [name]: value,
    });
  }
  return value;
}

/** Error code/message of a Node system error or fetch's wrapped cause (ECONNREFUSED, ENOTFOUND, …). */
export function systemErrorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
