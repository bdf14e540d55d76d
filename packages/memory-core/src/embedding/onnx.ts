/**
 * The `onnx` embedding provider: a sentence encoder exported to ONNX (e.g. sentence-transformers'
 * all-mpnet-base-v2, 768-d), run with onnxruntime-node, tokenised with its Hugging Face `tokenizer.json`.
 *
 * A model folder holds `model.onnx` and `tokenizer.json` (as `synthians models pull` lays them out; a path to a
 * `.onnx` file works too when `tokenizer.json` sits beside it). The encoder feeds the inputs the graph declares
 * (`input_ids`, `attention_mask`, `token_type_ids` — int64, [batch, tokens]) and pools:
 * - an output named `sentence_embedding` (or any 2-D output) is used as it is;
 * - otherwise the first 3-D output (`last_hidden_state`, `token_embeddings`) is mean-pooled over the tokens the
 *   attention mask keeps (sentence-transformers' default), or its first token taken with `pooling: 'cls'`.
 * Vectors are L2-normalised. Texts longer than `maxTokens` are truncated (the closing special token kept).
 *
 * Batches: `embed` sorts texts by token count and runs them in runs of `batchSize` (less padding per run);
 * results come back in input order. Running a batch of B texts costs far less than B runs of one on CPU
 * (one graph launch, matrix products over B rows) — the PC2 worker batches concurrent callers for that reason.
 *
 * onnxruntime-node and the tokenizer are imported on first use, so a memory core with another provider never
 * loads them.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as OrtModule from 'onnxruntime-node';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { ConfigError } from '@synthians/kit';
import { l2normalize, type EmbeddingProvider } from './provider.ts';

export type ExecutionProvider = 'cpu' | 'cuda' | 'auto';

export interface OnnxEncoderOptions {
  /** A folder with model.onnx and tokenizer.json, or the path of a .onnx file with tokenizer.json beside it. */
  modelPath: string;
  /** Name reported as the model (default: the folder's name). */
  name?: string;
  /** Tokens per text, special tokens included (default 256). */
  maxTokens?: number;
  /** Texts per graph run (default 32). */
  batchSize?: number;
  pooling?: 'mean' | 'cls';
  /** cpu (default), cuda (fails when CUDA is not usable) or auto (CUDA when it loads, else CPU). */
  executionProvider?: ExecutionProvider;
  /** Threads inside one operator (default: onnxruntime's choice, one per core). */
  intraOpThreads?: number;
  /**
   * L2-normalise the vectors (default true). A classifier sets false and reads its logits (a 2-D output)
   * untouched.
   */
  normalize?: boolean;
}

export interface OnnxEncoder extends EmbeddingProvider {
  /** The execution provider the session actually runs on. */
  readonly executionProvider: 'cpu' | 'cuda';
  readonly maxTokens: number;
  /** Token count of each text after truncation (for batching and metrics). */
  countTokens(texts: string[]): number[];
}

type Ort = typeof OrtModule;
interface Encoded {
  ids: number[];
}
interface TokenizerLike {
  encode(text: string): Encoded;
}

/** Resolves a model folder or file to its model.onnx and tokenizer.json; a clear start-up error when missing. */
export function resolveModelFiles(modelPath: string): { model: string; tokenizer: string; folder: string } {
  if (!existsSync(modelPath)) {
    throw new ConfigError(
      `ONNX model not found at ${modelPath}; pull one with \`synthians models pull <name>\` (see \`synthians models list\`)`,
    );
  }
  const isDir = statSync(modelPath).isDirectory();
  const folder = isDir ? modelPath : dirname(modelPath);
  const model = isDir ? join(modelPath, 'model.onnx') : modelPath;
  const tokenizer = join(folder, 'tokenizer.json');
  for (const f of [model, tokenizer])
    if (!existsSync(f))
      throw new ConfigError(`ONNX model folder ${folder} has no ${f.slice(folder.length + 1)}`);
  return { model, tokenizer, folder };
}

async function loadTokenizer(
  file: string,
  folder: string,
): Promise<TokenizerLike & { padId: number; specialIds: Set<number> }> {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const json = JSON.parse(readFileSync(file, 'utf8')) as {
    padding?: { pad_id?: number } | null;
    added_tokens?: { id: number; content: string; special?: boolean }[];
  };
  const configFile = join(folder, 'tokenizer_config.json');
  const config = existsSync(configFile) ? (JSON.parse(readFileSync(configFile, 'utf8')) as object) : {};
  const tokenizer = new Tokenizer(json as never, config as never) as unknown as TokenizerLike;
  const padToken = json.added_tokens?.find((t) => /^(\[PAD\]|<pad>)$/.test(t.content));
  const specialIds = new Set((json.added_tokens ?? []).filter((t) => t.special).map((t) => t.id));
  return Object.assign(tokenizer, { padId: json.padding?.pad_id ?? padToken?.id ?? 0, specialIds });
}

