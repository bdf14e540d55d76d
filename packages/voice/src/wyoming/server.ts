// The Wyoming server side: one connection's conversation, for Home Assistant and wyoming-satellite devices.
//
// Supported events (names and fields as in the Wyoming reference implementation):
//   describe → info (asr, tts and wake programs with their models/voices)
//   ping → pong
//   transcribe {language?, name?} + audio-start/audio-chunk…/audio-stop → transcript {text, language}
//     (and transcript-start / transcript-chunk / transcript-stop around it when the engine streams partials)
//   detect {names?} + audio… → detection {name, timestamp} (each time a wake word fires); not-detected at
//     audio-stop when none fired
//   any audio stream → voice-started {timestamp} / voice-stopped {timestamp} from the VAD
//   synthesize {text, voice?: {name}} → audio-start, audio-chunk…, audio-stop
//   synthesize-start / synthesize-chunk {text} / synthesize-stop → per-sentence audio, then synthesize-stopped
//     (the plain `synthesize` a streaming client sends for older servers is then ignored)
// Unknown events are ignored, as the protocol asks. Bad input gets an `error` event {text, code}; a broken
// stream (bad framing) closes the connection.
//
// When the caller asks for authentication (`auth`: the server listens beyond loopback and the peer is not
// allow-listed), the first event must be our `auth {token}` extension: anything else, or a wrong token, gets an
// `error` event with code `unauthorized` and the connection is closed before any other event is read. Until
// then the peer may send only a small event (PRE_AUTH_LIMITS).
import type net from 'node:net';
import { AppError, badRequest, type Logger } from '@synthians/kit';
import { PcmTo16k } from '../audio/pcm.ts';
import type { SileroVad } from '../vad/silero.ts';
import { VadDetector, type VadConfig } from '../vad/detector.ts';
import type { SttProvider, SttStream } from '../stt/types.ts';
import type { TtsProvider } from '../tts/types.ts';
import { SentenceSplitter } from '../tts/sentences.ts';
import { AUTH_EVENT, PRE_AUTH_LIMITS, tokenMatches } from './access.ts';
import {
  WyomingConnection,
  audioFormatOf,
  encodeEvent,
  type WyomingEvent,
  type WyomingLimits,
} from './protocol.ts';

export interface WakeDetectorLike {
  push(samples: Float32Array): Promise<{ name: string; score: number; timestampMs: number }[]>;
  close(): Promise<void>;
}

export interface WyomingEngines {
  stt?: SttProvider;
  tts?: TtsProvider;
  wake?: {
    /** The wake words available (built-in names or model files). */
    models: string[];
    /** A detector for the given subset (all when undefined). */
    create(names?: string[]): Promise<WakeDetectorLike>;
  };
  vad?: {
    acquire(): Promise<SileroVad>;
    release(vad: SileroVad): void;
    config: Partial<VadConfig>;
  };
}

export interface WyomingServerOptions {
  engines: WyomingEngines;
  version: string;
  /** Rate of the audio we send for `synthesize` (Piper voices use 22050). */
  ttsSampleRate: number;
  /** Samples per outgoing audio-chunk. */
  chunkSamples: number;
  logger?: Logger;
  limits?: Partial<WyomingLimits>;
  onEvent?: (type: string) => void;
  /** Set when this peer must authenticate: its first event must be `auth` carrying `token`. */
  auth?: WyomingAuth;
}

export interface WyomingAuth {
  token: string;
  /** Called once the peer has authenticated (e.g. to stop a handshake timer). */
  onAuthenticated?: () => void;
  /**
   * Called when the peer is refused: its first event was not `auth` (`missing`), the token was wrong (`wrong`),
   * or the first event was malformed or over PRE_AUTH_LIMITS (`invalid`).
   */
  onRefused?: (reason: 'missing' | 'wrong' | 'invalid') => void;
}

const ATTRIBUTION = { name: 'Synthians', url: 'https://github.com/synthians' };
const WAKE_ATTRIBUTION = {
  name: 'openWakeWord (David Scripka), CC BY-NC-SA 4.0',
  url: 'https://github.com/dscripka/openWakeWord',
};

function text(e: WyomingEvent, key: string): string | undefined {
  const v = e.data?.[key];
  return typeof v === 'string' ? v : undefined;
}

