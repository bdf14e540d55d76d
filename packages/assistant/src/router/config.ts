// Configuration of the task router: every variable, its default and its meaning, and the route table.
//
// The default route table (each task type → one target; `ROUTER_ROUTES` overrides any entry):
//
// | task type       | target                                                   | timeout | idempotent (retried) |
// |-----------------|----------------------------------------------------------|---------|----------------------|
// | memory.store    | orchestrator    POST {ORCHESTRATOR_URL}/process_memory   | 15 s    | no  (creates a memory) |
// | memory.search   | memory core     POST {MEMORY_CORE_URL}/v1/search         | 5 s     | yes |
// | memory.get      | memory core     GET  {MEMORY_CORE_URL}/v1/memories/{id}  | 5 s     | yes |
// | memory.delete   | memory core     DELETE {MEMORY_CORE_URL}/v1/memories/{id}| 5 s     | yes (DELETE is idempotent; a repeat may say 404) |
// | embed           | memory core     POST {MEMORY_CORE_URL}/generate_embedding| 10 s    | yes |
// | llm             | POST {LLM_BASE_URL}/chat/completions when LLM_BASE_URL is set, else in-process | 60 s | yes (no side effects) |
// | stt             | in-process (registered by the coordinator)               | 30 s    | yes |
// | tts             | in-process (registered by the coordinator)               | 30 s    | yes |
// | skill           | in-process (registered by the coordinator)               | 10 s    | no  (skills act on the world) |
// | pc2.*           | PC2 worker      POST {PC2_URL}/v1/tasks/{type}           | 30 s    | no  |
//
// An in-process route with no handler registered answers 503 `handler_unavailable`; an HTTP target that refuses
// connections (e.g. the PC2 worker, which does not exist yet) answers 503 `target_unavailable`.
//
// URL templates: `{name}` in a target URL is replaced by the payload's field `name` (a string or number,
// URL-encoded; the field is then left out of the forwarded body), `{type}` by the task type. POST/PUT/PATCH
// forward the (rest of the) payload as the JSON body; GET/DELETE send its scalar fields as the query string.
//
// ROUTER_ROUTES is a JSON object: task type (or `prefix.*`) → partial route, merged over the default, or null to
// remove it. Fields: url (makes it an HTTP route), method, timeoutMs, idempotent, retries, queueSize, concurrency,
// inProcess (true: an in-process route), sendToken (send SYNTHIANS_API_TOKEN; default true). Example:
//   ROUTER_ROUTES='{"llm":{"timeoutMs":120000},"memory.search":{"retries":1},"pc2.*":null,
//                   "weather":{"url":"http://127.0.0.1:7000/weather","idempotent":true}}'
import { z } from 'zod';
import { ConfigError, env, loadConfig, ports, serviceVariables, type Env } from '@synthians/kit';

const local = (name: keyof typeof ports) => `http://127.0.0.1:${ports[name]}`;

