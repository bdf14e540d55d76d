// One tiny database interface over two engines: a PostgreSQL server (node-postgres pool, when DATABASE_URL is set)
// or PostgreSQL in-process (PGlite, under <SYNTHIANS_DATA_DIR>/session-db). Same SQL dialect, same migrations.
//
// PGlite is one connection and cannot be opened twice, so every process keeps one registry of open PGlite
// databases keyed by path, reference-counted: two services of one process share the instance. Everything that
// touches a PGlite instance (single queries and whole transactions) runs under one mutex per instance, so a query
// never lands inside somebody else's transaction.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { resolve, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { AppError, badRequest, conflict, notFound, unavailable } from '@synthians/kit';

export type Row = Record<string, unknown>;

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/** What the store and the migrator need from a database: one statement at a time, transactions, close. */
export interface Db {
  readonly kind: 'postgres' | 'pglite';
  /** The schema every unqualified name resolves to (`search_path`), when one was chosen. */
  readonly schema: string | undefined;
  /** One SQL statement with `$1…` parameters. */
  query<R = Row>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
  /** Runs `fn` in a transaction (COMMIT on success, ROLLBACK on any throw); nested calls join the outer one. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenDbOptions {
  /** postgres:// URL of a server; when unset, PGlite runs in-process under `path`. */
  databaseUrl?: string | undefined;
  /** PGlite data directory (created when missing); `memory://<name>` keeps it in RAM (tests, benchmarks). */
  path?: string | undefined;
  /** A schema to work in (set as `search_path`; the migrator creates it). Default: the server's search_path. */
  schema?: string | undefined;
  /** Connections in the pool (PostgreSQL only). */
  poolSize?: number | undefined;
  /** Per-connection connect timeout (PostgreSQL only). */
  connectTimeoutMs?: number | undefined;
}

const identifier = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertSchemaName(schema: string | undefined): void {
  if (schema !== undefined && !identifier.test(schema)) {
    throw new Error(`Invalid schema name ${JSON.stringify(schema)}: use lower-case letters, digits and _`);
  }
}

/** Opens the database the options name (PostgreSQL when `databaseUrl` is set, else PGlite at `path`). */
export async function openDb(options: OpenDbOptions): Promise<Db> {
  assertSchemaName(options.schema);
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options);
  if (!options.path) throw new Error('openDb: give databaseUrl or a PGlite path');
  return openPglite(options.path, options.schema);
}

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL server

class PostgresDb implements Db {
  readonly kind = 'postgres' as const;
  constructor(
    private readonly pool: pg.Pool,
    readonly schema: string | undefined,
  ) {}

  async query<R = Row>(sql: string, params: unknown[] = []): Promise<QueryResult<R>> {
    const res = await this.pool.query(sql, params);
    return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(new PostgresTx(client, this.schema));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError as Error;
      }
      throw err;
    } finally {
      // A connection whose ROLLBACK failed is destroyed rather than returned to the pool.
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

class PostgresTx implements Db {
  readonly kind = 'postgres' as const;
  constructor(
    private readonly client: pg.PoolClient,
    readonly schema: string | undefined,
  ) {}
  async query<R = Row>(sql: string, params: unknown[] = []): Promise<QueryResult<R>> {
    const res = await this.client.query(sql, params);
    return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return fn(this);
  }
  async close(): Promise<void> {
    throw new Error('close() inside a transaction');
  }
}

function openPostgres(url: string, options: OpenDbOptions): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: 'synthians-session-memory',
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  });
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return new PostgresDb(pool, options.schema);
}

/** The URL without its password (for logs and error messages). */
export function redactUrl(url: string | undefined): string | undefined {
  if (!url) return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable URL>';
  }
}

