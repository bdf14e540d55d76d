// Speech on the PC2 worker, with the local engines as the fallback.
//
// With PC2_URL set, the coordinator sends recognition (`stt`, with its command grammar as `phrases`) and synthesis
// (`tts`, one request per sentence so the first sentence plays while the next is made) to the PC2 worker. When a
// request fails — connection refused, timeout, 5xx, 503 queue_full — that request is answered by the local
// engine at once, and the worker is left alone for PC2_RETRY_MS before it is tried again; the coordinator's
// /health then reports `pc2` unhealthy and its status "degraded". A 4xx (the worker refused the input) is
// answered locally too but does not mark the worker down. A caller's abort is never turned into a fallback.
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '@synthians/kit';
import {
  decodeFramesToMono,
  encodePcmMono,
  encodeWav,
  splitSentences,
  type SttProvider,
  type SttStream,
  type Transcript,
  type TranscribeOptions,
  type TtsChunk,
  type TtsProvider,
  type SynthesizeOptions,
} from '@synthians/voice';

export interface Pc2LinkOptions {
  url: string;
  token?: string;
  timeoutMs: number;
  retryMs: number;
  logger?: Logger;
  /** Where coordinator_pc2_fallbacks_total is registered (the coordinator's /metrics). */
  registry?: Registry;
}

class Pc2Error extends Error {
  constructor(
    message: string,
    /** True when the worker is unreachable or failing (not when it refused this input). */
    readonly down: boolean,
  ) {
    super(message);
  }
}

export class Pc2Link {
  private downUntil = 0;
  private lastError: string | undefined;
  private state: 'unknown' | 'up' | 'down' = 'unknown';
  readonly fallbacks: Counter<'task'>;
  private readonly base: string;

  constructor(private readonly options: Pc2LinkOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.fallbacks = new Counter({
      name: 'coordinator_pc2_fallbacks_total',
      help: 'Speech requests answered by the local engine because the PC2 worker failed or was down, by task',
      labelNames: ['task'],
      registers: options.registry ? [options.registry] : [],
    });
  }

  /** False while the worker is being left alone after a failure. */
  usable(): boolean {
    return Date.now() >= this.downUntil;
  }

  status(): { state: string; url: string; error?: string } {
    return { state: this.state, url: this.base, ...(this.lastError ? { error: this.lastError } : {}) };
  }

