// Versioned migrations of the session database, the same for PostgreSQL and PGlite.
//
// - `schema_migrations` records each applied migration with the SHA-256 of its statements: an applied migration
//   whose text changed since is refused (fix it with a new migration instead).
// - Each migration runs in its own transaction, together with its `schema_migrations` row: all or nothing.
// - Every step holds a transaction-scoped advisory lock (per schema), so two migrators never race: the second waits,
//   then finds the work done. Re-running is a no-op.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '@synthians/kit';
import { openDb, redactUrl, waitForPostgres, type Db } from './db.ts';

export interface Migration {
  /** Sortable, unique: `NNNN_name`. */
  id: string;
  /** One statement per entry (PGlite's extended protocol takes one statement at a time). */
  statements: string[];
}

/** The migrations, in order. Never edit an applied one: add a new one. */
export const migrations: Migration[] = [
  {
    id: '0001_initial',
    statements: [
      // Sessions: one id type (text) everywhere, real timestamps, TTL as seconds plus a computed expiry.
      `CREATE TABLE sessions (
        session_id        text PRIMARY KEY CHECK (length(session_id) BETWEEN 1 AND 128),
        user_id           text CHECK (user_id IS NULL OR length(user_id) BETWEEN 1 AND 128),
        status            text NOT NULL DEFAULT 'active'
                          CHECK (status IN ('active', 'ended', 'expired', 'archived')),
        metadata          jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
        summary           text,
        ttl_seconds       integer NOT NULL CHECK (ttl_seconds > 0),
        interaction_count integer NOT NULL DEFAULT 0,
        created_at        timestamptz NOT NULL,
        updated_at        timestamptz NOT NULL,
        last_active_at    timestamptz NOT NULL,
        expires_at        timestamptz NOT NULL,
        ended_at          timestamptz
      )`,
      `CREATE INDEX sessions_user_created_idx ON sessions (user_id, created_at DESC, session_id DESC)`,
      `CREATE INDEX sessions_created_idx ON sessions (created_at DESC, session_id DESC)`,
      `CREATE INDEX sessions_active_expiry_idx ON sessions (expires_at) WHERE status = 'active'`,

      `CREATE TABLE interactions (
        session_id text NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
        seq        integer NOT NULL CHECK (seq > 0),
        role       text NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
        content    text NOT NULL CHECK (length(content) > 0),
        metadata   jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
        created_at timestamptz NOT NULL,
        PRIMARY KEY (session_id, seq)
      )`,
      `CREATE TABLE interaction_tags (
        session_id text NOT NULL,
        seq        integer NOT NULL,
        tag        text NOT NULL CHECK (length(tag) BETWEEN 1 AND 64),
        PRIMARY KEY (session_id, seq, tag),
        FOREIGN KEY (session_id, seq) REFERENCES interactions (session_id, seq) ON DELETE CASCADE
      )`,
      `CREATE INDEX interaction_tags_tag_idx ON interaction_tags (tag)`,

      `CREATE TABLE user_profiles (
        user_id    text PRIMARY KEY CHECK (length(user_id) BETWEEN 1 AND 128),
        profile    jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(profile) = 'object'),
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`,

      `CREATE TABLE agent_state (
        agent      text NOT NULL CHECK (length(agent) BETWEEN 1 AND 128),
        key        text NOT NULL CHECK (length(key) BETWEEN 1 AND 512),
        value      jsonb NOT NULL,
        expires_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (agent, key)
      )`,
      `CREATE INDEX agent_state_expiry_idx ON agent_state (expires_at) WHERE expires_at IS NOT NULL`,

      // Short-term memories with PostgreSQL full-text search (generated tsvector + GIN).
      `CREATE TABLE memories (
        id               text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
        session_id       text REFERENCES sessions (session_id) ON DELETE CASCADE,
        user_id          text CHECK (user_id IS NULL OR length(user_id) BETWEEN 1 AND 128),
        type             text NOT NULL DEFAULT 'note' CHECK (length(type) BETWEEN 1 AND 64),
        content          text NOT NULL CHECK (length(content) > 0),
        metadata         jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
        created_at       timestamptz NOT NULL,
        updated_at       timestamptz NOT NULL,
        expires_at       timestamptz,
        access_count     integer NOT NULL DEFAULT 0,
        last_accessed_at timestamptz,
        search           tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, content)) STORED
      )`,
      `CREATE INDEX memories_search_idx ON memories USING gin (search)`,
      `CREATE INDEX memories_user_created_idx ON memories (user_id, created_at DESC)`,
      `CREATE INDEX memories_session_idx ON memories (session_id)`,
      `CREATE INDEX memories_created_idx ON memories (created_at)`,
      `CREATE INDEX memories_expiry_idx ON memories (expires_at) WHERE expires_at IS NOT NULL`,
      `CREATE TABLE memory_tags (
        memory_id text NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
        tag       text NOT NULL CHECK (length(tag) BETWEEN 1 AND 64),
        PRIMARY KEY (memory_id, tag)
      )`,
      `CREATE INDEX memory_tags_tag_idx ON memory_tags (tag, memory_id)`,

      `CREATE TABLE memory_relationships (
        source_id  text NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
        target_id  text NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
        type       text NOT NULL CHECK (length(type) BETWEEN 1 AND 64),
        strength   real NOT NULL DEFAULT 1 CHECK (strength >= 0 AND strength <= 1),
        created_at timestamptz NOT NULL,
        PRIMARY KEY (source_id, target_id, type),
        CHECK (source_id <> target_id)
      )`,
      `CREATE INDEX memory_relationships_target_idx ON memory_relationships (target_id)`,

      // Reads of memories, for auditing and recency; removed with the memory.
      `CREATE TABLE access_log (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        memory_id   text NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
        operation   text NOT NULL CHECK (operation IN ('get', 'batch_get', 'search', 'related')),
        accessed_at timestamptz NOT NULL
      )`,
      `CREATE INDEX access_log_memory_idx ON access_log (memory_id, accessed_at DESC)`,
      `CREATE INDEX access_log_time_idx ON access_log (accessed_at)`,
    ],
  },
  {
    id: '0002_memory_outbox',
    statements: [
      // Long-term memory writes of answered turns, committed with the turn's interactions and removed once the
      // memory core holds them: a crash or an unreachable memory core delays them, never loses them.
      `CREATE TABLE memory_outbox (
        id         bigserial PRIMARY KEY,
        memory_id  text NOT NULL UNIQUE CHECK (length(memory_id) BETWEEN 1 AND 256),
        content    text NOT NULL,
        metadata   jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
        attempts   integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL
      )`,
    ],
  },
];

