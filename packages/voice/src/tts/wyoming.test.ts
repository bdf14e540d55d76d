import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { AppError } from '@synthians/kit';
import { tone } from '../testing/signals.ts';
import { WyomingTtsProvider } from './wyoming.ts';
import type { TtsChunk } from './types.ts';

// A Wyoming TTS server written with raw bytes: header line, data bytes, payload bytes.
const RATE = 22050;
const FREQ = 300;
const secondsFor = (text: string) => 0.02 * text.length;
const requests: Record<string, unknown>[] = [];

function rawEvent(type: string, data?: Record<string, unknown>, payload?: Buffer, inline = false): Buffer {
  const header: Record<string, unknown> = { type, version: '1.5.0' };
  const dataBytes = data && !inline ? Buffer.from(JSON.stringify(data), 'utf8') : Buffer.alloc(0);
  if (data && inline) header.data = data;
  if (dataBytes.length) header.data_length = dataBytes.length;
  if (payload?.length) header.payload_length = payload.length;
  return Buffer.concat([
    Buffer.from(JSON.stringify(header) + '\n', 'utf8'),
    dataBytes,
    payload ?? Buffer.alloc(0),
  ]);
}

function stereoS16(samples: Float32Array): Buffer {
  const out = Buffer.alloc(samples.length * 4);
  samples.forEach((s, i) => {
    const v = Math.round(s * 32767);
    out.writeInt16LE(v, i * 4);
    out.writeInt16LE(v, i * 4 + 2);
  });
  return out;
}

function handle(socket: net.Socket, event: { type: string; data: Record<string, unknown> }): void {
  if (event.type === 'describe') {
    const voice = (name: string, installed: boolean) => ({
      name,
      languages: ['en_US'],
      installed,
      description: name,
    });
    socket.write(
      rawEvent('info', {
        tts: [
          {
            name: 'piper',
            installed: true,
            voices: [voice('en_US-lessac-medium', true), voice('en_US-ryan-high', false)],
          },
        ],
      }),
    );
    return;
  }
  if (event.type !== 'synthesize') return;
  requests.push(event.data);
  const text = String(event.data.text);
  if (text.includes('explode')) {
    socket.write(rawEvent('error', { text: 'Voice model failed to load', code: 'piper-error' }));
    return;
  }
  const format = { rate: RATE, width: 2, channels: 2 };
  const pcm = stereoS16(tone(secondsFor(text), FREQ, 0.5, RATE));
  const parts = [rawEvent('audio-start', format)];
  // Chunk boundaries in the middle of frames (1000 bytes is not a multiple of 4 ... plus an odd split).
  for (let at = 0; at < pcm.length; at += 1001)
    parts.push(rawEvent('audio-chunk', format, pcm.subarray(at, at + 1001), true));
  parts.push(rawEvent('audio-stop'));
  const bytes = Buffer.concat(parts);
  // Write in awkward pieces so headers and payloads are split across TCP reads.
  for (let at = 0; at < bytes.length; at += 777) socket.write(bytes.subarray(at, at + 777));
}

const server = net.createServer((socket) => {
  let buf = Buffer.alloc(0);
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const nl = buf.indexOf(0x0a);
      if (nl < 0) return;
      const header = JSON.parse(buf.subarray(0, nl).toString('utf8')) as {
        type: string;
        data?: Record<string, unknown>;
        data_length?: number;
        payload_length?: number;
      };
      const need = nl + 1 + (header.data_length ?? 0) + (header.payload_length ?? 0);
      if (buf.length < need) return;
      const dataBytes = buf.subarray(nl + 1, nl + 1 + (header.data_length ?? 0));
      const data = dataBytes.length
        ? (JSON.parse(dataBytes.toString('utf8')) as Record<string, unknown>)
        : (header.data ?? {});
      buf = buf.subarray(need);
      handle(socket, { type: header.type, data });
    }
  });
});
let port = 0;
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});
after(() => new Promise<void>((r) => server.close(() => r())));

