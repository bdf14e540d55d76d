import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { AppError } from '@synthians/kit';
import {
  concat,
  espeak,
  hasEspeak,
  melody,
  mixAtSnr,
  pinkNoise,
  RATE,
  silence,
  whiteNoise,
  type EspeakOptions,
} from '../testing/signals.ts';
import {
  WAKE_WORD_STEP_MS,
  WAKE_WORD_STEP_SAMPLES,
  WakeWordDetector,
  type StepScores,
  type WakeWordResult,
} from './detector.ts';
import { openWakeWordModelsDir, resolveWakeWordModel, WAKE_WORD_MODELS } from './models.ts';
import { builtinVerifierPath, loadVerifier } from './verifier.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const noSpeech = hasEspeak ? false : 'espeak-ng is not installed';
const LEAD_S = 2;
const TAIL_S = 1.5;

let det: WakeWordDetector;
before(async () => {
  det = await WakeWordDetector.create();
});
after(async () => {
  await det.close();
});

/** `text` spoken by espeak-ng with silence before and after; also returns where the speech lies (ms). */
function utterance(text: string, opts: EspeakOptions, leadS = LEAD_S, tailS = TAIL_S) {
  const s = espeak(text, opts);
  return {
    samples: concat(silence(leadS), s.samples, silence(tailS)),
    startMs: leadS * 1000 + s.startMs,
    endMs: leadS * 1000 + s.endMs,
  };
}

async function run(d: WakeWordDetector, samples: Float32Array): Promise<WakeWordResult> {
  await d.reset();
  return d.process(samples);
}

const maxScore = (steps: StepScores[], name: string): number =>
  Math.max(0, ...steps.map((s) => s.scores[name] ?? 0));

const appErrorCode = (code: string) => (err: unknown) => AppError.isInstance(err) && err.code === code;

// Voices and speeds for which espeak-ng's "hey jarvis" scores ≥ 0.97 (measured); en-029 at 140 wpm scores
// only 0.45 and is left out here (the benchmark covers many more variants and reports the rate honestly).
// Near misses on which the classifier alone fires even at 0.5 (measured: "hey charlie" scores 0.96–1.0 in these
// voices) and which the built-in verifier rejects with a wide margin (verifier probability <= 0.5).
const NEAR_MISSES: Array<[string, EspeakOptions]> = [
  ['hey charlie', { voice: 'en-gb' }],
  ['hey charlie', { voice: 'en-us+f2' }],
  ['hey charlie', { voice: 'en-gb-scotland' }],
  ['hey jenny', { voice: 'en-us+f3' }],
];

const JARVIS_VOICES: EspeakOptions[] = [
  { voice: 'en-us', speed: 140 },
  { voice: 'en-us', speed: 175 },
  { voice: 'en-gb', speed: 150 },
  { voice: 'en-us+f3', speed: 160 },
  { voice: 'en-gb-scotland', speed: 175 },
  { voice: 'en-us+f2', speed: 140 },
];

test(
  'fires exactly once on "hey jarvis" in several espeak-ng voices, at the end of the phrase',
  { skip: noSpeech },
  async () => {
    for (const opts of JARVIS_VOICES) {
      const u = utterance('hey jarvis', opts);
      const { events, steps } = await run(det, u.samples);
      assert.equal(
        events.length,
        1,
        `one detection for ${JSON.stringify(opts)}, got ${JSON.stringify(events)}`,
      );
      const e = events[0]!;
      assert.equal(e.name, 'hey_jarvis');
      assert.ok(e.score >= det.threshold && e.score <= 1, `score ${e.score} in [${det.threshold}, 1]`);
      assert.ok(e.verifierScore! >= det.verified.hey_jarvis!, `verifier score ${e.verifierScore}`);
      assert.ok(
        e.timestampMs >= u.startMs && e.timestampMs <= u.endMs + 1000,
        `detection at ${e.timestampMs} ms within the phrase (${u.startMs}–${u.endMs} ms) + 1 s`,
      );
      assert.ok(maxScore(steps, 'hey_jarvis') >= 0.9, `peak score ≥ 0.9 for ${JSON.stringify(opts)}`);
    }
  },
);

test('fires on "hey jarvis" mixed with white and pink noise at 20 dB SNR', { skip: noSpeech }, async () => {
  const u = utterance('hey jarvis', { voice: 'en-gb', speed: 160 });
  const speechRms = Math.sqrt(u.samples.reduce((a, v) => a + v * v, 0) / u.samples.length);
  for (const noise of [whiteNoise(1, 0.1, 7), pinkNoise(1, 0.1, 8)]) {
    const noisy = mixAtSnr(u.samples, noise, 20, speechRms);
    const { events } = await run(det, noisy);
    assert.equal(events.length, 1, `one detection in noise, got ${JSON.stringify(events)}`);
  }
});