export async function createOnnxEncoder(options: OnnxEncoderOptions): Promise<OnnxEncoder> {
  const files = resolveModelFiles(options.modelPath);
  const ort: Ort = await import('onnxruntime-node');
  const tokenizer = await loadTokenizer(files.tokenizer, files.folder);
  const maxTokens = options.maxTokens ?? 256;
  const batchSize = options.batchSize ?? 32;
  const wanted = options.executionProvider ?? 'cpu';
  const base: InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
  };
  let session: InferenceSession;
  let provider: 'cpu' | 'cuda' = 'cpu';
  if (wanted === 'cpu') {
    session = await ort.InferenceSession.create(files.model, { ...base, executionProviders: ['cpu'] });
  } else {
    try {
      session = await ort.InferenceSession.create(files.model, { ...base, executionProviders: ['cuda'] });
      provider = 'cuda';
    } catch (err) {
      if (wanted === 'cuda') {
        throw new ConfigError(
          `the CUDA execution provider did not load (${(err as Error).message.split('\n')[0]}); install onnxruntime-node's CUDA add-on or use cpu`,
        );
      }
      session = await ort.InferenceSession.create(files.model, { ...base, executionProviders: ['cpu'] });
    }
  }
  const inputs = new Set(session.inputNames);
  if (!inputs.has('input_ids')) {
    throw new ConfigError(
      `${files.model}: the graph has no input_ids input (inputs: ${session.inputNames.join(', ')})`,
    );
  }
  const pooledOutput =
    session.outputNames.find((n) => n === 'sentence_embedding') ??
    session.outputNames.find((n) => n === 'last_hidden_state' || n === 'token_embeddings') ??
    session.outputNames[0]!;

  const finish = options.normalize === false ? (v: Float32Array) => v : l2normalize;
  const encode = (text: string): number[] => {
    const ids = tokenizer.encode(text).ids;
    if (ids.length <= maxTokens) return ids;
    // Keep the closing special token ([SEP], </s>) a post-processor appended.
    const last = ids[ids.length - 1]!;
    return tokenizer.specialIds.has(last) ? [...ids.slice(0, maxTokens - 1), last] : ids.slice(0, maxTokens);
  };

  const runBatch = async (batch: number[][]): Promise<Float32Array[]> => {
    const B = batch.length;
    const T = Math.max(1, ...batch.map((ids) => ids.length));
    const ids = new BigInt64Array(B * T).fill(BigInt(tokenizer.padId));
    const mask = new BigInt64Array(B * T);
    batch.forEach((row, b) => {
      row.forEach((id, t) => {
        ids[b * T + t] = BigInt(id);
        mask[b * T + t] = 1n;
      });
    });
    const feeds: Record<string, Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [B, T]),
    };
    if (inputs.has('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', mask, [B, T]);
    if (inputs.has('token_type_ids'))
      feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(B * T), [B, T]);
    const out = (await session.run(feeds, [pooledOutput]))[pooledOutput]!;
    const data = out.data as Float32Array;
    const vectors: Float32Array[] = [];
    if (out.dims.length === 2) {
      const D = Number(out.dims[1]);
      for (let b = 0; b < B; b++) vectors.push(finish(Float32Array.from(data.subarray(b * D, (b + 1) * D))));
    } else if (out.dims.length === 3) {
      const D = Number(out.dims[2]);
      const Tout = Number(out.dims[1]);
      for (let b = 0; b < B; b++) {
        const v = new Float32Array(D);
        const n = options.pooling === 'cls' ? 1 : batch[b]!.length;
        for (let t = 0; t < n; t++) {
          const off = (b * Tout + t) * D;
          for (let d = 0; d < D; d++) v[d] = v[d]! + data[off + d]!;
        }
        if (n > 1) for (let d = 0; d < D; d++) v[d] = v[d]! / n;
        vectors.push(finish(v));
      }
    } else {
      throw new Error(
        `${files.model}: output ${pooledOutput} has ${out.dims.length} dimensions; expected 2 or 3`,
      );
    }
    out.dispose?.();
    return vectors;
  };

  const embed = async (texts: string[]): Promise<Float32Array[]> => {
    const tokenised = texts.map((text, i) => ({ i, ids: encode(text) }));
    // Similar lengths in one run: less padding.
    tokenised.sort((a, b) => a.ids.length - b.ids.length);
    const result = new Array<Float32Array>(texts.length);
    for (let start = 0; start < tokenised.length; start += batchSize) {
      const run = tokenised.slice(start, start + batchSize);
      const vectors = await runBatch(run.map((r) => r.ids));
      run.forEach((r, k) => (result[r.i] = vectors[k]!));
    }
    return result;
  };

  // The dimension comes from the model itself: one probe run.
  const [probe] = await embed(['dimension probe']);
  const dim = probe!.length;
  const name = options.name ?? files.folder.split(/[\\/]/).filter(Boolean).pop() ?? 'onnx';
  return {
    model: `onnx:${name}`,
    dim,
    executionProvider: provider,
    maxTokens,
    countTokens: (texts) => texts.map((t) => encode(t).length),
    embed,
    close: () => session.release(),
  };
}
