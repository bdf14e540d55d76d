// Wake-word detection on the product audio path: the fused preprocessor (high-pass, RNNoise, AGC; VAD off)
// in front of the detector, with "hey jarvis" in 10 dB white / pink noise. The cases are voices and speeds
// measured to score >= 0.95 after preprocessing with these noise seeds. RNNoise helps most in pink noise
// (e.g. en-gb-scotland 150 wpm: 0.64 raw -> 0.99); in 10 dB *white* noise it hurts several voices (en-gb,
// en-gb-x-rp, en-gb-scotland fall below 0.5), which bench/wakeword.ts reports, so only voices that hold up
// are asserted here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { preprocessOffline } from '../preprocess/index.ts';
import {
  concat,
  espeak,
  hasEspeak,
  mixAtSnr,
  pinkNoise,
  RATE,
  rms,
  silence,
  whiteNoise,
  type EspeakOptions,
} from '../testing/signals.ts';
import { WakeWordDetector } from './detector.ts';

const noSpeech = hasEspeak ? false : 'espeak-ng is not installed';
const LEAD_S = 2;
const TAIL_S = 1.5;
const SNR_DB = 10;

let det: WakeWordDetector;
before(async () => {
  det = await WakeWordDetector.create();
});
after(async () => {
  await det.close();
});

const preprocess = (x: Float32Array) => preprocessOffline(x);

/** "hey jarvis" with silence around it, mixed with noise at SNR_DB relative to the speech itself. */
function noisyPhrase(opts: EspeakOptions, kind: 'white' | 'pink') {
  const s = espeak('hey jarvis', opts);
  const clean = concat(silence(LEAD_S), s.samples, silence(TAIL_S));
  const speechRms = rms(s.samples.subarray((s.startMs * RATE) / 1000, (s.endMs * RATE) / 1000));
  const seconds = clean.length / RATE;
  const noise = kind === 'white' ? whiteNoise(seconds, 0.5, 7) : pinkNoise(seconds, 0.1, 8);
  return {
    samples: mixAtSnr(clean, noise, SNR_DB, speechRms),
    startMs: LEAD_S * 1000 + s.startMs,
    endMs: LEAD_S * 1000 + s.endMs,
  };
}

const CASES: Array<[EspeakOptions, 'white' | 'pink']> = [
  [{ voice: 'en-us', speed: 175 }, 'pink'],
  [{ voice: 'en-gb', speed: 150 }, 'pink'],
  [{ voice: 'en-gb-scotland', speed: 150 }, 'pink'],
  [{ voice: 'en-us', speed: 150 }, 'white'],
  [{ voice: 'en-us+f3', speed: 150 }, 'white'],
];

test(
  'preprocessed audio: "hey jarvis" in 10 dB white / pink noise fires once, within the phrase',
  { skip: noSpeech },
  async (t) => {
    for (const [opts, kind] of CASES) {
      const label = `${opts.voice} ${opts.speed} wpm, ${kind} noise at ${SNR_DB} dB`;
      const u = noisyPhrase(opts, kind);
      const y = await preprocess(u.samples);
      assert.equal(y.length, u.samples.length, `${label}: preprocessor output is aligned with its input`);
      await det.reset();
      const raw = await det.process(u.samples);
      await det.reset();
      const { events, steps } = await det.process(y);
      const peak = Math.max(0, ...steps.map((s) => s.scores.hey_jarvis ?? 0));
      const rawPeak = Math.max(0, ...raw.steps.map((s) => s.scores.hey_jarvis ?? 0));
      t.diagnostic(`${label}: peak raw ${rawPeak.toFixed(3)}, preprocessed ${peak.toFixed(3)}`);
      assert.equal(events.length, 1, `${label}: one detection, got ${JSON.stringify(events)}`);
      const e = events[0]!;
      assert.ok(
        e.timestampMs >= u.startMs && e.timestampMs <= u.endMs + 1000,
        `${label}: detection at ${e.timestampMs} ms within the phrase (${u.startMs}–${u.endMs} ms) + 1 s`,
      );
      assert.ok(peak >= 0.9, `${label}: preprocessed peak score ${peak} ≥ 0.9`);
    }
  },
);
