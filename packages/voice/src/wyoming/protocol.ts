// The Wyoming protocol (Home Assistant's voice protocol) on a byte stream: each event is a JSON header line
// `{"type", "version", "data_length", "payload_length"}\n`, then `data_length` bytes of UTF-8 JSON (the event's
// data) and `payload_length` bytes of binary payload (e.g. PCM audio). Older peers put `data` inline in the
// header; both are read. Limits keep a bad peer from making us buffer without end.
import net from 'node:net';
import { badRequest } from '@synthians/kit';
import { AUTH_EVENT } from './access.ts';

/** The protocol version we announce in headers (the data/payload framing is the same since 1.0). */
export const WYOMING_VERSION = '1.5.4';

export type WyomingData = Record<string, unknown>;

export interface WyomingEvent {
  type: string;
  data?: WyomingData;
  payload?: Uint8Array;
}

export interface WyomingLimits {
  /** Longest header line in bytes. */
  maxHeaderBytes: number;
  /** Largest data section in bytes. */
  maxDataBytes: number;
  /** Largest payload in bytes. */
  maxPayloadBytes: number;
}

export const DEFAULT_WYOMING_LIMITS: Readonly<WyomingLimits> = Object.freeze({
  maxHeaderBytes: 64 * 1024,
  maxDataBytes: 1024 * 1024,
  maxPayloadBytes: 16 * 1024 * 1024,
});

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** One event as bytes: header line, data (if any), payload (if any). */
export function encodeEvent(event: WyomingEvent): Uint8Array {
  const data =
    event.data && Object.keys(event.data).length > 0 ? encoder.encode(JSON.stringify(event.data)) : undefined;
  const payload = event.payload && event.payload.length > 0 ? event.payload : undefined;
  const header: Record<string, unknown> = { type: event.type, version: WYOMING_VERSION };
  if (data) header.data_length = data.length;
  if (payload) header.payload_length = payload.length;
  const head = encoder.encode(JSON.stringify(header) + '\n');
  const out = new Uint8Array(head.length + (data?.length ?? 0) + (payload?.length ?? 0));
  out.set(head, 0);
  if (data) out.set(data, head.length);
  if (payload) out.set(payload, head.length + (data?.length ?? 0));
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function lengthField(header: Record<string, unknown>, key: string, max: number): number {
  const v = header[key];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw badRequest('invalid_wyoming_event', `Wyoming header field ${key} must be a non-negative integer`);
  }
  if (v > max) {
    throw badRequest('wyoming_event_too_large', `Wyoming ${key} ${v} exceeds the limit of ${max} bytes`, {
      limit: max,
    });
  }
  return v;
}

/**
 * Incremental decoder: `push` byte chunks split anywhere, get the complete events. A malformed header, bad
 * JSON or an oversized section throws an AppError (`invalid_wyoming_event`, `wyoming_event_too_large`); the
 * stream cannot be resynchronised after that, so the caller should close the connection.
 */
export class WyomingDecoder {
  private buf: Uint8Array = new Uint8Array(0);
  private pending:
    { type: string; data?: WyomingData; dataLength: number; payloadLength: number } | undefined;
  private limits: WyomingLimits;

  constructor(limits: Partial<WyomingLimits> = {}) {
    this.limits = { ...DEFAULT_WYOMING_LIMITS, ...limits };
  }

  /** Limits for the events not yet decoded (e.g. larger ones once a peer has authenticated). */
  setLimits(limits: Partial<WyomingLimits>): void {
    this.limits = { ...DEFAULT_WYOMING_LIMITS, ...limits };
  }

  /** Bytes received but not yet part of a complete event. */
  get buffered(): number {
    return this.buf.length;
  }

