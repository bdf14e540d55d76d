import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { AppError } from '@synthians/kit';
import { decodeWav } from '../audio/wav.ts';
import { OpenAiStt } from './openai.ts';

// ---- a local OpenAI-compatible server that parses multipart/form-data for real ----

interface Part {
  name: string;
  filename?: string;
  contentType?: string;
  body: Buffer;
}

/** RFC 7578 multipart/form-data: boundary from the content type, parts split on CRLF--boundary. */
function parseMultipart(body: Buffer, contentType: string): Part[] {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  assert.ok(m, `multipart content type has a boundary: ${contentType}`);
  const boundary = Buffer.from(`--${m[1] ?? m[2]}`);
  const parts: Part[] = [];
  let at = body.indexOf(boundary);
  assert.equal(at, 0, 'body starts with the boundary');
  for (;;) {
    at += boundary.length;
    if (body.subarray(at, at + 2).toString() === '--') break; // closing delimiter
    assert.equal(body.subarray(at, at + 2).toString(), '\r\n', 'CRLF after boundary');
    at += 2;
    const headerEnd = body.indexOf('\r\n\r\n', at);
    assert.ok(headerEnd > 0, 'part headers end with a blank line');
    const headers = body.subarray(at, headerEnd).toString('utf8').split('\r\n');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), boundary]), headerEnd + 4);
    assert.ok(next > 0, 'part is followed by a boundary');
    const part: Part = { name: '', body: body.subarray(headerEnd + 4, next) };
    for (const h of headers) {
      const [key, ...rest] = h.split(':');
      const value = rest.join(':').trim();
      if (key!.toLowerCase() === 'content-disposition') {
        part.name = /\bname="([^"]*)"/.exec(value)?.[1] ?? '';
        const f = /\bfilename="([^"]*)"/.exec(value);
        if (f) part.filename = f[1]!;
      } else if (key!.toLowerCase() === 'content-type') part.contentType = value;
    }
    parts.push(part);
    at = next + 2;
  }
  return parts;
}

interface Received {
  method: string;
  url: string;
  authorization: string | undefined;
  fields: Record<string, string>;
  file: Part | undefined;
}

type Handler = (req: Received, res: http.ServerResponse) => void | Promise<void>;

