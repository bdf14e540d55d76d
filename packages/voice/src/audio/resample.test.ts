import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resampler, resample } from './resample.ts';
import { assertTone16k, dB, RATES, rms, tone } from './test-helpers.ts';

test('1 kHz tone at every supported rate comes out at 16 kHz with the same frequency and level', () => {
  for (const rate of RATES) {
    const x = tone(rate, 0.5);
    assertTone16k(resample(x, rate), x.length, rate, 0.5, `${rate} Hz`);
  }
});

test('chunked streaming is bit-identical to one-shot processing', () => {
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (const rate of RATES) {
    const x = tone(rate, 0.2, 1234, 0.7);
    const whole = resample(x, rate);
    for (const maxChunk of [1, 7, 333, 5000]) {
      const r = new Resampler(rate);
      const parts: number[] = [];
      let at = 0;
      while (at < x.length) {
        const n = Math.min(x.length - at, Math.floor(rnd() * (maxChunk + 1)));
        parts.push(...r.push(x.subarray(at, at + n)));
        at += n;
      }
      parts.push(...r.flush());
      assert.deepEqual(Float32Array.from(parts), whole, `${rate} Hz, chunks up to ${maxChunk}`);
    }
  }
});

test('anti-aliasing: tones above 8 kHz are rejected and passband tones kept', () => {
  for (const rate of [22050, 32000, 44100, 48000]) {
    for (const f of [9000, 10000]) {
      const out = resample(tone(rate, 0.5, f, 0.5), rate);
      const level = dB(rms(out.subarray(400, out.length - 400)) / (0.5 / Math.SQRT2));
      assert.ok(level < -60, `${rate} Hz: ${f} Hz alias at ${level.toFixed(1)} dB, want < -60 dB`);
    }
    for (const f of [300, 3400, 6000]) {
      const out = resample(tone(rate, 0.5, f, 0.5), rate);
      const level = dB(rms(out.subarray(400, out.length - 400)) / (0.5 / Math.SQRT2));
      assert.ok(Math.abs(level) < 0.1, `${rate} Hz: ${f} Hz passband level ${level.toFixed(3)} dB`);
    }
  }
});

test('16 kHz input passes through unchanged; empty input gives empty output', () => {
  const x = tone(16000, 0.01);
  assert.deepEqual(resample(x, 16000), x, 'identity at 16 kHz');
  assert.equal(resample(new Float32Array(0), 44100).length, 0, 'empty in, empty out');
  const r = new Resampler(48000);
  assert.equal(r.flush().length, 0, 'flush with no input');
  assert.throws(() => new Resampler(0), RangeError, 'rate 0 rejected');
});
