// Shared TTS plumbing: option validation, engine audio (WAV of any rate, raw s16) -> the requested rate/encoding,
// and the AppErrors every engine reports.
//
// Why a WAV reader here instead of `audio/wav.ts`: that one is for *input* audio and only accepts the input rates
// (8/16/22.05/32/44.1/48 kHz). Engines produce other rates too (OpenAI's WAV is 24 kHz, Piper voices 16/22.05 kHz,
// others anything), so this reader takes any rate and 16-bit / float32 PCM, mono or multichannel.
import { AppError, badRequest, unavailable } from '@synthians/kit';
import { encodePcmMono } from '../audio/encode.ts';
import { SUPPORTED_ENCODINGS, type PcmEncoding } from '../audio/pcm.ts';
import { Resampler } from '../audio/resample.ts';
import type { SynthesizeOptions } from './types.ts';

export const DEFAULT_TTS_SAMPLE_RATE = 16000;
export const MIN_TTS_SAMPLE_RATE = 8000;
export const MAX_TTS_SAMPLE_RATE = 48000;
export const MIN_TTS_SPEED = 0.25; // exclusive
export const MAX_TTS_SPEED = 4; // inclusive
/** Longest text one `synthesize` call takes (characters). */
export const MAX_TTS_TEXT_LENGTH = 10_000;

export interface ResolvedOptions {
  voice: string | undefined;
  sampleRate: number;
  encoding: PcmEncoding;
  speed: number;
  signal: AbortSignal | undefined;
}

const invalid = (message: string, details?: unknown) => badRequest('invalid_tts_request', message, details);

/** Checks the text and options of a `synthesize` call; throws `invalid_tts_request` (400). */
export function resolveOptions(text: unknown, options: SynthesizeOptions = {}): ResolvedOptions {
  if (typeof text !== 'string' || text.trim().length === 0)
    throw invalid('Text to speak must be a non-empty string');
  if (text.length > MAX_TTS_TEXT_LENGTH) {
    throw invalid(`Text is ${text.length} characters; at most ${MAX_TTS_TEXT_LENGTH} are accepted`, {
      length: text.length,
      max: MAX_TTS_TEXT_LENGTH,
    });
  }
  const sampleRate = options.sampleRate ?? DEFAULT_TTS_SAMPLE_RATE;
  if (
    typeof sampleRate !== 'number' ||
    !Number.isInteger(sampleRate) ||
    sampleRate < MIN_TTS_SAMPLE_RATE ||
    sampleRate > MAX_TTS_SAMPLE_RATE
  ) {
    throw invalid(
      `sampleRate must be an integer from ${MIN_TTS_SAMPLE_RATE} to ${MAX_TTS_SAMPLE_RATE} Hz (got ${String(sampleRate)})`,
      { sampleRate },
    );
  }
  const encoding = options.encoding ?? 'pcm_s16le';
  if (!SUPPORTED_ENCODINGS.includes(encoding)) {
    throw invalid(
      `encoding must be one of ${SUPPORTED_ENCODINGS.join(', ')} (got ${JSON.stringify(encoding)})`,
      {
        encoding,
      },
    );
  }
  const speed = options.speed ?? 1;
  if (
    typeof speed !== 'number' ||
    !Number.isFinite(speed) ||
    speed <= MIN_TTS_SPEED ||
    speed > MAX_TTS_SPEED
  ) {
    throw invalid(
      `speed must be greater than ${MIN_TTS_SPEED} and at most ${MAX_TTS_SPEED} (got ${String(speed)})`,
      {
        speed,
      },
    );
  }
  const voice = options.voice;
  if (voice !== undefined && (typeof voice !== 'string' || voice.trim().length === 0 || voice.length > 128)) {
    throw invalid('voice must be a non-empty string of at most 128 characters');
  }
  return { voice, sampleRate, encoding, speed, signal: options.signal };
}

/** The engine is down, refused, timed out or overloaded: try again later (503). */
export const ttsUnavailable = (message: string, details?: unknown) =>
  unavailable('tts_unavailable', message, details);