test('does not fire on other phrases, noise, music-like tones or silence', { skip: noSpeech }, async (t) => {
  const negatives: Array<[string, Float32Array]> = [];
  for (const text of [
    'hello there',
    'what time is it',
    'turn on the kitchen lights',
    'hey marvin',
    'jar of beans',
  ]) {
    for (const voice of ['en-us', 'en-gb', 'en-us+f3']) {
      negatives.push([`${text} (${voice})`, utterance(text, { voice }).samples]);
    }
  }
  negatives.push(['silence', silence(6)]);
  negatives.push(['white noise', whiteNoise(8, 0.3, 11)]);
  negatives.push(['pink noise', pinkNoise(8, 0.1, 12)]);
  negatives.push(['melody', melody(8, 0.3, 13)]);
  for (const [label, samples] of negatives) {
    const { events, steps } = await run(det, samples);
    const peak = maxScore(steps, 'hey_jarvis');
    t.diagnostic(`${label}: peak hey_jarvis score ${peak.toFixed(3)}`);
    assert.equal(events.length, 0, `no detection on ${label}, got ${JSON.stringify(events)}`);
    assert.ok(peak < 0.2, `peak score ${peak} on ${label} well below the threshold`);
  }
});

test('"hey travis" scores below "hey jarvis" (near-miss, reported)', { skip: noSpeech }, async (t) => {
  for (const voice of ['en-us', 'en-gb', 'en-us+f3']) {
    const travis = maxScore((await run(det, utterance('hey travis', { voice }).samples)).steps, 'hey_jarvis');
    const jarvis = maxScore((await run(det, utterance('hey jarvis', { voice }).samples)).steps, 'hey_jarvis');
    t.diagnostic(`${voice}: hey travis ${travis.toFixed(3)}, hey jarvis ${jarvis.toFixed(3)}`);
    assert.ok(travis < jarvis - 0.3, `${voice}: hey travis (${travis}) clearly below hey jarvis (${jarvis})`);
  }
});

test('the refractory period prevents double firing', { skip: noSpeech }, async () => {
  const u = utterance('hey jarvis', { voice: 'en-us', speed: 140 });
  const eager = await WakeWordDetector.create({ refractoryMs: 0 });
  try {
    const raw = await run(eager, u.samples);
    assert.ok(raw.events.length > 1, `without a refractory period one phrase fires on several steps`);
  } finally {
    await eager.close();
  }
  assert.equal((await run(det, u.samples)).events.length, 1, 'the default 2 s refractory period fires once');
  // Two phrases 3 s apart fire twice; two phrases 0.5 s apart with a 5 s refractory period fire once.
  const twice = concat(u.samples, silence(1.5), u.samples);
  assert.equal((await run(det, twice)).events.length, 2, 'phrases ~5 s apart fire twice');
  const slow = await WakeWordDetector.create({ refractoryMs: 8000 });
  try {
    const { events } = await run(slow, twice);
    assert.equal(events.length, 1, `an 8 s refractory period suppresses the second phrase`);
  } finally {
    await slow.close();
  }
});

test('scores do not depend on the chunk size; warm-up and timestamps', { skip: noSpeech }, async () => {
  const u = utterance('hey jarvis', { voice: 'en-gb', speed: 175 });
  const whole = await run(det, u.samples);
  assert.equal(
    whole.steps.length,
    Math.floor(u.samples.length / WAKE_WORD_STEP_SAMPLES),
    'one step per 80 ms',
  );
  whole.steps.forEach((s, i) => assert.equal(s.timestampMs, (i + 1) * WAKE_WORD_STEP_MS, 'step time'));
  // Warm-up: 16 embeddings (1.28 s) before hey_jarvis scores count.
  assert.ok(
    whole.steps.slice(0, 15).every((s) => s.scores.hey_jarvis === 0),
    'scores are 0 during the warm-up',
  );
  assert.ok((whole.steps[15]?.scores.hey_jarvis ?? 0) > 0, 'first real score at the 16th step');
  for (const size of [1, 160, 999, 1280, 4000]) {
    await det.reset();
    const steps: StepScores[] = [];
    const events = [];
    for (let at = 0; at < u.samples.length; at += size) {
      const r = await det.process(u.samples.subarray(at, at + size));
      steps.push(...r.steps);
      events.push(...r.events);
    }
    assert.deepEqual(steps, whole.steps, `identical scores with ${size}-sample chunks`);
    assert.deepEqual(events, whole.events, `identical events with ${size}-sample chunks`);
  }
  // Concurrent pushes queue in call order.
  await det.reset();
  const chunks = [];
  for (let at = 0; at < u.samples.length; at += 3000) chunks.push(u.samples.slice(at, at + 3000));
  const results = await Promise.all(chunks.map((c) => det.process(c)));
  assert.deepEqual(
    results.flatMap((r) => r.steps),
    whole.steps,
    'concurrent calls are serialised in order',
  );
});

