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

export const neuralMemorySchema = z.object({
  ...serviceVariables(
    'neural-memory',
    8001,
    64 * 1024 * 1024,
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
    .describe('Save every changed namespace this often (0 disables; state is always saved at shutdown)'),
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
