// The DreamWorld agent on the kit: dream cycles (on demand and when the assistant is idle), scenario simulation by
// MCTS, and publishing on ZeroMQ (PUB on DREAM_PUB_HOST:DREAM_PUB_PORT, CURVE when configured, no memory text unless
// DREAM_PUB_INCLUDE_TEXT) and the bus, with a durable history.
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { Counter, Histogram } from 'prom-client';
import {
  badRequest,
  conflict,
  createApp,
  notFound,
  type HealthReport,
  type ServiceContext,
  serviceSetup,
  type ServiceDefinition,
  type ServiceInstance,
} from '@synthians/kit';
import { dreamworldSchema, loadDreamworldConfig } from './config.ts';
import { pubSecurity } from './curve.ts';
import { CHANGE_KINDS, Dreamer, type CycleResult } from './dream.ts';
import { History, TOPICS, type Topic } from './history.ts';
import { Publisher } from './publisher.ts';
import { Simulations, type SimulateRequest } from './simulations.ts';
import { Upstream } from './upstream.ts';

export interface DreamworldInstance extends ServiceInstance {
  /** The bound ZeroMQ PUB port (after start). */
  pubPort(): number | undefined;
  dreamer: Dreamer;
}

const quiet = new Set(['/health', '/ready', '/metrics']);

const DreamBody = Type.Object(
  {
    max_memories: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    budget_ms: Type.Optional(Type.Integer({ minimum: 10, maximum: 3_600_000 })),
  },
  { additionalProperties: false },
);

