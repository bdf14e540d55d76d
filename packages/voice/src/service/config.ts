// Configuration of the voice services (VAD agent, fused audio preprocessor, Wyoming server): every variable,
// its default and its meaning. Variables shared by several services (VAD_*, NATS_URL) mean the same everywhere.
import { z } from 'zod';
import { env, loadConfig, type Env, serviceVariables } from '@synthians/kit';
import { DEFAULT_VAD_CONFIG, type VadConfig } from '../vad/detector.ts';
import { clientEntryProblem } from '../wyoming/access.ts';

export const vadVariables = {
  VAD_THRESHOLD: env
    .number(DEFAULT_VAD_CONFIG.threshold, 0.01, 0.99)
    .describe(
      'Silero speech probability at or above which a 32 ms window is speech (LiveKit activation_threshold)',
    ),
  VAD_NEG_THRESHOLD: z.coerce
    .number()
    .min(0.01)
    .max(0.99)
    .optional()
    .describe('Probability below which a window is silence (default VAD_THRESHOLD − 0.15)'),
  VAD_MIN_SPEECH_MS: env
    .int(DEFAULT_VAD_CONFIG.minSpeechMs, 0, 60000)
    .describe('Speech must last this long before speech_start'),
  VAD_MIN_SILENCE_MS: env
    .int(DEFAULT_VAD_CONFIG.minSilenceMs, 0, 60000)
    .describe('Silence must last this long before speech_end (end of turn)'),
  VAD_PREFIX_PADDING_MS: env
    .int(DEFAULT_VAD_CONFIG.prefixPaddingMs, 0, 10000)
    .describe('Audio from before the onset handed over with speech_start'),
};

export const busVariables = {
  NATS_URL: env
    .optionalString()
    .describe(
      'NATS server(s) for the message bus (comma-separated); unset: the in-process bus of `synthians up`',
    ),
};

export const audioVariables = {
  MAX_AUDIO_BYTES: env
    .int(32 * 1024 * 1024, 1024, 1024 * 1024 * 1024)
    .describe('Largest accepted audio upload (WAV body) or WebSocket message in bytes (413 above)'),
  MAX_STREAMS: env
    .int(32, 1, 10000)
    .describe('Concurrent audio streams (WebSocket connections) served; more are refused with 503'),
  STREAM_IDLE_TIMEOUT_MS: env
    .int(60000, 1000, 3600000)
    .describe('A stream that sends nothing for this long is closed'),
};

export function vadConfigFrom(c: {
  VAD_THRESHOLD: number;
  VAD_NEG_THRESHOLD?: number | undefined;
  VAD_MIN_SPEECH_MS: number;
  VAD_MIN_SILENCE_MS: number;
  VAD_PREFIX_PADDING_MS: number;
}): Partial<VadConfig> {
  return {
    threshold: c.VAD_THRESHOLD,
    negThreshold: c.VAD_NEG_THRESHOLD,
    minSpeechMs: c.VAD_MIN_SPEECH_MS,
    minSilenceMs: c.VAD_MIN_SILENCE_MS,
    prefixPaddingMs: c.VAD_PREFIX_PADDING_MS,
  };
}

export const vadSchema = z.object({
  ...serviceVariables('vad', 6579, 1024 * 1024),
  ...vadVariables,
  ...audioVariables,
  ...busVariables,
  VAD_FROM_BUS: env
    .bool(false)
    .describe(
      'Also run VAD on the 16 kHz frames other services publish on the bus (audio.frames.<stream>) and publish the events (vad.events.<stream>)',
    ),
});
export type VadServiceConfig = z.infer<typeof vadSchema>;
export const loadVadConfig = (e: Env = process.env): VadServiceConfig => loadConfig(vadSchema, e);