function samplesOf(c: TtsChunk): Float32Array {
  const v = new DataView(c.audio.buffer, c.audio.byteOffset, c.audio.byteLength);
  if (c.encoding === 'pcm_f32le')
    return Float32Array.from({ length: c.audio.length / 4 }, (_, i) => v.getFloat32(i * 4, true));
  return Float32Array.from({ length: c.audio.length / 2 }, (_, i) => v.getInt16(i * 2, true) / 32768);
}

function frequency(x: Float32Array, rate: number): number {
  const a = Math.floor(x.length * 0.1);
  const b = Math.floor(x.length * 0.9);
  let n = 0;
  for (let i = a + 1; i < b; i++) if ((x[i - 1] as number) < 0 && (x[i] as number) >= 0) n++;
  return n / ((b - a) / rate);
}

test('audio is reassembled from split chunks, downmixed and converted; one synthesize per sentence', async () => {
  requests.length = 0;
  const tts = new WyomingTtsProvider({ host: '127.0.0.1', port, voice: 'en_US-lessac-medium' });
  const text = 'Hello from the Wyoming server. This is the second sentence.';
  for (const [sampleRate, encoding] of [
    [16000, 'pcm_s16le'],
    [44100, 'pcm_f32le'],
  ] as const) {
    const chunks: TtsChunk[] = [];
    for await (const c of tts.synthesize(text, { sampleRate, encoding })) chunks.push(c);
    assert.deepEqual(
      chunks.map((c) => [c.index, c.text]),
      [
        [0, 'Hello from the Wyoming server.'],
        [1, 'This is the second sentence.'],
      ],
    );
    for (const c of chunks) {
      assert.equal(c.sampleRate, sampleRate);
      assert.equal(c.encoding, encoding);
      const x = samplesOf(c);
      const sourceFrames = Math.round(secondsFor(c.text) * RATE);
      assert.equal(
        x.length,
        Math.ceil((sourceFrames * sampleRate) / RATE),
        'every frame arrived and was resampled',
      );
      const f = frequency(x, sampleRate);
      assert.ok(Math.abs(f - FREQ) < 5, `pitch kept: ${f} Hz`);
      const peak = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(peak > 0.45 && peak < 0.55, `stereo downmixed to the same level: peak ${peak}`);
    }
  }
  assert.equal(requests.length, 4, 'one synthesize event per sentence');
  assert.deepEqual(requests[0], {
    text: 'Hello from the Wyoming server.',
    voice: { name: 'en_US-lessac-medium' },
  });
  await tts.close();
});

test('describe -> voices and check; server error event -> clear tts_failed; refused -> tts_unavailable', async () => {
  const tts = new WyomingTtsProvider({ host: '127.0.0.1', port });
  assert.deepEqual(await tts.voices(), [{ name: 'en_US-lessac-medium', languages: ['en_US'] }]);
  const check = await tts.check();
  assert.equal(check.ok, true);
  assert.match(String(check.detail), /piper/);
  await assert.rejects(
    (async () => {
      for await (const _ of tts.synthesize('Please explode now.')) assert.fail('no audio expected');
    })(),
    (e) => {
      assert.ok(AppError.isInstance(e), 'an AppError');
      assert.equal(e.code, 'tts_failed');
      assert.equal(e.statusCode, 502);
      assert.match(e.message, /Voice model failed to load/);
      return true;
    },
  );
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadPort = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const dead = new WyomingTtsProvider({ host: '127.0.0.1', port: deadPort, timeoutMs: 2000 });
  await assert.rejects(
    (async () => {
      for await (const _ of dead.synthesize('Hello there, anyone home?')) assert.fail('no audio expected');
    })(),
    (e) => AppError.isInstance(e) && e.code === 'tts_unavailable' && e.statusCode === 503,
  );
  assert.equal((await dead.check()).ok, false);
});
