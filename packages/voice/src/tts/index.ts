// Text to speech: one `TtsProvider` interface, three engines (espeak-ng WASM offline default, Wyoming e.g. Piper,
// OpenAI-compatible HTTP), sentence-by-sentence streaming, output at the requested rate/encoding.
import { badRequest } from '@synthians/kit';
import { EspeakTtsProvider } from './espeak.ts';
import { OpenAiTtsProvider } from './openai.ts';
import { WyomingTtsProvider } from './wyoming.ts';
import type { TtsProvider } from './types.ts';

export * from './types.ts';
export * from './sentences.ts';
export {
  DEFAULT_TTS_SAMPLE_RATE,
  MAX_TTS_SAMPLE_RATE,
  MAX_TTS_SPEED,
  MAX_TTS_TEXT_LENGTH,
  MIN_TTS_SAMPLE_RATE,
  MIN_TTS_SPEED,
  resolveOptions as validateSynthesizeOptions,
} from './audio.ts';
export {
  EspeakTtsProvider,
  EspeakWasm,
  espeakWpm,
  ESPEAK_SAMPLE_RATE,
  type EspeakProviderOptions,
} from './espeak.ts';
export { WyomingTtsProvider, type WyomingTtsOptions } from './wyoming.ts';
export { OpenAiTtsProvider, OPENAI_PCM_RATE, type OpenAiTtsOptions } from './openai.ts';

export type TtsProviderName = 'espeak' | 'wyoming' | 'openai';

export interface TtsConfig {
  provider: TtsProviderName;
  /** Default voice of the engine. */
  voice?: string;
  /** openai: server base URL (required). */
  baseUrl?: string;
  /** openai: bearer key (optional for local servers). */
  apiKey?: string;
  /** openai: model, default `tts-1`. */
  model?: string;
  /** openai: `wav` (default) or `pcm` (OpenAI's raw 24 kHz). */
  responseFormat?: 'wav' | 'pcm';
  /** wyoming: server host and port (required). */
  host?: string;
  port?: number;
  /** wyoming: token sent in an `auth` event first on each connection (a Synthians server off loopback). */
  token?: string;
  /** Network engines: connect/request timeout in ms. */
  timeoutMs?: number;
}

const configError = (message: string, details?: unknown) =>
  badRequest('invalid_tts_config', message, details);

/** Builds the engine named by `config.provider`; throws `invalid_tts_config` naming a missing or bad field. */
export function createTtsProvider(config: TtsConfig): TtsProvider {
  const timeoutMs = config.timeoutMs;
  if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
    throw configError(`tts timeoutMs must be a positive number of milliseconds (got ${String(timeoutMs)})`);
  }
  switch (config.provider) {
    case 'espeak':
      return new EspeakTtsProvider({ voice: config.voice });
    case 'wyoming': {
      if (!config.host) throw configError('The wyoming TTS provider needs "host" (e.g. localhost)');
      if (config.port === undefined)
        throw configError('The wyoming TTS provider needs "port" (Piper uses 10200)');
      if (!Number.isInteger(config.port) || config.port < 1 || config.port > 65535) {
        throw configError(`tts port must be an integer from 1 to 65535 (got ${String(config.port)})`);
      }
      if (config.token !== undefined && typeof config.token !== 'string') {
        throw configError('tts token must be a string');
      }
      return new WyomingTtsProvider({
        host: config.host,
        port: config.port,
        voice: config.voice,
        timeoutMs,
        token: config.token,
      });
    }
    case 'openai': {
      if (!config.baseUrl) {
        throw configError('The openai TTS provider needs "baseUrl" (e.g. https://api.openai.com)');
      }
      let url: URL;
      try {
        url = new URL(config.baseUrl);
      } catch {
        throw configError('tts baseUrl is not a valid URL');
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw configError('tts baseUrl must be an http:// or https:// URL');
      }
      if (config.responseFormat !== undefined && !['wav', 'pcm'].includes(config.responseFormat)) {
        throw configError('tts responseFormat must be "wav" or "pcm"');
      }
      return new OpenAiTtsProvider({
        baseUrl: config.baseUrl,
        apiKey: config.apiKey,
        model: config.model,
        voice: config.voice,
        responseFormat: config.responseFormat,
        timeoutMs,
      });
    }
    default:
      throw configError(
        `Unknown TTS provider ${JSON.stringify((config as { provider?: unknown }).provider)}; use espeak, wyoming or openai`,
      );
  }
}
