// Configuration of the two session services: every variable, its default and its meaning.
import { z } from 'zod';
import { env, loadConfig, type Env, serviceVariables } from '@synthians/kit';

/** The database and expiry variables both services share. */
function sessionDbVariables() {
  return {
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional()
      .describe(
        'PostgreSQL server (postgres://user@host:port/db; credentials from the URL or the PG* variables/.pgpass). Unset: PostgreSQL runs in-process (PGlite) under SESSION_DB_PATH',
      ),
    DATABASE_SCHEMA: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
      .optional()
      .describe(
        'Schema for the session tables (created by the migrations); unset: the search_path default (public)',
      ),
    DATABASE_POOL_SIZE: env.int(10, 1, 200).describe('Connections in the PostgreSQL pool'),
    DATABASE_WAIT_MS: env
      .int(30000, 0, 600000)
      .describe(
        'How long start-up (and `db migrate`) waits for PostgreSQL, retrying with exponential backoff',
      ),
    SESSION_DB_PATH: env
      .optionalString()
      .describe('PGlite data directory when DATABASE_URL is unset (default <SYNTHIANS_DATA_DIR>/session-db)'),
    MIGRATE_ON_START: env
      .bool(true)
      .describe('Apply pending migrations at start-up; when false, start-up fails if any are pending'),
    SESSION_TTL_SECONDS: env
      .int(1800, 1, 315360000)
      .describe('Idle time after which a session without its own ttl_seconds expires'),
    EXPIRY_INTERVAL_MS: env
      .int(60000, 0, 86400000)
      .describe(
        'Period of the background expiry sweep (idle sessions, expired memories and agent state); 0 disables',
      ),
    MAX_CONTENT_BYTES: env
      .int(65536, 1024, 1048576)
      .describe('Largest interaction/memory content and metadata JSON in UTF-8 bytes (400 above)'),
  };
}

export const sessionMemorySchema = z.object({
  ...serviceVariables('session-memory', 5574, 1 << 20),
  ...sessionDbVariables(),
});

/**
 * The variables that locate and open the session database, for the other services that open it too (the
 * coordinator, the memory reasoning agent): the same names, defaults and meaning everywhere.
 */
export const sessionDatabaseVariables = (({
  DATABASE_URL,
  DATABASE_SCHEMA,
  DATABASE_POOL_SIZE,
  DATABASE_WAIT_MS,
  SESSION_DB_PATH,
  MIGRATE_ON_START,
}) => ({
  DATABASE_URL,
  DATABASE_SCHEMA,
  DATABASE_POOL_SIZE,
  DATABASE_WAIT_MS,
  SESSION_DB_PATH,
  MIGRATE_ON_START,
}))(sessionMemorySchema.shape);

export const memoryOrchestratorSchema = z.object({
  ...serviceVariables('memory-orchestrator', 5576, 4 << 20),
  ...sessionDbVariables(),
  MEMORY_TTL_SECONDS: env
    .int(0, 0, 315360000)
    .describe('Lifetime of a memory created without ttl_seconds; 0: memories do not expire unless asked'),
});

export type SessionMemoryConfig = z.infer<typeof sessionMemorySchema>;
export type MemoryOrchestratorConfig = z.infer<typeof memoryOrchestratorSchema>;

export const loadSessionMemoryConfig = (source: Env = process.env): SessionMemoryConfig =>
  loadConfig(sessionMemorySchema, source);
export const loadMemoryOrchestratorConfig = (source: Env = process.env): MemoryOrchestratorConfig =>
  loadConfig(memoryOrchestratorSchema, source);
