// Configuration of the orchestrator ("context cascade engine"): every variable, its default and its meaning.
import { z } from 'zod';
import { env, loadConfig, type Env, serviceVariables } from '@synthians/kit';

export const VARIANTS = ['NONE', 'MAC', 'MAG', 'MAL'] as const;
export type Variant = (typeof VARIANTS)[number];

const singleUrl = (def: string) =>
  z
    .url()
    .default(def)
    .transform((u) => u.replace(/\/+$/, ''));

export const orchestratorSchema = z.object({
  ...serviceVariables(
    'orchestrator',
    8002,
    4 * 1024 * 1024,
    '; also sent to the memory core and the neural memory',
  ),
  MEMORY_CORE_URL: env
    .urlList('http://127.0.0.1:5010')
    .describe(
      'Memory core URLs, comma-separated: the primary, then standbys (e.g. http://127.0.0.1:5010,http://127.0.0.1:5020 with a standby running). Reads fail over to the standbys; writes need a writable core (else 503 memory_core_unavailable)',
    ),
  NEURAL_MEMORY_URL: singleUrl('http://127.0.0.1:8001').describe(
    'Neural memory (trainer-server) URL; when it is down, memories are still stored and answers say status "degraded"',
  ),
  MEMORY_CORE_TIMEOUT_MS: env
    .int(5000, 50, 600000)
    .describe('Timeout of each request to a memory core (a timed-out core counts as down)'),
  NEURAL_MEMORY_TIMEOUT_MS: env
    .int(5000, 50, 600000)
    .describe('Timeout of each request to the neural memory (a timed-out step counts as failed)'),
  HEALTH_TIMEOUT_MS: env
    .int(1000, 50, 60000)
    .describe('Timeout of the upstream checks of /health and /status'),
  SURPRISE_BOOST_THRESHOLD: env
    .number(0.5, 0, 1)
    .describe(
      'QuickRecal boost mapping: surprises (normalised, in [0, 1]) at or below this give no boost. delta = min(SURPRISE_BOOST_MAX, SURPRISE_BOOST_GAIN · max(0, surprise − threshold))',
    ),
  SURPRISE_BOOST_GAIN: env
    .number(0.4, 0, 10)
    .describe('QuickRecal boost mapping: boost per unit of surprise above the threshold'),
  SURPRISE_BOOST_MAX: env
    .number(0.2, 0, 1)
    .describe('QuickRecal boost mapping: largest boost one memory gets from one cycle'),
  SURPRISE_WINDOW: env
    .int(16, 2, 1024)
    .describe('Recent surprises kept per namespace for the variant policy’s trend and /status'),
  DEFAULT_VARIANT: z
    .enum(VARIANTS)
    .default('MAG')
    .describe(
      'Titans variant of a namespace until the policy picks another: NONE, MAC, MAG or MAL (see the orchestrator README for the policy)',
    ),
  RELATED_TOP_K: env
    .int(5, 0, 100)
    .describe('Related memories returned per cycle (merged from the content and the neural-memory recall)'),
  MAX_NAMESPACES: env
    .int(10000, 1, 1_000_000)
    .describe('Namespaces whose variant and surprise history are kept in RAM (least recently used dropped)'),
  LLM_BASE_URL: env
    .url()
    .describe(
      'Optional OpenAI-compatible server (e.g. http://127.0.0.1:11434/v1) asked for variant advice via /chat/completions; the policy decides when unset or on any failure',
    ),
  LLM_MODEL: env.string('gpt-4o-mini').describe('Model name sent to LLM_BASE_URL'),
  LLM_API_KEY: env.optionalString().describe('API key for LLM_BASE_URL, if the server needs one'),
  LLM_TIMEOUT_MS: env
    .int(2000, 50, 120000)
    .describe('Timeout of one variant-advice request (the policy decides on timeout)'),
});

export type OrchestratorConfig = z.infer<typeof orchestratorSchema>;

export function loadOrchestratorConfig(source: Env = process.env): OrchestratorConfig {
  return loadConfig(orchestratorSchema, source);
}
