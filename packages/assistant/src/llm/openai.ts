// A streaming client for any OpenAI-compatible chat model (Ollama, llama.cpp server, LM Studio, vLLM, OpenAI):
// POST {base}/chat/completions with `stream: true`, Server-Sent Events `data: {choices:[{delta:{content}}]}` … `data:
// [DONE]`. A server that ignores `stream` and answers one JSON completion is accepted too.
//
// Two timeouts: until the first token (the model is loading or the server hangs) and for the whole reply. Every
// failure is an LlmError with a `kind` (timeout, http, protocol, network, empty, aborted) the caller maps to a
// message; the caller's AbortSignal (barge-in) stops the request at once.
import { SseParser } from './sse.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatClientOptions {
  /** e.g. http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:8080/v1 (llama.cpp), https://api.openai.com/v1 */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** Time allowed until the first content token arrives. */
  firstTokenTimeoutMs: number;
  /** Time allowed for the whole reply. */
  timeoutMs: number;
  temperature?: number;
  maxTokens?: number;
}

export type LlmErrorKind = 'timeout' | 'http' | 'protocol' | 'network' | 'empty' | 'aborted';

export class LlmError extends Error {
  override readonly name = 'LlmError';
  constructor(
    readonly kind: LlmErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface StreamOptions {
  signal?: AbortSignal;
  /** Called with every content delta, in order. */
  onToken?: (delta: string) => void;
}

export interface ChatResult {
  text: string;
  model: string;
  finish_reason: string | null;
  first_token_ms: number | null;
  total_ms: number;
}

/** The streaming chat model interface the turn engine uses (the OpenAI-compatible client, or a test double). */
export interface ChatModel {
  readonly model: string;
  stream(messages: ChatMessage[], options?: StreamOptions): Promise<ChatResult>;
}

/** Largest response body accepted (a runaway server cannot fill the memory). */
const MAX_RESPONSE_CHARS = 1 << 20;

export class OpenAiChatClient implements ChatModel {
  readonly model: string;
  private readonly url: string;

  constructor(private readonly options: ChatClientOptions) {
    this.model = options.model;
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  }

  async stream(messages: ChatMessage[], opts: StreamOptions = {}): Promise<ChatResult> {
    const started = performance.now();
    const controller = new AbortController();
    let reason: LlmError | undefined;
    const fail = (e: LlmError) => {
      reason ??= e;
      controller.abort(e);
    };
    const { firstTokenTimeoutMs, timeoutMs } = this.options;
    const total = setTimeout(
      () => fail(new LlmError('timeout', `the language model did not finish within ${timeoutMs} ms`)),
      timeoutMs,
    );
    let first: NodeJS.Timeout | undefined = setTimeout(
      () => fail(new LlmError('timeout', `the language model sent nothing within ${firstTokenTimeoutMs} ms`)),
      firstTokenTimeoutMs,
    );
    const onAbort = () => fail(new LlmError('aborted', 'the reply was interrupted'));
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    let text = '';
    let firstTokenMs: number | null = null;
    let finish: string | null = null;
    let model = this.model;
    const token = (delta: string) => {
      if (delta === '') return;
      if (first) {
        clearTimeout(first);
        first = undefined;
        firstTokenMs = Math.round((performance.now() - started) * 10) / 10;
      }
      text += delta;
      if (text.length > MAX_RESPONSE_CHARS) throw new LlmError('protocol', 'the reply is too long');
      opts.onToken?.(delta);
    };

    try {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        accept: 'text/event-stream, application/json',
      };
      if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
      const body: Record<string, unknown> = { model: this.model, messages, stream: true };
      if (this.options.temperature !== undefined) body.temperature = this.options.temperature;
      if (this.options.maxTokens !== undefined) body.max_tokens = this.options.maxTokens;
      let res: Response;
      try {
        res = await fetch(this.url, {
          method: 'POST',
          headers,
          body: JSON.stringify(body),
          signal: controller.signal,
        });
      } catch (err) {
        throw reason ?? new LlmError('network', `the language model is unreachable: ${describe(err)}`);
      }
      if (res.status !== 200) {
        const detail = await res.text().catch(() => '');
        throw new LlmError(
          'http',
          `the language model answered HTTP ${res.status}${errorMessage(detail)}`,
          res.status,
        );
      }
      const type = res.headers.get('content-type') ?? '';
      if (!res.body) throw new LlmError('protocol', 'the language model sent no body');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      if (type.includes('text/event-stream')) {
        const parser = new SseParser();
        let done = false;
        const handle = (data: string) => {
          if (data.trim() === '[DONE]') {
            done = true;
            return;
          }
          const chunk = parseJson(data);
          if (typeof chunk !== 'object' || chunk === null)
            throw new LlmError('protocol', 'the language model sent an event that is not JSON');
          const c = chunk as {
            error?: { message?: unknown };
            model?: unknown;
            choices?: { delta?: { content?: unknown }; finish_reason?: unknown }[];
          };
          if (c.error !== undefined)
            throw new LlmError(
              'http',
              `the language model reported an error: ${String(c.error?.message ?? 'unknown')}`,
            );
          if (typeof c.model === 'string') model = c.model;
          if (!Array.isArray(c.choices))
            throw new LlmError('protocol', 'the language model sent an event without choices');
          const choice = c.choices[0];
          if (choice === undefined) return; // e.g. a usage-only chunk
          const content = choice.delta?.content;
          if (typeof content === 'string') token(content);
          else if (content !== undefined && content !== null)
            throw new LlmError('protocol', 'the language model sent a delta whose content is not text');
          if (typeof choice.finish_reason === 'string') finish = choice.finish_reason;
        };
        while (!done) {
          let chunk: Awaited<ReturnType<typeof reader.read>>;
          try {
            chunk = await reader.read();
          } catch (err) {
            throw reason ?? new LlmError('network', `the language model stream broke: ${describe(err)}`);
          }
          if (chunk.done) {
            for (const ev of parser.end()) if (!done) handle(ev.data);
            break;
          }
          for (const ev of parser.push(chunk.value)) {
            if (done) break;
            handle(ev.data);
          }
        }
        void reader.cancel().catch(() => {});
        if (!done && finish === null)
          throw new LlmError('protocol', 'the language model stream ended without [DONE]');
      } else {
        // A whole JSON completion (a server that does not stream).
        let raw = '';
        try {
          for (;;) {
            const chunk = await reader.read();
            if (chunk.done) break;
            raw += chunk.value;
            if (raw.length > MAX_RESPONSE_CHARS) throw new LlmError('protocol', 'the reply is too long');
          }
        } catch (err) {
          if (err instanceof LlmError) throw err;
          throw reason ?? new LlmError('network', `the language model response broke: ${describe(err)}`);
        }
        const parsed = parseJson(raw) as {
          model?: unknown;
          choices?: { message?: { content?: unknown }; finish_reason?: unknown }[];
        } | null;
        const content = parsed?.choices?.[0]?.message?.content;
        if (typeof content !== 'string')
          throw new LlmError('protocol', 'the language model answer has no choices[0].message.content');
        if (typeof parsed?.model === 'string') model = parsed.model;
        const fr = parsed?.choices?.[0]?.finish_reason;
        finish = typeof fr === 'string' ? fr : null;
        token(content);
      }
      if (text.trim() === '') throw new LlmError('empty', 'the language model sent an empty reply');
      return {
        text,
        model,
        finish_reason: finish,
        first_token_ms: firstTokenMs,
        total_ms: Math.round((performance.now() - started) * 10) / 10,
      };
    } catch (err) {
      // A timeout or an abort wins over the error it caused (a broken read, a cancelled fetch).
      if (reason) throw reason;
      if (err instanceof LlmError) throw err;
      throw new LlmError('protocol', `the language model answer could not be read: ${describe(err)}`);
    } finally {
      clearTimeout(total);
      if (first) clearTimeout(first);
      opts.signal?.removeEventListener('abort', onAbort);
      if (!controller.signal.aborted) controller.abort();
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorMessage(body: string): string {
  const parsed = parseJson(body) as { error?: { message?: unknown } | string } | undefined;
  const e = parsed?.error;
  const msg = typeof e === 'string' ? e : typeof e?.message === 'string' ? e.message : '';
  return msg ? `: ${msg.slice(0, 200)}` : '';
}

function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
