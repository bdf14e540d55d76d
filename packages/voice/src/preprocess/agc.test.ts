import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  concat,
  espeak,
  hasEspeak,
  pinkNoise,
  RATE,
  scaleToRms,
  silence,
  whiteNoise,
} from '../testing/signals.ts';
import { AutoGain } from './agc.ts';
import { maskedPower, powerDb, speechMask } from './test-helpers.ts';

const skip = hasEspeak ? false : 'espeak-ng is not installed';
const LIMIT = 10 ** (-1 / 20);

/** Two sentences with pauses; the speech scaled so its active (masked) RMS is `dbfs`. */
function speechAt(dbfs: number) {
  const a = espeak('Turn on the lights in the kitchen and set them to fifty percent.').samples;
  const b = espeak('What is the weather like tomorrow?', { voice: 'en-us+f3' }).samples;
  const raw = concat(silence(0.5), a, silence(0.6), b, silence(0.5));
  const mask = speechMask(raw, RATE);
  const active = Math.sqrt(maskedPower(raw, mask).power);
  const g = 10 ** (dbfs / 20) / active;
  return { x: raw.map((v) => v * g), mask };
}

const activeDb = (y: Float32Array, mask: Uint8Array, from: number) =>
  powerDb(maskedPower(y.subarray(from), mask.subarray(from)).power);

test('AGC raises quiet speech toward the target without clipping', { skip }, () => {
  for (const level of [-45, -35]) {
    const { x, mask } = speechAt(level);
    const y = new AutoGain(RATE).process(x.slice());
    const out = activeDb(y, mask, 2 * RATE); // after 2 s the level estimate has settled
    assert.ok(
      Math.abs(out - -20) < 3,
      `speech at ${level} dBFS comes out at ${out.toFixed(1)} dBFS, want -20 ± 3`,
    );
    const peak = y.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(peak <= LIMIT + 1e-6, `peak ${peak.toFixed(4)} stays under the -1 dBFS limiter`);
  }
});

test('AGC turns loud speech down and never exceeds the limiter', { skip }, () => {
  const { x, mask } = speechAt(-8);
  const peakIn = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const y = new AutoGain(RATE).process(x.slice());
  const out = activeDb(y, mask, 2 * RATE);
  assert.ok(
    out < -15 && out > -25,
    `loud speech (-8 dBFS, peak ${peakIn.toFixed(2)}) brought to ${out.toFixed(1)} dBFS`,
  );
  const peak = y.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(peak <= LIMIT + 1e-6, `peak ${peak.toFixed(4)} <= limiter ceiling`);
  // Even with a huge gain the limiter holds: +30 dB on speech at -25 dBFS with a -3 dBFS target.
  const hot = new AutoGain(RATE, { targetDbfs: -3, maxGainDb: 30 }).process(speechAt(-25).x);
  const hotPeak = hot.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(hotPeak <= LIMIT + 1e-6, `hot setting: peak ${hotPeak.toFixed(4)} <= limiter ceiling`);
});

test('AGC does not pump silence or a steady noise floor', () => {
  const cases: [string, Float32Array][] = [
    ['digital silence', silence(3)],
    ['white noise at -65 dBFS', scaleToRms(whiteNoise(3, 1, 3), 10 ** (-65 / 20))],
    ['pink noise at -45 dBFS', pinkNoise(3, 10 ** (-45 / 20), 8)],
  ];
  for (const [name, x] of cases) {
    const agc = new AutoGain(RATE);
    const y = agc.process(x.slice());
    const inDb = powerDb(maskedPower(x, new Uint8Array(x.length)).power + 1e-20);
    const outDb = powerDb(maskedPower(y, new Uint8Array(y.length)).power + 1e-20);
    assert.ok(outDb - inDb < 0.5, `${name}: output ${outDb.toFixed(1)} dB vs input ${inDb.toFixed(1)} dB`);
    assert.ok(Math.abs(agc.gainDb) < 0.5, `${name}: gain stays at 0 dB (got ${agc.gainDb.toFixed(2)})`);
  }
});

test('AGC target and max gain are configurable; chunking does not change the output', { skip }, () => {
  const { x, mask } = speechAt(-40);
  const t30 = activeDb(new AutoGain(RATE, { targetDbfs: -30 }).process(x.slice()), mask, 2 * RATE);
  assert.ok(Math.abs(t30 - -30) < 3, `target -30 dBFS reached (${t30.toFixed(1)})`);
  const capped = activeDb(new AutoGain(RATE, { maxGainDb: 10 }).process(x.slice()), mask, 2 * RATE);
  assert.ok(
    Math.abs(capped - -30) < 1.5,
    `max gain 10 dB caps -40 dBFS speech at ~-30 (${capped.toFixed(1)})`,
  );
  assert.throws(() => new AutoGain(RATE, { targetDbfs: 3 }), RangeError, 'positive target rejected');

  const whole = new AutoGain(RATE).process(x.slice());
  const agc = new AutoGain(RATE);
  const joined = new Float32Array(x.length);
  let at = 0;
  for (let k = 0; at < x.length; k++) {
    const n = [1, 159, 161, 1000, 7][k % 5] ?? 1;
    joined.set(agc.process(x.slice(at, at + n)), at);
    at += n;
  }
  assert.deepEqual(joined, whole, 'odd chunk sizes give identical samples');
});
