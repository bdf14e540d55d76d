// Speech to text: providers behind SttProvider (types.ts) and a factory that builds one from configuration.
import { badRequest } from '@synthians/kit';
import { OpenAiStt, type OpenAiSttOptions } from './openai.ts';
import { PocketsphinxStt, type PocketsphinxOptions } from './pocketsphinx.ts';
import { WyomingStt, type WyomingSttOptions } from './wyoming.ts';
import type { SttProvider } from './types.ts';

export type * from './types.ts';
export * from './commands.ts';
export { sttFailed, sttUnavailable } from './common.ts';
export * from './openai.ts';
export * from './wyoming.ts';
export * from './pocketsphinx.ts';
export * from './wer.ts';

export const STT_PROVIDERS = ['openai', 'wyoming', 'pocketsphinx'] as const;
export type SttProviderName = (typeof STT_PROVIDERS)[number];

export interface SttConfig {
  provider: SttProviderName;
  /** openai: server root (required), e.g. `https://api.openai.com`. */
  baseUrl?: string;
  /** openai: bearer token. */
  apiKey?: string;
  /** openai: model (default `whisper-1`); wyoming: ASR model name. */
  model?: string;
  /** openai / wyoming: default language. */
  language?: string;
  /** wyoming: server host and port (required). */
  host?: string;
  port?: number;
  /** wyoming: token sent in an `auth` event first on each connection (a Synthians server off loopback). */
  token?: string;
  /** Request / utterance timeout in ms. */
  timeoutMs?: number;
  /** pocketsphinx: command phrases (default DEFAULT_COMMANDS). */
  commands?: readonly string[];
  /** openai: ask for SSE streaming partials. */
  streaming?: boolean;
}

interface Issue {
  field: string;
  message: string;
}

const KNOWN_FIELDS: Record<SttProviderName, readonly string[]> = {
  openai: ['baseUrl', 'apiKey', 'model', 'language', 'timeoutMs', 'streaming'],
  wyoming: ['host', 'port', 'token', 'model', 'language', 'timeoutMs'],
  pocketsphinx: ['commands', 'timeoutMs'],
};

/**
 * Builds the configured provider. Invalid configuration throws 400 `invalid_stt_config` whose message names
 * every problem (details.issues lists them); pocketsphinx commands with unknown words throw `unknown_words`.
 */
export function createSttProvider(config: SttConfig): SttProvider {
  if (typeof config !== 'object' || config === null) {
    throw badRequest('invalid_stt_config', 'STT configuration must be an object');
  }
  const provider = config.provider;
  if (!STT_PROVIDERS.includes(provider)) {
    throw badRequest(
      'invalid_stt_config',
      `STT provider must be one of ${STT_PROVIDERS.join(', ')} (got ${JSON.stringify(provider)})`,
      { issues: [{ field: 'provider', message: 'unknown provider' }] },
    );
  }
  const issues: Issue[] = [];
  const str = (field: keyof SttConfig, required: boolean) => {
    const v = config[field];
    if (v === undefined || v === '') {
      if (required) issues.push({ field, message: `is required for the ${provider} provider` });
      return;
    }
    if (typeof v !== 'string') issues.push({ field, message: 'must be a string' });
  };
  if (config.timeoutMs !== undefined && !(typeof config.timeoutMs === 'number' && config.timeoutMs > 0)) {
    issues.push({ field: 'timeoutMs', message: 'must be a positive number of milliseconds' });
  }
  for (const field of ['baseUrl', 'apiKey', 'host', 'port', 'token', 'commands', 'streaming'] as const) {
    if (config[field] !== undefined && !KNOWN_FIELDS[provider].includes(field)) {
      issues.push({ field, message: `is not used by the ${provider} provider` });
    }
  }
  if (provider === 'openai') {
    str('baseUrl', true);
    str('apiKey', false);
    str('model', false);
    str('language', false);
    if (typeof config.baseUrl === 'string' && config.baseUrl) {
      try {
        const u = new URL(config.baseUrl);
        if (u.protocol !== 'http:' && u.protocol !== 'https:')
          issues.push({ field: 'baseUrl', message: 'must be http(s)' });
      } catch {
        issues.push({ field: 'baseUrl', message: 'is not a URL (e.g. https://api.openai.com)' });
      }
    }
    if (config.streaming !== undefined && typeof config.streaming !== 'boolean') {
      issues.push({ field: 'streaming', message: 'must be true or false' });
    }
  } else if (provider === 'wyoming') {
    str('host', true);
    str('token', false);
    str('model', false);
    str('language', false);
    if (config.port === undefined)
      issues.push({ field: 'port', message: 'is required for the wyoming provider' });
    else if (!Number.isInteger(config.port) || config.port < 1 || config.port > 65535) {
      issues.push({ field: 'port', message: 'must be an integer 1-65535' });
    }
  } else {
    if (config.commands !== undefined) {
      if (!Array.isArray(config.commands) || !config.commands.every((c) => typeof c === 'string')) {
        issues.push({ field: 'commands', message: 'must be a list of phrases' });
      } else if (config.commands.length === 0) {
        issues.push({ field: 'commands', message: 'must not be empty' });
      }
    }
    for (const field of ['model', 'language'] as const) {
      if (config[field] !== undefined && config[field] !== 'en' && field === 'language') {
        issues.push({ field, message: 'pocketsphinx only has the en-us model' });
      } else if (config[field] !== undefined && field === 'model') {
        issues.push({ field, message: 'is not used by the pocketsphinx provider' });
      }
    }
  }
  if (issues.length > 0) {
    throw badRequest(
      'invalid_stt_config',
      `Invalid ${provider} STT configuration: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`,
      { issues },
    );
  }
  switch (provider) {
    case 'openai': {
      const o: OpenAiSttOptions = { baseUrl: config.baseUrl! };
      if (config.apiKey) o.apiKey = config.apiKey;
      if (config.model) o.model = config.model;
      if (config.language) o.language = config.language;
      if (config.timeoutMs !== undefined) o.timeoutMs = config.timeoutMs;
      if (config.streaming !== undefined) o.streaming = config.streaming;
      return new OpenAiStt(o);
    }
    case 'wyoming': {
      const o: WyomingSttOptions = { host: config.host!, port: config.port! };
      if (config.token) o.token = config.token;
      if (config.model) o.model = config.model;
      if (config.language) o.language = config.language;
      if (config.timeoutMs !== undefined) o.timeoutMs = config.timeoutMs;
      return new WyomingStt(o);
    }
    case 'pocketsphinx': {
      const o: PocketsphinxOptions = {};
      if (config.commands) o.commands = config.commands;
      if (config.timeoutMs !== undefined) o.timeoutMs = config.timeoutMs;
      return new PocketsphinxStt(o);
    }
  }
}
