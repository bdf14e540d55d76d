// End-of-speech refinement (detector.ts): the speech_end boundary is moved back from the end of the last
// speech window to the last clearly loud 10 ms block, and the minimum silence is counted from there — but only
// when the audio is clean enough; it must never cut quiet trailing speech, and falls back to the plain
// behaviour in heavy noise.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { concat, espeak, hasEspeak, mixAtSnr, pinkNoise, RATE, rms, whiteNoise } from '../testing/signals.ts';
import { DEFAULT_VAD_CONFIG, VadDetector, type VadEvent } from './detector.ts';
import { SileroVad } from './silero.ts';

const skip = hasEspeak ? false : 'espeak-ng is not installed';
const { minSilenceMs, windowMs } = DEFAULT_VAD_CONFIG;

let vad: SileroVad;
before(async () => {
  vad = await SileroVad.create();
});
after(async () => {
  await vad.close();
});

/** An odd chunk size (20.8 ms), so chunk ends fall between Silero windows. */
const CHUNK = 333;
const CHUNK_MS = (CHUNK / RATE) * 1000;

const silence = (ms: number) => new Float32Array((ms * RATE) / 1000);

async function events(d: VadDetector, audio: Float32Array, chunk = audio.length): Promise<VadEvent[]> {
  const out: VadEvent[] = [];
  for (let at = 0; at < audio.length; at += chunk)
    out.push(...(await d.push(audio.subarray(at, at + chunk))));
  out.push(...(await d.flush()));
  return out;
}

const ends = (es: VadEvent[]) => es.filter((e) => e.type === 'speech_end');

/** Runs refined and plain detectors; checks the invariants that hold for every speech_end. */
async function compare(audio: Float32Array, label: string) {
  const refined = await events(new VadDetector(vad), audio);
  const plain = await events(new VadDetector(vad, {}, { refineEnd: false }), audio);
  assert.deepEqual(
    refined.map((e) => e.type),
    plain.map((e) => e.type),
    `${label}: same events with and without refinement`,
  );
  const r = ends(refined);
  const p = ends(plain);
  r.forEach((e, i) => {
    const q = p[i]!;
    assert.ok(
      e.timestampMs <= q.timestampMs,
      `${label}: refined end ${e.timestampMs} not after ${q.timestampMs}`,
    );
    assert.ok(
      e.timestampMs >= q.timestampMs - 200,
      `${label}: refined end ${e.timestampMs} at most 200 ms before ${q.timestampMs}`,
    );
    assert.ok(
      e.detectedAtMs - e.timestampMs >= minSilenceMs &&
        e.detectedAtMs - e.timestampMs < minSilenceMs + windowMs,
      `${label}: speech_end decided at the first window end >= minSilenceMs after the boundary ` +
        `(${e.timestampMs} → ${e.detectedAtMs})`,
    );
    assert.ok(e.detectedAtMs <= q.detectedAtMs, `${label}: refined decision not later than the plain one`);
    assert.ok(e.probability < 0.35, `${label}: speech_end on a silent window (p ${e.probability})`);
  });
  return { refined, plain, r, p };
}

test(
  'clean speech: the end moves back to the energy end and speech_end comes earlier',
  { skip },
  async () => {
    let moved = 0;
    let earlier = 0;
    for (const text of [
      'Turn the heating up to twenty one degrees.',
      'Open the garage door.',
      'Hello there.',
    ]) {
      const speech = espeak(text);
      const audio = concat(silence(1000), speech.samples, silence(1500));
      const trueEnd = 1000 + speech.endMs;
      const { r, p } = await compare(audio, text);
      assert.equal(r.length, 1, `${text}: one speech_end`);
      const e = r[0]!;
      // Never before the true (energy) end by more than a block; close to it.
      assert.ok(
        e.timestampMs >= trueEnd - 10,
        `${text}: end ${e.timestampMs} not before speech end ${trueEnd}`,
      );
      assert.ok(e.timestampMs <= trueEnd + 100, `${text}: end ${e.timestampMs} within 100 ms of ${trueEnd}`);
      moved += p[0]!.timestampMs - e.timestampMs;
      // Segments use the same boundaries; streaming in odd chunks gives the same events.
      const d = new VadDetector(vad);
      const segs = await d.segments(audio);
      assert.equal(segs[0]?.end_ms, e.timestampMs, `${text}: segment end is the refined boundary`);
      // Streaming in odd chunks gives the same boundary; the decision can come between windows (at the end of
      // a chunk, as soon as the minimum silence has passed), never later than at the window end.
      const streamed = ends(await events(d, audio, CHUNK));
      assert.deepEqual(
        streamed.map((x) => x.timestampMs),
        [e.timestampMs],
        `${text}: streaming in ${CHUNK}-sample chunks gives the same boundary`,
      );
      const at = streamed[0]!.detectedAtMs;
      assert.ok(
        at - e.timestampMs >= minSilenceMs && at - e.timestampMs < minSilenceMs + CHUNK_MS,
        `${text}: streamed speech_end decided at the first chunk end after the minimum silence (${e.timestampMs} → ${at})`,
      );
      assert.ok(at <= e.detectedAtMs, `${text}: not later than the decision at a window end`);
      earlier += e.detectedAtMs - at;
    }
    assert.ok(moved > 0, `the refinement moved at least one boundary (total ${moved} ms)`);
    assert.ok(earlier > 0, `deciding between windows saved time at least once (total ${earlier} ms)`);
  },
);

