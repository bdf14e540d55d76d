// Memory core configuration: every variable, its default and its meaning (the README's table mirrors this).
import { z } from 'zod';
import { env, loadConfig, type Env } from '@synthians/kit';

export const memoryCoreSchema = z.object({
  PORT: env.port(5010),
  HOST: env.host(),
  /** Where the SQLite database and the index snapshot live. Default: <SYNTHIANS_DATA_DIR>/memory-core. */
  MEMORY_STORAGE_PATH: env.optionalString(),
  EMBEDDING_DIM: env.int(768, 2, 8192),
  LOG_LEVEL: env.logLevel(),
  SYNTHIANS_API_TOKEN: env.optionalString(),
  /** full: fsync every commit (survives power loss); normal: survives a process crash (kill -9), faster. */
  MEMORY_SYNC: z.enum(['full', 'normal']).default('full'),
  MAX_BODY_BYTES: env.int(32 * 1024 * 1024, 1024),
  /** builtin (offline, deterministic) or openai (any OpenAI-compatible /v1/embeddings server). */
  EMBEDDING_PROVIDER: z.enum(['builtin', 'openai']).default('builtin'),
  EMBEDDING_BASE_URL: env.url(),
  EMBEDDING_MODEL: env.optionalString(),
  EMBEDDING_API_KEY: env.optionalString(),
  EMBEDDING_TIMEOUT_MS: env.int(15000, 100),
  EMBEDDING_RETRIES: env.int(2, 0, 10),
  /** HNSW parameters of the vector index. */
  INDEX_CONNECTIVITY: env.int(16, 4, 64),
  INDEX_EXPANSION_ADD: env.int(64, 8, 1024),
  INDEX_EXPANSION_SEARCH: env.int(384, 8, 4096),
  /** Precision of the index's vectors: bf16 halves memory and speeds search; similarities are recomputed exactly. */
  INDEX_QUANTIZATION: z.enum(['f32', 'bf16', 'f16']).default('bf16'),
  /** Write an index snapshot after this many changes since the last one (and at shutdown). */
  INDEX_SNAPSHOT_EVERY: env.int(20000, 100),
  /** QuickRecal ingest weights (normalised to sum 1 at start-up) and the overlap penalty. */
  QR_W_RECENCY: env.number(0.1, 0),
  QR_W_IMPORTANCE: env.number(0.25, 0),
  QR_W_EMOTION: env.number(0.15, 0),
  QR_W_NOVELTY: env.number(0.2, 0),
  QR_W_PERSONAL: env.number(0.15, 0),
  QR_W_INFORMATION: env.number(0.15, 0),
  QR_OVERLAP_PENALTY: env.number(0.2, 0, 1),
  /** Read-time decay: half-life in days, and the floor the decay never goes below (fraction of the score). */
  QR_DECAY_HALF_LIFE_DAYS: env.number(30, 0.01),
  QR_DECAY_FLOOR: env.number(0.5, 0, 1),
  /** Retrieval relevance weights (normalised to sum 1). */
  REL_W_SIMILARITY: env.number(0.8, 0),
  REL_W_QUICKRECAL: env.number(0.1, 0),
  REL_W_RECENCY: env.number(0.04, 0),
  REL_W_ASSEMBLY: env.number(0.03, 0),
  REL_W_EMOTION: env.number(0.03, 0),
  /** Hybrid fusion between vector and lexical similarity (normalised to sum 1). */
  FUSION_W_VECTOR: env.number(0.5, 0),
  FUSION_W_LEXICAL: env.number(0.5, 0),
  /** Assemblies: join an assembly at this composite similarity; start one with a neighbour at this similarity; merge two at this. */
  ASSEMBLY_JOIN_THRESHOLD: env.number(0.8, 0, 1),
  ASSEMBLY_SEED_THRESHOLD: env.number(0.85, 0, 1),
  ASSEMBLY_MERGE_THRESHOLD: env.number(0.92, 0, 1),
  ASSEMBLY_MAX_MEMBERS: env.int(500, 2),
  /** Standby: follow this primary's change feed (also `--follow`). */
  FOLLOW_URL: env.url(),
  FOLLOW_POLL_WAIT_MS: env.int(20000, 0, 120000),
});

export type MemoryCoreConfig = z.infer<typeof memoryCoreSchema>;

export function loadMemoryCoreConfig(source: Env = process.env): MemoryCoreConfig {
  return loadConfig(memoryCoreSchema, source);
}
