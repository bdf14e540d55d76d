// Shared helpers for the preprocess tests: PCM encoding, level measurement, error assertions.
import assert from 'node:assert/strict';
import { AppError } from '@synthians/kit';
import type { PcmEncoding } from '../audio/pcm.ts';
import { Resampler } from '../audio/resample.ts';
import { concat } from '../testing/signals.ts';

export const dB = (ratio: number): number => 20 * Math.log10(ratio);
export const powerDb = (p: number): number => 10 * Math.log10(p);

export function rmsOf(x: Float32Array, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += (x[i] ?? 0) ** 2;
  return Math.sqrt(s / Math.max(1, to - from));
}

/** Sum of squares over the samples where `mask` is set. */
export function maskedPower(x: Float32Array, mask: Uint8Array, want = 1): { power: number; n: number } {
  let s = 0;
  let n = 0;
  for (let i = 0; i < x.length; i++) {
    if (mask[i] === want) {
      s += (x[i] ?? 0) ** 2;
      n++;
    }
  }
  return { power: s / Math.max(1, n), n };
}

export function resampleTo(x: Float32Array, from: number, to: number): Float32Array {
  const r = new Resampler(from, to);
  return concat(r.push(x), r.flush());
}

/** Interleaves channels and encodes them as little-endian s16 (clipped) or f32. */
export function encodeInterleaved(channels: Float32Array[], encoding: PcmEncoding): Uint8Array {
  const n = channels[0]?.length ?? 0;
  const c = channels.length;
  const bps = encoding === 'pcm_s16le' ? 2 : 4;
  const out = new Uint8Array(n * c * bps);
  const v = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) {
      const s = channels[k]?.[i] ?? 0;
      const at = (i * c + k) * bps;
      if (bps === 2) v.setInt16(at, Math.max(-32768, Math.min(32767, Math.round(s * 32768))), true);
      else v.setFloat32(at, s, true);
    }
  }
  return out;
}

/** 1 where the 10 ms block of `clean` is above `threshold` RMS (speech), 0 where it is exactly silent. */
export function speechMask(clean: Float32Array, rate: number, threshold = 0.02): Uint8Array {
  const block = rate / 100;
  const mask = new Uint8Array(clean.length).fill(2); // 2: neither clearly speech nor silence
  for (let i = 0; i < clean.length; i += block) {
    const r = rmsOf(clean, i, Math.min(clean.length, i + block));
    if (r > threshold) mask.fill(1, i, i + block);
    else if (r === 0) mask.fill(0, i, i + block);
  }
  return mask;
}

export async function assertRejectsAppError(
  p: Promise<unknown>,
  code: string,
  label: string,
): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    assert.ok(AppError.isInstance(err), `${label}: expected AppError, got ${String(err)}`);
    assert.equal(err.statusCode, 400, `${label}: status`);
    assert.equal(err.code, code, `${label}: code (message: ${err.message})`);
    return err;
  }
  assert.fail(`${label}: expected AppError ${code}, nothing thrown`);
}

/** Splits `x` into chunks cycling through `sizes`. */
export function* chunks(x: Uint8Array, sizes: number[]): Generator<Uint8Array> {
  let at = 0;
  for (let k = 0; at < x.length; k++) {
    const n = sizes[k % sizes.length] ?? 1;
    yield x.subarray(at, at + n);
    at += n;
  }
}