/** The `info` answer to `describe`. */
export async function wyomingInfo(
  engines: WyomingEngines,
  version: string,
): Promise<Record<string, unknown>> {
  const info: Record<string, unknown> = {};
  if (engines.stt) {
    info.asr = [
      {
        name: 'synthians',
        description: `Synthians speech to text (${engines.stt.name})`,
        attribution: ATTRIBUTION,
        installed: true,
        version,
        supports_transcript_streaming: engines.stt.streamingPartials,
        models: [
          {
            name: engines.stt.name,
            description: engines.stt.name,
            attribution: ATTRIBUTION,
            installed: true,
            version,
            languages: ['en'],
          },
        ],
      },
    ];
  }
  if (engines.tts) {
    const voices = await engines.tts.voices().catch(() => []);
    info.tts = [
      {
        name: 'synthians',
        description: `Synthians text to speech (${engines.tts.name})`,
        attribution: ATTRIBUTION,
        installed: true,
        version,
        supports_synthesize_streaming: true,
        voices: voices.map((v) => ({
          name: v.name,
          description: v.name,
          attribution: ATTRIBUTION,
          installed: true,
          version: null,
          languages: v.languages,
          speakers: null,
        })),
      },
    ];
  }
  if (engines.wake) {
    info.wake = [
      {
        name: 'openwakeword',
        description: 'openWakeWord models run by Synthians',
        attribution: WAKE_ATTRIBUTION,
        installed: true,
        version,
        models: engines.wake.models.map((m) => ({
          name: m,
          description: m,
          phrase: m
            .replace(/\.onnx$/, '')
            .replace(/_v?\d+(\.\d+)*$/, '')
            .replaceAll('_', ' '),
          attribution: WAKE_ATTRIBUTION,
          installed: true,
          version: null,
          languages: ['en'],
        })),
      },
    ];
  }
  return info;
}

function errorOf(err: unknown): { text: string; code: string } {
  if (AppError.isInstance(err)) return { text: err.message, code: err.code };
  return { text: 'Internal error', code: 'internal_error' };
}

/**
 * Sends a last event and closes the connection. Unread input is drained first (closing a socket with unread
 * data resets the connection, and the peer could lose the event); a peer that does not close its side within a
 * second is cut off.
 */
