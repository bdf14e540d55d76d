// Text to speech through an OpenAI-compatible `POST {baseUrl}/v1/audio/speech` (OpenAI, LocalAI, Kokoro-FastAPI,
// openedai-speech, …): one request per sentence, `response_format` `wav` (self-describing, any rate; the default, as
// every compatible server supports it) or `pcm` (OpenAI's raw 24 kHz s16le mono, no header). The audio is converted to
// the requested rate/encoding. Errors: refused / timed out / 429 / 5xx -> `tts_unavailable` (503); 4xx or a body that
// is not audio -> `tts_failed` (502). The API key is sent only in the Authorization header and is removed from any
// upstream text we quote.
import { checkOpenAiServer } from '../openai-compat.ts';
import {
  convertSamples,
  decodeEngineWav,
  resolveOptions,
  s16ToMono,
  throwIfAborted,
  ttsFailed,
  ttsUnavailable,
  type ResolvedOptions,
} from './audio.ts';
import { splitSentences } from './sentences.ts';
import type { SynthesizeOptions, TtsChunk, TtsProvider, TtsVoice } from './types.ts';

/** OpenAI's `pcm` format: raw 16-bit little-endian mono at 24 kHz. */
export const OPENAI_PCM_RATE = 24000;
export const OPENAI_DEFAULT_MODEL = 'tts-1';
export const OPENAI_DEFAULT_VOICE = 'alloy';
/** OpenAI's built-in voices (a compatible server may have others; any name is passed through). */
export const OPENAI_VOICES = [
  'alloy',
  'ash',
  'ballad',
  'coral',
  'echo',
  'fable',
  'nova',
  'onyx',
  'sage',
  'shimmer',
  'verse',
];

export interface OpenAiTtsOptions {
  /** e.g. `https://api.openai.com` or `http://localhost:8880` (a trailing `/v1` is accepted). */
  baseUrl: string;
  apiKey?: string;
  model?: string;
  voice?: string;
  responseFormat?: 'wav' | 'pcm';
  /** Per request. Default 30000 ms. */
  timeoutMs?: number;
}

export class OpenAiTtsProvider implements TtsProvider {
  readonly name = 'openai';
  private readonly endpoint: string;
  private readonly apiKey: string | undefined;
  private readonly model: string;
  private readonly voice: string;
  private readonly responseFormat: 'wav' | 'pcm';
  private readonly timeoutMs: number;

  constructor(options: OpenAiTtsOptions) {
    const base = options.baseUrl.replace(/\/+$/, '');
    this.endpoint = /\/v1$/.test(base) ? `${base}/audio/speech` : `${base}/v1/audio/speech`;
    this.apiKey = options.apiKey || undefined;
    this.model = options.model ?? OPENAI_DEFAULT_MODEL;
    this.voice = options.voice ?? OPENAI_DEFAULT_VOICE;
    this.responseFormat = options.responseFormat ?? 'wav';
    this.timeoutMs = options.timeoutMs ?? 30000;
  }

  /** Removes the API key from text that came from upstream. */
  private redact(text: string): string {
    return this.apiKey ? text.split(this.apiKey).join('[redacted]') : text;
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

  private async request(body: Record<string, unknown>, signal: AbortSignal | undefined): Promise<Uint8Array> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Response;
    let bytes: Uint8Array;
    try {
      res = await fetch(this.endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: combined,
      });
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (err) {
      throwIfAborted(signal);
      if (timeout.aborted) throw ttsUnavailable(`TTS server did not answer within ${this.timeoutMs} ms`);
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw ttsUnavailable(
        `Cannot reach the TTS server at ${new URL(this.endpoint).origin}: ${this.redact(why)}`,
      );
    }
    if (!res.ok) {
      const detail = this.redact(upstreamMessage(bytes)).slice(0, 300);
      const message = `TTS server answered ${res.status}${detail ? `: ${detail}` : ''}`;
      if (res.status === 429 || res.status >= 500) throw ttsUnavailable(message, { status: res.status });
      throw ttsFailed(res.status === 401 || res.status === 403 ? `${message} (check the API key)` : message, {
        status: res.status,
      });
    }
    return bytes;
  }

  private async speak(sentence: string, opts: ResolvedOptions): Promise<Uint8Array> {
    const body = {
      model: this.model,
      input: sentence,
      voice: opts.voice ?? this.voice,
      response_format: this.responseFormat,
      speed: opts.speed,
    };
    const bytes = await this.request(body, opts.signal);
    if (bytes.length === 0) throw ttsFailed('TTS server returned an empty body');
    if (this.responseFormat === 'wav') {
      let decoded: { samples: Float32Array; sampleRate: number };
      try {
        decoded = decodeEngineWav(bytes);
      } catch (err) {
        throw ttsFailed(`TTS server did not return a usable WAV: ${(err as Error).message}`);
      }
      return convertSamples(decoded.samples, decoded.sampleRate, opts);
    }
    if (isTextual(bytes)) throw ttsFailed('TTS server returned text instead of raw PCM audio');
    if (bytes.length % 2 !== 0) throw ttsFailed('TTS server returned PCM ending in the middle of a sample');
    return convertSamples(s16ToMono(bytes, 1), OPENAI_PCM_RATE, opts);
  }

  async voices(): Promise<TtsVoice[]> {
    return OPENAI_VOICES.map((name) => ({ name, languages: [] }));
  }

  /** `GET /v1/models` (free), not a synthesis request (billed). */
  check(): Promise<{ ok: boolean; detail?: string }> {
    return checkOpenAiServer(this.endpoint.replace(/\/v1\/audio\/speech$/, ''), this.apiKey, this.timeoutMs);
  }

  async close(): Promise<void> {}
}

/** The `error.message` of a JSON error body, else the start of the text. */
function upstreamMessage(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes.subarray(0, 4096)).trim();
  try {
    const json = JSON.parse(text) as {
      error?: { message?: unknown } | string;
      message?: unknown;
      detail?: unknown;
    };
    if (typeof json.error === 'string') return json.error;
    if (typeof json.error?.message === 'string') return json.error.message;
    if (typeof json.message === 'string') return json.message;
    if (typeof json.detail === 'string') return json.detail;
  } catch {
    // not JSON
  }
  return text.replace(/\s+/g, ' ');
}

/** A body that starts like JSON/HTML/text is an error page, not PCM. */
function isTextual(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, Math.min(bytes.length, 64));
  for (const b of head) if (b < 9 || (b > 13 && b < 32) || b > 126) return false;
  return head.length >= 2;
}
