// Speech to text over the Wyoming protocol (Home Assistant / Rhasspy; e.g. wyoming-faster-whisper).
//
// One TCP connection per utterance:
//   → transcribe {language?, name?}   → audio-start {rate: 16000, width: 2, channels: 1}
//   → audio-chunk {rate, width, channels} + s16le payload (1024 samples each) … → audio-stop
//   ← transcript {text, language?}
// Newer streaming servers also send transcript-start, transcript-chunk {text} …, transcript-stop before the
// final transcript; the chunks are concatenated and delivered as partials. `stream()` sends audio as it is
// written. `check()` asks `describe` and reads the `info` answer.
// With a `token`, every connection starts with our `auth {token}` event, for a Synthians Wyoming server that
// listens beyond loopback (packages/voice/src/wyoming/README.md); its `unauthorized` error names the problem.
import { badRequest } from '@synthians/kit';
import { errorEventPrefix } from '../wyoming/access.ts';
import { WyomingConnection, WyomingPeerError, type WyomingEvent } from '../wyoming/protocol.ts';
import {
  abortError,
  checkSamples,
  checkTimeout,
  durationMsOf,
  emptyTranscript,
  s16le,
  STT_SAMPLE_RATE,
  sttFailed,
  sttUnavailable,
  systemErrorCode,
} from './common.ts';
import type { SttProvider, SttStream, Transcript, TranscribeOptions } from './types.ts';

export interface WyomingSttOptions {
  host: string;
  port: number;
  /** ASR model name sent as `transcribe.name` (server default when omitted). */
  model?: string;
  /** Default language when a call does not give one. */
  language?: string;
  /** How long to wait for the transcript after audio-stop (and for `info`), default 30 000 ms. */
  timeoutMs?: number;
  /** Connect timeout, default min(timeoutMs, 5000) ms. */
  connectTimeoutMs?: number;
  /** Samples per audio-chunk, default 1024 (64 ms). */
  chunkSamples?: number;
  /**
   * Sent in an `auth` event first on each connection (a Synthians Wyoming server off loopback requires it; its
   * WYOMING_TOKEN, else SYNTHIANS_API_TOKEN). None is sent when unset.
   */
  token?: string;
}

export const WYOMING_AUDIO_FORMAT = Object.freeze({ rate: STT_SAMPLE_RATE, width: 2, channels: 1 });

export class WyomingStt implements SttProvider {
  readonly name = 'wyoming';
  /** Partials arrive only from servers that send transcript-chunk; others just give the final text. */
  readonly streamingPartials = true;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly chunkSamples: number;
  private readonly open = new Set<WyomingSttStream>();

  constructor(readonly options: WyomingSttOptions) {
    if (typeof options.host !== 'string' || options.host.length === 0) {
      throw badRequest('invalid_stt_config', 'Wyoming STT needs a host');
    }
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      throw badRequest(
        'invalid_stt_config',
        `Wyoming STT port must be an integer 1-65535, got ${options.port}`,
      );
    }
    this.timeoutMs = checkTimeout(options.timeoutMs) ?? 30_000;
    this.connectTimeoutMs =
      checkTimeout(options.connectTimeoutMs, 'connectTimeoutMs') ?? Math.min(this.timeoutMs, 5000);
    this.chunkSamples = options.chunkSamples ?? 1024;
    if (!Number.isInteger(this.chunkSamples) || this.chunkSamples <= 0) {
      throw badRequest(
        'invalid_stt_config',
        `chunkSamples must be a positive integer, got ${this.chunkSamples}`,
      );
    }
  }

  get address(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  async transcribe(samples: Float32Array, options: TranscribeOptions = {}): Promise<Transcript> {
    checkSamples(samples);
    if (options.signal?.aborted) throw abortError(options.signal);
    if (samples.length === 0) return emptyTranscript('wyoming', options.language ?? this.options.language);
    const s = this.stream(options);
    s.write(samples);
    return s.end();
  }

  stream(options: TranscribeOptions & { onPartial?: (text: string) => void } = {}): SttStream {
    const s = new WyomingSttStream(this, options, () => this.open.delete(s));
    this.open.add(s);
    return s;
  }

  /** Connects and answers `info` to `describe`; ok when the server offers an installed ASR model. */
  async check(): Promise<{ ok: boolean; detail?: string }> {
    let conn: WyomingConnection | undefined;
    try {
      conn = await this.connect();
      await conn.send({ type: 'describe' });
      const { event } = await conn.waitFor(['info'], this.timeoutMs);
      const asr = Array.isArray(event.data?.asr) ? (event.data.asr as unknown[]) : [];
      const models: string[] = [];
      for (const program of asr) {
        const p = program as { installed?: unknown; models?: unknown };
        if (p.installed === false || !Array.isArray(p.models)) continue;
        for (const m of p.models as { name?: unknown; installed?: unknown }[]) {
          if (m.installed !== false && typeof m.name === 'string') models.push(m.name);
        }
      }
      if (models.length === 0) return { ok: false, detail: `${this.address} offers no installed ASR model` };
      if (this.options.model && !models.includes(this.options.model)) {
        return {
          ok: false,
          detail: `${this.address} has no ASR model ${this.options.model} (has ${models.join(', ')})`,
        };
      }
      return { ok: true, detail: `${this.address} ASR models: ${models.join(', ')}` };
    } catch (err) {
      if (err instanceof WyomingPeerError) {
        const prefix = errorEventPrefix(err.data, this.options.token, 'STT_WYOMING_TOKEN');
        return { ok: false, detail: `${this.address} ${prefix}${err.text}` };
      }
      return { ok: false, detail: `${this.address}: ${err instanceof Error ? err.message : String(err)}` };
    } finally {
      conn?.socket.destroy();
    }
  }

  async close(): Promise<void> {
    for (const s of [...this.open]) s.cancel();
  }

  /** @internal */
  async connect(): Promise<WyomingConnection> {
    try {
      return await WyomingConnection.connect(this.options.host, this.options.port, {
        timeoutMs: this.connectTimeoutMs,
        ...(this.options.token ? { token: this.options.token } : {}),
      });
    } catch (err) {
      const code = systemErrorCode(err);
      throw sttUnavailable(
        `Cannot reach Wyoming STT server ${this.address}${code ? ` (${code})` : `: ${err instanceof Error ? err.message : String(err)}`}`,
        { address: this.address, ...(code ? { cause: code } : {}) },
      );
    }
  }
}

