// HTTP and WebSocket plumbing shared by the voice services: WAV request bodies, the audio-stream WebSocket
// protocol (a JSON `start` message declaring the format, then binary PCM, then `stop`), stream limits and the
// pool of Silero sessions.
//
// Stream protocol (client → server):
//   {"type":"start","format":{"encoding":"pcm_s16le","sample_rate":48000,"channels":2},"stream_id":"kitchen"}
//   <binary PCM chunks, any size>
//   {"type":"stop"}                        → the server flushes, sends its last events, then {"type":"done"}
// Server → client: {"type":"ready","stream_id"}, service events as JSON, {"type":"error","error":{code,message}}
// (the socket is then closed: 1008 for bad input, 1011 for a server fault, 1013 when the server is full).
import { randomUUID } from 'node:crypto';
import type { WebSocket, RawData } from 'ws';
import websocket from '@fastify/websocket';
import { z } from 'zod';
import { AppError, badRequest, unavailable, type App } from '@synthians/kit';
import { assertSupportedFormat, type PcmFormat } from '../audio/pcm.ts';
import { SileroVad } from '../vad/silero.ts';

export const AUDIO_CONTENT_TYPES = [
  'audio/wav',
  'audio/x-wav',
  'audio/wave',
  'audio/vnd.wave',
  'application/octet-stream',
];

/** Accepts WAV bodies (as a Buffer) up to `maxBytes` on this app. */
export function registerAudioBodies(app: App, maxBytes: number): void {
  app.addContentTypeParser(
    AUDIO_CONTENT_TYPES,
    { parseAs: 'buffer', bodyLimit: maxBytes },
    (_req, body, done) => {
      done(null, body);
    },
  );
}

export async function registerWebsocket(app: App, maxMessageBytes: number): Promise<void> {
  await app.register(websocket, { options: { maxPayload: maxMessageBytes } });
}

/** The request body as bytes, or 400 `missing_audio` / 415 for a non-audio content type. */
export function audioBody(body: unknown): Uint8Array {
  if (!(body instanceof Uint8Array) || body.length === 0) {
    throw badRequest('missing_audio', 'Send the audio as the request body (Content-Type: audio/wav)');
  }
  return body;
}

const streamId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'stream_id: 1–64 letters, digits, _ or -');

export const streamStartSchema = z
  .object({
    type: z.literal('start'),
    format: z
      .object({
        encoding: z.enum(['pcm_s16le', 'pcm_f32le']),
        sample_rate: z.number().int(),
        channels: z.number().int(),
      })
      .strict(),
    stream_id: streamId.optional(),
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export interface StreamStart {
  format: PcmFormat;
  streamId: string;
  options: Record<string, unknown>;
}

/** Validates the first message of a stream. */
export function parseStart(text: string): StreamStart {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest('invalid_json', 'The first message must be a JSON start message');
  }
  const parsed = streamStartSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badRequest(
      'invalid_stream_start',
      `Invalid start message: ${issue ? `${issue.path.join('.') || '(message)'}: ${issue.message}` : 'bad shape'}`,
    );
  }
  const f = parsed.data.format;
  const format: PcmFormat = { encoding: f.encoding, sampleRate: f.sample_rate, channels: f.channels };
  assertSupportedFormat(format);
  return { format, streamId: parsed.data.stream_id ?? randomUUID(), options: parsed.data.options ?? {} };
}

/** A running stream, as the service implements it. */
export interface StreamSession {
  push(chunk: Uint8Array): Promise<void>;
  /** End of audio: flush and send the last events. */
  end(): Promise<void>;
  /** Releases resources (always called once, after end or on error/close). */
  close(): Promise<void>;
}

export interface SocketOptions {
  idleTimeoutMs: number;
  slots: Slots;
  start(start: StreamStart, send: (msg: object | Uint8Array) => void): Promise<StreamSession>;
  onError?(err: unknown): void;
}

export function sendJson(socket: WebSocket, msg: object): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg));
}

function errorBody(err: unknown): { code: string; message: string } {
  if (AppError.isInstance(err)) return { code: err.code, message: err.message };
  return { code: 'internal_error', message: 'Internal error while processing the stream' };
}

function closeCode(err: unknown): number {
  if (!AppError.isInstance(err)) return 1011;
  if (err.statusCode === 503) return 1013;
  return 1008;
}

const utf8 = new TextDecoder();

const rawBytes = (data: RawData): Uint8Array => {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
};

