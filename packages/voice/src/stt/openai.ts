// Speech to text over any OpenAI-compatible `POST {baseUrl}/v1/audio/transcriptions` server (OpenAI,
// faster-whisper-server / speaches, whisper.cpp's server with `--inference-path /v1/audio/transcriptions`, …).
//
// Request: multipart/form-data with `file` (16 kHz s16 mono WAV), `model`, optional `language`, `prompt`,
// `response_format` (`json`, or `verbose_json` for the detected language and segment log-probabilities) and,
// with `streaming`, `stream=true`; then the server answers with server-sent events
// `transcript.text.delta` {delta} … `transcript.text.done` {text} (OpenAI's gpt-4o-*-transcribe models).
// A server that ignores `stream` and answers JSON is accepted too.
//
// Errors: connection failures, timeouts, 5xx and 429 → 503 `stt_unavailable`; any other non-2xx, malformed
// or incomplete answers → 502 `stt_failed`. Details carry the upstream status and message, never the API key.
import { checkOpenAiServer } from '../openai-compat.ts';
import { badRequest } from '@synthians/kit';
import {
  abortError,
  bufferedStream,
  checkSamples,
  checkTimeout,
  durationMsOf,
  emptyTranscript,
  sttFailed,
  sttUnavailable,
  systemErrorCode,
  wav16k,
} from './common.ts';
import type { SttProvider, SttStream, Transcript, TranscribeOptions } from './types.ts';

export interface OpenAiSttOptions {
  /** Server root, e.g. `https://api.openai.com` or `http://127.0.0.1:8000` (a trailing `/v1` is accepted). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` when set. */
  apiKey?: string;
  /** Default `whisper-1`. */
  model?: string;
  /** Default language when a call does not give one. */
  language?: string;
  /** Whole-request timeout (connect, upload, answer), default 60 000 ms. */
  timeoutMs?: number;
  /** Ask for SSE streaming (`stream=true`) and deliver `transcript.text.delta` as partials. */
  streaming?: boolean;
  /** `json` (default) or `verbose_json` (not combined with streaming, which always asks for `json`). */
  responseFormat?: 'json' | 'verbose_json';
}

const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_ERROR_TEXT = 500;

export class OpenAiStt implements SttProvider {
  readonly name = 'openai';
  readonly streamingPartials: boolean;
  readonly endpoint: string;
  private readonly root: string;
  private readonly model: string;
  private readonly timeoutMs: number;
  private readonly responseFormat: 'json' | 'verbose_json';
  private readonly inflight = new Set<AbortController>();

