// The two services over the session database: the session memory agent (5574: sessions, interactions, context,
// agent state, profiles) and the memory orchestrator (5576: sessions plus short-term memories, search, bulk
// delete, summaries). Both open the same database; in one process they share one PGlite instance.
import {
  createApp,
  type HealthReport,
  type Logger,
  type ServiceContext,
  serviceSetup,
  type ServiceDefinition,
  type ServiceInstance,
} from '@synthians/kit';
import { Counter } from 'prom-client';
import { registerAgentRoutes, registerMemoryRoutes, registerSessionRoutes } from './api.ts';
import {
  loadMemoryOrchestratorConfig,
  loadSessionMemoryConfig,
  memoryOrchestratorSchema,
  sessionMemorySchema,
  type SessionMemoryConfig,
} from './config.ts';
import { openDb, redactUrl, waitForPostgres, type Db } from './db.ts';
import { defaultDbPath, migrate, migrationStatus } from './migrations.ts';
import { SessionStore } from './store.ts';

type Kind = 'session-memory' | 'memory-orchestrator';

/** Opens (waiting for PostgreSQL when configured), migrates or checks the schema. */
export async function openConfiguredDb(
  config: SessionMemoryConfig,
  dataDir: string,
  logger: Logger,
): Promise<Db> {
  if (config.DATABASE_URL) {
    await waitForPostgres(config.DATABASE_URL, {
      waitMs: config.DATABASE_WAIT_MS,
      onRetry: (attempt, delayMs, error) =>
        logger.warn({ attempt, delayMs, error: error.message }, 'PostgreSQL not reachable yet; retrying'),
    });
  }
  const db = await openDb({
    databaseUrl: config.DATABASE_URL,
    path: config.SESSION_DB_PATH ?? defaultDbPath(dataDir),
    schema: config.DATABASE_SCHEMA,
    poolSize: config.DATABASE_POOL_SIZE,
  });
  try {
    if (config.MIGRATE_ON_START) {
      await migrate(db, { logger });
    } else {
      const status = await migrationStatus(db);
      if (status.pending.length > 0) {
        throw new Error(
          `The session database is at migration '${status.current || 'none'}' with ${status.pending.length} pending ` +
            `(${status.pending.join(', ')}); run \`synthians db migrate\` or set MIGRATE_ON_START=true`,
        );
      }
    }
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

async function createSessionService(kind: Kind, context: ServiceContext): Promise<ServiceInstance> {
  const config =
    kind === 'memory-orchestrator'
      ? loadMemoryOrchestratorConfig(context.env)
      : loadSessionMemoryConfig(context.env);
  const memoryTtl = 'MEMORY_TTL_SECONDS' in config ? Number(config.MEMORY_TTL_SECONDS) : 0;
  // The URL may carry a password: the debug line of the configuration shows it redacted.
  const { logger, host, port, http } = serviceSetup(context, kind, {
    ...config,
    DATABASE_URL: redactUrl(config.DATABASE_URL),
  } as typeof config);
  const db = await openConfiguredDb(config, context.dataDir, logger);
  logger.info(
    {
      backend: db.kind,
      database:
        db.kind === 'postgres'
          ? redactUrl(config.DATABASE_URL)
          : (config.SESSION_DB_PATH ?? defaultDbPath(context.dataDir)),
      schema: db.schema,
    },
    'session database ready',
  );
  const store = new SessionStore(db, {
    sessionTtlSeconds: config.SESSION_TTL_SECONDS,
    memoryTtlSeconds: memoryTtl > 0 ? memoryTtl : null,
    maxContentBytes: config.MAX_CONTENT_BYTES,
  });
  const startedAt = Date.now();
  let lastSweep: { at: string; error?: string } | undefined;

  const app = await createApp({
    ...http,
    service: kind,
    logger,
    bodyLimit: config.MAX_BODY_BYTES,
    token: config.SYNTHIANS_API_TOKEN,
    description:
      kind === 'memory-orchestrator'
        ? 'Synthians memory orchestrator: short-term memories with full-text search, sessions, summaries and TTL expiry.'
        : 'Synthians session memory agent: sessions, interactions, token-budgeted context, agent state and profiles.',
    health: async (): Promise<HealthReport> => {
      const t0 = performance.now();
      try {
        await db.query('SELECT 1');
        return {
          status: 'healthy',
          checks: {
            database: {
              status: 'healthy',
              backend: db.kind,
              ms: Math.round((performance.now() - t0) * 10) / 10,
            },
          },
          uptime_s: Math.round((Date.now() - startedAt) / 1000),
          last_sweep: lastSweep,
        };
      } catch (err) {
        return {
          status: 'unhealthy',
          checks: { database: { status: 'unhealthy', backend: db.kind, error: (err as Error).message } },
        };
      }
    },
  });
  const sweeps = new Counter({
    name: 'session_memory_expired_total',
    help: 'Records expired by the background sweep',
    labelNames: ['kind'],
    registers: [app.metricsRegistry],
  });
  const options = { store, maxContent: config.MAX_CONTENT_BYTES };
  registerSessionRoutes(app, options);
  if (kind === 'memory-orchestrator') registerMemoryRoutes(app, options);
  else registerAgentRoutes(app, options);

  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;
  const sweep = async () => {
    try {
      const result = await store.sweep();
      sweeps.inc({ kind: 'session' }, result.sessions_expired);
      sweeps.inc({ kind: 'memory' }, result.memories_expired);
      sweeps.inc({ kind: 'agent_state' }, result.agent_state_expired);
      lastSweep = { at: new Date().toISOString() };
      if (result.sessions_expired + result.memories_expired > 0) logger.debug(result, 'expiry sweep');
    } catch (err) {
      lastSweep = { at: new Date().toISOString(), error: (err as Error).message };
      logger.warn({ err }, 'expiry sweep failed');
    }
  };

  return {
    name: kind,
    app,
    host,
    port,
    async start() {
      if (config.EXPIRY_INTERVAL_MS > 0) {
        timer = setInterval(() => {
          if (!sweeping) sweeping = sweep().finally(() => (sweeping = undefined));
        }, config.EXPIRY_INTERVAL_MS);
        timer.unref();
      }
    },
    async close() {
      if (timer) clearInterval(timer);
      await sweeping;
      await db.close();
    },
  };
}

export const sessionMemoryService: ServiceDefinition = {
  name: 'session-memory',
  port: 'session-memory',
  description:
    'Session memory agent: sessions and interactions on PostgreSQL (or in-process PGlite), token-budgeted context, idle expiry, agent state, profiles',
  config: sessionMemorySchema,
  create: (context) => createSessionService('session-memory', context),
};

export const memoryOrchestratorService: ServiceDefinition = {
  name: 'memory-orchestrator',
  port: 'memory-orchestrator',
  description:
    'Memory orchestrator: short-term memories with full-text search, batch reads, bulk delete, relationships, session summaries, TTL expiry',
  config: memoryOrchestratorSchema,
  create: (context) => createSessionService('memory-orchestrator', context),
};