/** Runs the stream protocol on one WebSocket. */
export function serveAudioSocket(socket: WebSocket, options: SocketOptions): void {
  if (!options.slots.acquire()) {
    sendJson(socket, {
      type: 'error',
      error: { code: 'too_many_streams', message: 'The server is at its stream limit; retry later' },
    });
    socket.close(1013, 'too many streams');
    return;
  }
  let session: StreamSession | undefined;
  let starting = false;
  let finished = false;
  let chain: Promise<void> = Promise.resolve();
  let idle: NodeJS.Timeout | undefined;
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(
      () => fail(badRequest('stream_idle', `No data for ${options.idleTimeoutMs} ms`)),
      options.idleTimeoutMs,
    );
  };
  const send = (msg: object | Uint8Array) => {
    if (socket.readyState !== socket.OPEN) return;
    if (msg instanceof Uint8Array) socket.send(msg);
    else socket.send(JSON.stringify(msg));
  };
  const release = async () => {
    clearTimeout(idle);
    if (finished) return;
    finished = true;
    options.slots.release();
    const s = session;
    session = undefined;
    if (s)
      await chain
        .catch(() => undefined)
        .then(() => s.close())
        .catch((e: unknown) => options.onError?.(e));
  };
  const fail = (err: unknown) => {
    if (finished) return;
    if (!AppError.isInstance(err)) options.onError?.(err);
    sendJson(socket, { type: 'error', error: errorBody(err) });
    socket.close(closeCode(err), errorBody(err).code.slice(0, 100));
    void release();
  };
  armIdle();
  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (finished) return;
    armIdle();
    if (!session) {
      if (starting) {
        fail(badRequest('stream_not_ready', 'Wait for the "ready" message before sending audio'));
        return;
      }
      if (isBinary) {
        fail(
          badRequest('missing_stream_start', 'Send a JSON start message declaring the audio format first'),
        );
        return;
      }
      starting = true;
      let start: StreamStart;
      try {
        start = parseStart(utf8.decode(rawBytes(data)));
      } catch (err) {
        fail(err);
        return;
      }
      options
        .start(start, send)
        .then((s) => {
          if (finished) {
            void s.close();
            return;
          }
          session = s;
          starting = false;
          send({ type: 'ready', stream_id: start.streamId });
        })
        .catch(fail);
      return;
    }
    const s = session;
    if (isBinary) {
      const bytes = rawBytes(data);
      chain = chain.then(() => s.push(bytes));
      chain.catch(fail);
      return;
    }
    let msg: { type?: unknown };
    try {
      msg = JSON.parse(utf8.decode(rawBytes(data))) as { type?: unknown };
    } catch {
      fail(badRequest('invalid_json', 'Control messages must be JSON'));
      return;
    }
    if (msg.type === 'stop') {
      chain = chain.then(() => s.end());
      chain
        .then(() => {
          send({ type: 'done' });
          socket.close(1000, 'done');
          return release();
        })
        .catch(fail);
    } else {
      fail(badRequest('unknown_message', `Unknown control message type ${JSON.stringify(msg.type)}`));
    }
  });
  socket.on('close', () => void release());
  socket.on('error', () => void release());
}

/** Counts concurrent streams against a limit. */
export class Slots {
  private used = 0;
  constructor(readonly max: number) {}
  get active(): number {
    return this.used;
  }
  acquire(): boolean {
    if (this.used >= this.max) return false;
    this.used++;
    return true;
  }
  release(): void {
    this.used = Math.max(0, this.used - 1);
  }
}

/**
 * Idle Silero sessions, reused across requests and streams (an ONNX session is ~2 MB and takes a few ms to
 * create). Each borrower gets exclusive use and must `reset()`-free state: the pool resets on return.
 */
export class SileroPool {
  private readonly idle: SileroVad[] = [];
  private created = 0;
  constructor(private readonly max: number) {}

  async acquire(): Promise<SileroVad> {
    const vad = this.idle.pop();
    if (vad) return vad;
    if (this.created >= this.max) throw unavailable('vad_busy', 'All VAD sessions are in use; retry later');
    this.created++;
    try {
      return await SileroVad.create();
    } catch (err) {
      this.created--;
      throw err;
    }
  }

  release(vad: SileroVad): void {
    vad.reset();
    this.idle.push(vad);
  }

  async close(): Promise<void> {
    for (const v of this.idle.splice(0)) await v.close();
  }
}