test('quiet trailing speech is not cut', { skip }, async () => {
  // Words ending in quiet consonants, and a synthetic low-energy tail (a fricative-like noise 28 dB below the
  // speech) right after the voiced part: the boundary must stay at or after the end of that tail whenever the
  // plain detector covered it.
  const cases: { label: string; samples: Float32Array; endMs: number }[] = [];
  for (const text of ['Yes.', 'Stop.', 'Fifth.', 'Pass the salt, please.']) {
    const s = espeak(text);
    cases.push({
      label: text,
      samples: s.samples.subarray(0, Math.round(((s.endMs + 100) * RATE) / 1000)),
      endMs: s.endMs,
    });
  }
  const voiced = espeak('Turn on the light');
  const body = voiced.samples.subarray(0, Math.round((voiced.endMs * RATE) / 1000));
  const speechRms = rms(body.subarray(Math.round((voiced.startMs * RATE) / 1000)));
  const tail = whiteNoise(0.15, speechRms * Math.pow(10, -28 / 20) * Math.sqrt(3), 77);
  cases.push({ label: 'speech + -28 dB tail', samples: concat(body, tail), endMs: voiced.endMs + 150 });
  for (const c of cases) {
    const audio = concat(silence(1000), c.samples, silence(1500));
    const { r, p } = await compare(audio, c.label);
    assert.equal(r.length, 1, `${c.label}: one speech_end`);
    const trueEnd = 1000 + c.endMs;
    const floor = Math.min(p[0]!.timestampMs, trueEnd) - 10;
    assert.ok(
      r[0]!.timestampMs >= floor,
      `${c.label}: refined end ${r[0]!.timestampMs} keeps the trailing speech (ends ${trueEnd}, plain ${p[0]!.timestampMs})`,
    );
  }
});

test('speech in 0 dB SNR noise: falls back to the plain boundaries', { skip }, async () => {
  const speech = espeak('Could you turn the lights off in the kitchen, please?');
  const clean = concat(silence(1500), speech.samples, silence(1500), speech.samples, silence(1500));
  const speechRms = rms(
    speech.samples.subarray(
      Math.round((speech.startMs * RATE) / 1000),
      Math.round((speech.endMs * RATE) / 1000),
    ),
  );
  for (const [name, noise] of [
    ['white', whiteNoise(clean.length / RATE, 1, 5)],
    ['pink', pinkNoise(clean.length / RATE, 0.1, 6)],
  ] as const) {
    const audio = mixAtSnr(clean, noise, 0, speechRms);
    const { refined, plain, r } = await compare(audio, `0 dB ${name}`);
    assert.ok(r.length >= 1, `0 dB ${name}: speech detected`);
    assert.deepEqual(
      refined.map((e) => [e.type, e.timestampMs, e.detectedAtMs]),
      plain.map((e) => [e.type, e.timestampMs, e.detectedAtMs]),
      `0 dB ${name}: identical events with and without refinement`,
    );
    // Streaming does not decide between windows either: nothing is clean enough to judge the partial window.
    const streamed = await events(new VadDetector(vad), audio, CHUNK);
    assert.deepEqual(
      streamed.map((e) => [e.type, e.timestampMs, e.detectedAtMs]),
      plain.map((e) => [e.type, e.timestampMs, e.detectedAtMs]),
      `0 dB ${name}: streamed events as in the plain detector`,
    );
  }
});

test(
  'no background estimate yet: speech at the very start of the stream is not refined',
  { skip },
  async () => {
    // Without MIN_NOISE_MS of non-speech before the drop there is no noise level to compare with.
    const speech = espeak('Yes.');
    const audio = concat(speech.samples.subarray(Math.round((speech.startMs * RATE) / 1000)), silence(1500));
    const { refined, plain, r } = await compare(audio, 'speech at stream start');
    assert.equal(r.length, 1, 'one speech_end');
    assert.deepEqual(
      refined.map((e) => [e.type, e.timestampMs, e.detectedAtMs]),
      plain.map((e) => [e.type, e.timestampMs, e.detectedAtMs]),
      'identical events with and without refinement',
    );
  },
);
