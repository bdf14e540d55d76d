// Text to speech through a Wyoming server (wyoming-piper and friends): one `synthesize` event per sentence on its
// own connection (so the first sentence's audio arrives while later ones have not even been requested), answered by
// `audio-start` {rate, width, channels}, `audio-chunk`s (raw PCM payloads) and `audio-stop`. Whatever format arrives
// (16-bit, mono or stereo, any rate) is converted to the requested rate and encoding. `describe` -> `info` lists the
// voices. The Wyoming `synthesize` event has no speaking-rate field, so `speed` is not applied by this engine.
// With a `token`, every connection starts with our `auth {token}` event, for a Synthians Wyoming server that
// listens beyond loopback (packages/voice/src/wyoming/README.md); its `unauthorized` error names the problem.
import { AppError } from '@synthians/kit';
import { errorEventPrefix } from '../wyoming/access.ts';
import { WyomingConnection, audioFormatOf, type WyomingEvent } from '../wyoming/protocol.ts';
import {
  concatBytes,
  convertSamples,
  resolveOptions,
  s16ToMono,
  throwIfAborted,
  ttsFailed,
  ttsUnavailable,
  type ResolvedOptions,
} from './audio.ts';
import { splitSentences } from './sentences.ts';
import type { SynthesizeOptions, TtsChunk, TtsProvider, TtsVoice } from './types.ts';

export interface WyomingTtsOptions {
  host: string;
  port: number;
  /** Default voice name (e.g. a Piper voice `en_US-lessac-medium`); the server's default when omitted. */
  voice?: string;
  /** Connect timeout and the longest wait for any one event. Default 15000 ms. */
  timeoutMs?: number;
  /**
   * Sent in an `auth` event first on each connection (a Synthians Wyoming server off loopback requires it; its
   * WYOMING_TOKEN, else SYNTHIANS_API_TOKEN). None is sent when unset.
   */
  token?: string;
}

export class WyomingTtsProvider implements TtsProvider {
  readonly name = 'wyoming';
  private readonly host: string;
  private readonly port: number;
  private readonly voice: string | undefined;
  private readonly timeoutMs: number;
  private readonly token: string | undefined;
  private readonly open = new Set<WyomingConnection>();

  constructor(options: WyomingTtsOptions) {
    this.host = options.host;
    this.port = options.port;
    this.voice = options.voice;
    this.timeoutMs = options.timeoutMs ?? 15000;
    this.token = options.token || undefined;
  }

  private async connect(): Promise<WyomingConnection> {
    try {
      const conn = await WyomingConnection.connect(this.host, this.port, {
        timeoutMs: this.timeoutMs,
        ...(this.token ? { token: this.token } : {}),
      });
      this.open.add(conn);
      conn.socket.once('close', () => this.open.delete(conn));
      return conn;
    } catch (err) {
      throw ttsUnavailable(
        `Cannot reach the Wyoming TTS server at ${this.host}:${this.port}: ${(err as Error).message}`,
        {
          host: this.host,
          port: this.port,
        },
      );
    }
  }

  private async next(conn: WyomingConnection): Promise<WyomingEvent> {
    let event: WyomingEvent | undefined;
    try {
      event = await conn.next(this.timeoutMs);
    } catch (err) {
      if (AppError.isInstance(err)) throw ttsFailed(`Wyoming TTS server sent a bad event: ${err.message}`);
      throw ttsUnavailable(`Wyoming TTS server at ${this.host}:${this.port}: ${(err as Error).message}`);
    }
    if (!event) throw ttsFailed('Wyoming TTS server closed the connection before the audio was complete');
    if (event.type === 'error') {
      const text = typeof event.data?.text === 'string' ? event.data.text : 'unknown error';
      const code = typeof event.data?.code === 'string' ? event.data.code : undefined;
      const prefix = errorEventPrefix(event.data ?? {}, this.token, 'TTS_WYOMING_TOKEN');
      throw ttsFailed(`Wyoming TTS server ${prefix}${text}`, code ? { code } : undefined);
    }
    return event;
  }

  async *synthesize(text: string, options: SynthesizeOptions = {}): AsyncIterable<TtsChunk> {
    const opts = resolveOptions(text, options);
    const sentences = splitSentences(text);
    for (let index = 0; index < sentences.length; index++) {
      throwIfAborted(opts.signal);
      const sentence = sentences[index] as string;
      const audio = await this.speak(sentence, opts);
      yield { index, text: sentence, audio, sampleRate: opts.sampleRate, encoding: opts.encoding };
    }
  }

