// Memory core configuration: every variable, its default and its meaning. The README's table is generated from
// this schema (`npm run docs:config`), and a test checks that it lists every variable.
import { z } from 'zod';
import { env, loadConfig, serviceVariables, type Env } from '@synthians/kit';

export const memoryCoreSchema = z.object({
  ...serviceVariables('memory-core', 5010, 32 * 1024 * 1024),
  MEMORY_STORAGE_PATH: env
    .optionalString()
    .describe(
      'Folder for the SQLite database and the index snapshot (default: <SYNTHIANS_DATA_DIR>/memory-core)',
    ),
  EMBEDDING_DIM: env.int(768, 16, 8192).describe('Length of every embedding; fixed for a store once created'),
  MEMORY_SYNC: z
    .enum(['full', 'normal'])
    .default('full')
    .describe('full: fsync every commit (survives power loss); normal: survives a process crash, faster'),
  EMBEDDING_PROVIDER: z
    .enum(['builtin', 'openai', 'onnx'])
    .default('builtin')
    .describe(
      'builtin (offline, deterministic), openai (any OpenAI-compatible /v1/embeddings server, the PC2 worker included) or onnx (a sentence encoder in ONNX run here: EMBEDDING_MODEL_PATH)',
    ),
  EMBEDDING_MODEL_PATH: env
    .optionalString()
    .describe(
      'onnx provider: folder with model.onnx and tokenizer.json, e.g. <SYNTHIANS_DATA_DIR>/models/all-mpnet-base-v2 after `synthians models pull all-mpnet-base-v2`',
    ),
  EMBEDDING_MAX_TOKENS: env
    .int(256, 8, 8192)
    .describe('onnx provider: tokens per text (longer texts are truncated)'),
  EMBEDDING_EXECUTION_PROVIDER: z
    .enum(['cpu', 'cuda', 'auto'])
    .default('cpu')
    .describe(
      'onnx provider: cpu, cuda (fails if CUDA does not load) or auto (CUDA when it loads, else CPU)',
    ),
  EMBEDDING_BASE_URL: env
    .url()
    .describe('openai provider: server URL, e.g. http://127.0.0.1:11434/v1 for Ollama'),
  EMBEDDING_MODEL: env.optionalString().describe('openai provider: model name, e.g. nomic-embed-text'),
  EMBEDDING_API_KEY: env.optionalString().describe('openai provider: API key, if the server needs one'),
  EMBEDDING_TIMEOUT_MS: env.int(15000, 100).describe('openai provider: timeout per request'),
  EMBEDDING_RETRIES: env.int(2, 0, 10).describe('openai provider: retries on network errors, 429 and 5xx'),
  INDEX_CONNECTIVITY: env.int(24, 4, 64).describe('HNSW graph degree (M)'),
  INDEX_EXPANSION_ADD: env.int(32, 8, 1024).describe('HNSW beam width when adding'),
  INDEX_EXPANSION_SEARCH: env
    .int(384, 8, 4096)
    .describe('HNSW beam width for queries (recall versus latency)'),
  INDEX_QUANTIZATION: z
    .enum(['f32', 'bf16', 'f16', 'i8'])
    .default('i8')
    .describe('Precision of vectors inside the index; reported similarities are always exact float32'),
  INDEX_SNAPSHOT_EVERY: env
    .int(10000, 100)
    .describe('Write an index snapshot after this many changes (and at shutdown)'),
  QR_W_RECENCY: env.number(0.1, 0).describe('QuickRecal weight: recency of the event'),
  QR_W_IMPORTANCE: env.number(0.25, 0).describe('QuickRecal weight: importance (given or detected)'),
  QR_W_EMOTION: env.number(0.15, 0).describe('QuickRecal weight: emotional intensity'),
  QR_W_NOVELTY: env.number(0.2, 0).describe('QuickRecal weight: novelty against the nearest earlier memory'),
  QR_W_PERSONAL: env.number(0.15, 0).describe('QuickRecal weight: personal-information cues'),
  QR_W_INFORMATION: env.number(0.15, 0).describe('QuickRecal weight: information content'),
  QR_OVERLAP_PENALTY: env
    .number(0.2, 0, 1)
    .describe('QuickRecal penalty at an exact duplicate (from cosine 0.9 up)'),
  QR_DECAY_HALF_LIFE_DAYS: env.number(30, 0.01).describe('Half-life of read-time decay and of recency'),
  QR_DECAY_FLOOR: env
    .number(0.5, 0, 1)
    .describe('Decay never takes a score below this fraction of its stored value'),
  REL_W_SIMILARITY: env.number(0.8, 0).describe('Relevance weight: search similarity'),
  REL_W_QUICKRECAL: env.number(0.1, 0).describe('Relevance weight: effective QuickRecal'),
  REL_W_RECENCY: env.number(0.04, 0).describe('Relevance weight: recency'),
  REL_W_ASSEMBLY: env
    .number(0.03, 0)
    .describe('Relevance weight: activation of the memory’s assemblies by the query'),
  REL_W_EMOTION: env.number(0.03, 0).describe('Relevance weight: emotional resonance with user_emotion'),
  FUSION_W_VECTOR: env.number(0.65, 0).describe('Hybrid search: weight of vector similarity'),
  FUSION_W_LEXICAL: env.number(0.35, 0).describe('Hybrid search: weight of BM25'),
  ASSEMBLY_JOIN_THRESHOLD: env.number(0.88, 0, 1).describe('Cosine to an assembly composite to join it'),
  ASSEMBLY_SEED_THRESHOLD: env.number(0.9, 0, 1).describe('Cosine between two memories to start an assembly'),
  ASSEMBLY_MERGE_THRESHOLD: env
    .number(0.95, 0, 1)
    .describe('Cosine between two composites to merge assemblies'),
  ASSEMBLY_MAX_MEMBERS: env.int(500, 2).describe('An assembly takes no more members beyond this'),
  FOLLOW_URL: env.url().describe('Run as a read-only standby of this primary (same as --follow)'),
  FOLLOW_POLL_WAIT_MS: env.int(20000, 0, 120000).describe('Standby: long-poll wait on the change feed'),
});

export type MemoryCoreConfig = z.infer<typeof memoryCoreSchema>;

export function loadMemoryCoreConfig(source: Env = process.env): MemoryCoreConfig {
  return loadConfig(memoryCoreSchema, source);
}
