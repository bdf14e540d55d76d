import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { PcmTo16k, type PcmFormat } from '../audio/pcm.ts';
import type { VadEvent } from '../vad/detector.ts';
import { concat, espeak, hasEspeak, pinkNoise, RATE, silence, tone, whiteNoise } from '../testing/signals.ts';
import { HighPassFilter } from './highpass.ts';
import { closeIdleVads, FusedPreprocessor, STAGE_NAMES, type FusedPreprocessorOptions } from './pipeline.ts';
import { assertRejectsAppError, chunks, encodeInterleaved, resampleTo } from './test-helpers.ts';

const skip = hasEspeak ? false : 'espeak-ng is not installed';
after(closeIdleVads);

/** 1 s noise, one sentence, 1.5 s noise; pink noise at 10 dB SNR, quiet-ish speech (~-30 dBFS). */
function speechInNoise() {
  const s = espeak('Could you turn the heating up a little in the bedroom?');
  const clean = concat(
    silence(1),
    s.samples.map((v) => v * 0.3),
    silence(1.5),
  );
  const noise = pinkNoise(clean.length / RATE, 1, 21);
  let sp = 0;
  for (let i = s.startMs * 16; i < s.endMs * 16; i++) sp += (s.samples[i] ?? 0) ** 2 * 0.09;
  const speechRms = Math.sqrt(sp / ((s.endMs - s.startMs) * 16));
  const mono = clean.map((v, i) => v + (noise[i] ?? 0) * (speechRms / 10 ** (10 / 20)));
  return { mono, truth: { start: 1000 + s.startMs, end: 1000 + s.endMs } };
}

/** Mono 16 kHz -> bytes in `format` (stereo: same signal plus a little independent noise per channel). */
function toBytes(mono: Float32Array, format: PcmFormat): Uint8Array {
  const x = format.sampleRate === RATE ? mono : resampleTo(mono, RATE, format.sampleRate);
  const chans = Array.from({ length: format.channels }, (_, c) =>
    format.channels === 1 ? x : x.map((v, i) => v + ((i * (c + 3)) % 17) * 1e-5),
  );
  return encodeInterleaved(chans, format.encoding);
}

async function runAll(
  options: FusedPreprocessorOptions,
  bytes: Uint8Array,
  sizes: number[] = [bytes.length],
) {
  const p = await FusedPreprocessor.create(options);
  const parts: Float32Array[] = [];
  const events: VadEvent[] = [];
  for (const c of chunks(bytes, sizes)) {
    const r = await p.push(c);
    parts.push(r.samples);
    events.push(...r.events);
  }
  const last = await p.end();
  parts.push(last.samples);
  events.push(...last.events);
  const stats = p.stats();
  await p.close();
  return { samples: concat(...parts), events, stats, latencyMs: p.latencyMs };
}

const FORMATS: PcmFormat[] = [
  { encoding: 'pcm_s16le', sampleRate: 48000, channels: 2 },
  { encoding: 'pcm_f32le', sampleRate: 16000, channels: 1 },
];