let server: http.Server;
let baseUrl: string;
let handler: Handler;
const received: Received[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const ct = req.headers['content-type'] ?? '';
      const parts = ct.startsWith('multipart/form-data') ? parseMultipart(body, ct) : [];
      const fields: Record<string, string> = {};
      for (const p of parts) if (p.filename === undefined) fields[p.name] = p.body.toString('utf8');
      const r: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        fields,
        file: parts.find((p) => p.name === 'file'),
      };
      received.push(r);
      void handler(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

/** 0.5 s of a chirp-ish deterministic signal. */
const speechLike = (n = 8000) =>
  Float32Array.from({ length: n }, (_, i) => 0.6 * Math.sin(i * 0.05 + (i * i) / 4e5) * Math.cos(i / 900));

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

test('posts a real multipart WAV with model, language, prompt and bearer key; reads json', async () => {
  handler = (_r, res) => json(res, 200, { text: '  turn on the lights ' });
  const stt = new OpenAiStt({ baseUrl: `${baseUrl}/v1/`, apiKey: 'sk-test-123', model: 'whisper-large-v3' });
  const samples = speechLike(12345);
  const t = await stt.transcribe(samples, { language: 'de', prompt: 'Synthians' });
  assert.deepEqual(t, { text: 'turn on the lights', durationMs: 772, provider: 'openai', language: 'de' });
  const r = received.at(-1)!;
  assert.equal(r.method, 'POST', 'method');
  assert.equal(r.url, '/v1/audio/transcriptions', 'path (trailing /v1/ in baseUrl not doubled)');
  assert.equal(r.authorization, 'Bearer sk-test-123', 'bearer key');
  assert.deepEqual(
    r.fields,
    { model: 'whisper-large-v3', language: 'de', prompt: 'Synthians', response_format: 'json' },
    'form fields',
  );
  assert.ok(r.file, 'a file part');
  assert.equal(r.file.filename, 'audio.wav', 'file name');
  assert.equal(r.file.contentType, 'audio/wav', 'file content type');
  const wav = decodeWav(new Uint8Array(r.file.body));
  assert.deepEqual(wav.source, { encoding: 'pcm_s16le', sampleRate: 16000, channels: 1 }, 'WAV format');
  assert.equal(wav.samples.length, samples.length, 'sample count');
  let maxErr = 0;
  for (let i = 0; i < samples.length; i++) maxErr = Math.max(maxErr, Math.abs(wav.samples[i]! - samples[i]!));
  assert.ok(maxErr <= 1.5 / 32767, `WAV decodes to the audio sent (max error ${maxErr})`);
  await stt.close();
});

test('no API key, no Authorization header; default model; verbose_json language and confidence', async () => {
  handler = (_r, res) =>
    json(res, 200, {
      text: 'what time is it',
      language: 'english',
      duration: 1.2,
      segments: [{ avg_logprob: -0.1 }, { avg_logprob: -0.3 }],
    });
  const stt = new OpenAiStt({ baseUrl, responseFormat: 'verbose_json' });
  const t = await stt.transcribe(speechLike());
  assert.equal(t.text, 'what time is it', 'text');
  assert.equal(t.language, 'english', 'language reported by the server');
  assert.ok(
    Math.abs(t.confidence! - Math.exp(-0.2)) < 1e-9,
    `confidence exp(mean logprob), got ${t.confidence}`,
  );
  const r = received.at(-1)!;
  assert.equal(r.authorization, undefined, 'no Authorization header');
  assert.deepEqual(r.fields, { model: 'whisper-1', response_format: 'verbose_json' }, 'fields');
});

test('streaming: SSE deltas become partials, done is the final text; stream() sends all written audio', async () => {
  handler = async (_r, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const events = [
      { type: 'transcript.text.delta', delta: 'Set a' },
      { type: 'transcript.text.delta', delta: ' timer' },
      { type: 'transcript.text.delta', delta: ' for five minutes.' },
      { type: 'transcript.text.done', text: 'Set a timer for five minutes.' },
    ];
    for (const e of events) {
      // split one event across two writes to exercise the client's buffering
      const s = `data: ${JSON.stringify(e)}\n\n`;
      res.write(s.slice(0, 7));
      await new Promise((r) => setTimeout(r, 5));
      res.write(s.slice(7));
    }
    res.end('data: [DONE]\n\n');
  };
  const stt = new OpenAiStt({ baseUrl, apiKey: 'k', streaming: true, model: 'gpt-4o-mini-transcribe' });
  assert.equal(stt.streamingPartials, true, 'streamingPartials');
  const partials: string[] = [];
  const s = stt.stream({ onPartial: (p) => partials.push(p), language: 'en' });
  const a = speechLike(5000);
  const b = speechLike(3000).map((v) => -v);
  s.write(a);
  s.write(b);
  const t = await s.end();
  assert.equal(t.text, 'Set a timer for five minutes.', 'final text');
  assert.equal(t.durationMs, 500, 'duration of 8000 samples');
  assert.deepEqual(partials, ['Set a', 'Set a timer', 'Set a timer for five minutes.'], 'partials');
  const r = received.at(-1)!;
  assert.equal(r.fields.stream, 'true', 'stream=true sent');
  assert.equal(r.fields.response_format, 'json', 'json format with streaming');
  assert.equal(r.fields.language, 'en', 'language');
  const wav = decodeWav(new Uint8Array(r.file!.body));
  assert.equal(wav.samples.length, 8000, 'both writes sent');
  assert.ok(Math.abs(wav.samples[6000]! - b[1000]!) < 1e-4, 'second block follows the first');
});

test('streaming requested but the server answers JSON: accepted', async () => {
  handler = (_r, res) => json(res, 200, { text: 'stop' });
  const stt = new OpenAiStt({ baseUrl, streaming: true });
  const partials: string[] = [];
  const s = stt.stream({ onPartial: (p) => partials.push(p) });
  s.write(speechLike());
  assert.equal((await s.end()).text, 'stop', 'text from JSON');
  assert.deepEqual(partials, [], 'no partials');
});

test('HTTP errors map to stt_failed / stt_unavailable with the upstream status, never the key', async () => {
  const key = 'sk-secret-abcdef';
  const stt = new OpenAiStt({ baseUrl, apiKey: key });
  handler = (_r, res) =>
    json(res, 401, {
      error: { message: `Incorrect API key provided: ${key}`, type: 'invalid_request_error' },
    });
  let e = await rejectsWith(stt.transcribe(speechLike()), 502, 'stt_failed');
  assert.match(e.message, /rejected the API key \(HTTP 401\)/, 'message names the problem');
  assert.equal((e.details as { upstreamStatus: number }).upstreamStatus, 401, 'upstream status');
  assert.ok(!JSON.stringify({ m: e.message, d: e.details }).includes(key), 'API key not echoed');

  handler = (_r, res) => json(res, 400, { detail: 'Unsupported language xx' });
  e = await rejectsWith(stt.transcribe(speechLike(), { language: 'xx' }), 502, 'stt_failed');
  assert.match(e.message, /Unsupported language xx/, 'FastAPI detail shown');

  handler = (_r, res) => json(res, 500, { error: 'model crashed' });
  e = await rejectsWith(stt.transcribe(speechLike()), 503, 'stt_unavailable');
  assert.equal((e.details as { upstreamStatus: number }).upstreamStatus, 500, 'upstream status 500');
  assert.match(e.message, /model crashed/, 'upstream message');

  handler = (_r, res) => json(res, 429, { error: { message: 'slow down' } });
  await rejectsWith(stt.transcribe(speechLike()), 503, 'stt_unavailable');

  handler = (_r, res) => json(res, 200, '{"text": "unterminated');
  e = await rejectsWith(stt.transcribe(speechLike()), 502, 'stt_failed');
  assert.match(e.message, /malformed JSON/, 'malformed JSON');

  handler = (_r, res) => json(res, 200, { transcript: 'wrong field' });
  e = await rejectsWith(stt.transcribe(speechLike()), 502, 'stt_failed');
  assert.match(e.message, /without a "text"/, 'missing text');
});

test('a stream that ends without transcript.text.done, or reports an error, is stt_failed', async () => {
  const stt = new OpenAiStt({ baseUrl, streaming: true });
  handler = (_r, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(`data: ${JSON.stringify({ type: 'transcript.text.delta', delta: 'half' })}\n\n`);
  };
  const e = await rejectsWith(stt.transcribe(speechLike()), 502, 'stt_failed');
  assert.equal((e.details as { partial: string }).partial, 'half', 'partial text in details');
  handler = (_r, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(`data: ${JSON.stringify({ type: 'error', error: { message: 'decoder died' } })}\n\n`);
  };
  const e2 = await rejectsWith(stt.transcribe(speechLike()), 502, 'stt_failed');
  assert.match(JSON.stringify(e2.details), /decoder died/, 'upstream error message');
});

test('connection refused → stt_unavailable; timeout → stt_unavailable; abort → AbortError', async () => {
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const refused = new OpenAiStt({ baseUrl: `http://127.0.0.1:${port}` });
  const e = await rejectsWith(refused.transcribe(speechLike()), 503, 'stt_unavailable');
  assert.match(e.message, /ECONNREFUSED/, 'names the cause');
  const health = await refused.check();
  assert.equal(health.ok, false, 'check fails when refused');

  handler = () => undefined; // never answers
  const slow = new OpenAiStt({ baseUrl, timeoutMs: 150 });
  const t0 = performance.now();
  const e2 = await rejectsWith(slow.transcribe(speechLike()), 503, 'stt_unavailable');
  assert.match(e2.message, /within 150 ms/, 'timeout message');
  assert.ok(performance.now() - t0 < 2000, 'timed out promptly');

  const ac = new AbortController();
  const p = new OpenAiStt({ baseUrl }).transcribe(speechLike(), { signal: ac.signal });
  setTimeout(() => ac.abort(), 30);
  await assert.rejects(p, (err: Error) => err.name === 'AbortError', 'aborted');
});

test('bad input: non-finite samples rejected before any request; empty audio is empty text', async () => {
  const stt = new OpenAiStt({ baseUrl });
  const n = received.length;
  const bad = speechLike();
  bad[10] = NaN;
  await assert.rejects(
    stt.transcribe(bad),
    (err: unknown) => AppError.isInstance(err) && err.code === 'non_finite_samples' && err.statusCode === 400,
    'NaN rejected',
  );
  const s = stt.stream();
  assert.throws(
    () => s.write(Float32Array.from([0, Infinity])),
    (err: unknown) => AppError.isInstance(err) && err.code === 'non_finite_samples',
    'Infinity rejected by stream.write',
  );
  assert.deepEqual(
    await stt.transcribe(new Float32Array(0)),
    { text: '', durationMs: 0, provider: 'openai' },
    'empty',
  );
  assert.equal(received.length, n, 'no request was made');
  assert.throws(() => new OpenAiStt({ baseUrl: 'ftp://x' }), /http/, 'non-http baseUrl');
  assert.throws(() => new OpenAiStt({ baseUrl: 'http://u:p@h' }), /credentials/, 'credentials in URL');
});

test('check(): reachable server is ok, a rejected key is not', async () => {
  handler = (r, res) =>
    r.authorization === 'Bearer good' ? json(res, 200, { data: [] }) : json(res, 401, { error: 'no' });
  const good = await new OpenAiStt({ baseUrl, apiKey: 'good' }).check();
  assert.equal(good.ok, true, `good key: ${good.detail}`);
  const bad = await new OpenAiStt({ baseUrl, apiKey: 'bad' }).check();
  assert.equal(bad.ok, false, 'bad key');
  assert.match(bad.detail ?? '', /401/, 'detail names the status');
  assert.equal(received.at(-1)!.url, '/v1/models', 'check asks /v1/models');
});
