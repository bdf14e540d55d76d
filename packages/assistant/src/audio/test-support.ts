// Test and benchmark helpers for GET /v1/audio: a WebSocket client that records every event and audio message with
// its arrival time, and a "microphone" that streams 16 kHz audio in 20 ms chunks at real time (silence when it has
// nothing queued), remembering when each chunk was sent so stream times can be mapped to wall-clock times.
import WebSocket from 'ws';
import { encodePcmMono } from '@synthians/voice';

export const RATE = 16000;
export const MIC_CHUNK_MS = 20;
const CHUNK = (RATE * MIC_CHUNK_MS) / 1000;

export interface Received {
  at: number;
  event?: Record<string, unknown> & { type: string };
  audio?: Uint8Array;
}

export class AudioClient {
  readonly log: Received[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const at = performance.now();
      const b = data as Buffer;
      if (isBinary)
        this.log.push({ at, audio: new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice() });
      else this.log.push({ at, event: JSON.parse(String(data)) as Received['event'] });
      this.notify();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.notify();
    });
  }

  static async connect(url: string, headers: Record<string, string> = {}): Promise<AudioClient> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/audio`, { headers });
    const c = new AudioClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return c;
  }

  /** Sends the start message (16 kHz s16le mono unless `format` says otherwise) and waits for `ready`. */
  async start(extra: Record<string, unknown> = {}, format?: Record<string, unknown>): Promise<Received> {
    this.sendJson({
      type: 'start',
      format: format ?? { encoding: 'pcm_s16le', sample_rate: RATE, channels: 1 },
      ...extra,
    });
    return this.waitFor((e) => e.type === 'ready' || e.type === 'error', 20000);
  }

  sendJson(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  get events(): (Record<string, unknown> & { type: string })[] {
    return this.log.flatMap((r) => (r.event ? [r.event] : []));
  }

  /** Waits for the first event (from index `from` of the log) that matches. */
  async waitFor(
    match: (e: Record<string, unknown> & { type: string }) => boolean,
    timeoutMs = 15000,
    from = 0,
  ): Promise<Received> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const hit = this.log.slice(from).find((r) => r.event && match(r.event));
      if (hit) return hit;
      if (this.closed) throw new Error(`closed (${this.closed.code}) before the awaited event`);
      const left = deadline - performance.now();
      if (left <= 0)
        throw new Error(`timeout; events so far: ${JSON.stringify(this.events.map((e) => e.type))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async waitClosed(timeoutMs = 10000): Promise<{ code: number; reason: string }> {
    const deadline = performance.now() + timeoutMs;
    while (!this.closed) {
      if (performance.now() > deadline) throw new Error('socket not closed');
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.closed;
  }

  close(): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.terminate();
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Streams 16 kHz audio to a client in 20 ms chunks at real time; silence when nothing is queued. */
export class Mic {
  /** Wall time at which the chunk ending at sample `end` was sent. */
  readonly sent: { end: number; at: number }[] = [];
  private queue: Float32Array[] = [];
  private pos = 0;
  private running = true;
  private readonly loop: Promise<void>;
  private queuedEnd = 0;

  constructor(private readonly client: AudioClient) {
    this.loop = this.run();
  }

  /** Stream position (samples) where audio queued now would start. */
  get position(): number {
    return Math.max(this.pos, this.queuedEnd);
  }

  /**
   * Queues speech; returns the stream sample index at which it starts. `done` resolves once its last chunk
   * was sent.
   */
  say(samples: Float32Array): { start: number; done: Promise<void> } {
    const start = this.position;
    this.queue.push(samples);
    this.queuedEnd = start + samples.length;
    const end = this.queuedEnd;
    const done = (async () => {
      while (this.pos < end && this.running) await new Promise((r) => setTimeout(r, 5));
    })();
    return { start, done };
  }

  /** Wall time at which stream sample `index` had been sent (the end of its chunk). */
  wallAt(index: number): number {
    const hit = this.sent.find((s) => s.end >= index);
    if (!hit) throw new Error(`sample ${index} not sent yet`);
    return hit.at;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private next(): Float32Array {
    const out = new Float32Array(CHUNK);
    let filled = 0;
    while (filled < CHUNK && this.queue.length > 0) {
      const head = this.queue[0] as Float32Array;
      const take = Math.min(CHUNK - filled, head.length);
      out.set(head.subarray(0, take), filled);
      filled += take;
      if (take === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(take);
    }
    return out;
  }

  private async run(): Promise<void> {
    const t0 = performance.now();
    let i = 0;
    while (this.running && this.client.ws.readyState === this.client.ws.OPEN) {
      const chunk = this.next();
      this.client.ws.send(encodePcmMono(chunk, 'pcm_s16le'));
      this.pos += chunk.length;
      this.sent.push({ end: this.pos, at: performance.now() });
      i++;
      const wait = t0 + i * MIC_CHUNK_MS - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** 16-bit PCM bytes → float samples. */
export function s16ToFloat(bytes: Uint8Array): Float32Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(Math.floor(bytes.byteLength / 2));
  for (let i = 0; i < out.length; i++) out[i] = v.getInt16(i * 2, true) / 32768;
  return out;
}
