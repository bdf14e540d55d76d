import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { concat, espeak, hasEspeak, RATE, whiteNoise } from '../testing/signals.ts';
import { AppError } from '@synthians/kit';
import { DEFAULT_VAD_CONFIG, VadDetector, type VadEvent } from './detector.ts';
import { SILERO_WINDOW_SAMPLES, SileroVad } from './silero.ts';

let vad: SileroVad;
before(async () => {
  vad = await SileroVad.create();
});
after(async () => {
  await vad.close();
});

const noise = (seconds: number, amp: number, seed = 1234): Float32Array => whiteNoise(seconds, amp, seed);

test('defaults are LiveKit-like', () => {
  assert.deepEqual(
    { ...DEFAULT_VAD_CONFIG },
    {
      windowMs: 32,
      threshold: 0.5,
      negThreshold: undefined,
      minSpeechMs: 250,
      minSilenceMs: 550,
      prefixPaddingMs: 500,
    },
    'default config',
  );
  assert.throws(() => new VadDetector(vad, { windowMs: 30 }), RangeError, 'window other than 32 ms rejected');
  assert.throws(() => new VadDetector(vad, { threshold: 1.5 }), RangeError, 'threshold > 1 rejected');
  assert.throws(() => new VadDetector(vad, { minSilenceMs: -1 }), RangeError, 'negative duration rejected');
});

test('SileroVad: 512-sample windows only; reset makes runs repeatable', async () => {
  await assert.rejects(
    vad.process(new Float32Array(480)),
    (e: unknown) => AppError.isInstance(e) && e.code === 'invalid_vad_window',
    '480-sample window rejected with invalid_vad_window',
  );
  const x = noise(0.5, 0.05, 7);
  vad.reset();
  const a = await vad.processAll(x);
  vad.reset();
  const b = await vad.processAll(x);
  vad.reset();
  assert.equal(a.length, Math.ceil(x.length / SILERO_WINDOW_SAMPLES), 'one probability per window');
  assert.deepEqual(a, b, 'same input after reset, same probabilities');
  assert.ok(
    a.every((p) => p >= 0 && p <= 1),
    'probabilities in [0, 1]',
  );
});

test('silence: no speech', async () => {
  const d = new VadDetector(vad);
  const segs = await d.segments(new Float32Array(3 * RATE));
  assert.deepEqual(segs, [], 'no segments in digital silence');
  const probs = await vad.processAll(new Float32Array(RATE));
  vad.reset();
  assert.ok(Math.max(...probs) < 0.1, `silence probabilities stay low (max ${Math.max(...probs)})`);
});

test('white noise at a moderate level: no speech', async () => {
  const d = new VadDetector(vad);
  for (const amp of [0.05, 0.2]) {
    // amp 0.05 ~ -31 dBFS RMS, amp 0.2 ~ -19 dBFS RMS.
    const segs = await d.segments(noise(3, amp));
    assert.deepEqual(segs, [], `no segments in white noise of amplitude ${amp}`);
  }
});

test(
  'espeak-ng speech padded with silence: one segment covering the speech',
  { skip: hasEspeak ? false : 'espeak-ng is not installed' },
  async () => {
    const speech = espeak('Hello there, this is a test of the voice activity detector.');
    const padMs = 1000;
    const audio = concat(
      new Float32Array((padMs * RATE) / 1000),
      speech.samples,
      new Float32Array(1.5 * RATE),
    );
    const truth = { start: padMs + speech.startMs, end: padMs + speech.endMs };
    const d = new VadDetector(vad);
    const segs = await d.segments(audio);
    assert.equal(
      segs.length,
      1,
      `one segment (got ${JSON.stringify(segs)}, speech ${JSON.stringify(truth)})`,
    );
    const seg = segs[0]!;
    assert.ok(
      Math.abs(seg.start_ms - truth.start) <= 200,
      `segment start ${seg.start_ms} within 200 ms of speech start ${truth.start}`,
    );
    assert.ok(
      Math.abs(seg.end_ms - truth.end) <= 200,
      `segment end ${seg.end_ms} within 200 ms of speech end ${truth.end}`,
    );

    // Streaming in odd chunk sizes gives the same boundaries as events.
    const events: VadEvent[] = [];
    let at = 0;
    for (let k = 0; at < audio.length; k++) {
      const n = [333, 1000, 4096, 17][k % 4] ?? 333;
      events.push(...(await d.push(audio.subarray(at, at + n))));
      at += n;
    }
    events.push(...(await d.flush()));
    assert.deepEqual(
      events.map((e) => e.type),
      ['speech_start', 'speech_end'],
      'one start and one end event while streaming',
    );
    const [start, end] = events as [VadEvent, VadEvent];
    assert.equal(start.timestampMs, seg.start_ms, 'speech_start at the segment start');
    assert.equal(end.timestampMs, seg.end_ms, 'speech_end at the segment end');
    assert.ok(start.probability >= 0.5, `speech_start probability ${start.probability} >= threshold`);
    assert.ok(
      end.probability < 0.35,
      `speech_end probability ${end.probability} below the deactivation threshold`,
    );
    assert.ok(
      start.detectedAtMs - start.timestampMs >= DEFAULT_VAD_CONFIG.minSpeechMs,
      'speech_start is decided after minSpeechMs of speech',
    );
    assert.ok(
      end.detectedAtMs - end.timestampMs >= DEFAULT_VAD_CONFIG.minSilenceMs,
      'speech_end is decided after minSilenceMs of silence',
    );
    const audioMs = ((start.audio?.length ?? 0) / RATE) * 1000;
    assert.ok(
      Math.abs(audioMs - (start.detectedAtMs - start.timestampMs + DEFAULT_VAD_CONFIG.prefixPaddingMs)) < 1,
      `speech_start carries prefix padding + detected speech (${audioMs} ms)`,
    );
  },
);

test(
  'a short burst below minSpeechMs is not speech; a high minSilenceMs merges phrases',
  { skip: hasEspeak ? false : 'espeak-ng is not installed' },
  async () => {
    const word = espeak('yes');
    const gap = new Float32Array(0.4 * RATE);
    const pad = new Float32Array(RATE);
    const twoWords = concat(pad, word.samples, gap, word.samples, pad);
    const strict = new VadDetector(vad, { minSpeechMs: 2000 });
    assert.deepEqual(
      await strict.segments(twoWords),
      [],
      'no segment when speech is shorter than minSpeechMs',
    );
    const split = new VadDetector(vad, { minSilenceMs: 100, minSpeechMs: 64 });
    const merged = new VadDetector(vad, { minSilenceMs: 1000, minSpeechMs: 64 });
    const a = await split.segments(twoWords);
    const b = await merged.segments(twoWords);
    assert.ok(a.length === 2, `short minSilenceMs splits the two words (${JSON.stringify(a)})`);
    assert.ok(b.length === 1, `long minSilenceMs merges them (${JSON.stringify(b)})`);
  },
);