  /** Decodes at most `maxEvents` events; the bytes after them stay buffered for the next `push`. */
  push(chunk: Uint8Array, maxEvents = Infinity): WyomingEvent[] {
    if (chunk.length > 0) this.buf = this.buf.length === 0 ? chunk : concatBytes(this.buf, chunk);
    const out: WyomingEvent[] = [];
    while (out.length < maxEvents) {
      if (!this.pending) {
        const nl = this.buf.indexOf(0x0a);
        if (nl < 0) {
          if (this.buf.length > this.limits.maxHeaderBytes) {
            throw badRequest(
              'wyoming_event_too_large',
              `Wyoming header line longer than ${this.limits.maxHeaderBytes} bytes`,
              {
                limit: this.limits.maxHeaderBytes,
              },
            );
          }
          break;
        }
        if (nl > this.limits.maxHeaderBytes) {
          throw badRequest(
            'wyoming_event_too_large',
            `Wyoming header line longer than ${this.limits.maxHeaderBytes} bytes`,
            {
              limit: this.limits.maxHeaderBytes,
            },
          );
        }
        const line = this.buf.subarray(0, nl);
        this.buf = this.buf.subarray(nl + 1);
        if (line.length === 0 || (line.length === 1 && line[0] === 0x0d)) continue; // blank line: tolerated
        this.pending = this.parseHeader(line);
      }
      const p = this.pending;
      if (this.buf.length < p.dataLength + p.payloadLength) break;
      let data = p.data;
      if (p.dataLength > 0) {
        const extra = parseJsonObject(this.buf.subarray(0, p.dataLength), 'data');
        data = { ...(data ?? {}), ...extra };
      }
      const event: WyomingEvent = { type: p.type };
      if (data) event.data = data;
      if (p.payloadLength > 0) event.payload = this.buf.slice(p.dataLength, p.dataLength + p.payloadLength);
      this.buf = this.buf.subarray(p.dataLength + p.payloadLength);
      this.pending = undefined;
      out.push(event);
    }
    // Do not pin a large chunk's buffer for a few leftover bytes.
    if (this.buf.length > 0 && this.buf.byteOffset > 0 && this.buf.buffer.byteLength > 4 * this.buf.length)
      this.buf = this.buf.slice();
    return out;
  }

  private parseHeader(line: Uint8Array): {
    type: string;
    data?: WyomingData;
    dataLength: number;
    payloadLength: number;
  } {
    const header = parseJsonObject(line, 'header');
    if (typeof header.type !== 'string' || header.type.length === 0) {
      throw badRequest('invalid_wyoming_event', 'Wyoming header has no "type" string');
    }
    const dataLength = lengthField(header, 'data_length', this.limits.maxDataBytes);
    const payloadLength = lengthField(header, 'payload_length', this.limits.maxPayloadBytes);
    const out: { type: string; data?: WyomingData; dataLength: number; payloadLength: number } = {
      type: header.type,
      dataLength,
      payloadLength,
    };
    if (header.data !== undefined && header.data !== null) {
      if (!isObject(header.data))
        throw badRequest('invalid_wyoming_event', 'Wyoming header "data" must be an object');
      out.data = header.data;
    }
    return out;
  }
}

function parseJsonObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    throw badRequest('invalid_wyoming_event', `Wyoming ${what} is not valid UTF-8 JSON`);
  }
  if (!isObject(value)) throw badRequest('invalid_wyoming_event', `Wyoming ${what} must be a JSON object`);
  return value;
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** The peer answered with an `error` event (`data`: its text and code, e.g. `unauthorized`). */
export class WyomingPeerError extends Error {
  readonly text: string;
  constructor(readonly data: WyomingData) {
    const text = typeof data.text === 'string' ? data.text : 'unknown error';
    super(`Wyoming peer reported an error: ${text}`);
    this.name = 'WyomingPeerError';
    this.text = text;
  }
}

/**
 * A Wyoming peer over a TCP socket: `send` events, `next()` / async-iterate the events received.
 * Used by our clients (STT/TTS providers talking to wyoming-faster-whisper, Piper, …) and by our server.
 */
export class WyomingConnection {
  private readonly decoder: WyomingDecoder;
  private readonly queue: WyomingEvent[] = [];
  private waiters: { resolve: (e: WyomingEvent | undefined) => void; reject: (e: unknown) => void }[] = [];
  private ended = false;
  private failure: unknown;
  private gated: boolean;

