// Configuration of the DreamWorld agent: every variable, its default and its meaning.
import { z } from 'zod';
import { env, loadConfig, ports, serviceVariables, type Env } from '@synthians/kit';
import { isCurveKey } from './curve.ts';

const singleUrl = (def: string) =>
  z
    .url()
    .default(def)
    .transform((u) => u.replace(/\/+$/, ''));

const curveKey = () => z.string().refine(isCurveKey, { message: 'not a CURVE key (40 characters of Z85)' });

export const dreamworldSchema = z.object({
  ...serviceVariables(
    'dreamworld',
    ports.dreamworld,
    1024 * 1024,
    '; also sent to the memory core and the neural memory',
  ),
  MEMORY_CORE_URL: singleUrl('http://127.0.0.1:5010').describe(
    'Memory core URL (memories, assemblies, boosts)',
  ),
  NEURAL_MEMORY_URL: singleUrl('http://127.0.0.1:8001').describe(
    'Neural memory (trainer-server) URL: consolidation replays memory sequences through its /update_memory',
  ),
  UPSTREAM_TIMEOUT_MS: env
    .int(5000, 50, 600000)
    .describe('Timeout of each request to the memory core or the neural memory'),
  HEALTH_TIMEOUT_MS: env.int(1000, 50, 60000).describe('Timeout of the upstream checks of /health'),
  DREAM_PUB_PORT: env
    .port(ports['dreamworld-pub'])
    .describe(
      'ZeroMQ PUB port (bound on DREAM_PUB_HOST) for dream.insight, dream.cycle and dream.simulation; 0 = any free port',
    ),
  DREAM_PUB_HOST: env
    .host()
    .describe(
      'Address the ZeroMQ PUB socket binds (not HOST); anything but loopback requires CURVE (DREAM_PUB_CURVE=true or DREAM_PUB_CURVE_SECRET_KEY)',
    ),
  DREAM_PUB_CURVE: env
    .bool(false)
    .describe(
      'Encrypt the PUB socket with ZeroMQ CURVE; subscribers need the server public key (logged at start-up, in GET /v1/status). The secret key is DREAM_PUB_CURVE_SECRET_KEY, else <data dir>/dreamworld/pub-curve.key (generated once, mode 0600)',
    ),
  DREAM_PUB_CURVE_SECRET_KEY: curveKey()
    .optional()
    .describe(
      'The PUB socket’s CURVE server secret key (40 characters of Z85, e.g. from zmq.curveKeyPair()); setting it turns CURVE on',
    ),
  DREAM_PUB_CURVE_CLIENT_KEYS: env
    .list('')
    .pipe(z.array(curveKey()))
    .describe(
      'CURVE public keys (Z85, comma-separated) of the only subscribers allowed to connect (checked by a ZAP handler); setting them turns CURVE on; unset: any client that knows the server public key',
    ),
  DREAM_PUB_INCLUDE_TEXT: env
    .bool(false)
    .describe(
      'Publish memory text on the PUB socket (insight memory content, preference statements); false: ids, scores, kinds and times only (the bus and GET /v1/insights keep the text)',
    ),
  DREAM_IDLE_MS: env
    .int(15 * 60_000, 0)
    .describe(
      'Run a dream cycle after this long without activity (a request to the API other than /health, /ready and /metrics, POST /v1/activity, or a bus message on DREAM_ACTIVITY_SUBJECTS); once per idle period; 0 = only on demand',
    ),
  DREAM_ACTIVITY_SUBJECTS: env
    .list('assistant.turns.>,assistant.activity')
    .describe('Bus subjects (comma-separated, NATS wildcards) whose messages count as activity'),
  DREAM_STALE_DAYS: env
    .number(30, 0)
    .describe(
      'A memory is stale when its last access (else its event time, else its creation) is this many days old',
    ),
  DREAM_DECAY: env
    .number(0.1, 0, 1)
    .describe(
      'Fraction of a stale memory’s stored QuickRecal removed per cycle (boost delta = −DREAM_DECAY·score, reason "dream_decay")',
    ),
  DREAM_MAX_MEMORIES: env
    .int(1000, 1, 100000)
    .describe('Default of max_memories: the most recently stored memories a cycle reads'),
  DREAM_BUDGET_MS: env
    .int(60_000, 10, 3_600_000)
    .describe('Default of budget_ms: a cycle stops (status budget_exhausted) past this'),
  DREAM_REPLAY_PASSES: env
    .int(2, 1, 20)
    .describe('Consolidation: passes over each session’s sequence through the neural memory'),
  DREAM_SEQUENCE_MAX: env
    .int(64, 2, 10000)
    .describe('Consolidation: longest replayed sequence (the most recent memories of a session)'),
  DREAM_MERGE_SIMILARITY: env
    .number(0.9, 0, 1)
    .describe('Assemblies whose composites have at least this cosine are proposed for a merge'),
  DREAM_SPLIT_SIMILARITY: env
    .number(0.9, 0, 1)
    .describe(
      'An assembly whose members form two 2-means clusters with centroids below this cosine is proposed for a split',
    ),
  DREAM_ASSOCIATION_SIMILARITY: env
    .number(0.8, 0, 1)
    .describe(
      'Surprising associations: the least cosine between two memories of different sessions or far apart in time',
    ),
  DREAM_ASSOCIATION_GAP_HOURS: env
    .number(24, 0)
    .describe(
      'Surprising associations: memories of one session count as far apart at this many hours between their event times',
    ),
  DREAM_MAX_INSIGHTS: env
    .int(20, 0, 1000)
    .describe('Most new association insights per cycle (the most similar first)'),
  SIM_MAX_ITERATIONS: env.int(1_000_000, 1).describe('Largest `iterations` a simulation may ask for'),
  SIM_MAX_TIME_MS: env.int(60_000, 1).describe('Largest `time_budget_ms` a simulation may ask for'),
  SIM_DEFAULT_ITERATIONS: env.int(5000, 1).describe('Iterations of a simulation that gives none'),
  SIM_DEFAULT_TIME_MS: env.int(2000, 1).describe('Time budget of a simulation that gives none'),
});

export type DreamworldConfig = z.infer<typeof dreamworldSchema>;

export function loadDreamworldConfig(source: Env = process.env): DreamworldConfig {
  return loadConfig(dreamworldSchema, source);
}
