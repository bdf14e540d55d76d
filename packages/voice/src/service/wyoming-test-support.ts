// Shared by the Wyoming service tests: a raw client that writes and reads the wire format byte for byte (its
// own framing code, not ours: JSON header line, then `data_length` bytes of JSON, then `payload_length` bytes
// of payload), and a helper that starts the Wyoming service on a free port of a given host.
import assert from 'node:assert/strict';
import net from 'node:net';
import { createLogger, type Env, listen, type ServiceInstance } from '@synthians/kit';
import { encodePcmMono } from '../audio/encode.ts';
import { resample } from '../audio/resample.ts';
import { RATE } from '../testing/signals.ts';
import { wyomingService } from './wyoming-service.ts';

/** Engines kept light: no wake word models (VAD and espeak-ng TTS as configured by default). */
const base: Env = { WAKE_WORD_MODELS: 'none', LOG_LEVEL: 'silent' };

/** Starts the Wyoming service bound to `host` on a free port, with `env` over the light defaults. */
export async function startWyoming(
  dataDir: string,
  host: string,
  env: Env,
): Promise<{ instance: ServiceInstance; port: number }> {
  const instance = await wyomingService.create({
    env: { ...base, ...env },
    dataDir,
    host,
    port: 0,
    logger: createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent'),
  });
  await listen(instance);
  return { instance, port: instance.port };
}

export interface WyomingTestEvent {
  type: string;
  header: Record<string, unknown>;
  data: Record<string, unknown>;
  payload: Buffer;
}

/** A raw Wyoming client: writes exact bytes, parses what comes back with its own framing code. */
export class RawClient {
  private buf = Buffer.alloc(0);
  readonly events: WyomingTestEvent[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  /** The socket error, if any (a server that closes on us may reset the connection; `waitFor` reports it). */
  error: Error | undefined;
  private readonly closedPromise: Promise<void>;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', (err) => {
      this.error = err;
    });
    this.closedPromise = new Promise((r) =>
      socket.on('close', () => {
        this.closed = true;
        for (const w of this.waiters.splice(0)) w();
        r();
      }),
    );
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private parse(): void {
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) return;
      const header = JSON.parse(this.buf.subarray(0, nl).toString('utf8')) as Record<string, unknown>;
      const dl = (header.data_length as number | undefined) ?? 0;
      const pl = (header.payload_length as number | undefined) ?? 0;
      if (this.buf.length < nl + 1 + dl + pl) return;
      const dataBytes = this.buf.subarray(nl + 1, nl + 1 + dl);
      const data = {
        ...((header.data as Record<string, unknown> | undefined) ?? {}),
        ...(dl > 0 ? (JSON.parse(dataBytes.toString('utf8')) as Record<string, unknown>) : {}),
      };
      const payload = Buffer.from(this.buf.subarray(nl + 1 + dl, nl + 1 + dl + pl));
      this.events.push({ type: header.type as string, header, data, payload });
      this.buf = this.buf.subarray(nl + 1 + dl + pl);
    }
  }

  /** The bytes of an event in the current framing (data after the header line). */
  static bytes(type: string, data?: Record<string, unknown>, payload?: Uint8Array): Buffer {
    const dataBytes = data ? Buffer.from(JSON.stringify(data), 'utf8') : Buffer.alloc(0);
    const header: Record<string, unknown> = { type, version: '1.5.4' };
    if (dataBytes.length) header.data_length = dataBytes.length;
    if (payload?.length) header.payload_length = payload.length;
    return Buffer.concat([
      Buffer.from(JSON.stringify(header) + '\n', 'utf8'),
      dataBytes,
      Buffer.from(payload ?? []),
    ]);
  }

  /** Writes an event in the current framing (data after the header line). */
  send(type: string, data?: Record<string, unknown>, payload?: Uint8Array): void {
    this.socket.write(RawClient.bytes(type, data, payload));
  }

  /** Writes raw bytes (for old-style inline data and malformed input). */
  raw(bytes: string | Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Resolves when the server has closed the connection (fails after `timeoutMs`). */
  async closedBy(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closedPromise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`still open after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** The first event of `type`, waiting for it; fails when the connection closes first or after `timeoutMs`. */
  async waitFor(type: string, timeoutMs = 20000): Promise<WyomingTestEvent> {
    const t0 = Date.now();
    for (;;) {
      const e = this.events.find((x) => x.type === type);
      if (e) return e;
      const got = `got ${this.events.map((x) => x.type).join(', ')}`;
      if (this.closed)
        assert.fail(
          `connection closed before ${type} (${got}${this.error ? `; ${this.error.message}` : ''})`,
        );
      if (Date.now() - t0 > timeoutMs) assert.fail(`no ${type} within ${timeoutMs} ms (${got})`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  /** Streams 16 kHz mono audio as audio-start / audio-chunk (s16le, `chunk` samples) / audio-stop. */
  sendAudio(samples: Float32Array, rate = RATE, chunk = 1024): void {
    const fmt = { rate, width: 2, channels: 1 };
    const pcm = encodePcmMono(rate === RATE ? samples : resample(samples, RATE, rate), 'pcm_s16le');
    this.send('audio-start', { ...fmt, timestamp: 0 });
    for (let at = 0; at < pcm.length; at += chunk * 2)
      this.send('audio-chunk', fmt, pcm.subarray(at, at + chunk * 2));
    this.send('audio-stop', { timestamp: Math.round((samples.length / RATE) * 1000) });
  }

  close(): void {
    this.socket.destroy();
  }
}
