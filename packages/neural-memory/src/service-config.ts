// Configuration of the neural memory HTTP service ("trainer-server"): every variable, its default and its meaning.
import { z } from 'zod';
import { AppError, ConfigError, env, loadConfig, type Env, serviceVariables } from '@synthians/kit';
import { resolveConfig, VARIANTS, type NeuralMemoryConfig, type Variant } from './config.ts';

const urlList = env.urlList('http://127.0.0.1:5010');

const hiddenDims = z
  .string()
  .default('512')
  .transform((v, ctx) => {
    const t = v.trim().toLowerCase();
    if (t === 'none' || t === '0') return [] as number[];
    const dims = t.split(',').map((s) => Number(s.trim()));
    if (dims.length > 8 || dims.some((d) => !Number.isInteger(d) || d < 1 || d > 16384)) {
      ctx.addIssue({
        code: 'custom',
        message: 'a comma-separated list of at most 8 widths in [1, 16384], or "none"',
      });
      return z.NEVER;
    }
    return dims;
  });

/**
 * Bytes per number in a JSON embedding, at most: a float64 printed by JSON.stringify is at most a sign, 17
 * significant digits, a point and an exponent ("-1.2345678901234567e-10", 23 characters), plus the comma.
 */
const JSON_BYTES_PER_NUMBER = 24;

/**
 * The largest legitimate request body: a /train_outer with `sequences` in the body at its limit,
 * maxEmbeddings × (inputDim numbers × 24 bytes + brackets), plus 64 KiB for the rest of the request. Every other
 * route takes one or two embeddings. At the defaults, 1024 × (768 × 24 + 2) + 65536 = 18,941,952 bytes (≈ 18 MiB),
 * so a 40 MB body is refused with 413 before it is parsed. Larger training sets come from the memory core.
 */
export function bodyLimitFor(inputDim: number, maxEmbeddings: number): number {
  return maxEmbeddings * (inputDim * JSON_BYTES_PER_NUMBER + 2) + 64 * 1024;
}

const DEFAULT_TRAIN_MAX_BODY_EMBEDDINGS = 1024;

export const neuralMemorySchema = z.object({
  ...serviceVariables(
    'neural-memory',
    8001,
    bodyLimitFor(768, DEFAULT_TRAIN_MAX_BODY_EMBEDDINGS),
    '; also sent to the memory core by /train_outer',
  ),
  NEURAL_MEMORY_STORAGE_PATH: env
    .optionalString()
    .describe('Folder for the per-namespace state snapshots (default: <SYNTHIANS_DATA_DIR>/neural-memory)'),
  MEMORY_CORE_URL: urlList.describe(
    '/train_outer without `sequences` reads embeddings from this memory core; a comma-separated list is tried in order (primary, then standbys)',
  ),
  MEMORY_CORE_TIMEOUT_MS: env
    .int(10000, 100, 600000)
    .describe('Timeout of each request to the memory core (a timed-out URL counts as down)'),
  NM_AUTOSAVE_INTERVAL_MS: env
    .int(30000, 0, 86_400_000)
    .describe(
      'Snapshot a namespace with logged changes once its snapshot is this old, by the time stored in the snapshot (so restarts do not postpone it); 0: only NM_SNAPSHOT_EVERY_UPDATES and shutdown snapshot. Changes are durable before they are acknowledged either way (the update log)',
    ),
  NM_SNAPSHOT_EVERY_UPDATES: env
    .int(5000, 0, 10_000_000)
    .describe(
      'Snapshot a namespace (and empty its update log) after this many logged changes since its last snapshot; bounds the log (≈ 3 KB per update at 768 dimensions) and the replay at start-up. 0: by time only',
    ),
  NM_VARIANT: z
    .enum(VARIANTS as [Variant, ...Variant[]])
    .default('NONE')
    .describe(
      'Titans variant of new namespaces: NONE, MAC, MAG or MAL (switchable at run time: POST /config)',
    ),
  NM_MODE: z
    .enum(['associative', 'sequence'])
    .default('sequence')
    .describe(
      "Mode of new namespaces: sequence (writes x_{t-1}→x_t, so surprise says how unexpected x_t was after x_{t-1} and /predict_next works) or associative (update(x) writes x→x; the original trainer-server's behaviour). POST /init can choose per namespace",
    ),
  NM_SEED: env.int(0, 0, 2 ** 31 - 1).describe('Seed of the random initialisation of new namespaces'),
  NM_INPUT_DIM: env.int(768, 1, 16384).describe('Length of input embeddings (d_in)'),
  NM_KEY_DIM: env.int(128, 1, 16384).describe('Length of keys and queries (d_k)'),
  NM_VALUE_DIM: env
    .int(768, 1, 16384)
    .describe('Length of values and of retrieved embeddings (d_v; W_V starts as the identity when = d_in)'),
  NM_HIDDEN_DIMS: hiddenDims.describe(
    'Hidden widths of the memory MLP, comma-separated (e.g. 512 or 512,512; "none" = linear memory)',
  ),
  NM_MAX_NAMESPACES: env
    .int(64, 1, 100000)
    .describe(
      'Namespaces kept in RAM; beyond it the least recently used saved namespace is unloaded (503 if none can be)',
    ),
  NM_TRAIN_MAX_EMBEDDINGS: env
    .int(20000, 1, 10_000_000)
    .describe('Largest number of embeddings one /train_outer call may train on'),
  NM_TRAIN_MAX_BODY_EMBEDDINGS: env
    .int(DEFAULT_TRAIN_MAX_BODY_EMBEDDINGS, 1, 1_000_000)
    .describe(
      'Largest number of embeddings /train_outer accepts in its body (`sequences`); with NM_INPUT_DIM it sets the default MAX_BODY_BYTES (this × (NM_INPUT_DIM × 24 + 2) + 64 KiB). Larger training sets are read from the memory core',
    ),
});

export type NeuralMemoryServiceConfig = z.infer<typeof neuralMemorySchema>;

export function loadNeuralMemoryConfig(source: Env = process.env): NeuralMemoryServiceConfig {
  const config = loadConfig(neuralMemorySchema, source);
  try {
    resolveConfig(modelConfig(config));
  } catch (err) {
    if (AppError.isInstance(err)) throw new ConfigError(`Invalid model configuration: ${err.message}`);
    throw err;
  }
  return config;
}

/** MAX_BODY_BYTES when it is set in `source`, else the largest legitimate body for this configuration. */
export function effectiveBodyLimit(config: NeuralMemoryServiceConfig, source: Env): number {
  const given = source.MAX_BODY_BYTES;
  if (given !== undefined && given.trim() !== '') return config.MAX_BODY_BYTES;
  return bodyLimitFor(config.NM_INPUT_DIM, config.NM_TRAIN_MAX_BODY_EMBEDDINGS);
}

/** The NeuralMemory configuration of a new namespace, from the service configuration. */
export function modelConfig(config: NeuralMemoryServiceConfig): Partial<NeuralMemoryConfig> {
  return {
    inputDim: config.NM_INPUT_DIM,
    keyDim: config.NM_KEY_DIM,
    valueDim: config.NM_VALUE_DIM,
    hiddenDims: config.NM_HIDDEN_DIMS,
    mode: config.NM_MODE,
    variant: config.NM_VARIANT,
    valueInit: config.NM_VALUE_DIM === config.NM_INPUT_DIM ? 'identity' : 'random',
  };
}