type State = 'open' | 'ending' | 'done' | 'cancelled';

class WyomingSttStream implements SttStream {
  private state: State = 'open';
  private conn: WyomingConnection | undefined;
  private readonly ready: Promise<WyomingConnection>;
  /** Every send, in order; a failure is kept in `sendError`. */
  private chain: Promise<void>;
  private sendError: unknown;
  private readonly result: Promise<{ text: string; language?: string }>;
  private settle!: {
    resolve: (r: { text: string; language?: string }) => void;
    reject: (e: unknown) => void;
  };
  private pending = new Float32Array(0);
  private samples = 0;
  private readonly language: string | undefined;
  private readonly onAbort: () => void;

  constructor(
    private readonly provider: WyomingStt,
    private readonly options: TranscribeOptions & { onPartial?: (text: string) => void },
    private readonly onClose: () => void,
  ) {
    this.language = options.language ?? provider.options.language;
    this.result = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.result.catch(() => undefined); // awaited in end(); never an unhandled rejection
    this.ready = this.start();
    this.ready.catch(() => undefined);
    this.chain = this.ready.then(
      () => undefined,
      (err) => {
        this.sendError ??= err;
      },
    );
    this.onAbort = () => this.abort(abortError(options.signal!));
    if (options.signal?.aborted) this.onAbort();
    else options.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private async start(): Promise<WyomingConnection> {
    const conn = await this.provider.connect();
    if (this.state === 'cancelled') {
      conn.socket.destroy();
      throw new DOMException('STT stream cancelled', 'AbortError');
    }
    this.conn = conn;
    void this.readLoop(conn);
    const transcribe: Record<string, unknown> = {};
    if (this.language) transcribe.language = this.language;
    if (this.provider.options.model) transcribe.name = this.provider.options.model;
    await conn.send({ type: 'transcribe', data: transcribe });
    await conn.send({ type: 'audio-start', data: { ...WYOMING_AUDIO_FORMAT } });
    return conn;
  }

  private async readLoop(conn: WyomingConnection): Promise<void> {
    let chunks = '';
    let chunkLanguage: string | undefined;
    let streamed = false;
    for (;;) {
      let event: WyomingEvent | undefined;
      try {
        event = await conn.next();
      } catch (err) {
        this.settle.reject(
          sttFailed(`Wyoming STT server ${this.provider.address} broke the protocol: ${errorText(err)}`, {
            address: this.provider.address,
          }),
        );
        return;
      }
      if (!event) {
        if (streamed) this.settle.resolve(withLanguage(chunks.trim(), chunkLanguage ?? this.language));
        else
          this.settle.reject(
            sttFailed(
              `Wyoming STT server ${this.provider.address} closed the connection without a transcript`,
              {
                address: this.provider.address,
              },
            ),
          );
        return;
      }
      const data = event.data ?? {};
      switch (event.type) {
        case 'transcript':
          if (typeof data.text !== 'string') {
            this.settle.reject(
              sttFailed(`Wyoming STT server ${this.provider.address} sent a transcript without text`, {
                address: this.provider.address,
              }),
            );
          } else {
            const lang = typeof data.language === 'string' ? data.language : (chunkLanguage ?? this.language);
            this.settle.resolve(withLanguage(data.text.trim(), lang));
          }
          return;
        case 'transcript-start':
          streamed = true;
          if (typeof data.language === 'string') chunkLanguage = data.language;
          break;
        case 'transcript-chunk':
          streamed = true;
          if (typeof data.text === 'string' && data.text.length > 0) {
            chunks += data.text;
            if (this.state !== 'cancelled') this.options.onPartial?.(chunks.trim());
          }
          break;
        case 'transcript-stop':
          streamed = true;
          break;
        case 'error': {
          const text = typeof data.text === 'string' ? data.text : 'unknown error';
          this.settle.reject(
            sttFailed(
              `Wyoming STT server ${this.provider.address} ${errorEventPrefix(data, this.provider.options.token, 'STT_WYOMING_TOKEN')}${text}`,
              {
                address: this.provider.address,
                upstreamMessage: text,
                ...(typeof data.code === 'string' ? { upstreamCode: data.code } : {}),
              },
            ),
          );
          return;
        }
        default:
          break; // ping/info/other events are not ours to handle here
      }
    }
  }

  write(samples: Float32Array): void {
    if (this.state !== 'open')
      throw badRequest('stream_closed', `Cannot write to an STT stream that is ${this.state}`);
    checkSamples(samples);
    if (samples.length === 0) return;
    this.samples += samples.length;
    const n = this.provider.chunkSamples;
    let all = samples;
    if (this.pending.length > 0) {
      all = new Float32Array(this.pending.length + samples.length);
      all.set(this.pending, 0);
      all.set(samples, this.pending.length);
    }
    let at = 0;
    for (; at + n <= all.length; at += n) this.sendChunk(all.subarray(at, at + n));
    this.pending = all.slice(at);
  }

  private sendChunk(samples: Float32Array): void {
    const payload = s16le(samples);
    this.enqueue({ type: 'audio-chunk', data: { ...WYOMING_AUDIO_FORMAT }, payload });
  }

  private enqueue(event: WyomingEvent): void {
    this.chain = this.chain.then(async () => {
      if (this.sendError !== undefined || !this.conn) return;
      try {
        await this.conn.send(event);
      } catch (err) {
        this.sendError ??= err;
      }
    });
  }

  async end(): Promise<Transcript> {
    if (this.state !== 'open') throw badRequest('stream_closed', `STT stream already ${this.state}`);
    this.state = 'ending';
    try {
      if (this.samples === 0) {
        this.abortQuietly();
        return emptyTranscript('wyoming', this.language);
      }
      if (this.pending.length > 0) this.sendChunk(this.pending);
      this.pending = new Float32Array(0);
      this.enqueue({ type: 'audio-stop' });
      await this.chain;
      if (this.sendError !== undefined) {
        // The server may have said why it hung up (an error event) before the write failed.
        const why = this.conn
          ? await Promise.race([
              this.result.then(
                () => undefined,
                (e: unknown) => e,
              ),
              delay(50),
            ])
          : undefined;
        throw why ?? this.sendFailure(this.sendError);
      }
      const r = await withTimeout(this.result, this.provider.timeoutMs, () =>
        sttUnavailable(
          `Wyoming STT server ${this.provider.address} sent no transcript within ${this.provider.timeoutMs} ms`,
          { address: this.provider.address, timeoutMs: this.provider.timeoutMs },
        ),
      );
      const out: Transcript = { text: r.text, durationMs: durationMsOf(this.samples), provider: 'wyoming' };
      if (r.language) out.language = r.language;
      return out;
    } finally {
      if (this.state === 'ending') this.state = 'done';
      this.cleanup();
    }
  }

  cancel(): void {
    if (this.state === 'cancelled' || this.state === 'done') return;
    this.abort(new DOMException('STT stream cancelled', 'AbortError'));
  }

  private abort(reason: Error): void {
    this.state = 'cancelled';
    this.settle.reject(reason);
    this.cleanup();
  }

  private abortQuietly(): void {
    this.settle.reject(new DOMException('STT stream ended without audio', 'AbortError'));
  }

  private sendFailure(err: unknown): Error {
    if (err instanceof Error && 'statusCode' in err) return err;
    return sttUnavailable(
      `Lost the connection to Wyoming STT server ${this.provider.address}: ${errorText(err)}`,
      {
        address: this.provider.address,
      },
    );
  }

  private cleanup(): void {
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.onClose();
    if (this.conn) this.conn.socket.destroy();
    else void this.ready.then((c) => c.socket.destroy()).catch(() => undefined);
  }
}

function withLanguage(text: string, language: string | undefined): { text: string; language?: string } {
  return language ? { text, language } : { text };
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

const delay = (ms: number) => new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms));

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(onTimeout()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