test('several models at once report the right name; custom model paths', { skip: noSpeech }, async () => {
  const custom = path.join(openWakeWordModelsDir(), WAKE_WORD_MODELS.hey_jarvis);
  const multi = await WakeWordDetector.create({ models: ['alexa', custom, 'timer'] });
  try {
    assert.deepEqual(
      multi.names,
      [
        'alexa',
        'hey_jarvis_v0.1',
        '1_minute_timer',
        '5_minute_timer',
        '10_minute_timer',
        '20_minute_timer',
        '30_minute_timer',
        '1_hour_timer',
      ],
      'names of single-output models and labels of the multi-class timer model',
    );
    const cases: Array<[string, EspeakOptions, string]> = [
      ['hey jarvis', { voice: 'en-us', speed: 150 }, 'hey_jarvis_v0.1'],
      ['alexa', { voice: 'en-gb', speed: 150 }, 'alexa'],
      ['set a five minute timer', { voice: 'en-us', speed: 150 }, '5_minute_timer'],
    ];
    for (const [text, opts, name] of cases) {
      // The timer model looks at 34 embeddings (2.7 s), so give it a longer lead-in.
      const { events } = await run(multi, utterance(text, opts, 3).samples);
      assert.deepEqual(
        events.map((e) => e.name),
        [name],
        `"${text}" fires ${name} only, got ${JSON.stringify(events)}`,
      );
    }
  } finally {
    await multi.close();
  }
});

test('the built-in hey_jarvis verifier: default thresholds, scores on every step, off with "none"', async () => {
  const v = loadVerifier(builtinVerifierPath('hey_jarvis')!);
  assert.equal(v.window, 16);
  assert.ok(v.detectorThreshold !== undefined && v.detectorThreshold < 0.5, 'tuned below 0.5');
  assert.deepEqual(det.verified, { hey_jarvis: v.threshold }, 'on by default');
  assert.equal(
    det.threshold,
    v.detectorThreshold,
    'the default threshold is the one the verifier was tuned with',
  );
  const off = await WakeWordDetector.create({ verifier: 'none' });
  assert.deepEqual(off.verified, {});
  assert.equal(off.threshold, 0.5, 'without a verifier the default threshold stays 0.5');
  const { steps } = await off.process(new Float32Array(WAKE_WORD_STEP_SAMPLES * 3));
  assert.equal(steps[0]!.verifierScores, undefined);
  await off.close();
  // Other models have no built-in verifier: the 0.5 default applies to them.
  const alexa = await WakeWordDetector.create({ models: ['alexa'] });
  assert.deepEqual(alexa.verified, {});
  assert.equal(alexa.threshold, 0.5);
  await alexa.close();
  // An explicit threshold wins; a verifier file by path; a verifier threshold override.
  const dir = mkdtempSync(path.join(tmpdir(), 'synthians-verifier-'));
  const file = path.join(dir, 'v.json');
  writeFileSync(file, JSON.stringify({ ...v, threshold: 0.7 }));
  const custom = await WakeWordDetector.create({ threshold: 0.4, verifier: file, verifierThreshold: 0.6 });
  assert.equal(custom.threshold, 0.4);
  assert.deepEqual(custom.verified, { hey_jarvis: 0.6 });
  await custom.close();
});

test(
  'the verifier accepts "hey jarvis" and rejects near misses the classifier alone lets through',
  { skip: noSpeech },
  async (t) => {
    // Same low classifier threshold with and without the verifier.
    const bare = await WakeWordDetector.create({ verifier: 'none', threshold: det.threshold });
    try {
      for (const opts of JARVIS_VOICES) {
        const u = utterance('hey jarvis', opts);
        const { events, steps } = await run(det, u.samples);
        assert.equal(events.length, 1, `one detection for ${JSON.stringify(opts)}`);
        assert.ok(events[0]!.verifierScore! >= det.verified.hey_jarvis!, 'verifier score reported');
        assert.ok(steps.every((s) => s.verifierScores?.hey_jarvis !== undefined));
      }
      let rejected = 0;
      for (const [text, opts] of NEAR_MISSES) {
        const u = utterance(text, opts);
        const withVerifier = await run(det, u.samples);
        const without = await run(bare, u.samples);
        const peak = maxScore(without.steps, 'hey_jarvis');
        t.diagnostic(
          `${text} (${opts.voice}): classifier peak ${peak.toFixed(3)}, ${without.events.length} → ${withVerifier.events.length} detections with the verifier`,
        );
        assert.equal(withVerifier.events.length, 0, `no detection on ${text} (${opts.voice})`);
        if (without.events.length > 0) rejected++;
      }
      assert.ok(
        rejected >= 1,
        `the verifier rejected ${rejected} near misses that the classifier alone accepted`,
      );
    } finally {
      await bare.close();
    }
  },
);

