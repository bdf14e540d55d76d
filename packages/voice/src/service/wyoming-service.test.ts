// The Wyoming server, driven by a client that writes and reads the wire format byte for byte (its own parser,
// not ours): JSON header line, then `data_length` bytes of JSON, then `payload_length` bytes of payload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startTestService, type TestService } from '@synthians/kit';
import { resample } from '../audio/resample.ts';
import { VadDetector } from '../vad/detector.ts';
import { concat, espeak, hasEspeak, RATE, silence } from '../testing/signals.ts';
import { wyomingService } from './wyoming-service.ts';
import { RawClient } from './wyoming-test-support.ts';

const hasPocketsphinx = spawnSync('pocketsphinx_continuous', ['-h'], { stdio: 'ignore' }).error === undefined;
const speechTest = {
  skip: hasEspeak
    ? hasPocketsphinx
      ? false
      : 'pocketsphinx is not installed'
    : 'espeak-ng is not installed',
};

let svc: TestService;
let port: number;

before(async () => {
  svc = await startTestService(wyomingService, { env: { WAKE_WORD_MODELS: 'hey_jarvis,alexa' } });
  port = Number(new URL(svc.url).port);
});
after(async () => {
  await svc.destroy();
});

test('describe → info with asr, tts and wake programs (old-style inline data accepted)', async () => {
  const c = await RawClient.connect(port);
  c.raw('{"type": "describe", "data": {}}\n');
  const info = await c.waitFor('info');
  assert.ok(
    typeof info.header.data_length === 'number' && info.header.data_length > 0,
    'info data sent after the header',
  );
  const asr = info.data.asr as { name: string; models: { name: string; languages: string[] }[] }[];
  const tts = info.data.tts as { voices: { name: string }[] }[];
  const wake = info.data.wake as { models: { name: string; phrase: string }[] }[];
  assert.equal(asr[0]?.models[0]?.name, 'pocketsphinx', 'the configured ASR engine is listed');
  assert.ok(
    (tts[0]?.voices.length ?? 0) > 10 && tts[0]!.voices.some((v) => v.name === 'en-us'),
    'espeak voices listed',
  );
  assert.deepEqual(
    wake[0]?.models.map((m) => [m.name, m.phrase]),
    [
      ['hey_jarvis', 'hey jarvis'],
      ['alexa', 'alexa'],
    ],
    'wake models with phrases',
  );
  c.send('ping', { text: 'abc' });
  assert.deepEqual((await c.waitFor('pong')).data, { text: 'abc' }, 'pong echoes the text');
  c.close();
});

test('transcribe: a spoken command → voice-started, voice-stopped, transcript', speechTest, async () => {
  const s = espeak('what time is it');
  const c = await RawClient.connect(port);
  c.send('transcribe', { language: 'en' });
  c.sendAudio(concat(silence(0.5), s.samples, silence(1)), 22050, 777);
  const transcript = await c.waitFor('transcript');
  assert.equal(
    transcript.data.text,
    'what time is it',
    `recognised the command (got ${JSON.stringify(transcript.data)})`,
  );
  const types = c.events.map((e) => e.type);
  assert.ok(
    types.indexOf('voice-started') >= 0 && types.indexOf('voice-started') < types.indexOf('voice-stopped'),
    `VAD events (${types.join(',')})`,
  );
  const started = c.events.find((e) => e.type === 'voice-started')!;
  assert.ok(
    Math.abs((started.data.timestamp as number) - (500 + s.startMs)) < 250,
    `voice-started timestamp ${String(started.data.timestamp)}`,
  );
  c.close();
});

test('synthesize → audio-start, audio-chunks, audio-stop with speech at the announced rate', async () => {
  const c = await RawClient.connect(port);
  c.send('synthesize', { text: 'Hello there. The timer is set for five minutes.', voice: { name: 'en-us' } });
  const stop = await c.waitFor('audio-stop');
  const start = c.events.find((e) => e.type === 'audio-start')!;
  assert.deepEqual(
    [start.data.rate, start.data.width, start.data.channels],
    [22050, 2, 1],
    'format announced in audio-start',
  );
  const chunks = c.events.filter((e) => e.type === 'audio-chunk');
  assert.ok(chunks.length > 5, `several chunks (${chunks.length})`);
  assert.ok(
    chunks.every((ch) => ch.data.rate === 22050 && ch.payload.length % 2 === 0),
    'every chunk carries its format and whole samples',
  );
  const pcm = Buffer.concat(chunks.map((ch) => ch.payload));
  const samples = Float32Array.from({ length: pcm.length / 2 }, (_, i) => pcm.readInt16LE(i * 2) / 32768);
  const seconds = samples.length / 22050;
  assert.ok(seconds > 1.5 && seconds < 8, `plausible duration (${seconds.toFixed(2)} s)`);
  assert.ok(
    Math.abs((stop.data.timestamp as number) - seconds * 1000) < 100,
    'audio-stop timestamp = audio length',
  );
  const vad = await VadDetector.create();
  const segs = await vad.segments(resample(samples, 22050, RATE));
  assert.ok(segs.length >= 1, `the audio is speech (VAD segments ${JSON.stringify(segs)})`);
  c.close();
});

