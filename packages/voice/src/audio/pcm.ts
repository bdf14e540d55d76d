// Raw PCM decoding: bytes in a declared format -> float samples in [-1, 1], downmixed to mono.
import { badRequest } from '@synthians/kit';
import { Resampler, TARGET_SAMPLE_RATE } from './resample.ts';

export type PcmEncoding = 'pcm_s16le' | 'pcm_f32le';

export interface PcmFormat {
  encoding: PcmEncoding;
  sampleRate: number;
  channels: number;
}

export const SUPPORTED_SAMPLE_RATES: readonly number[] = [8000, 16000, 22050, 32000, 44100, 48000];
export const SUPPORTED_ENCODINGS: readonly PcmEncoding[] = ['pcm_s16le', 'pcm_f32le'];
export const MAX_CHANNELS = 2;

export const bytesPerSample = (encoding: PcmEncoding): number => (encoding === 'pcm_s16le' ? 2 : 4);

/** Throws `unsupported_audio_format` unless the format is one this layer decodes. */
export function assertSupportedFormat(format: PcmFormat): void {
  if (!SUPPORTED_ENCODINGS.includes(format.encoding)) {
    throw badRequest(
      'unsupported_audio_format',
      `Unsupported encoding ${JSON.stringify(format.encoding)}; use pcm_s16le or pcm_f32le`,
      { encoding: format.encoding },
    );
  }
  if (!Number.isInteger(format.channels) || format.channels < 1 || format.channels > MAX_CHANNELS) {
    throw badRequest(
      'unsupported_audio_format',
      `Unsupported channel count ${format.channels}; only mono and stereo are accepted`,
      { channels: format.channels },
    );
  }
  if (!SUPPORTED_SAMPLE_RATES.includes(format.sampleRate)) {
    throw badRequest(
      'unsupported_audio_format',
      `Unsupported sample rate ${format.sampleRate} Hz; supported: ${SUPPORTED_SAMPLE_RATES.join(', ')}`,
      { sampleRate: format.sampleRate },
    );
  }
}

/**
 * Decodes whole frames of interleaved PCM and averages the channels into mono.
 * `bytes.length` must be a multiple of the frame size (channels * bytes per sample).
 */
export function decodeFramesToMono(bytes: Uint8Array, encoding: PcmEncoding, channels: number): Float32Array {
  const frameBytes = bytesPerSample(encoding) * channels;
  const frameCount = Math.floor(bytes.length / frameBytes);
  const out = new Float32Array(frameCount);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (encoding === 'pcm_s16le') {
    for (let f = 0; f < frameCount; f++) {
      let sum = 0;
      for (let c = 0; c < channels; c++) sum += view.getInt16(f * frameBytes + c * 2, true);
      out[f] = sum / channels / 32768;
    }
  } else {
    for (let f = 0; f < frameCount; f++) {
      let sum = 0;
      for (let c = 0; c < channels; c++) {
        const v = view.getFloat32(f * frameBytes + c * 4, true);
        if (!Number.isFinite(v)) {
          throw badRequest(
            'non_finite_samples',
            `Sample ${f} (channel ${c}) is ${v}; float audio must be finite`,
            {
              frame: f,
              channel: c,
            },
          );
        }
        sum += v;
      }
      out[f] = sum / channels;
    }
  }
  return out;
}

/** Averages interleaved channels into mono. */
export function downmix(interleaved: Float32Array, channels: number): Float32Array {
  if (channels === 1) return interleaved.slice();
  const frames = Math.floor(interleaved.length / channels);
  const out = new Float32Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += interleaved[f * channels + c] ?? 0;
    out[f] = sum / channels;
  }
  return out;
}

/**
 * Streaming raw PCM decoder: accepts byte chunks of any size (a chunk may end in the middle of a
 * sample or a frame; the leftover bytes are kept for the next chunk) and returns mono samples at
 * the source rate.
 */
export class PcmStreamDecoder {
  readonly format: PcmFormat;
  private readonly frameBytes: number;
  private pending: Uint8Array = new Uint8Array(0);
  private framesDecoded = 0;

  constructor(format: PcmFormat) {
    assertSupportedFormat(format);
    this.format = { ...format };
    this.frameBytes = bytesPerSample(format.encoding) * format.channels;
  }

  push(chunk: Uint8Array): Float32Array {
    let bytes: Uint8Array;
    if (this.pending.length === 0) {
      bytes = chunk;
    } else {
      bytes = new Uint8Array(this.pending.length + chunk.length);
      bytes.set(this.pending, 0);
      bytes.set(chunk, this.pending.length);
    }
    const whole = bytes.length - (bytes.length % this.frameBytes);
    let out: Float32Array;
    try {
      out = decodeFramesToMono(bytes.subarray(0, whole), this.format.encoding, this.format.channels);
    } catch (err) {
      throw offsetFrame(err, this.framesDecoded);
    }
    this.framesDecoded += out.length;
    this.pending = bytes.slice(whole);
    return out;
  }

  /** Ends the stream; a partial frame left over means the stream was cut short. */
  end(): void {
    if (this.pending.length > 0) {
      const left = this.pending.length;
      this.pending = new Uint8Array(0);
      throw badRequest(
        'truncated_audio',
        `Audio stream ended in the middle of a frame (${left} of ${this.frameBytes} bytes)`,
        { danglingBytes: left, frameBytes: this.frameBytes },
      );
    }
  }
}

function offsetFrame(err: unknown, base: number): unknown {
  if (base === 0 || typeof err !== 'object' || err === null) return err;
  const e = err as { code?: unknown; details?: unknown };
  if (e.code !== 'non_finite_samples') return err;
  const d = e.details as { frame: number; channel: number };
  return badRequest('non_finite_samples', `Sample ${base + d.frame} (channel ${d.channel}) is not finite`, {
    frame: base + d.frame,
    channel: d.channel,
  });
}

/**
 * Raw PCM stream -> 16 kHz mono: decoder (chunk boundaries anywhere) + downmix + streaming resampler.
 * `push` returns the 16 kHz samples ready so far; `end` returns the rest. Chunking never changes the output.
 */
export class PcmTo16k {
  private readonly decoder: PcmStreamDecoder;
  private readonly resampler: Resampler;

  constructor(format: PcmFormat) {
    this.decoder = new PcmStreamDecoder(format);
    this.resampler = new Resampler(format.sampleRate, TARGET_SAMPLE_RATE);
  }

  push(chunk: Uint8Array): Float32Array {
    return this.resampler.push(this.decoder.push(chunk));
  }

  end(): Float32Array {
    this.decoder.end();
    return this.resampler.flush();
  }
}

/** One-shot: a whole raw PCM buffer in `format` -> 16 kHz mono. */
export function decodePcm(bytes: Uint8Array, format: PcmFormat): Float32Array {
  const s = new PcmTo16k(format);
  const a = s.push(bytes);
  const b = s.end();
  const out = new Float32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