export function closeWyomingConnection(socket: net.Socket, event: WyomingEvent): void {
  if (socket.destroyed) return;
  socket.removeAllListeners('data');
  socket.on('data', () => undefined);
  socket.resume();
  if (socket.writable) socket.end(encodeEvent(event));
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** A framing or socket error: tell the peer if we still can, then close. */
function closeBroken(socket: net.Socket, err: unknown): void {
  if (AppError.isInstance(err) && !socket.destroyed)
    closeWyomingConnection(socket, { type: 'error', data: errorOf(err) });
  else socket.destroy();
}

/** Reads the peer's first event and checks it is `auth` with the right token; false: refused and closing. */
async function authenticate(
  conn: WyomingConnection,
  socket: net.Socket,
  auth: WyomingAuth,
  options: WyomingServerOptions,
): Promise<boolean> {
  let first: WyomingEvent | undefined;
  try {
    first = await conn.next();
  } catch (err) {
    auth.onRefused?.('invalid');
    closeBroken(socket, err);
    return false;
  }
  if (!first) {
    socket.destroy();
    return false;
  }
  options.onEvent?.(first.type);
  const missing = first.type !== AUTH_EVENT;
  if (missing || !tokenMatches(first.data?.token, auth.token)) {
    auth.onRefused?.(missing ? 'missing' : 'wrong');
    closeWyomingConnection(socket, {
      type: 'error',
      data: {
        text: missing
          ? 'Authentication required: send {"type": "auth", "data": {"token": "…"}} as the first event'
          : 'Wrong token',
        code: 'unauthorized',
      },
    });
    return false;
  }
  auth.onAuthenticated?.();
  conn.admit(options.limits);
  return true;
}

/** Serves one connection until the peer closes it. */
export async function serveWyomingConnection(
  socket: net.Socket,
  options: WyomingServerOptions,
  head?: Uint8Array,
): Promise<void> {
  // The caller may have read (and paused after) the first bytes to pick the protocol: put them back.
  if (head && head.length > 0) socket.unshift(Buffer.from(head));
  const auth = options.auth;
  const conn = new WyomingConnection(socket, auth ? PRE_AUTH_LIMITS : options.limits, {
    keepOpenOnError: true,
    gated: auth !== undefined,
  });
  socket.resume();
  if (auth && !(await authenticate(conn, socket, auth, options))) return;
  const session = new Session(conn, options);
  try {
    for await (const event of conn) {
      options.onEvent?.(event.type);
      try {
        await session.handle(event);
      } catch (err) {
        if (!AppError.isInstance(err))
          options.logger?.error({ err, event: event.type }, 'wyoming event failed');
        await conn.send({ type: 'error', data: errorOf(err) }).catch(() => undefined);
        session.resetAudio();
      }
    }
  } catch (err) {
    closeBroken(socket, err);
  } finally {
    await session.close();
  }
}

type Mode =
  { kind: 'none' } | { kind: 'transcribe'; language?: string } | { kind: 'detect'; names?: string[] };

class Session {
  private mode: Mode = { kind: 'none' };
  private pcm: PcmTo16k | undefined;
  private vad: { silero: SileroVad; detector: VadDetector } | undefined;
  private wake: WakeDetectorLike | undefined;
  private detected = false;
  private stt: SttStream | undefined;
  private streamingText: SentenceSplitter | undefined;
  private ignoreNextSynthesize = false;
  private streamingVoice: string | undefined;

  constructor(
    private readonly conn: WyomingConnection,
    private readonly options: WyomingServerOptions,
  ) {}

  private get engines(): WyomingEngines {
    return this.options.engines;
  }

  async handle(e: WyomingEvent): Promise<void> {
    switch (e.type) {
      case 'describe':
        await this.conn.send({ type: 'info', data: await wyomingInfo(this.engines, this.options.version) });
        return;
      case AUTH_EVENT:
        // A client configured with a token may send it to a server that does not ask for one: nothing to do.
        return;
      case 'ping':
        await this.conn.send({ type: 'pong', data: text(e, 'text') ? { text: text(e, 'text') } : undefined });
        return;
      case 'transcribe':
        if (!this.engines.stt)
          throw badRequest('not_supported', 'Speech to text is not enabled on this server');
        this.mode = { kind: 'transcribe', language: text(e, 'language') };
        return;
      case 'detect': {
        if (!this.engines.wake)
          throw badRequest('not_supported', 'Wake word detection is not enabled on this server');
        const names = e.data?.names;
        if (
          names !== undefined &&
          names !== null &&
          !(Array.isArray(names) && names.every((n) => typeof n === 'string'))
        ) {
          throw badRequest('invalid_wyoming_event', 'detect.names must be a list of strings');
        }
        const wanted = Array.isArray(names) && names.length > 0 ? (names as string[]) : undefined;
        const unknown = wanted?.filter((n) => !this.engines.wake?.models.includes(n)) ?? [];
        if (unknown.length > 0)
          throw badRequest('unknown_wake_word_model', `Unknown wake word(s): ${unknown.join(', ')}`);
        this.mode = { kind: 'detect', names: wanted };
        return;
      }
      case 'audio-start':
        await this.audioStart(e);
        return;
      case 'audio-chunk':
        await this.audioChunk(e);
        return;
      case 'audio-stop':
        await this.audioStop();
        return;
      case 'synthesize':
        if (this.ignoreNextSynthesize) {
          this.ignoreNextSynthesize = false;
          return;
        }
        await this.synthesize(e);
        return;
      case 'synthesize-start':
        if (!this.engines.tts)
          throw badRequest('not_supported', 'Text to speech is not enabled on this server');
        this.streamingText = new SentenceSplitter();
        this.streamingVoice = voiceName(e);
        return;
      case 'synthesize-chunk': {
        if (!this.streamingText)
          throw badRequest('invalid_wyoming_event', 'synthesize-chunk before synthesize-start');
        for (const s of this.streamingText.push(text(e, 'text') ?? ''))
          await this.speak(s, this.streamingVoice);
        return;
      }
      case 'synthesize-stop': {
        if (!this.streamingText)
          throw badRequest('invalid_wyoming_event', 'synthesize-stop before synthesize-start');
        const rest = this.streamingText.flush();
        this.streamingText = undefined;
        for (const s of rest) await this.speak(s, this.streamingVoice);
        await this.conn.send({ type: 'synthesize-stopped' });
        this.ignoreNextSynthesize = true;
        return;
      }
      default:
        this.options.logger?.debug({ event: e.type }, 'wyoming: ignoring unknown event');
    }
  }

  private async audioStart(e: WyomingEvent): Promise<void> {
    this.resetAudio();
    const f = audioFormatOf(e);
    if (f.width !== 2)
      throw badRequest(
        'unsupported_audio_format',
        `Only 16-bit audio (width 2) is accepted (got width ${f.width})`,
      );
    this.pcm = new PcmTo16k({ encoding: 'pcm_s16le', sampleRate: f.rate, channels: f.channels });
    if (this.engines.vad) {
      const silero = await this.engines.vad.acquire();
      this.vad = { silero, detector: new VadDetector(silero, this.engines.vad.config) };
    }
    if (this.mode.kind === 'detect' && this.engines.wake) {
      this.wake = await this.engines.wake.create(this.mode.names);
      this.detected = false;
    }
    if (this.mode.kind === 'transcribe' && this.engines.stt) {
      const streams = this.engines.stt.streamingPartials;
      let started = false;
      const language = this.mode.language;
      this.stt = this.engines.stt.stream({
        language,
        onPartial: streams
          ? (partial) => {
              if (!started) {
                started = true;
                void this.conn.send({ type: 'transcript-start', data: language ? { language } : undefined });
              }
              void this.conn.send({ type: 'transcript-chunk', data: { text: partial } });
            }
          : undefined,
      });
    }
  }

  private async audioChunk(e: WyomingEvent): Promise<void> {
    if (!this.pcm) throw badRequest('invalid_wyoming_event', 'audio-chunk before audio-start');
    const samples = this.pcm.push(e.payload ?? new Uint8Array(0));
    await this.feed(samples);
  }

  private async feed(samples: Float32Array): Promise<void> {
    if (samples.length === 0) return;
    this.stt?.write(samples);
    if (this.vad) {
      for (const ev of await this.vad.detector.push(samples)) await this.sendVad(ev.type, ev.timestampMs);
    }
    if (this.wake) {
      for (const w of await this.wake.push(samples)) {
        this.detected = true;
        await this.conn.send({
          type: 'detection',
          data: { name: w.name, timestamp: Math.round(w.timestampMs) },
        });
      }
    }
  }

  private async sendVad(type: 'speech_start' | 'speech_end', ms: number): Promise<void> {
    await this.conn.send({
      type: type === 'speech_start' ? 'voice-started' : 'voice-stopped',
      data: { timestamp: Math.round(ms) },
    });
  }

  private async audioStop(): Promise<void> {
    if (!this.pcm) throw badRequest('invalid_wyoming_event', 'audio-stop before audio-start');
    await this.feed(this.pcm.end());
    if (this.vad)
      for (const ev of await this.vad.detector.flush()) await this.sendVad(ev.type, ev.timestampMs);
    if (this.wake && !this.detected) await this.conn.send({ type: 'not-detected' });
    if (this.stt) {
      const stt = this.stt;
      this.stt = undefined;
      const result = await stt.end();
      if (this.engines.stt?.streamingPartials) await this.conn.send({ type: 'transcript-stop' });
      await this.conn.send({
        type: 'transcript',
        data: { text: result.text, ...(result.language ? { language: result.language } : {}) },
      });
    }
    this.resetAudio();
    this.mode = { kind: 'none' };
  }

  private async synthesize(e: WyomingEvent): Promise<void> {
    if (!this.engines.tts) throw badRequest('not_supported', 'Text to speech is not enabled on this server');
    const t = text(e, 'text');
    if (!t || t.trim() === '')
      throw badRequest('invalid_wyoming_event', 'synthesize needs a non-empty "text"');
    await this.speak(t, voiceName(e));
  }

  /** Synthesises `t` and sends one audio-start … audio-stop run (chunks as each sentence is ready). */
  private async speak(t: string, voice: string | undefined): Promise<void> {
    const tts = this.engines.tts;
    if (!tts || t.trim() === '') return;
    const rate = this.options.ttsSampleRate;
    const fmt = { rate, width: 2, channels: 1 };
    let started = false;
    let timestamp = 0;
    for await (const chunk of tts.synthesize(t, { voice, sampleRate: rate, encoding: 'pcm_s16le' })) {
      if (!started) {
        started = true;
        await this.conn.send({ type: 'audio-start', data: { ...fmt, timestamp: 0 } });
      }
      const step = this.options.chunkSamples * 2;
      for (let at = 0; at < chunk.audio.length; at += step) {
        const payload = chunk.audio.subarray(at, at + step);
        await this.conn.send({ type: 'audio-chunk', data: { ...fmt, timestamp }, payload });
        timestamp += Math.round((payload.length / 2 / rate) * 1000);
      }
    }
    if (started) await this.conn.send({ type: 'audio-stop', data: { timestamp } });
  }

  resetAudio(): void {
    this.pcm = undefined;
    if (this.vad) {
      this.engines.vad?.release(this.vad.silero);
      this.vad = undefined;
    }
    if (this.wake) {
      void this.wake.close();
      this.wake = undefined;
    }
    if (this.stt) {
      this.stt.cancel();
      this.stt = undefined;
    }
  }

  async close(): Promise<void> {
    this.resetAudio();
  }
}

function voiceName(e: WyomingEvent): string | undefined {
  const v = e.data?.voice;
  if (v && typeof v === 'object' && typeof (v as { name?: unknown }).name === 'string')
    return (v as { name: string }).name;
  return undefined;
}