export const checksum = (m: Migration) =>
  createHash('sha256').update(m.statements.join('\n;\n')).digest('hex');

export interface MigrateResult {
  applied: string[];
  /** The id of the newest applied migration ('' for none). */
  current: string;
}

export interface MigrateOptions {
  logger?: Logger | undefined;
  /** Defaults to the package's migrations (tests pass their own). */
  migrations?: Migration[];
}

const LOCK_NAMESPACE = 'synthians.session-memory.migrate';

/** Applies pending migrations; throws on a tampered or unknown applied migration or any SQL failure. */
export async function migrate(db: Db, options: MigrateOptions = {}): Promise<MigrateResult> {
  const list = options.migrations ?? migrations;
  const ids = new Set<string>();
  for (const m of list) {
    if (ids.has(m.id)) throw new Error(`Duplicate migration id ${m.id}`);
    ids.add(m.id);
  }
  const sorted = [...list].sort((a, b) => a.id.localeCompare(b.id));
  const applied: string[] = [];
  for (;;) {
    const step = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `${LOCK_NAMESPACE}:${db.schema ?? 'default'}`,
      ]);
      if (db.schema) await tx.query(`CREATE SCHEMA IF NOT EXISTS ${db.schema}`);
      await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        id         text PRIMARY KEY,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await tx.query<{ id: string; checksum: string }>(
        'SELECT id, checksum FROM schema_migrations ORDER BY id',
      );
      verify(rows, sorted);
      const done = new Set(rows.map((r) => r.id));
      const next = sorted.find((m) => !done.has(m.id));
      if (!next) return { current: rows.at(-1)?.id ?? '', next: undefined };
      for (const statement of next.statements) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (id, checksum) VALUES ($1, $2)', [
        next.id,
        checksum(next),
      ]);
      return { current: next.id, next: next.id };
    });
    if (!step.next) return { applied, current: step.current };
    applied.push(step.next);
    options.logger?.info({ migration: step.next }, 'applied migration');
  }
}

