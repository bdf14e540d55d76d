import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { concat, espeak, hasEspeak, pinkNoise, RATE, silence, whiteNoise } from '../testing/signals.ts';
import { loadRnnoise, NoiseSuppressor, RNNOISE_DELAY_SAMPLES } from './denoise.ts';
import { closeIdleVads, FusedPreprocessor } from './pipeline.ts';
import { maskedPower, powerDb, resampleTo } from './test-helpers.ts';

const skip = hasEspeak ? false : 'espeak-ng is not installed';
after(closeIdleVads);

function speech(): { clean: Float32Array; mask: Uint8Array } {
  const a = espeak('Please turn off the radio in the kitchen.').samples;
  const b = espeak('What time is it in Tokyo?', { voice: 'en-us+f3' }).samples;
  const clean = concat(silence(1), a, silence(1), b, silence(0.8));
  // 1: speech block (> -34 dBFS), 0: digital silence in the clean signal (noise only after mixing).
  const mask = new Uint8Array(clean.length).fill(2);
  for (let i = 0; i < clean.length; i += 160) {
    let s = 0;
    for (let j = i; j < i + 160 && j < clean.length; j++) s += (clean[j] ?? 0) ** 2;
    const r = Math.sqrt(s / 160);
    if (r > 0.02) mask.fill(1, i, i + 160);
    else if (r === 0) mask.fill(0, i, i + 160);
  }
  return { clean, mask };
}

/** Denoise only (no high-pass / AGC / VAD) through the pipeline, 16 kHz f32 in. */
async function denoise16k(x: Float32Array): Promise<Float32Array> {
  const p = await FusedPreprocessor.create({
    input: { encoding: 'pcm_f32le', sampleRate: RATE, channels: 1 },
    stages: { highpass: false, agc: false, vad: false },
  });
  const a = await p.pushSamples(x);
  const b = await p.end();
  await p.close();
  return concat(a.samples, b.samples);
}

test(
  'RNNoise lowers noise by many dB and keeps the speech (white and pink noise, 5 dB SNR)',
  { skip },
  async () => {
    const { clean, mask } = speech();
    const speechPower = maskedPower(clean, mask, 1).power;
    for (const [name, noise] of [
      ['white', whiteNoise(clean.length / RATE, 1, 11)],
      ['pink', pinkNoise(clean.length / RATE, 1, 12)],
    ] as const) {
      const g =
        Math.sqrt(speechPower / maskedPower(noise, new Uint8Array(noise.length), 0).power) / 10 ** (5 / 20);
      const noisy = clean.map((v, i) => v + g * (noise[i] ?? 0));
      const out = await denoise16k(noisy);
      assert.equal(out.length, noisy.length, `${name}: output length equals input length at 16 kHz`);
      // Skip the first 0.3 s: RNNoise needs a moment to learn the noise.
      const from = Math.round(0.3 * RATE);
      const m = mask.subarray(from);
      const noiseDrop = powerDb(
        maskedPower(out.subarray(from), m, 0).power / maskedPower(noisy.subarray(from), m, 0).power,
      );
      const speechKeep = powerDb(maskedPower(out, mask, 1).power / speechPower);
      let errIn = 0;
      let errOut = 0;
      for (let i = from; i < clean.length; i++) {
        const c = clean[i] ?? 0;
        errIn += ((noisy[i] ?? 0) - c) ** 2;
        errOut += ((out[i] ?? 0) - c) ** 2;
      }
      const snrGain = powerDb(errIn / errOut);
      // Measured (sapphi-red SIMD build, short 48 kHz hop filter): noise -31.3 / -28.6 dB (white / pink),
      // speech -0.4 / -0.5 dB, SNR +9.3 / +9.1 dB. (xiph v0.2 build with the long filter: -30.6 / -28.7 dB,
      // -0.5 / -0.6 dB, +9.9 / +9.7 dB.)
      assert.ok(
        noiseDrop < -15,
        `${name}: noise-only stretches drop by ${(-noiseDrop).toFixed(1)} dB, want > 15`,
      );
      assert.ok(
        Math.abs(speechKeep) < 3,
        `${name}: speech energy changes by ${speechKeep.toFixed(2)} dB, want within 3`,
      );
      // Only possible if the output is time-aligned with the input (RNNoise's delay compensated).
      assert.ok(
        snrGain > 5,
        `${name}: SNR against the clean speech improves by ${snrGain.toFixed(1)} dB, want > 5`,
      );
    }
  },
);

test(
  'NoiseSuppressor: delay compensated, length preserved, chunking invariant, close frees',
  { skip },
  async () => {
    const x = resampleTo(speech().clean.subarray(0, 2 * RATE), RATE, 48000).map(
      (v, i) => v + ((i * 7919) % 13) * 1e-4,
    );
    const run = async (sizes: number[]) => {
      const ns = await NoiseSuppressor.create();
      const parts: Float32Array[] = [];
      let at = 0;
      for (let k = 0; at < x.length; k++) {
        const n = sizes[k % sizes.length] ?? 1;
        parts.push(ns.push(x.subarray(at, at + n)));
        at += n;
      }
      parts.push(ns.flush());
      ns.close();
      return concat(...parts);
    };
    const whole = await run([x.length]);
    assert.equal(whole.length, x.length, 'output length equals input length');
    assert.deepEqual(await run([1, 479, 481, 7, 3000]), whole, 'odd chunk sizes give identical output');
    // Cross-correlation with the input peaks at lag 0: the RNNoise delay (480 samples) is compensated.
    let best = -Infinity;
    let bestLag = NaN;
    for (let lag = -RNNOISE_DELAY_SAMPLES - 100; lag <= RNNOISE_DELAY_SAMPLES + 100; lag += 1) {
      let s = 0;
      for (let i = 48000; i < 90000; i += 2) s += (x[i] ?? 0) * (whole[i + lag] ?? 0);
      if (s > best) {
        best = s;
        bestLag = lag;
      }
    }
    assert.equal(bestLag, 0, `output aligned with input (best lag ${bestLag})`);
    const ns = await NoiseSuppressor.create();
    ns.close();
    ns.close();
    assert.throws(() => ns.push(new Float32Array(480)), /closed/, 'push after close throws');
  },
);

test('the SIMD build of RNNoise is loaded once and shared', async () => {
  const a = await loadRnnoise();
  assert.equal(await loadRnnoise(), a, 'one module per process');
  // Node 20 compiles WASM SIMD; falling back to the scalar build would cost ~20% more CPU.
  assert.ok(a.simd, 'rnnoise_simd.wasm is in use');
  // Enough streams to grow the WASM heap (~25 kB per state, 16 MB initial heap): states stay independent
  // and work after the growth (the heap view is refreshed).
  const before = a.heap().length;
  const many: NoiseSuppressor[] = [];
  while (a.heap().length === before && many.length < 3000) many.push(await NoiseSuppressor.create());
  assert.ok(a.heap().length > before, `heap grew after ${many.length} streams`);
  const x = new Float32Array(4800).map((_, i) => 0.1 * Math.sin(i / 7));
  const first = many[0]!.push(x);
  const last = many[many.length - 1]!.push(x);
  assert.deepEqual(last, first, 'identical streams give identical output');
  for (const ns of many) ns.close();
});
