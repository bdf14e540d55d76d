import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError } from '@synthians/kit';
import { encodePcmMono, encodeWav } from '../audio/encode.ts';
import { tone } from '../testing/signals.ts';
import { OpenAiTtsProvider } from './openai.ts';
import type { TtsChunk } from './types.ts';

const KEY = 'sk-test-secret-0123456789';
const SERVER_RATE = 24000;
const FREQ = 440;
const secondsFor = (text: string) => 0.02 * text.length;

interface Seen {
  auth: string | undefined;
  body: Record<string, unknown>;
  path: string | undefined;
}
const seen: Seen[] = [];
let mode: 'ok' | '401' | '500' | 'garbage' | 'pcm-text' = 'ok';

const server = http.createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (d: Buffer) => parts.push(d));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      const status = mode === '401' ? 401 : mode === '500' ? 500 : 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          status === 200
            ? { object: 'list', data: [{ id: 'tts-1', object: 'model' }] }
            : { error: { message: `bad key ${KEY}` } },
        ),
      );
      return;
    }
    const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>;
    seen.push({ auth: req.headers.authorization, body, path: req.url });
    if (mode === '401') {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { message: `Incorrect API key provided: ${KEY}.`, type: 'invalid_request_error' },
        }),
      );
      return;
    }
    if (mode === '500') {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('upstream exploded');
      return;
    }
    if (mode === 'garbage') {
      res.writeHead(200, { 'content-type': 'audio/wav' });
      res.end('<html><body>Gateway says hello</body></html>');
      return;
    }
    if (mode === 'pcm-text') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"queued"}');
      return;
    }
    const samples = tone(secondsFor(String(body.input)), FREQ, 0.5, SERVER_RATE);
    if (body.response_format === 'pcm') {
      res.writeHead(200, { 'content-type': 'audio/pcm' });
      res.end(encodePcmMono(samples, 'pcm_s16le'));
    } else {
      res.writeHead(200, { 'content-type': 'audio/wav' });
      res.end(encodeWav(samples, SERVER_RATE));
    }
  });
});
let baseUrl = '';
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

function samplesOf(c: TtsChunk): Float32Array {
  const v = new DataView(c.audio.buffer, c.audio.byteOffset, c.audio.byteLength);
  if (c.encoding === 'pcm_f32le')
    return Float32Array.from({ length: c.audio.length / 4 }, (_, i) => v.getFloat32(i * 4, true));
  return Float32Array.from({ length: c.audio.length / 2 }, (_, i) => v.getInt16(i * 2, true) / 32768);
}

/** Frequency from upward zero crossings over the middle of the signal. */
function frequency(x: Float32Array, rate: number): number {
  const a = Math.floor(x.length * 0.1);
  const b = Math.floor(x.length * 0.9);
  let n = 0;
  for (let i = a + 1; i < b; i++) if ((x[i - 1] as number) < 0 && (x[i] as number) >= 0) n++;
  return n / ((b - a) / rate);
}

async function collect(p: OpenAiTtsProvider, text: string, options = {}): Promise<TtsChunk[]> {
  const out: TtsChunk[] = [];
  for await (const c of p.synthesize(text, options)) out.push(c);
  return out;
}

for (const responseFormat of ['wav', 'pcm'] as const) {
  test(`${responseFormat}: request body and key are right; audio converted to the requested rate/encoding`, async () => {
    mode = 'ok';
    seen.length = 0;
    const p = new OpenAiTtsProvider({
      baseUrl: baseUrl + '/',
      apiKey: KEY,
      model: 'tts-x',
      voice: 'nova',
      responseFormat,
    });
    const text = 'First sentence of the reply. And here is the second one.';
    for (const [sampleRate, encoding] of [
      [16000, 'pcm_s16le'],
      [48000, 'pcm_f32le'],
    ] as const) {
      const chunks = await collect(p, text, { sampleRate, encoding, speed: 1.25 });
      assert.deepEqual(
        chunks.map((c) => c.text),
        ['First sentence of the reply.', 'And here is the second one.'],
      );
      for (const c of chunks) {
        assert.equal(c.sampleRate, sampleRate);
        assert.equal(c.encoding, encoding);
        const x = samplesOf(c);
        const expected = Math.round(secondsFor(c.text) * SERVER_RATE);
        assert.equal(
          x.length,
          Math.ceil((expected * sampleRate) / SERVER_RATE),
          'length follows the rate change',
        );
        const f = frequency(x, sampleRate);
        assert.ok(Math.abs(f - FREQ) < 5, `pitch kept after resampling: ${f} Hz`);
      }
    }
    assert.equal(seen.length, 4, 'one request per sentence');
    for (const s of seen) {
      assert.equal(s.path, '/v1/audio/speech');
      assert.equal(s.auth, `Bearer ${KEY}`);
      assert.deepEqual(Object.keys(s.body).sort(), ['input', 'model', 'response_format', 'speed', 'voice']);
      assert.equal(s.body.model, 'tts-x');
      assert.equal(s.body.voice, 'nova');
      assert.equal(s.body.response_format, responseFormat);
      assert.equal(s.body.speed, 1.25);
    }
    assert.equal(seen[0]?.body.input, 'First sentence of the reply.');
  });
}

async function errorOf(p: OpenAiTtsProvider): Promise<AppError> {
  try {
    await collect(p, 'Hello there, friend.');
  } catch (e) {
    assert.ok(AppError.isInstance(e), `an AppError, got ${String(e)}`);
    return e;
  }
  throw new Error('expected an error');
}

test('401 -> tts_failed 502 without the key; 500 -> tts_unavailable 503; garbage -> tts_failed', async () => {
  const p = new OpenAiTtsProvider({ baseUrl, apiKey: KEY });
  mode = '401';
  const e401 = await errorOf(p);
  assert.equal(e401.statusCode, 502);
  assert.equal(e401.code, 'tts_failed');
  assert.match(e401.message, /401/);
  assert.ok(!JSON.stringify({ m: e401.message, d: e401.details }).includes(KEY), 'the key is never echoed');
  mode = '500';
  const e500 = await errorOf(p);
  assert.equal(e500.statusCode, 503);
  assert.equal(e500.code, 'tts_unavailable');
  mode = 'garbage';
  const bad = await errorOf(p);
  assert.equal(bad.statusCode, 502);
  assert.equal(bad.code, 'tts_failed');
  mode = 'pcm-text';
  const badPcm = await errorOf(new OpenAiTtsProvider({ baseUrl, apiKey: KEY, responseFormat: 'pcm' }));
  assert.equal(badPcm.code, 'tts_failed');
  mode = '401';
  const check = await p.check();
  assert.equal(check.ok, false, 'check fails when the server rejects the key');
  assert.ok(!String(check.detail).includes(KEY), 'check detail has no key');
  mode = 'ok';
  const posts = seen.length;
  const good = await p.check();
  assert.equal(good.ok, true, `check passes on a healthy server (${good.detail})`);
  assert.equal(seen.length, posts, 'the check sends no synthesis request');
});

test('a refused connection -> tts_unavailable', async () => {
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const e = await errorOf(new OpenAiTtsProvider({ baseUrl: `http://127.0.0.1:${port}`, apiKey: KEY }));
  assert.equal(e.statusCode, 503);
  assert.equal(e.code, 'tts_unavailable');
});