test('bad options and bad input give clear errors', async () => {
  await assert.rejects(
    WakeWordDetector.create({ models: ['hey_siri'] }),
    appErrorCode('unknown_wake_word_model'),
  );
  await assert.rejects(
    WakeWordDetector.create({ models: ['/nonexistent/model.onnx'] }),
    appErrorCode('wake_word_model_not_found'),
  );
  await assert.rejects(
    WakeWordDetector.create({ embeddingModelPath: '/nonexistent/embedding.onnx' }),
    appErrorCode('wake_word_model_not_found'),
  );
  // A file that is not a classifier (the mel-spectrogram model).
  await assert.rejects(
    WakeWordDetector.create({ models: [path.join(openWakeWordModelsDir(), 'melspectrogram.onnx')] }),
    appErrorCode('invalid_wake_word_model'),
  );
  await assert.rejects(WakeWordDetector.create({ models: [] }), appErrorCode('invalid_wake_word_models'));
  await assert.rejects(
    WakeWordDetector.create({ models: ['alexa', 'alexa'] }),
    appErrorCode('invalid_wake_word_models'),
  );
  for (const threshold of [0, 1, -0.2, 1.5, NaN]) {
    await assert.rejects(
      WakeWordDetector.create({ threshold }),
      appErrorCode('invalid_wake_word_threshold'),
      `threshold ${threshold}`,
    );
  }
  for (const refractoryMs of [-1, Infinity, NaN]) {
    await assert.rejects(
      WakeWordDetector.create({ refractoryMs }),
      appErrorCode('invalid_wake_word_refractory'),
      `refractory ${refractoryMs}`,
    );
  }
  assert.throws(() => resolveWakeWordModel(''), appErrorCode('unknown_wake_word_model'));
  // Verifiers.
  await assert.rejects(
    WakeWordDetector.create({ verifier: '/nonexistent/verifier.json' }),
    appErrorCode('wake_word_model_not_found'),
  );
  const dir = mkdtempSync(path.join(tmpdir(), 'synthians-verifier-'));
  const junk = path.join(dir, 'junk.json');
  writeFileSync(junk, '{"name": "hey_jarvis", "window": 16, "weights": [1, 2]}');
  await assert.rejects(
    WakeWordDetector.create({ verifier: junk }),
    appErrorCode('invalid_wake_word_verifier'),
  );
  writeFileSync(junk, 'not json');
  await assert.rejects(
    WakeWordDetector.create({ verifier: junk }),
    appErrorCode('invalid_wake_word_verifier'),
  );
  await assert.rejects(
    WakeWordDetector.create({ models: ['alexa'], verifier: builtinVerifierPath('hey_jarvis')! }),
    appErrorCode('invalid_wake_word_verifier'),
    'a verifier for a wake word that is not loaded',
  );
  await assert.rejects(WakeWordDetector.create({ verifier: '' }), appErrorCode('invalid_wake_word_verifier'));
  for (const verifierThreshold of [0, 1, NaN]) {
    await assert.rejects(
      WakeWordDetector.create({ verifierThreshold }),
      appErrorCode('invalid_wake_word_verifier'),
      `verifier threshold ${verifierThreshold}`,
    );
  }

  const d = await WakeWordDetector.create({ models: ['hey_rhasspy'] });
  const bad = new Float32Array(RATE / 10);
  bad[17] = NaN;
  await assert.rejects(d.push(bad), appErrorCode('non_finite_samples'));
  bad[17] = Infinity;
  await assert.rejects(d.push(bad), appErrorCode('non_finite_samples'));
  await assert.rejects(d.push([0, 1] as unknown as Float32Array), appErrorCode('invalid_samples'));
  // A rejected push leaves nothing buffered: the stream clock only counts accepted audio.
  await d.push(new Float32Array(WAKE_WORD_STEP_SAMPLES * 2));
  assert.equal(d.streamMs, 2 * WAKE_WORD_STEP_MS, 'only the accepted samples advanced the stream');
  await d.close();
  await assert.rejects(d.push(new Float32Array(10)), /closed/);
});