export interface WaitOptions {
  /** Total time to keep trying (default 30 s). */
  waitMs?: number;
  /** First pause between attempts; doubles up to `maxDelayMs`. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  onRetry?: (attempt: number, delayMs: number, error: Error) => void;
}

/**
 * Waits until the PostgreSQL server at `url` accepts a connection and answers `SELECT 1`, retrying with
 * exponential backoff; throws after about `waitMs` (each attempt is also bounded by the time left).
 */
export async function waitForPostgres(url: string, options: WaitOptions = {}): Promise<void> {
  const waitMs = options.waitMs ?? 30_000;
  let delay = options.initialDelayMs ?? 100;
  const maxDelay = options.maxDelayMs ?? 2_000;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    const left = waitMs - (Date.now() - started);
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: Math.max(100, Math.min(left, 5_000)),
    });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => {});
      const error = err as Error;
      const elapsed = Date.now() - started;
      if (elapsed + delay > waitMs) {
        throw new Error(
          `PostgreSQL at ${redactUrl(url)} is not reachable after ${elapsed} ms and ${attempt} attempt(s) ` +
            `(wait limit ${waitMs} ms): ${error.message || String(err)}`,
          { cause: err },
        );
      }
      options.onRetry?.(attempt, delay, error);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(maxDelay, delay * 2);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// PGlite (in-process)

/** A promise chain: one holder at a time, in arrival order. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => {});
    return result;
  }
}

interface SharedPglite {
  key: string;
  ready: Promise<PGlite>;
  refs: number;
  mutex: Mutex;
  /** The search_path last set on the one connection (switched when a handle with another schema runs). */
  searchPath: string | undefined;
  lockFile?: string | undefined;
}

const registry = new Map<string, SharedPglite>();
/** Instances being closed: a new open of the same path waits, so one directory never has two instances. */
const closing = new Map<string, Promise<void>>();

/** Open PGlite databases of this process (for tests and diagnostics): path → handles. */
export function openPgliteDatabases(): Record<string, number> {
  return Object.fromEntries([...registry.values()].map((s) => [s.key, s.refs]));
}

/**
 * Server settings for the in-process database, sized for one assistant rather than PostgreSQL's server defaults
 * (shared_buffers 128 MB): about 130 MB less resident memory, plenty for session data.
 */
const PGLITE_CONF = ['shared_buffers=16MB', 'wal_buffers=1MB', 'work_mem=4MB', 'maintenance_work_mem=16MB'];

/** A new data directory is initialised in a worker thread (see pglite-init-worker.mjs); an existing one is kept. */
async function initPgliteDir(dir: string): Promise<void> {
  if (existsSync(join(dir, 'PG_VERSION'))) return;
  await new Promise<void>((resolve, reject) => {
    const worker = new Worker(new URL('./pglite-init-worker.mjs', import.meta.url), {
      workerData: { dir, conf: PGLITE_CONF },
    });
    let ready = false;
    worker.once('message', () => (ready = true));
    worker.once('error', reject);
    worker.once('exit', (code) =>
      ready
        ? resolve()
        : reject(new Error(`initialising the session database in ${dir} failed (worker exit ${code})`)),
    );
  });
}

async function openPglite(path: string, schema: string | undefined): Promise<Db> {
  const memory = path.startsWith('memory://');
  const key = memory ? path : resolve(path);
  await closing.get(key);
  let shared = registry.get(key);
  if (!shared) {
    const created: SharedPglite = {
      key,
      refs: 0,
      mutex: new Mutex(),
      searchPath: undefined,
      ready: Promise.resolve(undefined as unknown as PGlite),
    };
    created.ready = (async () => {
      if (memory) return PGlite.create({ postgresqlconf: PGLITE_CONF });
      mkdirSync(key, { recursive: true });
      created.lockFile = takeLock(key);
      try {
        await initPgliteDir(key);
        return await PGlite.create({ dataDir: key, postgresqlconf: PGLITE_CONF });
      } catch (err) {
        releaseLock(created.lockFile);
        throw err;
      }
    })();
    registry.set(key, created);
    shared = created;
    created.ready.catch(() => registry.delete(key));
  }
  shared.refs++;
  try {
    await shared.ready;
  } catch (err) {
    shared.refs--;
    throw err;
  }
  return new PgliteDb(shared, schema);
}

/**
 * PGlite has no protection against a second process opening the same directory (which corrupts it), so the
 * directory gets a lock file naming the owning process; a live owner is refused, a dead one's lock is taken over.
 */