const singleUrl = (def: string) =>
  z
    .url()
    .refine((u) => /^https?:\/\//.test(u), 'not an http(s) URL')
    .default(def)
    .transform((u) => u.replace(/\/+$/, ''));

export const taskRouterSchema = z.object({
  ...serviceVariables(
    'task-router',
    ports['task-router'],
    4 * 1024 * 1024,
    '; also sent to the HTTP targets (but the LLM server)',
  ),
  MEMORY_CORE_URL: env
    .urlList(local('memory-core'))
    .describe(
      'Memory core URL for memory.search, memory.get, memory.delete and embed (of a comma-separated list, the first: the primary)',
    ),
  ORCHESTRATOR_URL: singleUrl(local('orchestrator')).describe(
    'Orchestrator URL for memory.store (POST /process_memory)',
  ),
  PC2_URL: singleUrl(local('pc2')).describe(
    'PC2 worker URL for pc2.* tasks (POST /v1/tasks/{type}); while it does not run, pc2.* answers 503',
  ),
  LLM_BASE_URL: env
    .url()
    .describe(
      'OpenAI-compatible server for llm tasks (POST /chat/completions); unset: llm is an in-process route the coordinator registers',
    ),
  LLM_API_KEY: env.optionalString().describe('Bearer key for LLM_BASE_URL, if the server needs one'),
  ROUTER_RETRIES: env
    .int(2, 0, 10)
    .describe('Retries after a failure (network error, timeout, 5xx), for idempotent routes only'),
  ROUTER_BACKOFF_MS: env
    .int(100, 1, 60_000)
    .describe(
      'First retry delay; doubles per retry, with jitter (each delay is 50–100 % of the nominal one)',
    ),
  ROUTER_BACKOFF_MAX_MS: env.int(2000, 1, 600_000).describe('Largest nominal retry delay'),
  ROUTER_BREAKER_FAILURES: env
    .int(5, 1, 1000)
    .describe('Consecutive failures of a route that open its circuit breaker (then 503 circuit_open)'),
  ROUTER_BREAKER_COOLDOWN_MS: env
    .int(10_000, 10, 3_600_000)
    .describe('Time an open breaker refuses tasks before it lets one probe through (half-open)'),
  ROUTER_QUEUE_SIZE: env
    .int(100, 0, 100_000)
    .describe('Tasks that may wait per route when all its slots are busy (beyond: 429 queue_full)'),
  ROUTER_CONCURRENCY: env.int(8, 1, 10_000).describe('Tasks running at once per route'),
  ROUTER_QUEUE_WAIT_MS: env
    .int(10_000, 1, 600_000)
    .describe(
      'Longest wait in a queue for a task without timeout_ms (beyond: 504 queue_timeout); with timeout_ms the whole task must finish within it',
    ),
  ROUTER_IDEMPOTENCY_TTL_MS: env
    .int(300_000, 0, 86_400_000)
    .describe(
      'How long a successful result is replayed for a repeated idempotency_key (0: keys only join tasks in flight)',
    ),
  ROUTER_ROUTES: env
    .optionalString()
    .describe(
      'JSON overrides of the route table: {"<type or prefix.*>": {url, method, timeoutMs, idempotent, retries, queueSize, concurrency, inProcess, sendToken} | null}',
    ),
});

export type TaskRouterConfig = z.infer<typeof taskRouterSchema>;

export function loadTaskRouterConfig(source: Env = process.env): TaskRouterConfig {
  return loadConfig(taskRouterSchema, source);
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpTarget {
  kind: 'http';
  /** May contain `{field}` placeholders (from the payload) and `{type}`. */
  url: string;
  method: HttpMethod;
  /** Bearer token sent to the target. */
  token?: string | undefined;
}

export interface InProcessTarget {
  kind: 'in-process';
}

/** One entry of the route table. */
export interface RouteSpec {
  /** A task type (`memory.search`) or a prefix pattern (`pc2.*`). */
  pattern: string;
  target: HttpTarget | InProcessTarget;
  /** Timeout of each attempt. */
  timeoutMs: number;
  /** Whether a failed attempt may be repeated (retries happen only then). */
  idempotent: boolean;
  /** Per-route overrides of the router defaults. */
  retries?: number | undefined;
  queueSize?: number | undefined;
  concurrency?: number | undefined;
}

export const TYPE_PATTERN = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/;
const ROUTE_PATTERN = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*(\.\*)?$/;

const overrideSchema = z
  .object({
    url: z
      .string()
      .refine((u) => /^https?:\/\/[^\s]+$/.test(u), 'not an http(s) URL')
      .optional(),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).optional(),
    timeoutMs: z.number().int().min(1).max(600_000).optional(),
    idempotent: z.boolean().optional(),
    retries: z.number().int().min(0).max(10).optional(),
    queueSize: z.number().int().min(0).max(100_000).optional(),
    concurrency: z.number().int().min(1).max(10_000).optional(),
    inProcess: z.boolean().optional(),
    sendToken: z.boolean().optional(),
  })
  .strict()
  .nullable();

const overridesSchema = z.record(
  z.string().regex(ROUTE_PATTERN, 'route keys are task types or prefix.* patterns'),
  overrideSchema,
);

/** The route table: the defaults above, with ROUTER_ROUTES applied. */
export function buildRouteTable(config: TaskRouterConfig): RouteSpec[] {
  const token = config.SYNTHIANS_API_TOKEN;
  const core = config.MEMORY_CORE_URL[0]!;
  const http = (url: string, method: HttpMethod = 'POST', t: string | undefined = token): HttpTarget => ({
    kind: 'http',
    url,
    method,
    token: t,
  });
  const inProcess: InProcessTarget = { kind: 'in-process' };
  const llmUrl = config.LLM_BASE_URL?.replace(/\/+$/, '');
  const table: RouteSpec[] = [
    {
      pattern: 'memory.store',
      target: http(`${config.ORCHESTRATOR_URL}/process_memory`),
      timeoutMs: 15_000,
      idempotent: false,
    },
    {
      pattern: 'memory.search',
      target: http(`${core}/v1/search`),
      timeoutMs: 5_000,
      idempotent: true,
    },
    {
      pattern: 'memory.get',
      target: http(`${core}/v1/memories/{id}`, 'GET'),
      timeoutMs: 5_000,
      idempotent: true,
    },
    {
      pattern: 'memory.delete',
      target: http(`${core}/v1/memories/{id}`, 'DELETE'),
      timeoutMs: 5_000,
      idempotent: true,
    },
    {
      pattern: 'embed',
      target: http(`${core}/generate_embedding`),
      timeoutMs: 10_000,
      idempotent: true,
    },
    {
      pattern: 'llm',
      target: llmUrl ? http(`${llmUrl}/chat/completions`, 'POST', config.LLM_API_KEY) : inProcess,
      timeoutMs: 60_000,
      idempotent: true,
    },
    { pattern: 'stt', target: inProcess, timeoutMs: 30_000, idempotent: true },
    { pattern: 'tts', target: inProcess, timeoutMs: 30_000, idempotent: true },
    { pattern: 'skill', target: inProcess, timeoutMs: 10_000, idempotent: false },
    {
      pattern: 'pc2.*',
      target: http(`${config.PC2_URL}/v1/tasks/{type}`),
      timeoutMs: 30_000,
      idempotent: false,
    },
  ];
  if (!config.ROUTER_ROUTES) return table;
  return applyOverrides(table, parseOverrides(config.ROUTER_ROUTES), token);
}

function parseOverrides(text: string): z.infer<typeof overridesSchema> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw routesError(`not JSON: ${(err as Error).message}`);
  }
  const parsed = overridesSchema.safeParse(json);
  if (!parsed.success) {
    throw routesError(
      parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; '),
    );
  }
  return parsed.data;
}

