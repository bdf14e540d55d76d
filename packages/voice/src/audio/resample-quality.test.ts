import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resampler, resample, ROLLOFF, ZERO_CROSSINGS } from './resample.ts';
import { dB, rms, tone } from './test-helpers.ts';

test('default options are the long filter: explicit defaults give bit-identical output', () => {
  const x = tone(44100, 0.2, 1234, 0.7);
  const whole = resample(x, 44100);
  assert.deepEqual(
    resample(x, 44100, 16000, { zeroCrossings: ZERO_CROSSINGS, rolloff: ROLLOFF }),
    whole,
    'explicit defaults',
  );
  const r = new Resampler(48000, 16000);
  assert.equal(r.zeroCrossings, ZERO_CROSSINGS, 'default zeroCrossings');
  assert.equal(r.rolloff, ROLLOFF, 'default rolloff');
  assert.equal(r.lookahead, 3 * ZERO_CROSSINGS, 'look-ahead of 48k -> 16k in input samples');
  assert.equal(new Resampler(16000, 16000).lookahead, 0, 'no look-ahead at equal rates');
});

test('a short filter is cheaper, streams bit-identically to one-shot and keeps the passband', () => {
  const opts = { zeroCrossings: 8, rolloff: 0.95 };
  assert.equal(new Resampler(16000, 48000, opts).lookahead, 8, 'up: 8 input samples of look-ahead');
  assert.equal(new Resampler(48000, 16000, opts).lookahead, 24, 'down: 24 input samples of look-ahead');
  let seed = 3;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const x = tone(16000, 0.3, 1000, 0.5).map((v) => v + (rnd() - 0.5) * 0.1);
  const whole = resample(x, 16000, 48000, opts);
  assert.equal(whole.length, 3 * x.length, 'length');
  const r = new Resampler(16000, 48000, opts);
  const parts: number[] = [];
  for (let at = 0; at < x.length;) {
    const n = Math.floor(rnd() * 400);
    parts.push(...r.push(x.subarray(at, at + n)));
    at += n;
  }
  parts.push(...r.flush());
  assert.deepEqual(Float32Array.from(parts), whole, 'chunked equals one-shot');
  assert.notDeepEqual(whole, resample(x, 16000, 48000), 'differs from the long filter');
  // 16k -> 48k -> 16k round trip (the denoise hop): flat to 5 kHz, -0.7 dB at 6 kHz.
  for (const [f, lo, hi] of [
    [300, -0.01, 0.01],
    [3400, -0.01, 0.01],
    [5000, -0.05, 0.01],
    [6000, -1, -0.4],
  ] as const) {
    const t = tone(16000, 0.5, f, 0.5);
    const y = resample(resample(t, 16000, 48000, opts), 48000, 16000, opts);
    const level = dB(rms(y.subarray(400, y.length - 400)) / rms(t.subarray(400, t.length - 400)));
    assert.ok(
      level > lo && level < hi,
      `${f} Hz round-trip level ${level.toFixed(3)} dB, want (${lo}, ${hi})`,
    );
  }
});

test('invalid filter options are rejected', () => {
  for (const bad of [
    { zeroCrossings: 0 },
    { zeroCrossings: 2.5 },
    { rolloff: 0 },
    { rolloff: 1.2 },
    { rolloff: NaN },
  ]) {
    assert.throws(() => new Resampler(48000, 16000, bad), RangeError, JSON.stringify(bad));
  }
});