export const sttVariables = {
  STT_PROVIDER: z
    .enum(['pocketsphinx', 'openai', 'wyoming'])
    .default('pocketsphinx')
    .describe(
      'Speech to text: pocketsphinx (offline command recognition, Debian package), openai (any OpenAI-compatible /v1/audio/transcriptions server: whisper.cpp, faster-whisper-server, OpenAI) or wyoming (e.g. wyoming-faster-whisper)',
    ),
  STT_URL: env
    .optionalString()
    .describe(
      'openai: the server root (e.g. http://127.0.0.1:8080); wyoming: tcp://host:port (e.g. tcp://127.0.0.1:10300)',
    ),
  STT_API_KEY: env.optionalString().describe('openai: bearer key, if the server needs one'),
  STT_WYOMING_TOKEN: env
    .optionalString()
    .describe(
      'wyoming: token sent first on each connection ({"type":"auth","data":{"token":"…"}}), for another Synthians whose Wyoming server listens beyond loopback (its WYOMING_TOKEN, else its SYNTHIANS_API_TOKEN); unset: no auth event (stock servers such as wyoming-faster-whisper need none)',
    ),
  STT_MODEL: env.optionalString().describe('openai: model (default whisper-1); wyoming: ASR model name'),
  STT_LANGUAGE: env
    .optionalString()
    .describe('Language code sent to the engine (e.g. en); engine default when unset'),
  STT_STREAMING: env.bool(false).describe('openai: ask for streamed partial transcripts (stream=true, SSE)'),
  STT_TIMEOUT_MS: env.int(30000, 100, 600000).describe('Timeout of one recognition'),
};

export const ttsVariables = {
  TTS_PROVIDER: z
    .enum(['espeak', 'openai', 'wyoming'])
    .default('espeak')
    .describe(
      'Text to speech: espeak (espeak-ng compiled to WebAssembly, offline), openai (OpenAI-compatible /v1/audio/speech) or wyoming (e.g. wyoming-piper)',
    ),
  TTS_URL: env
    .optionalString()
    .describe(
      'openai: the server root (e.g. https://api.openai.com); wyoming: tcp://host:port (Piper uses 10200)',
    ),
  TTS_API_KEY: env.optionalString().describe('openai: bearer key, if the server needs one'),
  TTS_WYOMING_TOKEN: env
    .optionalString()
    .describe(
      'wyoming: token sent first on each connection ({"type":"auth","data":{"token":"…"}}), for another Synthians whose Wyoming server listens beyond loopback (its WYOMING_TOKEN, else its SYNTHIANS_API_TOKEN); unset: no auth event (stock servers such as wyoming-piper need none)',
    ),
  TTS_MODEL: env.optionalString().describe('openai: model (default tts-1)'),
  TTS_VOICE: env
    .optionalString()
    .describe('Default voice (espeak-ng: en-us, en-gb, en-us+f3, …; OpenAI: alloy, …; Piper voice name)'),
  TTS_TIMEOUT_MS: env.int(30000, 100, 600000).describe('Timeout of one synthesis request'),
};

export const wakeWordVariables = {
  WAKE_WORD_MODELS: z
    .string()
    .default('hey_jarvis')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    )
    .describe(
      'Wake words, comma-separated: built-in openWakeWord models (hey_jarvis, alexa, hey_mycroft, hey_rhasspy, timer, weather — CC BY-NC-SA 4.0, non-commercial) or paths to your own classifier .onnx files; "none" turns wake word detection off',
    ),
  WAKE_WORD_THRESHOLD: z.coerce
    .number()
    .min(0.01)
    .max(0.99)
    .optional()
    .describe(
      'Classifier score at or above which a wake word fires (or goes to its verifier); default: the threshold its verifier was tuned with (hey_jarvis: see the README), else 0.5',
    ),
  WAKE_WORD_VERIFIER: env
    .string('default')
    .describe(
      'Second-stage verifier: "default" (the built-in one of each wake word that has one: hey_jarvis), "none", or the path of a verifier JSON file',
    ),
  WAKE_WORD_VERIFIER_THRESHOLD: z.coerce
    .number()
    .min(0.01)
    .max(0.99)
    .optional()
    .describe("Verifier probability at or above which a candidate is accepted (default: the verifier's own)"),
  WAKE_WORD_REFRACTORY_MS: env
    .int(2000, 0, 60000)
    .describe('After a detection, the same wake word is ignored for this long'),
  WAKE_WORD_MEL_MODEL: env
    .optionalString()
    .describe('Path to another openWakeWord mel-spectrogram model (default: the bundled one)'),
  WAKE_WORD_EMBEDDING_MODEL: env
    .optionalString()
    .describe('Path to another openWakeWord embedding model (default: the bundled one)'),
};

