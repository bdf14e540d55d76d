// The memory reasoning agent on the kit: summaries, contradictions, error patterns, the user profile and context
// assembly over the memory core (HTTP) and session memory (PostgreSQL or in-process PGlite).
import {
  createApp,
  type HealthReport,
  type ServiceContext,
  serviceSetup,
  type ServiceDefinition,
  type ServiceInstance,
} from '@synthians/kit';
import {
  defaultDbPath,
  loadSessionMemoryConfig,
  openConfiguredDb,
  redactUrl,
  SessionStore,
} from '@synthians/session-memory';
import { registerApi } from './api.ts';
import { loadMemoryReasoningConfig, memoryReasoningSchema } from './config.ts';
import { MemoryCoreClient } from './core-client.ts';
import { ErrorPatternStore } from './error-patterns.ts';
import { ProfileStore } from './profile-store.ts';

export const memoryReasoningService: ServiceDefinition = {
  name: 'memory-reasoning',
  port: 'memory-reasoning',
  description:
    'Memory reasoning agent: session summaries with citations, contradictions between memories, error-pattern memory, the user profile (digital twin) and token-budgeted context assembly',
  config: memoryReasoningSchema,
  async create(context: ServiceContext): Promise<ServiceInstance> {
    const config = loadMemoryReasoningConfig(context.env);
    const name = 'memory-reasoning';
    const { logger, host, port, http } = serviceSetup(context, name, config);
    // The same variables, read the way the session-memory services read them (one PGlite instance per process).
    const db = await openConfiguredDb(loadSessionMemoryConfig(context.env), context.dataDir, logger);
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
    // Profiles are one JSON value per user: allow them to grow past the interaction limit.
    const sessions = new SessionStore(db, { maxContentBytes: 1 << 20 });
    const core = new MemoryCoreClient(config.MEMORY_CORE_URL, {
      token: config.SYNTHIANS_API_TOKEN,
      timeoutMs: config.MEMORY_CORE_TIMEOUT_MS,
    });
    const patterns = new ErrorPatternStore(sessions, {
      maxPatterns: config.ERROR_PATTERNS_MAX,
      matchInputChars: config.ERROR_MATCH_CHARS,
    });
    const profiles = new ProfileStore(sessions);
    const startedAt = Date.now();
    let app;
    try {
      app = await createApp({
        ...http,
        service: name,
        logger,
        bodyLimit: config.MAX_BODY_BYTES,
        token: config.SYNTHIANS_API_TOKEN,
        description:
          'Synthians memory reasoning agent: extractive session summaries citing memories, contradiction detection, error-pattern memory, user profile facts with provenance, and context assembly within a token budget.',
        health: async (): Promise<HealthReport> => {
          const t0 = performance.now();
          const [memoryCore, database] = await Promise.all([
            core.health(config.HEALTH_TIMEOUT_MS),
            db.query('SELECT 1').then(
              () => ({
                status: 'healthy' as const,
                backend: db.kind,
                ms: Math.round(performance.now() - t0),
              }),
              (err: Error) => ({ status: 'unhealthy' as const, backend: db.kind, error: err.message }),
            ),
          ]);
          return {
            status:
              database.status === 'unhealthy'
                ? 'unhealthy'
                : memoryCore.status === 'healthy'
                  ? 'healthy'
                  : 'degraded',
            checks: { memory_core: memoryCore, session_db: database },
            uptime_s: Math.round((Date.now() - startedAt) / 1000),
          };
        },
      });
      registerApi(app, {
        core,
        sessions,
        patterns,
        profiles,
        maxScanMemories: config.MAX_SCAN_MEMORIES,
        contextMemories: config.CONTEXT_MEMORIES,
        contextTurns: config.CONTEXT_TURNS,
      });
    } catch (err) {
      await db.close();
      throw err;
    }
    return {
      name,
      app,
      host,
      port,
      async close() {
        await db.close();
      },
    };
  },
};
