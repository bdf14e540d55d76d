import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { AppError } from '@synthians/kit';
import { WyomingStt } from './wyoming.ts';

// ---- a Wyoming server written against the wire format itself (no shared protocol code) ----

interface RawEvent {
  type: string;
  header: Record<string, unknown>;
  data: Record<string, unknown> | undefined;
  payload: Buffer;
}

/** Parses `header-line \n data payload` frames from a byte stream, byte for byte. */
class RawParser {
  private buf = Buffer.alloc(0);
  push(chunk: Buffer): RawEvent[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: RawEvent[] = [];
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) return out;
      const header = JSON.parse(this.buf.subarray(0, nl).toString('utf8')) as Record<string, unknown>;
      const dataLength = (header.data_length as number | undefined) ?? 0;
      const payloadLength = (header.payload_length as number | undefined) ?? 0;
      if (this.buf.length < nl + 1 + dataLength + payloadLength) return out;
      const dataBytes = this.buf.subarray(nl + 1, nl + 1 + dataLength);
      const payload = Buffer.from(
        this.buf.subarray(nl + 1 + dataLength, nl + 1 + dataLength + payloadLength),
      );
      const data =
        dataLength > 0
          ? (JSON.parse(dataBytes.toString('utf8')) as Record<string, unknown>)
          : (header.data as Record<string, unknown> | undefined);
      out.push({ type: header.type as string, header, data, payload });
      this.buf = this.buf.subarray(nl + 1 + dataLength + payloadLength);
    }
  }
}

/** One event as raw bytes, data in its own section (`inline` puts it in the header, as old peers do). */
function frame(type: string, data?: Record<string, unknown>, inline = false): Buffer {
  if (!data) return Buffer.from(`${JSON.stringify({ type, version: '1.5.2' })}\n`);
  if (inline) return Buffer.from(`${JSON.stringify({ type, version: '1.0.0', data })}\n`);
  const body = Buffer.from(JSON.stringify(data), 'utf8');
  return Buffer.concat([
    Buffer.from(`${JSON.stringify({ type, version: '1.5.2', data_length: body.length })}\n`),
    body,
  ]);
}

type Session = { events: RawEvent[]; socket: net.Socket; onEvent: (e: RawEvent) => void };

const servers: net.Server[] = [];

async function wyomingServer(
  onEvent: (e: RawEvent, s: Session) => void,
): Promise<{ port: number; sessions: Session[] }> {
  const sessions: Session[] = [];
  const srv = net.createServer((socket) => {
    const parser = new RawParser();
    const session: Session = { events: [], socket, onEvent: (e) => onEvent(e, session) };
    sessions.push(session);
    socket.on('data', (chunk: Buffer) => {
      for (const e of parser.push(chunk)) {
        session.events.push(e);
        session.onEvent(e);
      }
    });
    socket.on('error', () => undefined);
  });
  servers.push(srv);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return { port: (srv.address() as net.AddressInfo).port, sessions };
}

after(() => {
  for (const s of servers) s.close();
});

/** The expected s16le bytes of float samples, computed independently of the audio module. */
function expectedPcm(samples: Float32Array): Buffer {
  const out = Buffer.alloc(samples.length * 2);
  samples.forEach((v, i) => out.writeInt16LE(Math.round(Math.max(-1, Math.min(1, v)) * 32767), i * 2));
  return out;
}

const signal = (n: number, seed = 1) =>
  Float32Array.from({ length: n }, (_, i) => 0.8 * Math.sin((i + seed) * 0.031) + 0.3 * Math.sin(i * 0.37));