  async post<T>(type: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    let res: Response;
    try {
      res = await fetch(`${this.base}/v1/tasks/${type}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
        },
        body: JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw this.fail(
        timeout.aborted ? `timed out after ${this.options.timeoutMs} ms` : (err as Error).message,
      );
    }
    if (res.ok) {
      const out = (await res.json()) as T;
      if (this.state !== 'up') this.options.logger?.info({ url: this.base }, 'PC2 worker reachable');
      this.state = 'up';
      this.lastError = undefined;
      return out;
    }
    const text = await res.text().catch(() => '');
    if (res.status >= 500 || res.status === 429) throw this.fail(`HTTP ${res.status}`);
    throw new Pc2Error(`PC2 refused the ${type} request: HTTP ${res.status} ${text.slice(0, 200)}`, false);
  }

  private fail(reason: string): Pc2Error {
    this.downUntil = Date.now() + this.options.retryMs;
    if (this.state !== 'down')
      this.options.logger?.warn(
        { url: this.base, reason, retry_ms: this.options.retryMs },
        'PC2 worker unavailable: using the local speech engines',
      );
    this.state = 'down';
    this.lastError = reason;
    return new Pc2Error(`PC2 worker unavailable: ${reason}`, true);
  }
}

const toB64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/** Speech to text on the PC2 worker, the local engine when it fails. */
export function pc2Stt(
  local: SttProvider,
  link: Pc2Link,
  phrases: readonly string[] | undefined,
): SttProvider {
  const transcribe = async (samples: Float32Array, options: TranscribeOptions = {}): Promise<Transcript> => {
    if (link.usable()) {
      try {
        const r = await link.post<{ text: string; provider: string; confidence?: number; language?: string }>(
          'stt',
          {
            audio_b64: toB64(encodeWav(samples, 16000)),
            ...(options.language ? { language: options.language } : {}),
            ...(options.prompt ? { prompt: options.prompt } : {}),
            ...(phrases && phrases.length > 0 ? { phrases } : {}),
          },
          options.signal,
        );
        return {
          text: r.text,
          provider: `pc2:${r.provider}`,
          durationMs: Math.round(samples.length / 16),
          ...(r.confidence !== undefined ? { confidence: r.confidence } : {}),
          ...(r.language ? { language: r.language } : {}),
        };
      } catch (err) {
        if (options.signal?.aborted) throw err;
      }
    }
    link.fallbacks.inc({ task: 'stt' });
    return local.transcribe(samples, options);
  };
  return {
    name: `pc2+${local.name}`,
    streamingPartials: false,
    ...(local.completePhrases ? { completePhrases: local.completePhrases } : {}),
    transcribe,
    stream(options = {}): SttStream {
      const chunks: Float32Array[] = [];
      let length = 0;
      let cancelled = false;
      return {
        write(samples) {
          if (cancelled) return;
          chunks.push(samples.slice());
          length += samples.length;
        },
        async end() {
          const all = new Float32Array(length);
          let off = 0;
          for (const c of chunks) {
            all.set(c, off);
            off += c.length;
          }
          return transcribe(all, options);
        },
        cancel() {
          cancelled = true;
          chunks.length = 0;
        },
      };
    },
    check: local.check.bind(local),
    close: local.close.bind(local),
  };
}

interface Pc2Sentence {
  index: number;
  text: string;
  audio_b64: string;
  sample_rate: number;
  encoding: string;
}

/** s16le → the requested encoding. */
const convert = (audio: Uint8Array, encoding: SynthesizeOptions['encoding']): Uint8Array =>
  encoding === 'pcm_f32le' ? encodePcmMono(decodeFramesToMono(audio, 'pcm_s16le', 1), encoding) : audio;

/** Text to speech on the PC2 worker, sentence by sentence; the local engine from the first failure on. */
export function pc2Tts(local: TtsProvider, link: Pc2Link): TtsProvider {
  return {
    name: `pc2+${local.name}`,
    async *synthesize(text: string, options: SynthesizeOptions = {}): AsyncIterable<TtsChunk> {
      const sentences = splitSentences(text);
      if (sentences.length === 0) return;
      const sampleRate = options.sampleRate ?? 16000;
      const request = (sentence: string) =>
        link.post<{ sentences: Pc2Sentence[] }>(
          'tts',
          {
            text: sentence,
            sample_rate: sampleRate,
            ...(options.voice ? { voice: options.voice } : {}),
            ...(options.speed !== undefined ? { speed: options.speed } : {}),
          },
          options.signal,
        );
      let index = 0;
      let completed = 0;
      if (link.usable()) {
        // The next sentence is requested while the current one is yielded.
        let next: Promise<{ sentences: Pc2Sentence[] }> | undefined = request(sentences[0]!);
        for (let k = 0; k < sentences.length; k++) {
          let got: { sentences: Pc2Sentence[] };
          try {
            got = await next!;
          } catch (err) {
            if (options.signal?.aborted) throw err;
            break;
          }
          next = k + 1 < sentences.length ? request(sentences[k + 1]!) : undefined;
          next?.catch(() => undefined);
          for (const s of got.sentences)
            yield {
              index: index++,
              text: s.text,
              audio: convert(Buffer.from(s.audio_b64, 'base64'), options.encoding),
              sampleRate: s.sample_rate,
              encoding: options.encoding ?? 'pcm_s16le',
            };
          completed++;
        }
        if (completed === sentences.length) return;
      }
      // The worker is down (or failed midway): the rest locally.
      link.fallbacks.inc({ task: 'tts' });
      const rest = sentences.slice(completed).join(' ');
      if (rest.trim() === '') return;
      const first = index;
      for await (const chunk of local.synthesize(rest, options))
        yield { ...chunk, index: first + chunk.index };
    },
    voices: () => local.voices(),
    check: () => local.check(),
    close: () => local.close(),
  };
}