test(
  'speech in noise at 48 kHz stereo s16 and 16 kHz f32: speech_start / speech_end around the speech',
  { skip },
  async () => {
    const { mono, truth } = speechInNoise();
    for (const input of FORMATS) {
      const label = `${input.sampleRate} Hz ${input.channels}ch ${input.encoding}`;
      const bytes = toBytes(mono, input);
      const r = await runAll({ input }, bytes, [
        Math.round(input.sampleRate * 0.02) * input.channels * (input.encoding === 'pcm_s16le' ? 2 : 4),
      ]);
      assert.equal(r.samples.length, mono.length, `${label}: one 16 kHz sample per input sample period`);
      assert.deepEqual(
        r.events.map((e) => e.type),
        ['speech_start', 'speech_end'],
        `${label}: one speech segment (${JSON.stringify(r.events.map((e) => [e.type, e.timestampMs]))}, truth ${JSON.stringify(truth)})`,
      );
      const [start, end] = r.events as [VadEvent, VadEvent];
      assert.ok(
        Math.abs(start.timestampMs - truth.start) <= 300,
        `${label}: speech_start ${start.timestampMs} ms near ${truth.start} ms`,
      );
      assert.ok(
        Math.abs(end.timestampMs - truth.end) <= 300,
        `${label}: speech_end ${end.timestampMs} ms near ${truth.end} ms`,
      );
      assert.ok(start.audio && start.audio.length > 0, `${label}: speech_start carries the prefix audio`);
      // Stats: every stage ran, audio seconds match.
      for (const n of STAGE_NAMES) {
        if (n === 'resample' && input.sampleRate === 48000) continue;
        assert.ok(
          r.stats.stages[n].calls > 0 && r.stats.stages[n].seconds > 0,
          `${label}: stage ${n} timed (${JSON.stringify(r.stats.stages[n])})`,
        );
      }
      assert.ok(
        Math.abs(r.stats.audioSeconds - mono.length / RATE) < 1e-9,
        `${label}: audioSeconds ${r.stats.audioSeconds}`,
      );
      assert.equal(r.stats.outputSamples, mono.length, `${label}: outputSamples`);
      assert.ok(r.latencyMs > 20 && r.latencyMs < 25, `${label}: latency with RNNoise ${r.latencyMs} ms`);
    }
  },
);

test(
  'chunking does not change samples or events (48 kHz stereo s16, 44.1 kHz mono f32, 16 kHz mono s16)',
  { skip },
  async () => {
    const { mono } = speechInNoise();
    for (const input of [
      FORMATS[0]!,
      { encoding: 'pcm_f32le', sampleRate: 44100, channels: 1 } as PcmFormat,
      { encoding: 'pcm_s16le', sampleRate: 16000, channels: 1 } as PcmFormat,
    ]) {
      const bytes = toBytes(mono.subarray(0, Math.round(3.2 * RATE)), input);
      const whole = await runAll({ input }, bytes);
      const odd = await runAll({ input }, bytes, [1, 3, 1001, 7, 4097, 333, 65537]);
      assert.ok(whole.events.length > 0, `${input.sampleRate}: the excerpt has VAD events`);
      assert.deepEqual(
        odd.samples,
        whole.samples,
        `${input.sampleRate}: identical samples for odd chunk sizes`,
      );
      assert.deepEqual(odd.events, whole.events, `${input.sampleRate}: identical events for odd chunk sizes`);
    }
  },
);

test('stages can be switched off: all off is exactly PcmTo16k; high-pass only is PcmTo16k + HighPassFilter', async () => {
  // Quiet noise with a DC offset, a burst of white noise, then quiet 200 ms tone bursts (-37 dBFS) the AGC must lift.
  const mono = concat(
    pinkNoise(0.7, 0.001, 5).map((v) => v + 0.2),
    whiteNoise(0.5, 0.3, 6),
    tone(1.2, 440, 0.02).map((v, i) => (Math.floor(i / 3200) % 2 === 0 ? v : 0)),
  );
  for (const input of [
    { encoding: 'pcm_s16le', sampleRate: 44100, channels: 2 },
    { encoding: 'pcm_f32le', sampleRate: 16000, channels: 1 },
    { encoding: 'pcm_s16le', sampleRate: 8000, channels: 1 },
  ] as PcmFormat[]) {
    const bytes = toBytes(mono, input);
    const ref = new PcmTo16k(input);
    const expected = concat(ref.push(bytes), ref.end());
    const off = { highpass: false, denoise: false, agc: false, vad: false };
    const r = await runAll({ input, stages: off }, bytes, [999, 13]);
    assert.deepEqual(r.samples, expected, `${input.sampleRate}: all stages off equals PcmTo16k`);
    assert.deepEqual(r.events, [], `${input.sampleRate}: no VAD events with VAD off`);
    for (const n of ['highpass', 'denoise', 'agc', 'vad'] as const) {
      assert.equal(r.stats.stages[n].calls, 0, `${input.sampleRate}: stage ${n} did not run`);
    }
    const hp = await runAll({ input, stages: { ...off, highpass: true }, highpassHz: 120 }, bytes);
    assert.deepEqual(
      hp.samples,
      new HighPassFilter(16000, 120).process(expected.slice()),
      `${input.sampleRate}: high-pass only`,
    );
    const agcOnly = await runAll({ input, stages: { ...off, agc: true } }, bytes);
    assert.notDeepEqual(agcOnly.samples, expected, `${input.sampleRate}: AGC changes the samples`);
    assert.equal(agcOnly.samples.length, expected.length, `${input.sampleRate}: AGC keeps the length`);
  }
});