async function rejectsWith(p: Promise<unknown>, status: number, code: string): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    assert.ok(AppError.isInstance(err), `expected AppError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, `code (message: ${err.message})`);
    assert.equal(err.statusCode, status, `status of ${code}`);
    return err;
  }
  assert.fail(`expected AppError ${code}, nothing thrown`);
}

// ---- tests ----

test('transcribe: transcribe, audio-start, 1024-sample chunks, audio-stop; PCM reassembles; transcript', async () => {
  const { port, sessions } = await wyomingServer((e, s) => {
    if (e.type === 'audio-stop') {
      // reply split into single bytes to check the client's reassembly of frames
      const bytes = frame('transcript', { text: ' What time is it? ', language: 'en' });
      for (let i = 0; i < bytes.length; i++) s.socket.write(bytes.subarray(i, i + 1));
    }
  });
  const stt = new WyomingStt({ host: '127.0.0.1', port, model: 'tiny-int8', language: 'en' });
  const samples = signal(5000);
  samples[3] = 1.7; // clipped to 32767
  const t = await stt.transcribe(samples);
  assert.deepEqual(
    t,
    { text: 'What time is it?', durationMs: 313, provider: 'wyoming', language: 'en' },
    'transcript',
  );
  const ev = sessions[0]!.events;
  assert.deepEqual(
    ev.map((e) => e.type),
    [
      'transcribe',
      'audio-start',
      'audio-chunk',
      'audio-chunk',
      'audio-chunk',
      'audio-chunk',
      'audio-chunk',
      'audio-stop',
    ],
    'event sequence',
  );
  assert.deepEqual(ev[0]!.data, { language: 'en', name: 'tiny-int8' }, 'transcribe data');
  assert.deepEqual(ev[1]!.data, { rate: 16000, width: 2, channels: 1 }, 'audio-start format');
  const chunks = ev.filter((e) => e.type === 'audio-chunk');
  for (const c of chunks) {
    assert.deepEqual(c.data, { rate: 16000, width: 2, channels: 1 }, 'chunk format');
    assert.equal(c.header.payload_length, c.payload.length, 'payload_length matches');
  }
  assert.deepEqual(
    chunks.map((c) => c.payload.length),
    [2048, 2048, 2048, 2048, (5000 - 4 * 1024) * 2],
    'chunk sizes',
  );
  assert.ok(
    Buffer.concat(chunks.map((c) => c.payload)).equals(expectedPcm(samples)),
    'reassembled PCM equals the audio sent',
  );
  assert.equal(ev.at(-1)!.payload.length, 0, 'audio-stop has no payload');
});

test('stream: audio goes out as written; transcript-chunk partials arrive before end()', async () => {
  let chunkCount = 0;
  const { port, sessions } = await wyomingServer((e, s) => {
    if (e.type === 'audio-chunk' && ++chunkCount === 2) {
      s.socket.write(
        Buffer.concat([
          frame('transcript-start', { language: 'en' }),
          frame('transcript-chunk', { text: 'Set a' }),
        ]),
      );
    }
    if (e.type === 'audio-stop') {
      s.socket.write(
        Buffer.concat([
          frame('transcript-chunk', { text: ' timer' }),
          frame('transcript-stop'),
          frame('transcript', { text: 'Set a timer.' }),
        ]),
      );
    }
  });
  const stt = new WyomingStt({ host: '127.0.0.1', port, chunkSamples: 1024 });
  const partials: string[] = [];
  let firstPartial!: () => void;
  const gotPartial = new Promise<void>((resolve) => (firstPartial = resolve));
  const s = stt.stream({
    onPartial: (p) => {
      partials.push(p);
      firstPartial();
    },
  });
  const samples = signal(4000, 7);
  // odd-sized writes: chunks must still be 1024 samples
  for (const [a, b] of [
    [0, 700],
    [700, 1500],
    [1500, 3333],
  ] as const)
    s.write(samples.subarray(a, b));
  await gotPartial; // the server saw two chunks and answered while the stream is still open
  assert.deepEqual(partials, ['Set a'], 'partial before end');
  s.write(samples.subarray(3333));
  const t = await s.end();
  assert.equal(t.text, 'Set a timer.', 'final transcript');
  assert.equal(t.language, 'en', 'language from transcript-start');
  assert.deepEqual(partials, ['Set a', 'Set a timer'], 'partials accumulate');
  const chunks = sessions[0]!.events.filter((e) => e.type === 'audio-chunk');
  assert.deepEqual(
    chunks.map((c) => c.payload.length / 2),
    [1024, 1024, 1024, 928],
    'chunk sample counts',
  );
  assert.ok(Buffer.concat(chunks.map((c) => c.payload)).equals(expectedPcm(samples)), 'streamed PCM');
  assert.deepEqual(sessions[0]!.events[0]!.data, undefined, 'transcribe without language/name has no data');
});

test('streaming server that closes after transcript-stop: the chunks are the transcript; inline data read', async () => {
  const { port } = await wyomingServer((e, s) => {
    if (e.type === 'audio-stop') {
      s.socket.end(
        Buffer.concat([
          frame('transcript-start'),
          frame('transcript-chunk', { text: 'volume' }, true),
          frame('transcript-chunk', { text: ' up' }),
          frame('transcript-stop'),
        ]),
      );
    }
  });
  const partials: string[] = [];
  const s = new WyomingStt({ host: '127.0.0.1', port }).stream({ onPartial: (p) => partials.push(p) });
  s.write(signal(2000));
  assert.equal((await s.end()).text, 'volume up', 'text from chunks');
  assert.deepEqual(partials, ['volume', 'volume up'], 'partials');
});

test('server errors: an error event, a close without transcript, garbage framing', async () => {
  const { port: p1 } = await wyomingServer((e, s) => {
    if (e.type === 'transcribe')
      s.socket.write(frame('error', { text: 'Model tiny-xx not found', code: 'model' }));
  });
  const e1 = await rejectsWith(
    new WyomingStt({ host: '127.0.0.1', port: p1, model: 'tiny-xx' }).transcribe(signal(3000)),
    502,
    'stt_failed',
  );
  assert.match(e1.message, /reported an error: Model tiny-xx not found/, 'error text in message');
  assert.equal((e1.details as { upstreamCode: string }).upstreamCode, 'model', 'error code in details');

  const { port: p2 } = await wyomingServer((e, s) => {
    if (e.type === 'audio-stop') s.socket.end();
  });
  const e2 = await rejectsWith(
    new WyomingStt({ host: '127.0.0.1', port: p2 }).transcribe(signal(3000)),
    502,
    'stt_failed',
  );
  assert.match(e2.message, /without a transcript/, 'closed without transcript');

  const { port: p3 } = await wyomingServer((e, s) => {
    if (e.type === 'audio-stop') s.socket.write('this is not json\n');
  });
  const e3 = await rejectsWith(
    new WyomingStt({ host: '127.0.0.1', port: p3 }).transcribe(signal(100)),
    502,
    'stt_failed',
  );
  assert.match(e3.message, /broke the protocol/, 'bad framing');
});

test('connection refused and no answer are stt_unavailable; cancel and abort stop the stream', async () => {
  const tmp = net.createServer();
  await new Promise<void>((resolve) => tmp.listen(0, '127.0.0.1', resolve));
  const dead = (tmp.address() as net.AddressInfo).port;
  await new Promise((resolve) => tmp.close(resolve));
  const e = await rejectsWith(
    new WyomingStt({ host: '127.0.0.1', port: dead }).transcribe(signal(100)),
    503,
    'stt_unavailable',
  );
  assert.match(e.message, /ECONNREFUSED/, 'cause named');
  const health = await new WyomingStt({ host: '127.0.0.1', port: dead }).check();
  assert.equal(health.ok, false, 'check reports unreachable');

  const { port, sessions } = await wyomingServer(() => undefined); // never answers
  const t0 = performance.now();
  const e2 = await rejectsWith(
    new WyomingStt({ host: '127.0.0.1', port, timeoutMs: 150 }).transcribe(signal(100)),
    503,
    'stt_unavailable',
  );
  assert.match(e2.message, /no transcript within 150 ms/, 'timeout message');
  assert.ok(performance.now() - t0 < 2000, 'prompt timeout');

  const stt = new WyomingStt({ host: '127.0.0.1', port });
  const s = stt.stream();
  s.write(signal(2048));
  await new Promise((r) => setTimeout(r, 30));
  s.cancel();
  assert.throws(() => s.write(signal(10)), /cancelled/, 'write after cancel');
  await new Promise((r) => setTimeout(r, 30));
  assert.ok(
    sessions.at(-1)!.socket.destroyed || sessions.at(-1)!.socket.readableEnded,
    'socket closed by cancel',
  );

  const ac = new AbortController();
  const p = stt.transcribe(signal(3000), { signal: ac.signal });
  setTimeout(() => ac.abort(), 30);
  await assert.rejects(p, (err: Error) => err.name === 'AbortError', 'abort rejects with AbortError');
  await stt.close();
});

test('check(): describe → info lists installed ASR models; a missing model is reported', async () => {
  const { port, sessions } = await wyomingServer((e, s) => {
    if (e.type === 'describe') {
      s.socket.write(
        frame('info', {
          asr: [
            {
              name: 'faster-whisper',
              installed: true,
              attribution: { name: 'x', url: 'y' },
              models: [
                { name: 'tiny-int8', installed: true, languages: ['en'] },
                { name: 'large-v3', installed: false, languages: ['en'] },
              ],
            },
          ],
          tts: [],
        }),
      );
    }
  });
  const ok = await new WyomingStt({ host: '127.0.0.1', port }).check();
  assert.deepEqual(ok, { ok: true, detail: `127.0.0.1:${port} ASR models: tiny-int8` }, 'healthy');
  assert.equal(sessions[0]!.events[0]!.type, 'describe', 'describe sent');
  const missing = await new WyomingStt({ host: '127.0.0.1', port, model: 'large-v3' }).check();
  assert.equal(missing.ok, false, 'uninstalled model is not ok');
  assert.match(missing.detail ?? '', /no ASR model large-v3/, 'detail names the model');
});

test('bad input: non-finite samples, empty audio, bad config', async () => {
  const { port, sessions } = await wyomingServer(() => undefined);
  const stt = new WyomingStt({ host: '127.0.0.1', port });
  const bad = signal(100);
  bad[50] = -Infinity;
  await assert.rejects(
    stt.transcribe(bad),
    (err: unknown) => AppError.isInstance(err) && err.code === 'non_finite_samples',
    'non-finite rejected',
  );
  assert.deepEqual(
    await stt.transcribe(new Float32Array(0)),
    { text: '', durationMs: 0, provider: 'wyoming' },
    'empty',
  );
  assert.equal(sessions.length, 0, 'nothing connected for rejected / empty audio');
  assert.throws(() => new WyomingStt({ host: '', port }), /host/, 'empty host');
  assert.throws(() => new WyomingStt({ host: 'h', port: 70000 }), /port/, 'bad port');
});