  private async speak(sentence: string, opts: ResolvedOptions): Promise<Uint8Array> {
    const conn = await this.connect();
    const onAbort = () => conn.socket.destroy();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const voice = opts.voice ?? this.voice;
      const data: Record<string, unknown> = { text: sentence };
      if (voice) data.voice = { name: voice };
      await conn.send({ type: 'synthesize', data });
      let start: WyomingEvent | undefined;
      for (;;) {
        const e = await this.next(conn);
        if (e.type === 'audio-start') {
          start = e;
          break;
        }
        if (e.type === 'audio-chunk') {
          start = e; // tolerate a server that skips audio-start
          return this.collect(conn, e, start, opts);
        }
        if (e.type === 'audio-stop') throw ttsFailed('Wyoming TTS server sent audio-stop before any audio');
      }
      return this.collect(conn, undefined, start, opts);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      conn.close();
      throwIfAborted(opts.signal);
    }
  }

  /** Reads audio-chunks up to audio-stop and converts them. `first` is a chunk already read, if any. */
  private async collect(
    conn: WyomingConnection,
    first: WyomingEvent | undefined,
    start: WyomingEvent,
    opts: ResolvedOptions,
  ): Promise<Uint8Array> {
    const format = checkFormat(start);
    const payloads: Uint8Array[] = [];
    let event = first ?? (await this.next(conn));
    for (;;) {
      if (event.type === 'audio-stop') break;
      if (event.type === 'audio-chunk') {
        const f = event.data && 'rate' in event.data ? checkFormat(event) : format;
        if (f.rate !== format.rate || f.width !== format.width || f.channels !== format.channels) {
          throw ttsFailed('Wyoming TTS server changed the audio format in the middle of a sentence');
        }
        if (event.payload) payloads.push(event.payload);
      }
      event = await this.next(conn);
    }
    const bytes = concatBytes(payloads);
    const frameBytes = format.width * format.channels;
    if (bytes.length % frameBytes !== 0) {
      throw ttsFailed(
        `Wyoming audio ends in the middle of a frame (${bytes.length % frameBytes} dangling bytes)`,
      );
    }
    return convertSamples(s16ToMono(bytes, format.channels), format.rate, opts);
  }

  /** Sends `describe` and returns the `info` data. */
  private async describe(): Promise<Record<string, unknown>> {
    const conn = await this.connect();
    try {
      await conn.send({ type: 'describe' });
      for (;;) {
        const e = await this.next(conn);
        if (e.type === 'info') return e.data ?? {};
      }
    } finally {
      conn.close();
    }
  }

  async voices(): Promise<TtsVoice[]> {
    return voicesFromInfo(await this.describe());
  }

  async check(): Promise<{ ok: boolean; detail?: string }> {
    try {
      const info = await this.describe();
      const programs = Array.isArray(info.tts) ? (info.tts as Record<string, unknown>[]) : [];
      if (programs.length === 0)
        return { ok: false, detail: 'Wyoming server offers no text-to-speech program' };
      const names = programs.map((p) => (typeof p.name === 'string' ? p.name : '?')).join(', ');
      return { ok: true, detail: `Wyoming TTS at ${this.host}:${this.port} (${names})` };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    for (const c of this.open) c.socket.destroy();
    this.open.clear();
  }
}

function checkFormat(event: WyomingEvent): { rate: number; width: number; channels: number } {
  let f: { rate: number; width: number; channels: number };
  try {
    f = audioFormatOf(event);
  } catch (err) {
    throw ttsFailed(`Wyoming TTS server sent a bad ${event.type}: ${(err as Error).message}`);
  }
  if (f.width !== 2) throw ttsFailed(`Wyoming audio width ${f.width} is not supported (16-bit PCM only)`);
  if (f.channels < 1 || f.channels > 8) throw ttsFailed(`Wyoming audio has ${f.channels} channels`);
  if (f.rate < 1000 || f.rate > 384000) throw ttsFailed(`Wyoming audio rate ${f.rate} Hz is not supported`);
  return f;
}

/** `info.tts[].voices[]` -> voices (installed ones; all if none says). */
export function voicesFromInfo(info: Record<string, unknown>): TtsVoice[] {
  const out: TtsVoice[] = [];
  const programs = Array.isArray(info.tts) ? info.tts : [];
  for (const program of programs) {
    const voices = (program as { voices?: unknown }).voices;
    if (!Array.isArray(voices)) continue;
    for (const v of voices as Record<string, unknown>[]) {
      if (typeof v?.name !== 'string' || v.installed === false) continue;
      const languages = Array.isArray(v.languages) ? v.languages.filter((l) => typeof l === 'string') : [];
      out.push({ name: v.name, languages });
    }
  }
  return out;
}
