// Configuration of the PC2 ML worker: every variable, its default and its meaning (the README table is generated
// from this schema by `npm run docs:config`).
import { z } from 'zod';
import { env, loadConfig, serviceVariables, type Env } from '@synthians/kit';
import { sttVariables, ttsVariables, wakeWordVariables } from '@synthians/voice';

export const pc2Schema = z.object({
  ...serviceVariables('pc2', 5560, 32 * 1024 * 1024, '; the coordinator and task router send it'),
  PC2_EXECUTION_PROVIDER: z
    .enum(['cpu', 'cuda', 'auto'])
    .default('cpu')
    .describe(
      'ONNX execution provider: cpu, cuda (refuses to start when CUDA does not load) or auto (CUDA when it loads, else CPU)',
    ),
  PC2_INTRA_OP_THREADS: env
    .int(0, 0, 256)
    .describe('Threads per ONNX operator for the embedding and emotion models (0: one per core)'),
  SYNTHIANS_MODELS_DIR: env
    .optionalString()
    .describe('Where `synthians models pull` puts models (default: <SYNTHIANS_DATA_DIR>/models)'),
  EMBED_MODELS: env
    .list('builtin,glove-sif-100d')
    .describe(
      "Embedding models served, comma-separated, the first the default: builtin (the memory core's offline embedder, EMBED_DIM wide: the same vectors as a memory core on its default), glove-sif-100d (ONNX, built locally), a pulled model's name (e.g. all-mpnet-base-v2) or a folder with model.onnx and tokenizer.json",
    ),
  EMBED_DIM: env.int(768, 16, 8192).describe("Width of the builtin model's vectors"),
  EMBED_MAX_TOKENS: env
    .int(256, 8, 8192)
    .describe('ONNX models: tokens per text (longer texts are truncated)'),
  EMOTION_MODEL: z
    .string()
    .default('lexicon')
    .describe(
      "Emotion classifier: lexicon (the memory core's 28-label GoEmotions lexicon analyser), a pulled ONNX classifier's name (e.g. roberta-base-go_emotions) or a folder with model.onnx, tokenizer.json and config.json (id2label)",
    ),
  BATCH_MAX_SIZE: env.int(64, 1, 4096).describe('Most texts in one model run (1 turns batching off)'),
  BATCH_MAX_WAIT_MS: env
    .int(2, 0, 1000)
    .describe('How long an idle model waits for more requests to batch with the first (0: run at once)'),
  QUEUE_MAX_ITEMS: env
    .int(4096, 1, 1_000_000)
    .describe('Texts waiting per model before requests are refused with 503 queue_full'),
  MAX_TEXTS_PER_REQUEST: env.int(1024, 1, 100_000).describe('Most texts in one embed or emotion request'),
  MAX_TEXT_CHARS: env.int(20_000, 1, 1_000_000).describe('Longest text accepted (400 above)'),
  SPEECH_CONCURRENCY: env
    .int(2, 1, 64)
    .describe('Speech tasks (stt, tts, wakeword, vad) run at the same time; others wait'),
  SPEECH_QUEUE_MAX: env
    .int(32, 0, 10_000)
    .describe('Speech tasks waiting before requests are refused with 503 queue_full'),
  ...sttVariables,
  ...ttsVariables,
  ...wakeWordVariables,
});

export type Pc2Config = z.infer<typeof pc2Schema>;

export const loadPc2Config = (source: Env = process.env): Pc2Config => loadConfig(pc2Schema, source);