test('bad input surfaces as AppErrors, never a crash', async () => {
  const noVad = { vad: false, denoise: false };
  for (const input of [
    { encoding: 'pcm_u8', sampleRate: 16000, channels: 1 },
    { encoding: 'pcm_s16le', sampleRate: 11025, channels: 1 },
    { encoding: 'pcm_s16le', sampleRate: 16000, channels: 3 },
    { encoding: 'pcm_f32le', sampleRate: 96000, channels: 2 },
  ]) {
    await assertRejectsAppError(
      FusedPreprocessor.create({ input: input as PcmFormat }),
      'unsupported_audio_format',
      JSON.stringify(input),
    );
  }
  await assertRejectsAppError(
    FusedPreprocessor.create({ input: FORMATS[1]!, highpassHz: 0 }),
    'invalid_preprocess_options',
    'high-pass cutoff 0',
  );
  await assertRejectsAppError(
    FusedPreprocessor.create({ input: FORMATS[1]!, vad: { threshold: 2 } }),
    'invalid_preprocess_options',
    'VAD threshold 2',
  );

  // Truncated: stereo s16 is 4 bytes per frame; 10 bytes leave 2 dangling at the end.
  const t = await FusedPreprocessor.create({ input: FORMATS[0]!, stages: noVad });
  await t.push(new Uint8Array(10));
  await assertRejectsAppError(t.end(), 'truncated_audio', 'stream ended mid-frame');
  await t.close();
  // The same with RNNoise and VAD on.
  const t2 = await FusedPreprocessor.create({ input: FORMATS[0]! });
  await t2.push(new Uint8Array(4803));
  await assertRejectsAppError(t2.end(), 'truncated_audio', 'stream ended mid-frame, all stages');
  await t2.close();

  for (const bad of [NaN, Infinity, -Infinity]) {
    const x = new Float32Array(1000);
    x[777] = bad;
    const p = await FusedPreprocessor.create({ input: FORMATS[1]! });
    await p.push(encodeInterleaved([x.subarray(0, 500)], 'pcm_f32le'));
    const err = await assertRejectsAppError(
      p.push(encodeInterleaved([x.subarray(500)], 'pcm_f32le')),
      'non_finite_samples',
      `bytes with ${bad}`,
    );
    assert.deepEqual(err.details, { frame: 777, channel: 0 }, 'error names the absolute frame');
    await assertRejectsAppError(
      p.push(new Uint8Array(8)),
      'non_finite_samples',
      'the failed stream stays failed',
    );
    await p.close();
    const q = await FusedPreprocessor.create({ input: FORMATS[1]!, stages: noVad });
    await assertRejectsAppError(q.pushSamples(x), 'non_finite_samples', `pushSamples with ${bad}`);
    await q.close();
  }
  const e = await FusedPreprocessor.create({ input: FORMATS[1]!, stages: noVad });
  await e.end();
  await assertRejectsAppError(e.push(new Uint8Array(4)), 'stream_ended', 'push after end');
  await e.close();
  await assert.rejects(e.push(new Uint8Array(4)), /closed/, 'push after close rejects');
});