export const wyomingSchema = z.object({
  ...serviceVariables('wyoming', 10300, 1024 * 1024),
  WYOMING_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .optional()
    .describe(
      'Port of the Wyoming server (TCP; also answers /health and /metrics over HTTP); takes precedence over PORT',
    ),
  ...vadVariables,
  ...sttVariables,
  ...ttsVariables,
  ...wakeWordVariables,
  WYOMING_TTS_RATE: env.int(22050, 8000, 48000).describe('Sample rate of the audio sent for synthesize'),
  WYOMING_MAX_CONNECTIONS: env.int(64, 1, 10000).describe('Concurrent Wyoming connections; more are refused'),
  MAX_AUDIO_BYTES: env
    .int(16 * 1024 * 1024, 1024, 1024 * 1024 * 1024)
    .describe('Largest Wyoming event payload in bytes (the connection is closed above)'),
  // Empty is unset (as loadConfig reads it), so compose's `${WYOMING_TOKEN:-}` validates as written.
  WYOMING_TOKEN: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .describe(
      'Off loopback: the token Wyoming clients send in their first event, {"type":"auth","data":{"token":"…"}} (default: SYNTHIANS_API_TOKEN, which off loopback is required anyway for the HTTP routes); a separate value keeps satellites from holding the API token',
    ),
  WYOMING_ALLOWED_CLIENTS: z
    .string()
    .default('')
    .transform((v, ctx) => {
      const entries = v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      for (const entry of entries) {
        const problem = clientEntryProblem(entry);
        if (problem) {
          ctx.addIssue({ code: 'custom', message: problem });
          return z.NEVER;
        }
      }
      return entries;
    })
    .describe(
      'Off loopback: client addresses or CIDRs, comma-separated (e.g. the Home Assistant host 192.168.1.20), whose Wyoming connections need no auth event (Home Assistant cannot send one); unset: every client authenticates',
    ),
  WYOMING_AUTH_TIMEOUT_MS: env
    .int(5000, 100, 60000)
    .describe(
      'Off loopback: a connection that has not authenticated (or begun an HTTP request) within this long is closed',
    ),
});
export type WyomingServiceConfig = z.infer<typeof wyomingSchema>;
export const loadWyomingConfig = (e: Env = process.env): WyomingServiceConfig => loadConfig(wyomingSchema, e);

export const preprocessVariables = {
  PREPROCESS_HIGHPASS: env.bool(true).describe('DC removal and high-pass filter stage'),
  PREPROCESS_HIGHPASS_HZ: env.number(80, 10, 1000).describe('High-pass cutoff in Hz'),
  PREPROCESS_DENOISE: env.bool(true).describe('Noise suppression stage (RNNoise, WebAssembly)'),
  PREPROCESS_AGC: env.bool(true).describe('Automatic gain control stage'),
  PREPROCESS_AGC_TARGET_DBFS: env.number(-20, -60, -1).describe('AGC target level of active speech in dBFS'),
  PREPROCESS_AGC_MAX_GAIN_DB: env.number(30, 0, 60).describe('AGC maximum boost in dB'),
  PREPROCESS_VAD: env.bool(true).describe('VAD stage (Silero) on the cleaned audio'),
  PREPROCESS_PUBLISH: env
    .bool(true)
    .describe(
      'Publish cleaned frames (audio.frames.<stream>, float32) and VAD events (vad.events.<stream>) on the bus',
    ),
};

export const preprocessorSchema = z.object({
  ...serviceVariables('audio-preprocessor', 6581, 1024 * 1024),
  ...preprocessVariables,
  ...vadVariables,
  ...audioVariables,
  ...busVariables,
});
export type PreprocessorServiceConfig = z.infer<typeof preprocessorSchema>;
export const loadPreprocessorConfig = (e: Env = process.env): PreprocessorServiceConfig =>
  loadConfig(preprocessorSchema, e);