/** The engine answered, but with an error or something that is not audio (502). */
export const ttsFailed = (message: string, details?: unknown) =>
  new AppError(502, 'tts_failed', message, details);

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw signal.reason instanceof Error
      ? signal.reason
      : new DOMException('The operation was aborted', 'AbortError');
  }
}

/** Mono samples at `inRate` -> bytes at the requested rate/encoding. */
export function convertSamples(samples: Float32Array, inRate: number, opts: ResolvedOptions): Uint8Array {
  let out = samples;
  if (inRate !== opts.sampleRate) {
    const r = new Resampler(inRate, opts.sampleRate);
    const a = r.push(samples);
    const b = r.flush();
    out = new Float32Array(a.length + b.length);
    out.set(a, 0);
    out.set(b, a.length);
  }
  return encodePcmMono(out, opts.encoding);
}

/** Interleaved little-endian s16 frames -> mono float (channels averaged). `bytes` must hold whole frames. */
export function s16ToMono(bytes: Uint8Array, channels: number): Float32Array {
  const frameBytes = 2 * channels;
  const frames = Math.floor(bytes.length / frameBytes);
  const out = new Float32Array(frames);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += v.getInt16(f * frameBytes + c * 2, true);
    out[f] = sum / channels / 32768;
  }
  return out;
}

function f32ToMono(bytes: Uint8Array, channels: number): Float32Array {
  const frameBytes = 4 * channels;
  const frames = Math.floor(bytes.length / frameBytes);
  const out = new Float32Array(frames);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) {
      const x = v.getFloat32(f * frameBytes + c * 4, true);
      sum += Number.isFinite(x) ? x : 0;
    }
    out[f] = sum / channels;
  }
  return out;
}

export class WavError extends Error {
  override readonly name = 'WavError';
}

const fourcc = (v: DataView, at: number) =>
  String.fromCharCode(v.getUint8(at), v.getUint8(at + 1), v.getUint8(at + 2), v.getUint8(at + 3));

/**
 * A WAV file produced by a TTS engine -> mono samples at its own rate. Takes 16-bit integer or 32-bit float PCM
 * (plain or WAVE_FORMAT_EXTENSIBLE), any rate and channel count; a placeholder data size (streamed WAV, e.g.
 * 0xFFFFFFFF) means "to the end of the file". Throws WavError on anything else.
 */
export function decodeEngineWav(bytes: Uint8Array): { samples: Float32Array; sampleRate: number } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12 || fourcc(v, 0) !== 'RIFF' || fourcc(v, 8) !== 'WAVE') {
    throw new WavError('not a RIFF/WAVE file');
  }
  let fmt: { tag: number; channels: number; rate: number; bits: number } | undefined;
  let pos = 12;
  while (pos + 8 <= bytes.length) {
    const id = fourcc(v, pos);
    const size = v.getUint32(pos + 4, true);
    const body = pos + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.length) throw new WavError('fmt chunk is too short');
      let tag = v.getUint16(body, true);
      if (tag === 0xfffe && size >= 26 && body + 26 <= bytes.length) tag = v.getUint16(body + 24, true);
      fmt = {
        tag,
        channels: v.getUint16(body + 2, true),
        rate: v.getUint32(body + 4, true),
        bits: v.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      if (!fmt) throw new WavError('data chunk before fmt chunk');
      const { tag, channels, rate, bits } = fmt;
      if (channels < 1 || channels > 8) throw new WavError(`unsupported channel count ${channels}`);
      if (rate < 1000 || rate > 384000) throw new WavError(`unsupported sample rate ${rate}`);
      const float = tag === 3 && bits === 32;
      if (!float && !(tag === 1 && bits === 16)) {
        throw new WavError(`unsupported WAV encoding (format ${tag}, ${bits} bits)`);
      }
      const available = bytes.length - body;
      const length = size === 0 || size > available ? available : size;
      const frameBytes = (float ? 4 : 2) * channels;
      const data = bytes.subarray(body, body + length - (length % frameBytes));
      return { samples: float ? f32ToMono(data, channels) : s16ToMono(data, channels), sampleRate: rate };
    }
    pos = body + size + (size & 1);
  }
  throw new WavError(fmt ? 'no data chunk' : 'no fmt chunk');
}

/** Concatenates byte arrays. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