  /**
   * `keepOpenOnError`: after a framing error, leave the socket open (a server answers with an error event
   * before closing) instead of destroying it. `gated`: decode only the first event and stop reading until
   * `admit()` (a server checks the peer's credentials before anything else is read).
   */
  constructor(
    readonly socket: net.Socket,
    limits: Partial<WyomingLimits> = {},
    private readonly options: { keepOpenOnError?: boolean; gated?: boolean } = {},
  ) {
    this.decoder = new WyomingDecoder(limits);
    this.gated = options.gated ?? false;
    socket.on('data', (chunk: Buffer) => {
      let events: WyomingEvent[];
      try {
        events = this.decoder.push(
          new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length),
          this.gated ? 1 : Infinity,
        );
      } catch (err) {
        this.failStream(err);
        return;
      }
      // The rest stays unread (in the decoder and the socket) until admitted.
      if (this.gated && events.length > 0) socket.pause();
      this.deliver(events);
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) {
        if (this.failure !== undefined) w.reject(this.failure);
        else w.resolve(undefined);
      }
    });
  }

  /** Lifts the gate: the events after the first are decoded with `limits`, and reading resumes. */
  admit(limits: Partial<WyomingLimits> = {}): void {
    if (!this.gated) return;
    this.gated = false;
    this.decoder.setLimits(limits);
    let events: WyomingEvent[];
    try {
      events = this.decoder.push(new Uint8Array(0));
    } catch (err) {
      this.failStream(err);
      return;
    }
    this.deliver(events);
    this.socket.resume();
  }

  private deliver(events: WyomingEvent[]): void {
    for (const e of events) {
      const w = this.waiters.shift();
      if (w) w.resolve(e);
      else this.queue.push(e);
    }
  }

  /**
   * The stream cannot be resynchronised: stop reading. A client drops the socket; a server keeps it open so it
   * can answer with an error event before closing (`keepOpenOnError`).
   */
  private failStream(err: unknown): void {
    this.fail(err);
    this.socket.pause();
    this.socket.removeAllListeners('data');
    if (!this.options.keepOpenOnError) this.socket.destroy();
  }

  /**
   * Connects to `host:port` (rejects after `timeoutMs`). With `token`, the first event written is our
   * `auth {token}` extension (see access.ts), which a Synthians Wyoming server off loopback requires and one on
   * loopback ignores; the server does not answer it, so the caller's events follow right away.
   */
  static connect(
    host: string,
    port: number,
    options: { timeoutMs?: number; limits?: Partial<WyomingLimits>; token?: string } = {},
  ): Promise<WyomingConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`Wyoming connection to ${host}:${port} timed out`));
      }, options.timeoutMs ?? 5000);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        const conn = new WyomingConnection(socket, options.limits);
        // Written before the caller can send anything, so it is the first event on the wire.
        if (options.token) socket.write(encodeEvent({ type: AUTH_EVENT, data: { token: options.token } }));
        resolve(conn);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  /** Writes one event; resolves once it is handed to the socket (respects back-pressure). */
  send(event: WyomingEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) {
        reject(new Error('Wyoming connection is closed'));
        return;
      }
      this.socket.write(encodeEvent(event), (err) => (err ? reject(err) : resolve()));
    });
  }

  /** The next event, or undefined when the peer closed the connection. Rejects on a protocol error. */
  next(timeoutMs?: number): Promise<WyomingEvent | undefined> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = {
        resolve: (e: WyomingEvent | undefined) => {
          clearTimeout(timer);
          resolve(e);
        },
        reject: (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.waiters.push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`No Wyoming event within ${timeoutMs} ms`));
        }, timeoutMs);
      }
    });
  }

  /** Reads events until one whose type is in `types` (others are returned in `skipped`). */
  async waitFor(
    types: string[],
    timeoutMs?: number,
  ): Promise<{ event: WyomingEvent; skipped: WyomingEvent[] }> {
    const skipped: WyomingEvent[] = [];
    for (;;) {
      const e = await this.next(timeoutMs);
      if (!e) throw new Error(`Wyoming peer closed the connection while waiting for ${types.join('/')}`);
      if (e.type === 'error') throw new WyomingPeerError(e.data ?? {});
      if (types.includes(e.type)) return { event: e, skipped };
      skipped.push(e);
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WyomingEvent> {
    for (;;) {
      const e = await this.next();
      if (!e) return;
      yield e;
    }
  }

  close(): void {
    this.socket.end();
  }
}

/** Audio format fields of `audio-start` / `audio-chunk` (width in bytes per sample). */
export interface WyomingAudioFormat {
  rate: number;
  width: number;
  channels: number;
}

/** Reads and checks the audio format of an `audio-start` / `audio-chunk` event. */
export function audioFormatOf(event: WyomingEvent): WyomingAudioFormat {
  const d = event.data ?? {};
  const { rate, width, channels } = d;
  if (
    typeof rate !== 'number' ||
    !Number.isInteger(rate) ||
    rate <= 0 ||
    typeof width !== 'number' ||
    !Number.isInteger(width) ||
    typeof channels !== 'number' ||
    !Number.isInteger(channels)
  ) {
    throw badRequest('invalid_wyoming_event', `${event.type} needs integer rate, width and channels`);
  }
  return { rate, width, channels };
}
