import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { MemoryBus, startTestService, type TestService } from '@synthians/kit';
import { encodePcmMono, encodeWav } from '../audio/encode.ts';
import { decodeWav } from '../audio/wav.ts';
import { resample } from '../audio/resample.ts';
import { concat, espeak, hasEspeak, mixAtSnr, pinkNoise, RATE, rms, silence } from '../testing/signals.ts';
import { preprocessorService } from './preprocessor-service.ts';
import { subjects } from './subjects.ts';

const speechTest = { skip: hasEspeak ? false : 'espeak-ng is not installed' };

let svc: TestService;
let bus: MemoryBus;
let noisy: { samples: Float32Array; start: number; end: number; speechRms: number };

before(async () => {
  bus = new MemoryBus();
  svc = await startTestService(preprocessorService, { bus });
  if (hasEspeak) {
    const s = espeak('Could you remind me to water the plants tomorrow morning?');
    const clean = concat(silence(1), s.samples, silence(1.5));
    const inside = s.samples.subarray((s.startMs * RATE) / 1000, (s.endMs * RATE) / 1000);
    const noise = pinkNoise(clean.length / RATE + 0.1, 0.05);
    noisy = {
      samples: mixAtSnr(clean, noise, 10, rms(inside)),
      start: 1000 + s.startMs,
      end: 1000 + s.endMs,
      speechRms: rms(inside),
    };
  }
});
after(async () => {
  await svc.destroy();
  await bus.close();
});

/** RMS of the first `ms` milliseconds (noise only, before the speech). */
const leadRms = (x: Float32Array, ms = 800) => rms(x.subarray(0, (ms * RATE) / 1000));

test(
  'POST /v1/audio/process: 48 kHz stereo noisy speech → cleaned 16 kHz WAV with less noise, VAD segment in a header',
  speechTest,
  async () => {
    const mono48 = resample(noisy.samples, RATE, 48000);
    const stereo = new Float32Array(mono48.length * 2);
    for (let i = 0; i < mono48.length; i++) stereo[2 * i] = stereo[2 * i + 1] = mono48[i]!;
    const wav = encodeWav(stereo, 48000); // mono header …
    // … rewritten as stereo: channels 2, byte rate and block align doubled.
    const v = new DataView(wav.buffer);
    v.setUint16(22, 2, true);
    v.setUint32(28, 48000 * 4, true);
    v.setUint32(24, 48000, true);
    v.setUint16(32, 4, true);
    const post = async (query: string) => {
      const res = await fetch(`${svc.url}/v1/audio/process${query}`, {
        method: 'POST',
        headers: { 'content-type': 'audio/wav' },
        body: wav,
      });
      assert.equal(res.status, 200, `200 for ${query}`);
      assert.equal(res.headers.get('content-type'), 'audio/wav', 'a WAV comes back');
      const out = decodeWav(new Uint8Array(await res.arrayBuffer()));
      return {
        samples: out.samples,
        rate: out.source.sampleRate,
        segments: JSON.parse(res.headers.get('x-vad-segments') ?? 'null') as {
          start_ms: number;
          end_ms: number;
        }[],
      };
    };
    const cleaned = await post('');
    const raw = await post('?denoise=false&agc=false');
    assert.equal(cleaned.rate, 16000, 'output at 16 kHz');
    assert.ok(
      Math.abs(cleaned.samples.length - noisy.samples.length) <= 2,
      `same duration (${cleaned.samples.length} vs ${noisy.samples.length})`,
    );
    const before = leadRms(raw.samples);
    const after = leadRms(cleaned.samples);
    assert.ok(
      20 * Math.log10(before / after) > 10,
      `noise floor lowered by > 10 dB (${(20 * Math.log10(before / after)).toFixed(1)} dB)`,
    );
    assert.equal(cleaned.segments.length, 1, `one VAD segment (${JSON.stringify(cleaned.segments)})`);
    assert.ok(Math.abs(cleaned.segments[0]!.start_ms - noisy.start) < 300, 'segment starts at the speech');
    assert.ok(Math.abs(cleaned.segments[0]!.end_ms - noisy.end) < 300, 'segment ends at the speech');
  },
);

