import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { MemoryBus, startTestService, type TestService } from '@synthians/kit';
import { encodeWav, encodePcmMono } from '../audio/encode.ts';
import { resample } from '../audio/resample.ts';
import { concat, espeak, hasEspeak, RATE, silence, whiteNoise } from '../testing/signals.ts';
import { vadService } from './vad-service.ts';
import { subjects } from './subjects.ts';

const speechTest = { skip: hasEspeak ? false : 'espeak-ng is not installed' };

let svc: TestService;
let bus: MemoryBus;
let utterance: { samples: Float32Array; start: number; end: number };

before(async () => {
  bus = new MemoryBus();
  svc = await startTestService(vadService, {
    bus,
    env: { MAX_STREAMS: '2', MAX_AUDIO_BYTES: String(4 * 1024 * 1024) },
  });
  if (hasEspeak) {
    const s = espeak('Please turn on the kitchen lights and set a timer.');
    utterance = {
      samples: concat(silence(1), s.samples, silence(1.5)),
      start: 1000 + s.startMs,
      end: 1000 + s.endMs,
    };
  }
});
after(async () => {
  await svc.destroy();
  await bus.close();
});

async function postWav(body: Uint8Array | string, query = '', type = 'audio/wav') {
  const res = await fetch(`${svc.url}/v1/vad/segments${query}`, {
    method: 'POST',
    headers: { 'content-type': type },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('POST /v1/vad/segments: a WAV at 22.05 kHz → one segment on the speech', speechTest, async () => {
  const wav = encodeWav(resample(utterance.samples, RATE, 22050), 22050);
  const res = await postWav(wav);
  assert.equal(res.status, 200, `200 (got ${JSON.stringify(res.body)})`);
  const segs = res.body.segments as { start_ms: number; end_ms: number }[];
  assert.equal(segs.length, 1, `one segment (got ${JSON.stringify(segs)})`);
  assert.ok(
    Math.abs(segs[0]!.start_ms - utterance.start) <= 200,
    `start ${segs[0]!.start_ms} ≈ ${utterance.start}`,
  );
  assert.ok(Math.abs(segs[0]!.end_ms - utterance.end) <= 200, `end ${segs[0]!.end_ms} ≈ ${utterance.end}`);
  assert.ok(
    Math.abs((res.body.duration_ms as number) - (utterance.samples.length / RATE) * 1000) < 5,
    'duration_ms',
  );
  // A minimum speech longer than the utterance: no segment (query overrides apply).
  const strict = await postWav(wav, '?min_speech_ms=10000');
  assert.deepEqual(strict.body.segments, [], 'min_speech_ms override honoured');
});

test('POST /v1/vad/segments: bad input gets 4xx with an error envelope', async () => {
  const cases: [string, Promise<{ status: number; body: Record<string, unknown> }>, number, string][] = [
    ['empty body', postWav(new Uint8Array(0)), 400, 'missing_audio'],
    ['not a WAV', postWav(new TextEncoder().encode('hello, this is not audio at all')), 400, 'invalid_wav'],
    [
      'threshold out of range',
      postWav(encodeWav(silence(0.5), RATE), '?threshold=2'),
      400,
      'validation_error',
    ],
    ['unknown option', postWav(encodeWav(silence(0.5), RATE), '?bogus=1'), 400, 'validation_error'],
    ['text body', postWav('abc', '', 'text/plain'), 415, 'unsupported_media_type'],
    ['too large', postWav(new Uint8Array(5 * 1024 * 1024)), 413, 'body_too_large'],
  ];
  for (const [what, p, status, code] of cases) {
    const res = await p;
    const err = res.body.error as { code: string; message: string } | undefined;
    assert.equal(
      res.status,
      status,
      `${what}: status ${status} (got ${res.status} ${JSON.stringify(res.body)})`,
    );
    if (code !== 'validation_error') assert.equal(err?.code, code, `${what}: code ${code}`);
    assert.ok(typeof err?.message === 'string' && err.message.length > 0, `${what}: a message`);
  }
  // A truncated WAV (header promises more data than there is).
  const wav = encodeWav(silence(1), RATE);
  const res = await postWav(wav.subarray(0, wav.length - 1001));
  assert.equal(res.status, 400, 'truncated WAV → 400');
});

interface Received {
  json: Record<string, unknown>[];
  closeCode?: number;
}

function openStream(): Promise<{ ws: WebSocket; received: Received; closed: Promise<void> }> {
  const ws = new WebSocket(`${svc.url.replace('http', 'ws')}/v1/vad/stream`);
  const received: Received = { json: [] };
  const closed = new Promise<void>((resolve) => {
    ws.on('close', (code) => {
      received.closeCode = code;
      resolve();
    });
  });
  ws.on('message', (data, isBinary) => {
    if (!isBinary) received.json.push(JSON.parse(String(data)) as Record<string, unknown>);
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, received, closed }));
    ws.once('error', reject);
  });
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test(
  'WebSocket stream: 48 kHz stereo s16 in odd chunks → ready, speech_start, speech_end, done; events on the bus',
  speechTest,
  async () => {
    const onBus: Record<string, unknown>[] = [];
    const unsub = bus.subscribe(subjects.vadEvents('kitchen'), (m) => {
      onBus.push(m.json());
    });
    const { ws, received, closed } = await openStream();
    ws.send(
      JSON.stringify({
        type: 'start',
        format: { encoding: 'pcm_s16le', sample_rate: 48000, channels: 2 },
        stream_id: 'kitchen',
      }),
    );
    await until(() => received.json.some((m) => m.type === 'ready'), 'ready');
    assert.deepEqual(received.json[0], { type: 'ready', stream_id: 'kitchen' }, 'ready echoes the stream id');
    const mono48 = resample(utterance.samples, RATE, 48000);
    const stereo = new Float32Array(mono48.length * 2);
    for (let i = 0; i < mono48.length; i++) stereo[2 * i] = stereo[2 * i + 1] = mono48[i]!;
    const bytes = encodePcmMono(stereo, 'pcm_s16le'); // interleaved stereo is just samples in order
    for (let at = 0, k = 0; at < bytes.length; k++) {
      const n = [3001, 7680, 1234, 19200][k % 4]!;
      ws.send(bytes.subarray(at, at + n));
      at += n;
    }
    ws.send(JSON.stringify({ type: 'stop' }));
    await closed;
    const types = received.json.map((m) => m.type);
    assert.deepEqual(
      types,
      ['ready', 'speech_start', 'speech_end', 'done'],
      `event sequence (got ${JSON.stringify(received.json)})`,
    );
    assert.equal(received.closeCode, 1000, 'normal close after done');
    const start = received.json[1]!;
    const end = received.json[2]!;
    assert.ok(
      Math.abs((start.timestamp_ms as number) - utterance.start) <= 200,
      `speech_start at ${String(start.timestamp_ms)}`,
    );
    assert.ok(
      Math.abs((end.timestamp_ms as number) - utterance.end) <= 200,
      `speech_end at ${String(end.timestamp_ms)}`,
    );
    assert.ok((start.probability as number) >= 0.5, 'speech_start probability ≥ threshold');
    await bus.flush();
    assert.deepEqual(onBus, received.json.slice(1, 3), 'the same events were published on the bus');
    unsub();
  },
);

test('WebSocket stream: protocol errors close the socket with an error message', async () => {
  const cases: [string, (ws: WebSocket) => void, string][] = [
    ['binary before start', (ws) => ws.send(new Uint8Array(100)), 'missing_stream_start'],
    ['not JSON', (ws) => ws.send('hello'), 'invalid_json'],
    [
      'unsupported rate',
      (ws) =>
        ws.send(
          JSON.stringify({
            type: 'start',
            format: { encoding: 'pcm_s16le', sample_rate: 11025, channels: 1 },
          }),
        ),
      'unsupported_audio_format',
    ],
    [
      'bad VAD option',
      (ws) =>
        ws.send(
          JSON.stringify({
            type: 'start',
            format: { encoding: 'pcm_f32le', sample_rate: 16000, channels: 1 },
            options: { threshold: 7 },
          }),
        ),
      'invalid_vad_option',
    ],
    [
      'unknown field',
      (ws) => ws.send(JSON.stringify({ type: 'start', format: {}, extra: 1 })),
      'invalid_stream_start',
    ],
  ];
  for (const [what, act, code] of cases) {
    const { ws, received, closed } = await openStream();
    act(ws);
    await closed;
    const err = received.json.find((m) => m.type === 'error')?.error as { code: string } | undefined;
    assert.equal(err?.code, code, `${what}: error ${code} (got ${JSON.stringify(received.json)})`);
    assert.equal(received.closeCode, 1008, `${what}: closed with 1008`);
  }
  // Non-finite float samples inside the stream.
  const { ws, received, closed } = await openStream();
  ws.send(
    JSON.stringify({ type: 'start', format: { encoding: 'pcm_f32le', sample_rate: 16000, channels: 1 } }),
  );
  await until(() => received.json.some((m) => m.type === 'ready'), 'ready');
  ws.send(new Uint8Array(Float32Array.from([0.1, NaN, 0.2]).buffer));
  await closed;
  assert.equal(
    (received.json.at(-1)?.error as { code: string }).code,
    'non_finite_samples',
    'NaN samples rejected',
  );
});

test('WebSocket stream: more than MAX_STREAMS at once are refused', async () => {
  const a = await openStream();
  const b = await openStream();
  const c = await openStream();
  await c.closed;
  assert.equal(
    (c.received.json[0]?.error as { code: string }).code,
    'too_many_streams',
    'third stream refused',
  );
  assert.equal(c.received.closeCode, 1013, 'closed with 1013 (try again later)');
  a.ws.close();
  b.ws.close();
  await Promise.all([a.closed, b.closed]);
  // Slots are released: a new stream is accepted.
  const d = await openStream();
  d.ws.send(
    JSON.stringify({ type: 'start', format: { encoding: 'pcm_s16le', sample_rate: 16000, channels: 1 } }),
  );
  await until(() => d.received.json.some((m) => m.type === 'ready'), 'ready after release');
  d.ws.close();
  await d.closed;
});

test('VAD_FROM_BUS: frames published on the bus get VAD events back on the bus', speechTest, async () => {
  const local = new MemoryBus();
  const s = await startTestService(vadService, { bus: local, env: { VAD_FROM_BUS: 'true' } });
  try {
    const events: Record<string, unknown>[] = [];
    local.subscribe(subjects.vadEvents('>'), (m) => {
      events.push(m.json());
    });
    // Noise around the speech, as a microphone would give.
    const hiss = whiteNoise(utterance.samples.length / RATE + 0.01, 0.002);
    const audio = utterance.samples.map((v, i) => v + (hiss[i] ?? 0));
    for (let at = 0; at < audio.length; at += 320) {
      const f = audio.slice(at, at + 320);
      local.publish(subjects.audioFrames('mic1'), new Uint8Array(f.buffer));
    }
    local.publish(subjects.audioEnd('mic1'), {});
    await until(() => events.length >= 2, 'two events from the bus', 10000);
    assert.deepEqual(
      events.map((e) => [e.type, e.stream_id]),
      [
        ['speech_start', 'mic1'],
        ['speech_end', 'mic1'],
      ],
      'start and end for the bus stream',
    );
  } finally {
    await s.destroy();
    await local.close();
  }
});