const SimulateBody = Type.Object(
  {
    scenario: Type.Object({}, { additionalProperties: true }),
    iterations: Type.Optional(Type.Integer({ minimum: 1 })),
    time_budget_ms: Type.Optional(Type.Integer({ minimum: 1 })),
    exploration: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 })),
    evaluator: Type.Optional(
      Type.Union([
        Type.Literal('metrics'),
        Type.Literal('preferences'),
        Type.Object({ type: Type.Literal('metrics') }, { additionalProperties: false }),
        Type.Object(
          {
            type: Type.Literal('preferences'),
            user_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
            scale: Type.Optional(Type.Number({ minimum: -1000, maximum: 1000 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
          },
          { additionalProperties: false },
        ),
      ]),
    ),
    async: Type.Optional(Type.Boolean()),
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$' })),
  },
  { additionalProperties: false },
);

const InsightsQuery = Type.Object(
  {
    since: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    topic: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

function parseSince(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms))
    throw badRequest('invalid_since', 'since must be an ISO 8601 date or epoch milliseconds');
  return ms;
}

export async function createDreamworld(context: ServiceContext): Promise<DreamworldInstance> {
  const config = loadDreamworldConfig(context.env);
  const name = 'dreamworld';
  const { logger, host, port, http } = serviceSetup(context, name, config);
  const token = config.SYNTHIANS_API_TOKEN;
  const core = new Upstream('memory_core', config.MEMORY_CORE_URL, {
    token,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
  });
  const nm = new Upstream('neural_memory', config.NEURAL_MEMORY_URL, {
    token,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
  });
  // The PUB socket binds DREAM_PUB_HOST, not the HTTP address: off loopback it needs CURVE (checked here, before
  // anything is opened).
  const dir = join(context.dataDir, 'dreamworld');
  const curve = pubSecurity(config, dir);
  const history = new History(dir);
  const publisher = new Publisher(history, logger, context.bus, {
    includeText: config.DREAM_PUB_INCLUDE_TEXT,
  });
  const startedAt = Date.now();
  let pubPort: number | undefined;

  const app = await createApp({
    ...http,
    service: name,
    logger,
    bodyLimit: config.MAX_BODY_BYTES,
    token,
    description:
      'Synthians DreamWorld: idle-time consolidation of memories (replay, assemblies, associations, decay) and scenario simulation (MCTS); publishes insights on ZeroMQ.',
    health: async (): Promise<HealthReport> => {
      const [c, n] = await Promise.all([
        core.check(config.HEALTH_TIMEOUT_MS),
        nm.check(config.HEALTH_TIMEOUT_MS),
      ]);
      const pub = {
        status: publisher.bound ? ('healthy' as const) : ('unhealthy' as const),
        endpoint: publisher.endpoint ?? null,
        security: publisher.security,
      };
      const status =
        pub.status !== 'healthy'
          ? 'unhealthy'
          : c.status !== 'healthy' || n.status !== 'healthy'
            ? 'degraded'
            : 'healthy';
      return {
        status,
        checks: { memory_core: c, neural_memory: n, pub_socket: pub },
        uptime_s: Math.round((Date.now() - startedAt) / 1000),
      };
    },
  });

  const registers = [app.metricsRegistry];
  const cycles = new Counter({
    name: 'dreamworld_cycles_total',
    help: 'Dream cycles by trigger and status',
    labelNames: ['trigger', 'status'],
    registers,
  });
  const changes = new Counter({
    name: 'dreamworld_changes_total',
    help: 'Dream-cycle changes by kind',
    labelNames: ['kind'],
    registers,
  });
  const cycleSeconds = new Histogram({
    name: 'dreamworld_cycle_duration_seconds',
    help: 'Dream cycle duration',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers,
  });
  const simulations = new Counter({
    name: 'dreamworld_simulations_total',
    help: 'Simulations by how they stopped',
    labelNames: ['stopped_by'],
    registers,
  });
  const iterations = new Counter({
    name: 'dreamworld_simulation_iterations_total',
    help: 'MCTS iterations run',
    registers,
  });
  for (const kind of CHANGE_KINDS) changes.inc({ kind }, 0);

  const dreamer = new Dreamer({
    core,
    nm,
    config,
    publisher,
    logger,
    onCycle: (r: CycleResult) => {
      cycles.inc({ trigger: r.trigger, status: r.status });
      cycleSeconds.observe(r.duration_ms / 1000);
      for (const kind of CHANGE_KINDS) if (r.counts[kind] > 0) changes.inc({ kind }, r.counts[kind]);
    },
  });
  const sims = new Simulations({
    core,
    config,
    publisher,
    onResult: (r) => {
      simulations.inc({ stopped_by: r.stopped_by });
      iterations.inc(r.iterations_run);
    },
  });

  // Idleness: a timer re-armed by every activity; when it fires, one idle cycle runs (then it waits for activity).
  let idleTimer: NodeJS.Timeout | undefined;
  let lastActivity = Date.now();
  let closed = false;
  const arm = () => {
    if (config.DREAM_IDLE_MS <= 0 || closed) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (dreamer.current) return arm();
      dreamer
        .dream({ trigger: 'idle' })
        .catch((err: unknown) => logger.warn({ err }, 'idle dream cycle failed'));
    }, config.DREAM_IDLE_MS);
    idleTimer.unref();
  };
  const activity = () => {
    lastActivity = Date.now();
    arm();
  };
  app.addHook('onRequest', async (request) => {
    if (!quiet.has(request.url.split('?')[0] ?? '')) activity();
  });
  const unsubscribe = config.DREAM_ACTIVITY_SUBJECTS.map((s) => context.bus?.subscribe(s, () => activity()));

  app.post(
    '/v1/activity',
    { schema: { tags: ['dreams'], summary: 'Report user activity (postpones idle dreaming)' } },
    async () => ({
      ok: true,
      idle_ms: config.DREAM_IDLE_MS,
    }),
  );

  app.get(
    '/v1/status',
    {
      schema: {
        tags: ['dreams'],
        summary: 'Running cycle, idleness, the PUB socket (endpoint, security, CURVE server public key)',
      },
    },
    async () => ({
      dream_in_progress: dreamer.current ?? null,
      last_activity: new Date(lastActivity).toISOString(),
      idle_ms: config.DREAM_IDLE_MS,
      pub_endpoint: publisher.endpoint ?? null,
      pub_port: pubPort ?? null,
      pub_security: publisher.security,
      // What a subscriber needs to connect with CURVE (behind the API token when one is set, unlike /health).
      pub_curve_server_key: publisher.curvePublicKey ?? null,
      pub_clients: curve ? (curve.clientKeys.length > 0 ? 'listed' : 'any_with_server_key') : 'any_local',
      pub_include_text: config.DREAM_PUB_INCLUDE_TEXT,
      topics: TOPICS,
    }),
  );

  app.post(
    '/v1/dream',
    { schema: { tags: ['dreams'], summary: 'Run a dream cycle now; answers when it ends', body: DreamBody } },
    async (req) => {
      const b = (req.body ?? {}) as { max_memories?: number; budget_ms?: number };
      return dreamer.dream({ maxMemories: b.max_memories, budgetMs: b.budget_ms, trigger: 'manual' });
    },
  );

  app.post(
    '/v1/dream/cancel',
    { schema: { tags: ['dreams'], summary: 'Cancel the running dream cycle' } },
    async () => {
      const id = dreamer.cancel();
      if (!id) throw conflict('no_dream_in_progress', 'No dream cycle is running');
      return { cancelled: true, cycle_id: id };
    },
  );

  app.get(
    '/v1/dreams/:cycle_id',
    {
      schema: {
        tags: ['dreams'],
        summary: 'A past dream cycle with its changes',
        params: Type.Object({ cycle_id: Type.String({ minLength: 1, maxLength: 128 }) }),
      },
    },
    async (req) => {
      const { cycle_id } = req.params as { cycle_id: string };
      const cycle = history.cycle(cycle_id);
      if (!cycle) throw notFound(`No dream cycle with id ${cycle_id}`, { cycle_id });
      return cycle;
    },
  );

  app.get(
    '/v1/insights',
    { schema: { tags: ['dreams'], summary: 'Published events, oldest first', querystring: InsightsQuery } },
    async (req) => {
      const q = req.query as { since?: string; limit: number; topic?: string };
      if (q.topic !== undefined && !TOPICS.includes(q.topic as Topic))
        throw badRequest('invalid_topic', `topic must be one of ${TOPICS.join(', ')}`);
      const items = history.events({
        sinceMs: parseSince(q.since),
        limit: q.limit,
        topic: q.topic as Topic | undefined,
      });
      return { items, next_since: items.length > 0 ? items[items.length - 1]!.at : (q.since ?? null) };
    },
  );

  app.post(
    '/v1/simulate',
    {
      schema: {
        tags: ['simulation'],
        summary: 'Monte Carlo tree search over a scenario',
        body: SimulateBody,
      },
    },
    async (req, reply) => {
      const body = req.body as SimulateRequest;
      const { id, done } = await sims.start(body);
      if (body.async) {
        done.catch((err: unknown) => logger.warn({ err }, 'simulation failed'));
        reply.code(202);
        return { simulation_id: id, status: 'running' };
      }
      return done;
    },
  );

  app.get(
    '/v1/simulations/:id',
    {
      schema: {
        tags: ['simulation'],
        summary: 'A simulation: running, or its result',
        params: Type.Object({ id: Type.String() }),
      },
    },
    async (req) => sims.get((req.params as { id: string }).id),
  );

  app.delete(
    '/v1/simulations/:id',
    {
      schema: {
        tags: ['simulation'],
        summary: 'Cancel a running simulation',
        params: Type.Object({ id: Type.String() }),
      },
    },
    async (req) => sims.cancel((req.params as { id: string }).id),
  );

  return {
    name,
    app,
    host,
    port,
    dreamer,
    pubPort: () => pubPort,
    async start() {
      pubPort = await publisher.bind(config.DREAM_PUB_HOST, config.DREAM_PUB_PORT, curve);
      logger.info(
        {
          endpoint: publisher.endpoint,
          security: publisher.security,
          ...(curve
            ? {
                curve_server_key: curve.publicKey,
                curve_key_from: curve.source,
                curve_clients: curve.clientKeys.length > 0 ? curve.clientKeys.length : 'any',
              }
            : {}),
          include_text: config.DREAM_PUB_INCLUDE_TEXT,
        },
        'zeromq publisher bound',
      );
      arm();
    },
    async close() {
      closed = true;
      clearTimeout(idleTimer);
      for (const u of unsubscribe) u?.();
      dreamer.cancel();
      await dreamer.idle();
      await sims.close();
      await publisher.close();
      history.close();
    },
  };
}

export const dreamworldService: ServiceDefinition = {
  name: 'dreamworld',
  port: 'dreamworld',
  description:
    'DreamWorld: idle-time consolidation (replay through the neural memory, assembly proposals, associations, QuickRecal decay) and MCTS scenario simulation; publishes on ZeroMQ PUB',
  config: dreamworldSchema,
  create: createDreamworld,
};
