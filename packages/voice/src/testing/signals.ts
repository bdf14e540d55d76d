// Signals for tests and benchmarks: speech synthesised by the espeak-ng program (a Debian package that CI
// installs), deterministic noise (white, pink), tones, mixing at a given SNR. 16 kHz mono float32 throughout.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeWav } from '../audio/wav.ts';
import { encodeWav } from '../audio/encode.ts';

export const RATE = 16000;

/** True when the espeak-ng program is installed (tests that need speech skip with a reason otherwise). */
export const hasEspeak = spawnSync('espeak-ng', ['--version'], { stdio: 'ignore' }).status === 0;

/** Deterministic uniform random numbers in [0, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const samplesFor = (seconds: number, rate = RATE): number => Math.round(seconds * rate);
export const silence = (seconds: number, rate = RATE): Float32Array =>
  new Float32Array(samplesFor(seconds, rate));

/** White noise, uniform in [-amp, amp]. */
export function whiteNoise(seconds: number, amp: number, seed = 1234, rate = RATE): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: samplesFor(seconds, rate) }, () => (r() * 2 - 1) * amp);
}

/** Pink (1/f) noise by Paul Kellet's filter over white noise, scaled to the given RMS. */
export function pinkNoise(seconds: number, targetRms: number, seed = 4321, rate = RATE): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(samplesFor(seconds, rate));
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  let b3 = 0;
  let b4 = 0;
  let b5 = 0;
  let b6 = 0;
  for (let i = 0; i < out.length; i++) {
    const w = r() * 2 - 1;
    b0 = 0.99886 * b0 + w * 0.0555179;
    b1 = 0.99332 * b1 + w * 0.0750759;
    b2 = 0.969 * b2 + w * 0.153852;
    b3 = 0.8665 * b3 + w * 0.3104856;
    b4 = 0.55 * b4 + w * 0.5329522;
    b5 = -0.7616 * b5 - w * 0.016898;
    out[i] = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
    b6 = w * 0.115926;
  }
  return scaleToRms(out, targetRms);
}

export function tone(seconds: number, freq: number, amp = 0.5, rate = RATE): Float32Array {
  const out = new Float32Array(samplesFor(seconds, rate));
  for (let i = 0; i < out.length; i++) out[i] = amp * Math.sin((2 * Math.PI * freq * i) / rate);
  return out;
}

/** A music-like signal: a sequence of notes with harmonics and a soft attack/decay envelope. */
export function melody(seconds: number, amp = 0.3, seed = 99, rate = RATE): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(samplesFor(seconds, rate));
  const noteLen = Math.round(0.25 * rate);
  for (let start = 0; start < out.length; start += noteLen) {
    const f = 220 * Math.pow(2, Math.floor(r() * 24) / 12);
    for (let i = 0; i < noteLen && start + i < out.length; i++) {
      const env = Math.min(1, i / (0.01 * rate)) * Math.exp(-i / (0.15 * rate));
      const t = i / rate;
      const v =
        Math.sin(2 * Math.PI * f * t) +
        0.5 * Math.sin(4 * Math.PI * f * t) +
        0.25 * Math.sin(6 * Math.PI * f * t);
      out[start + i] = (amp / 1.75) * env * v;
    }
  }
  return out;
}

export function rms(x: Float32Array): number {
  if (x.length === 0) return 0;
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / x.length);
}

export function scaleToRms(x: Float32Array, target: number): Float32Array {
  const g = target / (rms(x) || 1);
  return x.map((v) => v * g);
}

export function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `signal + noise` with the noise scaled so that RMS(signal)/RMS(noise) is `snrDb` (noise repeats if short). */
export function mixAtSnr(
  signal: Float32Array,
  noise: Float32Array,
  snrDb: number,
  signalRms = rms(signal),
): Float32Array {
  const gain = signalRms / (rms(noise) || 1) / Math.pow(10, snrDb / 20);
  return signal.map((v, i) => v + gain * (noise[i % noise.length] ?? 0));
}

export interface EspeakOptions {
  /** espeak-ng voice, e.g. `en-us`, `en-gb`, `en-us+f3`, `en-gb-scotland+m4`. */
  voice?: string;
  /** Words per minute (espeak default 175). */
  speed?: number;
  /** Pitch 0–99 (default 50). */
  pitch?: number;
  /** Amplitude 0–200 (default 100). */
  amplitude?: number;
}

export interface Speech {
  samples: Float32Array;
  /** First / last 10 ms block with RMS above -40 dBFS, in ms from the start of `samples`. */
  startMs: number;
  endMs: number;
}

/** Speech synthesised by the espeak-ng program, resampled to 16 kHz, with its true bounds from the energy. */
export function espeak(text: string, options: EspeakOptions = {}): Speech {
  const dir = mkdtempSync(path.join(tmpdir(), 'synthians-espeak-'));
  try {
    const file = path.join(dir, 'speech.wav');
    const args = ['-w', file];
    if (options.voice) args.push('-v', options.voice);
    if (options.speed !== undefined) args.push('-s', String(options.speed));
    if (options.pitch !== undefined) args.push('-p', String(options.pitch));
    if (options.amplitude !== undefined) args.push('-a', String(options.amplitude));
    args.push('--', text);
    execFileSync('espeak-ng', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const { samples } = decodeWav(new Uint8Array(readFileSync(file)));
    const bounds = speechBounds(samples);
    if (!bounds) throw new Error(`espeak-ng produced no audible audio for ${JSON.stringify(text)}`);
    return { samples, ...bounds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** First / last 10 ms block with RMS above `threshold` (default 0.01, -40 dBFS), or undefined if none. */
export function speechBounds(
  samples: Float32Array,
  threshold = 0.01,
): { startMs: number; endMs: number } | undefined {
  const block = RATE / 100;
  let first = -1;
  let last = -1;
  for (let b = 0; b * block < samples.length; b++) {
    if (rms(samples.subarray(b * block, (b + 1) * block)) > threshold) {
      if (first < 0) first = b;
      last = b;
    }
  }
  return first < 0 ? undefined : { startMs: first * 10, endMs: (last + 1) * 10 };
}

/** 16-bit PCM mono WAV bytes of 16 kHz (or `rate`) float samples. */
export const wavBytes = (samples: Float32Array, rate = RATE): Uint8Array => encodeWav(samples, rate);
