// Embeddings from any OpenAI-compatible /v1/embeddings server (Ollama, LM Studio, vLLM, OpenAI), with a timeout,
// retries with backoff on network errors, 429 and 5xx, and a dimension check at start-up.
import { AppError, ConfigError } from '@synthians/kit';
import { l2normalize, type EmbeddingProvider } from './provider.ts';

export interface OpenAIEmbedderOptions {
  baseUrl: string;
  model: string;
  apiKey?: string;
  dim: number;
  timeoutMs: number;
  retries: number;
  /** Texts per request. */
  batchSize?: number;
}

export class OpenAIEmbedder implements EmbeddingProvider {
  readonly model: string;
  readonly dim: number;
  private readonly url: string;

  constructor(private readonly options: OpenAIEmbedderOptions) {
    this.model = `openai:${options.model}`;
    this.dim = options.dim;
    this.url = `${options.baseUrl.replace(/\/+$/, '')}${/\/v1$/.test(options.baseUrl.replace(/\/+$/, '')) ? '' : '/v1'}/embeddings`;
  }

  /** Embeds a probe text and refuses to start when the server's dimension is not EMBEDDING_DIM. */
  async checkDimension(): Promise<void> {
    let got: number;
    try {
      const [v] = await this.request(['dimension check']);
      got = v!.length;
    } catch (err) {
      throw new ConfigError(
        `EMBEDDING_BASE_URL: the embedding server at ${this.url} failed: ${(err as Error).message}`,
      );
    }
    if (got !== this.dim) {
      throw new ConfigError(
        `EMBEDDING_DIM is ${this.dim} but model ${this.options.model} at ${this.url} returns ${got}-d embeddings`,
        [{ variable: 'EMBEDDING_DIM', message: `the model returns ${got}` }],
      );
    }
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const size = this.options.batchSize ?? 64;
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += size) {
      const vectors = await this.request(texts.slice(i, i + size));
      for (const v of vectors) {
        if (v.length !== this.dim) {
          throw new AppError(
            502,
            'embedding_dimension',
            `The embedding server returned ${v.length} values, expected ${this.dim}`,
          );
        }
        out.push(l2normalize(v));
      }
    }
    return out;
  }

  private async request(input: string[]): Promise<Float32Array[]> {
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(4000, 250 * 2 ** (attempt - 1))));
      try {
        const response = await fetch(this.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
          },
          body: JSON.stringify({ model: this.options.model, input, encoding_format: 'float' }),
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        if (response.status === 429 || response.status >= 500) {
          lastError = new Error(`HTTP ${response.status}`);
          continue;
        }
        if (!response.ok) {
          const text = await response.text();
          throw new AppError(
            502,
            'embedding_failed',
            `The embedding server answered ${response.status}: ${text.slice(0, 200)}`,
          );
        }
        const body = (await response.json()) as { data?: { index?: number; embedding?: unknown }[] };
        if (!Array.isArray(body.data) || body.data.length !== input.length) {
          throw new AppError(502, 'embedding_failed', 'The embedding server returned a malformed response');
        }
        const sorted = [...body.data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
        return sorted.map((d) => {
          if (
            !Array.isArray(d.embedding) ||
            d.embedding.some((x) => typeof x !== 'number' || !Number.isFinite(x))
          ) {
            throw new AppError(
              502,
              'embedding_failed',
              'The embedding server returned a non-numeric embedding',
            );
          }
          return Float32Array.from(d.embedding as number[]);
        });
      } catch (err) {
        if (AppError.isInstance(err)) throw err;
        lastError = err;
      }
    }
    throw new AppError(
      502,
      'embedding_unavailable',
      `The embedding server did not answer: ${(lastError as Error)?.message ?? 'unknown error'}`,
    );
  }
}