test(
  'WebSocket stream: 44.1 kHz stereo in, 16 kHz f32 frames and VAD events out, mirrored on the bus; stage time in /metrics',
  speechTest,
  async () => {
    const frames: Uint8Array[] = [];
    const busEvents: Record<string, unknown>[] = [];
    let ended = false;
    const unsubs = [
      bus.subscribe(subjects.audioFrames('desk'), (m) => {
        frames.push(m.data);
      }),
      bus.subscribe(subjects.vadEvents('desk'), (m) => {
        busEvents.push(m.json());
      }),
      bus.subscribe(subjects.audioEnd('desk'), () => {
        ended = true;
      }),
    ];
    const ws = new WebSocket(`${svc.url.replace('http', 'ws')}/v1/audio/stream`);
    const json: Record<string, unknown>[] = [];
    let binaryBytes = 0;
    ws.on('message', (data, isBinary) => {
      if (isBinary) binaryBytes += (data as Buffer).length;
      else json.push(JSON.parse(String(data)) as Record<string, unknown>);
    });
    const closed = new Promise<void>((r) => ws.on('close', () => r()));
    await new Promise((r) => ws.once('open', r));
    ws.send(
      JSON.stringify({
        type: 'start',
        format: { encoding: 'pcm_s16le', sample_rate: 44100, channels: 2 },
        stream_id: 'desk',
      }),
    );
    while (!json.some((m) => m.type === 'ready')) await new Promise((r) => setTimeout(r, 5));
    const mono = resample(noisy.samples, RATE, 44100);
    const stereo = new Float32Array(mono.length * 2);
    for (let i = 0; i < mono.length; i++) stereo[2 * i] = stereo[2 * i + 1] = mono[i]!;
    const bytes = encodePcmMono(stereo, 'pcm_s16le');
    for (let at = 0; at < bytes.length; at += 3528) ws.send(bytes.subarray(at, at + 3528)); // 20 ms chunks
    ws.send(JSON.stringify({ type: 'stop' }));
    await closed;
    const expected = noisy.samples.length;
    assert.ok(
      Math.abs(binaryBytes / 4 - expected) <= 4,
      `all audio came back as f32 frames (${binaryBytes / 4} of ${expected} samples)`,
    );
    const types = json.map((m) => m.type);
    assert.deepEqual(
      types,
      ['ready', 'speech_start', 'speech_end', 'done'],
      `events ${JSON.stringify(json)}`,
    );
    await bus.flush();
    assert.equal(
      frames.reduce((n, f) => n + f.length, 0),
      binaryBytes,
      'the same frames on the bus',
    );
    assert.deepEqual(busEvents, json.slice(1, 3), 'the same events on the bus');
    assert.ok(ended, 'audio.end published');
    for (const u of unsubs) u();
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    for (const stage of ['resample', 'highpass', 'denoise', 'agc', 'vad']) {
      const m = new RegExp(`preprocess_stage_seconds_total\\{stage="${stage}"[^}]*\\} ([0-9.e-]+)`).exec(
        metrics,
      );
      assert.ok(m && Number(m[1]) > 0, `stage ${stage} time in /metrics (${m?.[1] ?? 'missing'})`);
    }
  },
);

test('stream options: stages can be switched off; bad options are refused', async () => {
  const run = async (options: Record<string, unknown>) => {
    const ws = new WebSocket(`${svc.url.replace('http', 'ws')}/v1/audio/stream`);
    const json: Record<string, unknown>[] = [];
    let bytes = 0;
    ws.on('message', (d, bin) => {
      if (bin) bytes += (d as Buffer).length;
      else json.push(JSON.parse(String(d)) as Record<string, unknown>);
    });
    const closed = new Promise<void>((r) => ws.on('close', () => r()));
    await new Promise((r) => ws.once('open', r));
    ws.send(
      JSON.stringify({
        type: 'start',
        format: { encoding: 'pcm_f32le', sample_rate: 16000, channels: 1 },
        options,
      }),
    );
    const t0 = Date.now();
    while (!json.some((m) => m.type === 'ready' || m.type === 'error') && Date.now() - t0 < 5000)
      await new Promise((r) => setTimeout(r, 5));
    if (json.some((m) => m.type === 'ready')) {
      ws.send(new Uint8Array(silence(0.5).buffer));
      ws.send(JSON.stringify({ type: 'stop' }));
    }
    await closed;
    return { json, bytes };
  };
  const plain = await run({
    stages: { highpass: false, denoise: false, agc: false, vad: false },
    output_encoding: 'pcm_s16le',
  });
  assert.equal(plain.bytes, 0.5 * RATE * 2, 'all stages off, s16 out: 2 bytes per input sample');
  const bad = await run({ stages: { reverb: true } });
  assert.equal(
    (bad.json[0]?.error as { code: string } | undefined)?.code,
    'invalid_stream_options',
    'unknown stage refused',
  );
  const badVad = await run({ vad: { threshold: 3 } });
  assert.equal(
    (badVad.json[0]?.error as { code: string } | undefined)?.code,
    'invalid_preprocess_options',
    'bad VAD option refused',
  );
});

test('POST /v1/audio/process: bad input gets 4xx', async () => {
  const res = await fetch(`${svc.url}/v1/audio/process`, {
    method: 'POST',
    headers: { 'content-type': 'audio/wav' },
    body: 'This is plainly not a RIFF/WAVE file, just some text.',
  });
  const body = (await res.json()) as { error: { code: string } };
  assert.equal(res.status, 400, 'malformed WAV → 400');
  assert.equal(body.error.code, 'invalid_wav', 'invalid_wav');
  const q = await fetch(`${svc.url}/v1/audio/process?denoise=maybe`, {
    method: 'POST',
    headers: { 'content-type': 'audio/wav' },
    body: Buffer.from(encodeWav(silence(0.1), RATE)),
  });
  assert.equal(q.status, 400, 'bad stage switch → 400');
});
