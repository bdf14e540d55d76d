// Client helper for spoken turns from a file (the CLI's `synthians talk <file.wav> [--out reply.wav]`): streams a WAV
// file to GET /v1/audio (16 kHz s16le, faster than real time by default), sends stop, and collects the events, the
// transcript, the reply text and the reply audio (as a WAV file).
import WebSocket from 'ws';
import { decodeWav, encodePcmMono, wavHeader } from '@synthians/voice';

export interface TalkOptions {
  /** Coordinator URL (http://host:8080 or ws://host:8080; the path /v1/audio is added when missing). */
  url: string;
  /** The user's speech as a WAV file (any rate / channels / 16-bit or float PCM). */
  wav: Uint8Array;
  token?: string;
  sessionId?: string;
  userId?: string;
  /** Expect a wake word at the start of the file (default false: the speech is the command). */
  wakeWord?: boolean;
  /** Give up after this long (default 60 000 ms). */
  timeoutMs?: number;
  /** Streaming speed as a multiple of real time (default 4; 1 = like a microphone). */
  speed?: number;
  /** Sample rate of the reply audio (default 16000). */
  sampleRate?: number;
}

export interface TalkEvent {
  type: string;
  [key: string]: unknown;
}

export interface TalkResult {
  /** Final transcript(s) of what the server heard, joined by spaces. */
  transcript: string;
  /** The reply text (sentences joined). */
  reply: string;
  /** The reply audio as a 16-bit mono WAV file (empty data when nothing was spoken). */
  audio: Uint8Array;
  /** Every JSON event from the server, in order. */
  events: TalkEvent[];
  /** The session the turn ran in. */
  sessionId?: string;
}

const CHUNK_MS = 40;

function audioUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (!u.pathname.endsWith('/v1/audio')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/v1/audio`;
  return u.toString();
}

export async function talk(o: TalkOptions): Promise<TalkResult> {
  const rate = 16000;
  const decoded = decodeWav(o.wav).samples;
  // The wake word needs ~1.3 s of audio before its scores count; the VAD needs silence to end the turn.
  const lead = new Float32Array(Math.round((o.wakeWord ? 1.5 : 0.3) * rate));
  const tail = new Float32Array(Math.round(1.5 * rate));
  const all = new Float32Array(lead.length + decoded.length + tail.length);
  all.set(decoded, lead.length);
  const pcm = encodePcmMono(all, 'pcm_s16le');
  const speed = o.speed ?? 4;
  const ttsRate = o.sampleRate ?? 16000;
  const events: TalkEvent[] = [];
  const audio: Uint8Array[] = [];
  const ws = new WebSocket(audioUrl(o.url), {
    headers: o.token ? { authorization: `Bearer ${o.token}` } : {},
  });
  const timeoutMs = o.timeoutMs ?? 60000;
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`talk: no answer within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.terminate();
      if (err) reject(err);
      else resolve();
    };
    ws.on('error', (err) => finish(err));
    ws.on('close', (code, reason) => {
      if (events.some((e) => e.type === 'done')) finish();
      else {
        const error = events.find((e) => e.type === 'error')?.error as
          { code?: string; message?: string } | undefined;
        finish(
          new Error(
            `talk: the server closed the connection (${code} ${reason.toString()})${error ? `: ${error.code}: ${error.message}` : ''}`,
          ),
        );
      }
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        const b = data as Buffer;
        audio.push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice());
        return;
      }
      const e = JSON.parse(String(data)) as TalkEvent;
      events.push(e);
      if (e.type === 'ready') void stream().catch((err: Error) => finish(err));
      if (e.type === 'done') finish();
    });
    ws.on('open', () => {
      ws.send(
        JSON.stringify({
          type: 'start',
          format: { encoding: 'pcm_s16le', sample_rate: rate, channels: 1 },
          ...(o.sessionId ? { session_id: o.sessionId } : {}),
          ...(o.userId ? { user_id: o.userId } : {}),
          options: {
            wake_word: o.wakeWord ?? false,
            tts: { sample_rate: ttsRate, encoding: 'pcm_s16le', pace: false },
          },
        }),
      );
    });
    const stream = async () => {
      const bytesPerChunk = (rate * 2 * CHUNK_MS) / 1000;
      const t0 = performance.now();
      for (let at = 0, i = 0; at < pcm.length; at += bytesPerChunk, i++) {
        if (ws.readyState !== ws.OPEN) return;
        ws.send(pcm.subarray(at, at + bytesPerChunk));
        const due = t0 + ((i + 1) * CHUNK_MS) / speed;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      }
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'stop' }));
    };
  });
  const data = concatBytes(audio);
  const wav = new Uint8Array(44 + data.length);
  wav.set(wavHeader(ttsRate, 'pcm_s16le', data.length), 0);
  wav.set(data, 44);
  const transcript = events
    .filter((e) => e.type === 'transcript' && e.final === true && e.text)
    .map((e) => String(e.text))
    .join(' ');
  const reply = events
    .filter((e) => e.type === 'reply')
    .map((e) => String(e.text))
    .join(' ');
  const turn = events.find((e) => e.type === 'turn');
  const result: TalkResult = { transcript, reply, audio: wav, events };
  if (typeof turn?.session_id === 'string') result.sessionId = turn.session_id;
  return result;
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