  constructor(private readonly options: OpenAiSttOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw badRequest('invalid_stt_config', `OpenAI STT baseUrl is not a URL: ${String(options.baseUrl)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw badRequest('invalid_stt_config', `OpenAI STT baseUrl must be http(s), got ${url.protocol}`);
    }
    if (url.username || url.password) {
      throw badRequest('invalid_stt_config', 'OpenAI STT baseUrl must not carry credentials; use apiKey');
    }
    this.root = url.href.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.endpoint = `${this.root}/v1/audio/transcriptions`;
    this.model = options.model ?? 'whisper-1';
    this.timeoutMs = checkTimeout(options.timeoutMs) ?? DEFAULT_TIMEOUT_MS;
    this.streamingPartials = options.streaming === true;
    this.responseFormat = options.responseFormat ?? 'json';
    if (this.responseFormat !== 'json' && this.responseFormat !== 'verbose_json') {
      throw badRequest('invalid_stt_config', `Unsupported responseFormat ${String(this.responseFormat)}`);
    }
  }

  async transcribe(
    samples: Float32Array,
    options: TranscribeOptions & { onPartial?: (text: string) => void } = {},
  ): Promise<Transcript> {
    checkSamples(samples);
    if (options.signal?.aborted) throw abortError(options.signal);
    const language = options.language ?? this.options.language;
    // No audio, no speech: not worth a request (servers reject zero-length files anyway).
    if (samples.length === 0) return emptyTranscript('openai', language);

    const form = new FormData();
    form.append('file', new Blob([wav16k(samples)], { type: 'audio/wav' }), 'audio.wav');
    form.append('model', this.model);
    if (language) form.append('language', language);
    if (options.prompt) form.append('prompt', options.prompt);
    form.append('response_format', this.streamingPartials ? 'json' : this.responseFormat);
    if (this.streamingPartials) form.append('stream', 'true');

    const headers: Record<string, string> = {
      accept: this.streamingPartials ? 'text/event-stream, application/json' : 'application/json',
    };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;

    const { controller, timedOut, done } = this.guard(options.signal);
    try {
      let res: Response;
      try {
        res = await fetch(this.endpoint, { method: 'POST', body: form, headers, signal: controller.signal });
      } catch (err) {
        throw this.transportError(err, options.signal, timedOut());
      }
      try {
        if (!res.ok) throw await this.httpError(res);
        const contentType = res.headers.get('content-type') ?? '';
        const result = contentType.includes('text/event-stream')
          ? await this.readSse(res, options.onPartial)
          : this.parseJson(await res.text());
        const out: Transcript = {
          text: result.text,
          durationMs: durationMsOf(samples.length),
          provider: 'openai',
        };
        const lang = result.language ?? language;
        if (lang) out.language = lang;
        if (result.confidence !== undefined) out.confidence = result.confidence;
        return out;
      } catch (err) {
        if (controller.signal.aborted) throw this.transportError(err, options.signal, timedOut());
        throw err;
      }
    } finally {
      done();
    }
  }

  stream(options: TranscribeOptions & { onPartial?: (text: string) => void } = {}): SttStream {
    return bufferedStream(
      (samples, o) => this.transcribe(samples, { ...o, onPartial: options.onPartial }),
      options,
    );
  }

  check(): Promise<{ ok: boolean; detail?: string }> {
    return checkOpenAiServer(this.root, this.options.apiKey, this.timeoutMs);
  }

  async close(): Promise<void> {
    for (const c of this.inflight) c.abort(new DOMException('STT provider closed', 'AbortError'));
    this.inflight.clear();
  }

  /** An AbortController that fires on the caller's signal, on the timeout, or on close(). */
  private guard(signal: AbortSignal | undefined, timeoutMs = this.timeoutMs) {
    const controller = new AbortController();
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      controller.abort(new DOMException('STT request timed out', 'TimeoutError'));
    }, timeoutMs);
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    this.inflight.add(controller);
    return {
      controller,
      timedOut: () => expired,
      done: () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.inflight.delete(controller);
      },
    };
  }

  private transportError(err: unknown, signal: AbortSignal | undefined, timedOut: boolean): Error {
    if (signal?.aborted) return abortError(signal);
    if (timedOut) {
      return sttUnavailable(`STT server ${this.root} did not answer within ${this.timeoutMs} ms`, {
        url: this.endpoint,
        timeoutMs: this.timeoutMs,
      });
    }
    if (err instanceof Error && 'statusCode' in err) return err; // already an AppError
    const code = systemErrorCode(err);
    return sttUnavailable(`Cannot reach STT server ${this.root}${code ? ` (${code})` : ''}`, {
      url: this.endpoint,
      cause: this.redact(code ?? (err instanceof Error ? err.message : String(err))),
    });
  }

  private async httpError(res: Response): Promise<Error> {
    let body = '';
    try {
      body = await res.text();
    } catch {
      // the status alone has to do
    }
    const upstreamMessage = this.redact(extractMessage(body)).slice(0, MAX_ERROR_TEXT);
    const details = { upstreamStatus: res.status, upstreamMessage, url: this.endpoint };
    const what =
      res.status === 401 || res.status === 403
        ? 'rejected the API key'
        : res.status === 429
          ? 'is rate limiting'
          : res.status >= 500
            ? 'failed'
            : 'rejected the request';
    const message = `STT server ${this.root} ${what} (HTTP ${res.status})${upstreamMessage ? `: ${upstreamMessage}` : ''}`;
    return res.status >= 500 || res.status === 429
      ? sttUnavailable(message, details)
      : sttFailed(message, details);
  }

  private parseJson(body: string): { text: string; language?: string; confidence?: number } {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      throw sttFailed(`STT server ${this.root} answered with malformed JSON`, {
        url: this.endpoint,
        body: this.redact(body.slice(0, 200)),
      });
    }
    if (
      typeof value !== 'object' ||
      value === null ||
      typeof (value as { text?: unknown }).text !== 'string'
    ) {
      throw sttFailed(`STT server ${this.root} answered without a "text" string`, {
        url: this.endpoint,
        body: this.redact(body.slice(0, 200)),
      });
    }
    const v = value as { text: string; language?: unknown; segments?: unknown };
    const out: { text: string; language?: string; confidence?: number } = { text: v.text.trim() };
    if (typeof v.language === 'string' && v.language) out.language = v.language;
    const confidence = segmentConfidence(v.segments);
    if (confidence !== undefined) out.confidence = confidence;
    return out;
  }

  private async readSse(
    res: Response,
    onPartial: ((text: string) => void) | undefined,
  ): Promise<{ text: string; language?: string; confidence?: number }> {
    if (!res.body)
      throw sttFailed(`STT server ${this.root} sent an empty event stream`, { url: this.endpoint });
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let pending = '';
    let partial = '';
    let final: string | undefined;
    const handle = (block: string) => {
      const data = block
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (!data || data === '[DONE]') return;
      let event: { type?: unknown; delta?: unknown; text?: unknown; error?: unknown };
      try {
        event = JSON.parse(data) as typeof event;
      } catch {
        throw sttFailed(`STT server ${this.root} sent a malformed stream event`, {
          url: this.endpoint,
          event: this.redact(data.slice(0, 200)),
        });
      }
      if (event.type === 'transcript.text.delta' && typeof event.delta === 'string') {
        partial += event.delta;
        onPartial?.(partial.trim());
      } else if (event.type === 'transcript.text.done' && typeof event.text === 'string') {
        final = event.text.trim();
      } else if (event.type === 'error' || event.error !== undefined) {
        throw sttFailed(`STT server ${this.root} reported an error in the stream`, {
          url: this.endpoint,
          upstreamMessage: this.redact(extractMessage(JSON.stringify(event))),
        });
      }
    };
    for (;;) {
      const { value, done } = await reader.read();
      pending += done ? decoder.decode() : decoder.decode(value, { stream: true });
      const blocks = pending.split(/\r?\n\r?\n/);
      pending = blocks.pop() ?? '';
      for (const b of blocks) handle(b);
      if (final !== undefined) {
        await reader.cancel().catch(() => undefined);
        return { text: final };
      }
      if (done) break;
    }
    if (pending.trim()) handle(pending);
    if (final !== undefined) return { text: final };
    throw sttFailed(`STT server ${this.root} ended the stream without transcript.text.done`, {
      url: this.endpoint,
      partial: partial.trim(),
    });
  }

  private redact(text: string): string {
    const key = this.options.apiKey;
    return key ? text.split(key).join('***') : text;
  }
}

/** The human message of an error body: OpenAI `{error: {message}}`, `{error: "…"}`, FastAPI `{detail}`, or text. */
function extractMessage(body: string): string {
  try {
    const v = JSON.parse(body) as { error?: unknown; detail?: unknown; message?: unknown };
    if (typeof v.error === 'object' && v.error !== null) {
      const m = (v.error as { message?: unknown }).message;
      if (typeof m === 'string') return m;
    }
    if (typeof v.error === 'string') return v.error;
    if (typeof v.detail === 'string') return v.detail;
    if (typeof v.message === 'string') return v.message;
  } catch {
    // not JSON
  }
  return body.trim();
}

/** exp(mean avg_logprob) of verbose_json segments, in [0, 1]. */
function segmentConfidence(segments: unknown): number | undefined {
  if (!Array.isArray(segments) || segments.length === 0) return undefined;
  const lp = segments
    .map((s) => (s as { avg_logprob?: unknown }).avg_logprob)
    .filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (lp.length === 0) return undefined;
  return Math.min(1, Math.max(0, Math.exp(lp.reduce((a, b) => a + b, 0) / lp.length)));
}