function applyOverrides(
  table: RouteSpec[],
  overrides: z.infer<typeof overridesSchema>,
  token: string | undefined,
): RouteSpec[] {
  const byPattern = new Map(table.map((r) => [r.pattern, r]));
  for (const [pattern, o] of Object.entries(overrides)) {
    if (o === null) {
      byPattern.delete(pattern);
      continue;
    }
    const base = byPattern.get(pattern);
    if (o.url !== undefined && o.inProcess)
      throw routesError(`${pattern}: url and inProcess exclude each other`);
    let target: HttpTarget | InProcessTarget;
    if (o.inProcess) target = { kind: 'in-process' };
    else if (o.url !== undefined)
      target = {
        kind: 'http',
        url: o.url.replace(/\/+$/, ''),
        method: o.method ?? (base?.target.kind === 'http' ? base.target.method : 'POST'),
        token: o.sendToken === false ? undefined : token,
      };
    else if (base) {
      target = base.target;
      if (target.kind === 'http') {
        target = { ...target };
        if (o.method) target.method = o.method;
        if (o.sendToken === false) target.token = undefined;
      } else if (o.method) throw routesError(`${pattern}: method needs an HTTP route (url)`);
    } else throw routesError(`${pattern}: a new route needs url or inProcess`);
    byPattern.set(pattern, {
      pattern,
      target,
      timeoutMs: o.timeoutMs ?? base?.timeoutMs ?? 10_000,
      idempotent: o.idempotent ?? base?.idempotent ?? false,
      retries: o.retries ?? base?.retries,
      queueSize: o.queueSize ?? base?.queueSize,
      concurrency: o.concurrency ?? base?.concurrency,
    });
  }
  return [...byPattern.values()];
}

function routesError(message: string): ConfigError {
  return new ConfigError(`Invalid configuration: ROUTER_ROUTES: ${message}`, [
    { variable: 'ROUTER_ROUTES', message },
  ]);
}
