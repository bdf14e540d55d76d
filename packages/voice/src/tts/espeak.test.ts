import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '@synthians/kit';
import { VadDetector } from '../vad/index.ts';
import { rms } from '../testing/signals.ts';
import { EspeakTtsProvider } from './espeak.ts';
import { splitSentences } from './sentences.ts';
import type { SynthesizeOptions, TtsChunk } from './types.ts';

const tts = new EspeakTtsProvider();
before(() => tts.warmUp());
after(() => tts.close());

async function collect(text: string, options: SynthesizeOptions = {}): Promise<TtsChunk[]> {
  const out: TtsChunk[] = [];
  for await (const c of tts.synthesize(text, options)) out.push(c);
  return out;
}

function samplesOf(c: TtsChunk): Float32Array {
  const v = new DataView(c.audio.buffer, c.audio.byteOffset, c.audio.byteLength);
  if (c.encoding === 'pcm_f32le')
    return Float32Array.from({ length: c.audio.length / 4 }, (_, i) => v.getFloat32(i * 4, true));
  return Float32Array.from({ length: c.audio.length / 2 }, (_, i) => v.getInt16(i * 2, true) / 32768);
}

const seconds = (c: TtsChunk) => samplesOf(c).length / c.sampleRate;

test('audio at 16000/22050/48000 Hz in both encodings, with consistent durations', async () => {
  const text = 'Hello world, this is a short test of the speech engine.';
  const durations: number[] = [];
  for (const sampleRate of [16000, 22050, 48000]) {
    for (const encoding of ['pcm_s16le', 'pcm_f32le'] as const) {
      const chunks = await collect(text, { sampleRate, encoding });
      assert.equal(chunks.length, 1, 'one sentence');
      const c = chunks[0] as TtsChunk;
      assert.equal(c.sampleRate, sampleRate);
      assert.equal(c.encoding, encoding);
      assert.equal(c.audio.length % (encoding === 'pcm_s16le' ? 2 : 4), 0, 'whole samples');
      const x = samplesOf(c);
      assert.ok(rms(x) > 0.01, `audible audio at ${sampleRate} ${encoding} (rms ${rms(x)})`);
      durations.push(seconds(c));
    }
  }
  const ref = durations[0] as number;
  assert.ok(ref > 1 && ref < 8, `plausible duration ${ref}s`);
  for (const d of durations)
    assert.ok(Math.abs(d - ref) / ref < 0.02, `durations agree: ${durations.join(', ')}`);
});

test('one chunk per sentence, in order, the first before later sentences are synthesised', async (t) => {
  const text = 'The first sentence is here. The second one follows it. And the third closes the reply.';
  const expected = splitSentences(text);
  assert.equal(expected.length, 3);
  const runsBefore = tts.engine.runs;
  const started = performance.now();
  const chunks: TtsChunk[] = [];
  let firstAt = 0;
  for await (const c of tts.synthesize(text)) {
    if (chunks.length === 0) {
      firstAt = performance.now() - started;
      assert.equal(
        tts.engine.runs - runsBefore,
        1,
        'only the first sentence was synthesised when it was yielded',
      );
    }
    chunks.push(c);
  }
  const total = performance.now() - started;
  assert.deepEqual(
    chunks.map((c) => c.index),
    [0, 1, 2],
  );
  assert.deepEqual(
    chunks.map((c) => c.text),
    expected,
  );
  assert.equal(tts.engine.runs - runsBefore, 3);
  assert.ok(firstAt < total, 'first chunk before the end');
  const audioSeconds = chunks.reduce((s, c) => s + seconds(c), 0);
  t.diagnostic(
    `time to first audio ${firstAt.toFixed(0)} ms; ${audioSeconds.toFixed(2)} s of audio in ${total.toFixed(0)} ms (RTF ${(total / 1000 / audioSeconds).toFixed(3)})`,
  );
});

test('stopping after the first chunk synthesises nothing more', async () => {
  const runsBefore = tts.engine.runs;
  for await (const c of tts.synthesize(
    'Just the first sentence please. Not this one. Nor this one at all.',
  )) {
    assert.equal(c.index, 0);
    break;
  }
  assert.equal(tts.engine.runs - runsBefore, 1);
});

test('Silero VAD finds speech in the 16 kHz output', async () => {
  const [c] = await collect('Good morning. The weather today will be sunny with a light breeze.', {
    sampleRate: 16000,
  });
  assert.ok(c, 'a chunk');
  const vad = await VadDetector.create();
  const segments = await vad.segments(samplesOf(c));
  assert.ok(segments.length >= 1, 'speech segments found');
  const speechMs = segments.reduce((s, g) => s + g.end_ms - g.start_ms, 0);
  assert.ok(
    speechMs > 0.5 * seconds(c) * 1000,
    `most of the audio is speech (${speechMs} ms of ${seconds(c)} s)`,
  );
});

test('faster speed gives shorter audio', async () => {
  const text = 'The quick brown fox jumps over the lazy dog near the river bank.';
  const [normal] = await collect(text, { speed: 1 });
  const [fast] = await collect(text, { speed: 2 });
  const [slow] = await collect(text, { speed: 0.6 });
  assert.ok(normal && fast && slow, 'chunks');
  assert.ok(seconds(fast) < 0.7 * seconds(normal), `fast ${seconds(fast)} vs normal ${seconds(normal)}`);
  assert.ok(seconds(slow) > 1.3 * seconds(normal), `slow ${seconds(slow)} vs normal ${seconds(normal)}`);
});

test('text starting with "-" is spoken, not taken as an option', async () => {
  for (const text of ['--version', '-w /etc/passwd -v xx --help']) {
    const chunks = await collect(text);
    assert.equal(chunks.length, 1);
    const c = chunks[0] as TtsChunk;
    assert.equal(c.text, text);
    assert.ok(seconds(c) > 0.4, `spoken audio for ${text}: ${seconds(c)} s`);
    assert.ok(rms(samplesOf(c)) > 0.01, 'audible');
  }
});

test('voices: listed from the data, variants work, unknown ones are rejected', async () => {
  const voices = await tts.voices();
  const names = voices.map((v) => v.name);
  for (const n of ['en-us', 'en-gb', 'de', 'fr-fr']) assert.ok(names.includes(n), `voice ${n} listed`);
  assert.deepEqual(voices.find((v) => v.name === 'en-us')?.languages, ['en-us', 'en']);
  const us = await collect('Testing voices now.', { voice: 'en-us' });
  const f3 = await collect('Testing voices now.', { voice: 'en-us+f3' });
  const gb = await collect('Testing voices now.', { voice: 'en-gb' });
  for (const c of [us[0], f3[0], gb[0]]) assert.ok(c && rms(samplesOf(c)) > 0.01, 'audible');
  assert.notDeepEqual(us[0]?.audio, f3[0]?.audio, 'a variant changes the voice');
  await assert.rejects(collect('Hello there.', { voice: 'xx-nosuch' }), (e) => {
    assert.ok(AppError.isInstance(e), 'an AppError');
    assert.equal(e.code, 'unknown_tts_voice');
    return true;
  });
  await assert.rejects(
    collect('Hello there.', { voice: '--help' }),
    /invalid_tts_request|Invalid espeak-ng voice/,
  );
  assert.equal((await tts.check()).ok, true);
  assert.equal(process.exitCode, undefined, 'espeak exit statuses do not leak into the process');
});