function takeLock(dir: string): string {
  const file = join(dir, '.synthians.lock');
  let owner: number | undefined;
  try {
    owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
  } catch {
    owner = undefined;
  }
  if (owner && owner !== process.pid && isAlive(owner)) {
    throw unavailable(
      'database_locked',
      `The session database ${dir} is in use by process ${owner}; stop it or set DATABASE_URL to share a PostgreSQL server`,
    );
  }
  writeFileSync(file, String(process.pid));
  return file;
}

function releaseLock(file: string | undefined): void {
  if (file) rmSync(file, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

class PgliteDb implements Db {
  readonly kind = 'pglite' as const;
  private closed = false;
  constructor(
    private readonly shared: SharedPglite,
    readonly schema: string | undefined,
  ) {}

  private async exclusive<T>(fn: (db: PGlite) => Promise<T>): Promise<T> {
    if (this.closed) throw unavailable('database_closed', 'The session database is closed');
    return this.shared.mutex.run(async () => {
      const db = await this.shared.ready;
      const want = this.schema ?? '"$user", public';
      if (this.shared.searchPath !== want) {
        await db.query(`SET search_path TO ${want}`);
        this.shared.searchPath = want;
      }
      return fn(db);
    });
  }

  query<R = Row>(sql: string, params: unknown[] = []): Promise<QueryResult<R>> {
    return this.exclusive(async (db) => {
      const res = await db.query<R>(sql, params);
      return { rows: res.rows, rowCount: res.rowCount ?? res.affectedRows ?? res.rows.length };
    });
  }

  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return this.exclusive((db) =>
      db.transaction(async (tx) => {
        const handle: Db = {
          kind: 'pglite',
          schema: this.schema,
          async query<R = Row>(sql: string, params: unknown[] = []) {
            const res = await tx.query<R>(sql, params);
            return { rows: res.rows, rowCount: res.rowCount ?? res.affectedRows ?? res.rows.length };
          },
          transaction: (inner) => inner(handle),
          close: async () => {
            throw new Error('close() inside a transaction');
          },
        };
        return fn(handle);
      }),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const shared = this.shared;
    shared.refs--;
    if (shared.refs > 0) return;
    registry.delete(shared.key);
    // Wait for whatever is queued, then close the instance.
    const done = shared.mutex
      .run(async () => {
        const db = await shared.ready;
        await db.close();
      })
      .finally(() => {
        releaseLock(shared.lockFile);
        closing.delete(shared.key);
      });
    closing.set(
      shared.key,
      done.catch(() => {}),
    );
    await done;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** Turns a database error into the kit's envelope where a client caused it; anything else is rethrown as is. */
export function mapDbError(err: unknown): unknown {
  if (AppError.isInstance(err)) return err;
  const e = err as { code?: string; message?: string; detail?: string; constraint?: string };
  switch (e.code) {
    case '23503':
      return notFound(`Referenced record does not exist${e.constraint ? ` (${e.constraint})` : ''}`);
    case '23505':
      return conflict('already_exists', `Record already exists${e.constraint ? ` (${e.constraint})` : ''}`);
    case '23514':
    case '23502':
    case '22P02':
    case '22001':
    case '22003':
    case '22007':
    case '22008':
    case '22023':
    case '22025':
    case '22P05':
    case '54000':
      return badRequest('invalid_value', `Rejected by the database: ${e.message ?? 'invalid value'}`);
    case '40001':
    case '40P01':
      return conflict('retry', 'Concurrent update; retry the request');
    case '57P01':
    case '57P03':
    case '08000':
    case '08003':
    case '08006':
      return unavailable('database_unavailable', `The session database is unavailable: ${e.message}`);
  }
  if (
    e.code === 'ECONNREFUSED' ||
    e.code === 'ENOTFOUND' ||
    e.code === 'ETIMEDOUT' ||
    e.code === 'ECONNRESET' ||
    /timeout exceeded when trying to connect|Connection terminated/i.test(e.message ?? '')
  ) {
    return unavailable('database_unavailable', `The session database is unavailable: ${e.message}`);
  }
  return err;
}