test('streaming synthesis: synthesize-start/chunk/stop → per-sentence audio, synthesize-stopped, compat synthesize ignored', async () => {
  const c = await RawClient.connect(port);
  c.send('synthesize-start', { voice: { name: 'en-gb' } });
  for (const part of ['Good mor', 'ning. It is sun', 'ny today', '. Bye'])
    c.send('synthesize-chunk', { text: part });
  c.send('synthesize-stop');
  c.send('synthesize', { text: 'Good morning. It is sunny today. Bye' });
  await c.waitFor('synthesize-stopped');
  await new Promise((r) => setTimeout(r, 300));
  const starts = c.events.filter((e) => e.type === 'audio-start').length;
  const stops = c.events.filter((e) => e.type === 'audio-stop').length;
  assert.ok(starts >= 2 && starts === stops, `one audio run per sentence (${starts} starts, ${stops} stops)`);
  const last = c.events.map((e) => e.type).lastIndexOf('audio-start');
  assert.ok(
    last < c.events.findIndex((e) => e.type === 'synthesize-stopped'),
    'the compatibility synthesize produced no extra audio',
  );
  c.close();
});

test(
  'detect: "hey jarvis" → detection; other speech → not-detected',
  { skip: hasEspeak ? false : 'espeak-ng is not installed' },
  async () => {
    const c = await RawClient.connect(port);
    c.send('detect', { names: ['hey_jarvis'] });
    c.sendAudio(concat(silence(1.5), espeak('hey jarvis').samples, silence(1)));
    const detection = await c.waitFor('detection');
    assert.equal(detection.data.name, 'hey_jarvis', 'the wake word is named');
    assert.ok(
      typeof detection.data.timestamp === 'number' && detection.data.timestamp > 1500,
      'timestamp after the silence',
    );
    c.close();

    const c2 = await RawClient.connect(port);
    c2.send('detect');
    c2.sendAudio(concat(silence(1.5), espeak('what is the weather like').samples, silence(1)));
    await c2.waitFor('not-detected');
    assert.ok(!c2.events.some((e) => e.type === 'detection'), 'no detection on other speech');
    c2.close();
  },
);

test('bad input: error events, and a broken stream closes the connection', async () => {
  const c = await RawClient.connect(port);
  c.send('audio-chunk', { rate: 16000, width: 2, channels: 1 }, new Uint8Array(64));
  assert.equal(
    (await c.waitFor('error')).data.code,
    'invalid_wyoming_event',
    'audio-chunk before audio-start',
  );
  c.events.length = 0;
  c.send('audio-start', { rate: 11025, width: 2, channels: 1 });
  assert.equal((await c.waitFor('error')).data.code, 'unsupported_audio_format', 'unsupported rate');
  c.events.length = 0;
  c.send('audio-start', { rate: 16000, width: 3, channels: 1 });
  assert.equal((await c.waitFor('error')).data.code, 'unsupported_audio_format', '24-bit audio');
  c.events.length = 0;
  c.send('detect', { names: ['okay_computer'] });
  assert.equal((await c.waitFor('error')).data.code, 'unknown_wake_word_model', 'unknown wake word');
  c.events.length = 0;
  c.send('synthesize', { text: '' });
  assert.equal((await c.waitFor('error')).data.code, 'invalid_wyoming_event', 'empty text');
  c.events.length = 0;
  c.send('some-future-event', { x: 1 });
  c.send('ping');
  await c.waitFor('pong');
  assert.ok(!c.events.some((e) => e.type === 'error'), 'unknown events are ignored');
  // Broken framing: not JSON.
  c.raw('{this is not json}\n');
  const err = await c.waitFor('error');
  assert.equal(err.data.code, 'invalid_wyoming_event', 'framing error reported');
  await new Promise<void>((r) => (c.closed ? r() : c.socket.once('close', () => r())));
  assert.ok(c.closed, 'connection closed after a framing error');
});

test('the same port answers HTTP: /health and /metrics', async () => {
  const res = await fetch(`${svc.url}/health`);
  const body = (await res.json()) as { status: string; checks: Record<string, { status: string }> };
  assert.equal(res.status, 200, 'health over HTTP on the Wyoming port');
  assert.equal(body.checks.stt?.status, 'healthy', 'pocketsphinx check');
  const metrics = await (await fetch(`${svc.url}/metrics`)).text();
  assert.ok(
    /wyoming_events_total\{[^}]*type="describe"[^}]*\} [1-9]/.test(metrics),
    `events counted in /metrics:\n${metrics
      .split('\n')
      .filter((l) => l.includes('wyoming'))
      .join('\n')}`,
  );
});
