import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tone } from '../testing/signals.ts';
import { HighPassFilter } from './highpass.ts';
import { dB, rmsOf } from './test-helpers.ts';

const level = (y: Float32Array, x: Float32Array, skip: number) => dB(rmsOf(y, skip) / rmsOf(x, skip));

test('high-pass removes DC and 30 Hz rumble, keeps a 1 kHz tone', () => {
  for (const rate of [16000, 48000]) {
    const skip = rate / 2; // let the filters settle for 0.5 s
    const t1k = tone(2, 1000, 0.3, rate);
    const withDc = t1k.map((v) => v + 0.4);
    const y = new HighPassFilter(rate).process(withDc.slice());
    let mean = 0;
    for (let i = skip; i < y.length; i++) mean += y[i] ?? 0;
    mean /= y.length - skip;
    assert.ok(Math.abs(mean) < 1e-4, `${rate} Hz: DC 0.4 removed (mean ${mean})`);
    const toneLevel = level(y, t1k, skip);
    assert.ok(Math.abs(toneLevel) < 0.1, `${rate} Hz: 1 kHz tone level ${toneLevel.toFixed(3)} dB`);

    const rumble = tone(2, 30, 0.5, rate);
    const r = level(new HighPassFilter(rate).process(rumble.slice()), rumble, skip);
    // 2nd-order Butterworth at 80 Hz: ~-17 dB at 30 Hz.
    assert.ok(r < -15, `${rate} Hz: 30 Hz rumble attenuated by ${(-r).toFixed(1)} dB, want > 15 dB`);
    const hum = tone(2, 50, 0.5, rate);
    const h = level(new HighPassFilter(rate).process(hum.slice()), hum, skip);
    assert.ok(h < -6 && h > -10, `${rate} Hz: 50 Hz attenuated by ${(-h).toFixed(1)} dB (expected ~8)`);
    const t300 = tone(2, 300, 0.3, rate);
    const p = level(new HighPassFilter(rate).process(t300.slice()), t300, skip);
    assert.ok(Math.abs(p) < 0.2, `${rate} Hz: 300 Hz passes (${p.toFixed(3)} dB)`);
  }
});

test('cutoff is configurable', () => {
  const rate = 16000;
  const t = tone(1, 150, 0.5, rate);
  const at80 = level(new HighPassFilter(rate, 80).process(t.slice()), t, 8000);
  const at300 = level(new HighPassFilter(rate, 300).process(t.slice()), t, 8000);
  assert.ok(at80 > -1.5, `150 Hz mostly kept with an 80 Hz cutoff (${at80.toFixed(2)} dB)`);
  assert.ok(at300 < -10, `150 Hz cut with a 300 Hz cutoff (${at300.toFixed(2)} dB)`);
  assert.throws(() => new HighPassFilter(rate, 0), RangeError, 'cutoff 0 rejected');
  assert.throws(() => new HighPassFilter(rate, 9000), RangeError, 'cutoff above Nyquist rejected');
});

test('chunking does not change the output; silence does not turn into subnormals', () => {
  const rate = 48000;
  const x = tone(0.5, 440, 0.5, rate).map((v, i) => v + 0.1 + (i % 7) * 0.01);
  const whole = new HighPassFilter(rate).process(x.slice());
  const f = new HighPassFilter(rate);
  const parts: Float32Array[] = [];
  let at = 0;
  for (let k = 0; at < x.length; k++) {
    const n = [1, 7, 480, 333, 4096][k % 5] ?? 1;
    parts.push(f.process(x.slice(at, at + n)));
    at += n;
  }
  const joined = new Float32Array(x.length);
  let o = 0;
  for (const p of parts) {
    joined.set(p, o);
    o += p.length;
  }
  assert.deepEqual(joined, whole, 'odd chunk sizes give identical samples');
  const quiet = f.process(new Float32Array(5 * rate));
  const tail = quiet.subarray(quiet.length - 1000);
  assert.ok(
    tail.every((v) => v === 0),
    'after 5 s of digital silence the output is exactly 0 (states flushed, no subnormals)',
  );
});
