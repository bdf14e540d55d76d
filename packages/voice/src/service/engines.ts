// Speech engines from configuration: STT, TTS, wake word and VAD, shared by the services that need them.
import { ConfigError, type Logger } from '@synthians/kit';
import { createSttProvider, type SttConfig } from '../stt/index.ts';
import type { SttProvider } from '../stt/types.ts';
import { createTtsProvider, type TtsConfig } from '../tts/index.ts';
import type { TtsProvider } from '../tts/types.ts';
import { WakeWordDetector } from '../wakeword/detector.ts';
import type { WakeDetectorLike } from '../wyoming/server.ts';
import type { z } from 'zod';
import type { sttVariables, ttsVariables, wakeWordVariables } from './config.ts';

type Shape<T extends z.ZodRawShape> = z.infer<z.ZodObject<T>>;
export type SttSettings = Shape<typeof sttVariables>;
export type TtsSettings = Shape<typeof ttsVariables>;
export type WakeSettings = Shape<typeof wakeWordVariables>;

/** `tcp://host:port` → {host, port}; a clear configuration error otherwise. */
export function tcpAddress(variable: string, value: string | undefined): { host: string; port: number } {
  const m = value ? /^(?:tcp:\/\/)?\[?([^\]\s/]+?)\]?:(\d{1,5})\/?$/.exec(value) : null;
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || !(port >= 1 && port <= 65535)) {
    throw new ConfigError(
      `${variable} must be tcp://host:port for the wyoming provider (got ${value === undefined ? 'unset' : JSON.stringify(value)})`,
      [{ variable, message: 'expected tcp://host:port' }],
    );
  }
  return { host: m[1], port };
}

function requireUrl(variable: string, value: string | undefined): string {
  if (!value || !/^https?:\/\//.test(value)) {
    throw new ConfigError(`${variable} must be the http(s) root of the server for the openai provider`, [
      { variable, message: 'expected http(s)://…' },
    ]);
  }
  return value.replace(/\/+$/, '');
}

export function sttFromSettings(c: SttSettings): SttProvider {
  const config: SttConfig = {
    provider: c.STT_PROVIDER,
    timeoutMs: c.STT_TIMEOUT_MS,
    language: c.STT_LANGUAGE,
    model: c.STT_MODEL,
  };
  if (c.STT_PROVIDER === 'openai') {
    config.baseUrl = requireUrl('STT_URL', c.STT_URL);
    config.apiKey = c.STT_API_KEY;
    config.streaming = c.STT_STREAMING;
  } else if (c.STT_PROVIDER === 'wyoming') {
    Object.assign(config, tcpAddress('STT_URL', c.STT_URL));
    if (c.STT_WYOMING_TOKEN) config.token = c.STT_WYOMING_TOKEN;
  }
  return createSttProvider(config);
}

export function ttsFromSettings(c: TtsSettings): TtsProvider {
  const config: TtsConfig = { provider: c.TTS_PROVIDER, voice: c.TTS_VOICE, timeoutMs: c.TTS_TIMEOUT_MS };
  if (c.TTS_PROVIDER === 'openai') {
    config.baseUrl = requireUrl('TTS_URL', c.TTS_URL);
    config.apiKey = c.TTS_API_KEY;
    config.model = c.TTS_MODEL;
  } else if (c.TTS_PROVIDER === 'wyoming') {
    Object.assign(config, tcpAddress('TTS_URL', c.TTS_URL));
    if (c.TTS_WYOMING_TOKEN) config.token = c.TTS_WYOMING_TOKEN;
  }
  return createTtsProvider(config);
}

export interface WakeEngine {
  models: string[];
  create(names?: string[]): Promise<WakeDetectorLike>;
}

/** The wake-word engine, or undefined when WAKE_WORD_MODELS is "none". Models are checked at start-up. */
export async function wakeFromSettings(c: WakeSettings, logger?: Logger): Promise<WakeEngine | undefined> {
  const models = c.WAKE_WORD_MODELS;
  if (models.length === 0 || (models.length === 1 && models[0]?.toLowerCase() === 'none')) return undefined;
  const options = {
    threshold: c.WAKE_WORD_THRESHOLD,
    refractoryMs: c.WAKE_WORD_REFRACTORY_MS,
    verifier: c.WAKE_WORD_VERIFIER,
    verifierThreshold: c.WAKE_WORD_VERIFIER_THRESHOLD,
    melModelPath: c.WAKE_WORD_MEL_MODEL,
    embeddingModelPath: c.WAKE_WORD_EMBEDDING_MODEL,
  };
  // Load once now so a wrong name or path fails at start-up, not on the first wake-word stream.
  const probe = await WakeWordDetector.create({ ...options, models });
  await probe.close();
  logger?.debug({ models }, 'wake word models loaded');
  return {
    models,
    create: (names) => WakeWordDetector.create({ ...options, models: names ?? models }),
  };
}