function verify(rows: { id: string; checksum: string }[], known: Migration[]): void {
  const byId = new Map(known.map((m) => [m.id, m]));
  for (const row of rows) {
    const m = byId.get(row.id);
    if (!m) {
      throw new Error(
        `The database has migration ${row.id}, which this version does not know (a newer version migrated it?)`,
      );
    }
    if (checksum(m) !== row.checksum) {
      throw new Error(
        `Migration ${row.id} was changed after it was applied (checksum ${row.checksum.slice(0, 12)}… in the database, ` +
          `${checksum(m).slice(0, 12)}… in the code); restore it and add a new migration instead`,
      );
    }
  }
}

/** The newest applied migration and the pending ones, without changing anything. */
export async function migrationStatus(
  db: Db,
  list: Migration[] = migrations,
): Promise<{ current: string; pending: string[] }> {
  const exists = await db.query<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`);
  const rows = exists.rows[0]?.t
    ? (
        await db.query<{ id: string; checksum: string }>(
          'SELECT id, checksum FROM schema_migrations ORDER BY id',
        )
      ).rows
    : [];
  verify(rows, list);
  const done = new Set(rows.map((r) => r.id));
  return {
    current: rows.at(-1)?.id ?? '',
    pending: list.map((m) => m.id).filter((id) => !done.has(id)),
  };
}

export interface DbMigrateOptions {
  /** PostgreSQL URL; unset → PGlite under `<dataDir>/session-db` (or `path`). */
  databaseUrl?: string | undefined;
  /** SYNTHIANS_DATA_DIR. */
  dataDir: string;
  /** PGlite directory override (SESSION_DB_PATH). */
  path?: string | undefined;
  /** Schema to migrate (DATABASE_SCHEMA). */
  schema?: string | undefined;
  /** How long to wait for PostgreSQL to accept connections (default 30 s). */
  waitMs?: number | undefined;
  logger?: Logger | undefined;
}

/** The default PGlite directory under a data directory. */
export const defaultDbPath = (dataDir: string) => join(dataDir, 'session-db');

/**
 * The database-setup job (`synthians db migrate`): waits for PostgreSQL with exponential backoff (bounded by
 * `waitMs`), applies the pending migrations and closes. Throws on any failure (the CLI exits non-zero).
 */
export async function runDbMigrate(options: DbMigrateOptions): Promise<MigrateResult> {
  const logger = options.logger;
  if (options.databaseUrl) {
    logger?.info({ database: redactUrl(options.databaseUrl) }, 'waiting for PostgreSQL');
    await waitForPostgres(options.databaseUrl, {
      waitMs: options.waitMs ?? 30_000,
      onRetry: (attempt, delayMs, error) =>
        logger?.warn({ attempt, delayMs, error: error.message }, 'PostgreSQL not reachable yet; retrying'),
    });
  }
  const db = await openDb({
    databaseUrl: options.databaseUrl,
    path: options.path ?? defaultDbPath(options.dataDir),
    schema: options.schema,
    poolSize: 2,
  });
  try {
    const result = await migrate(db, { logger });
    logger?.info({ applied: result.applied, current: result.current }, 'session database up to date');
    return result;
  } finally {
    await db.close();
  }
}
