// Shared helpers for the audio tests: signal generation, encoding, and measurement.
import assert from 'node:assert/strict';
import { AppError } from '@synthians/kit';
import type { PcmEncoding } from './pcm.ts';

export const RATES = [8000, 16000, 22050, 32000, 44100, 48000] as const;

export function tone(rate: number, seconds: number, freq = 1000, amp = 0.5): Float32Array {
  const n = Math.round(rate * seconds);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = amp * Math.sin((2 * Math.PI * freq * i) / rate);
  return out;
}

/** Interleaves per-channel signals. */
export function interleave(chs: Float32Array[]): Float32Array {
  const n = chs[0]?.length ?? 0;
  const out = new Float32Array(n * chs.length);
  for (let i = 0; i < n; i++) for (let c = 0; c < chs.length; c++) out[i * chs.length + c] = chs[c]?.[i] ?? 0;
  return out;
}

export function encodePcm(interleaved: Float32Array, encoding: PcmEncoding): Uint8Array {
  const bps = encoding === 'pcm_s16le' ? 2 : 4;
  const out = new Uint8Array(interleaved.length * bps);
  const v = new DataView(out.buffer);
  for (let i = 0; i < interleaved.length; i++) {
    const s = interleaved[i] ?? 0;
    if (bps === 2) v.setInt16(i * 2, Math.max(-32768, Math.min(32767, Math.round(s * 32768))), true);
    else v.setFloat32(i * 4, s, true);
  }
  return out;
}

export interface WavOptions {
  formatTag?: number; // default 1 for s16, 3 for f32
  bits?: number;
  channels: number;
  sampleRate: number;
  extensible?: boolean;
  subformat?: number;
  blockAlign?: number;
  fmtSize?: number;
  riffSize?: number;
  dataSize?: number;
  before?: { id: string; body: Uint8Array }[]; // chunks before fmt
  between?: { id: string; body: Uint8Array }[]; // chunks between fmt and data
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function chunk(id: string, body: Uint8Array, declared = body.length): Uint8Array {
  const pad = body.length & 1;
  const out = new Uint8Array(8 + body.length + pad);
  out.set(ascii(id), 0);
  new DataView(out.buffer).setUint32(4, declared, true);
  out.set(body, 8);
  return out;
}

export function buildWav(data: Uint8Array, o: WavOptions): Uint8Array {
  const bits = o.bits ?? 16;
  const tag = o.formatTag ?? 1;
  const fmt = new Uint8Array(o.extensible ? 40 : 16);
  const f = new DataView(fmt.buffer);
  f.setUint16(0, o.extensible ? 0xfffe : tag, true);
  f.setUint16(2, o.channels, true);
  f.setUint32(4, o.sampleRate, true);
  const blockAlign = o.blockAlign ?? (o.channels * bits) / 8;
  f.setUint32(8, o.sampleRate * blockAlign, true);
  f.setUint16(12, blockAlign, true);
  f.setUint16(14, bits, true);
  if (o.extensible) {
    f.setUint16(16, 22, true);
    f.setUint16(18, bits, true);
    f.setUint32(20, o.channels === 2 ? 3 : 4, true);
    f.setUint16(24, o.subformat ?? tag, true);
    fmt.set([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 26);
  }
  const parts = [
    ascii('WAVE'),
    ...(o.before ?? []).map((c) => chunk(c.id, c.body)),
    chunk('fmt ', o.fmtSize === undefined ? fmt : fmt.subarray(0, o.fmtSize)),
    ...(o.between ?? []).map((c) => chunk(c.id, c.body)),
  ];
  const dataChunk = chunk('data', data, o.dataSize ?? data.length);
  parts.push(dataChunk);
  const bodyLen = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(8 + bodyLen);
  out.set(ascii('RIFF'), 0);
  new DataView(out.buffer).setUint32(4, o.riffSize ?? bodyLen, true);
  let at = 8;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function rms(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / Math.max(1, x.length));
}

/** Goertzel power at `freq`, normalised so a sine of amplitude A gives ~A^2/4... (relative use only). */
export function goertzel(x: Float32Array, rate: number, freq: number): number {
  const w = (2 * Math.PI * freq) / rate;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (const v of x) {
    const s0 = v + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - c * s1 * s2) / (x.length * x.length);
}

export function zeroCrossings(x: Float32Array): number {
  let n = 0;
  for (let i = 1; i < x.length; i++) if ((x[i - 1] ?? 0) < 0 !== (x[i] ?? 0) < 0) n++;
  return n;
}

export const dB = (ratio: number) => 20 * Math.log10(ratio);

/** Asserts `out` (16 kHz) carries a 1 kHz tone of amplitude `amp` lasting `seconds`. */
export function assertTone16k(
  out: Float32Array,
  inLength: number,
  inRate: number,
  amp: number,
  label: string,
) {
  assert.equal(out.length, Math.ceil((inLength * 16000) / inRate), `${label}: output length`);
  const mid = out.subarray(160, out.length - 160); // skip 10 ms edges (filter ramp-in/out)
  const level = dB(rms(mid) / (amp / Math.SQRT2));
  assert.ok(Math.abs(level) < 0.5, `${label}: RMS level off by ${level.toFixed(3)} dB`);
  const p = goertzel(mid, 16000, 1000);
  for (const f of [900, 1100, 500, 2000]) {
    const q = goertzel(mid, 16000, f);
    assert.ok(p > 1000 * q, `${label}: 1 kHz power ${p} not 30 dB above ${f} Hz (${q})`);
  }
  const seconds = mid.length / 16000;
  const zc = zeroCrossings(mid);
  assert.ok(
    Math.abs(zc - 2000 * seconds) <= 2,
    `${label}: ${zc} zero crossings in ${seconds}s, expected ~${2000 * seconds}`,
  );
}

export function assertAppError(fn: () => unknown, code: string, label: string): AppError {
  try {
    fn();
  } catch (err) {
    assert.ok(AppError.isInstance(err), `${label}: expected AppError, got ${String(err)}`);
    assert.equal(err.statusCode, 400, `${label}: status`);
    assert.equal(err.code, code, `${label}: code (message: ${err.message})`);
    return err;
  }
  assert.fail(`${label}: expected AppError ${code}, nothing thrown`);
}
