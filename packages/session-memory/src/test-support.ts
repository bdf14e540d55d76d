// Test support: the two backends every test runs against — the real PostgreSQL server (DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/test) and in-process PGlite — each test isolated in a fresh schema that is
// dropped afterwards. PostgreSQL unreachable: its variant is skipped with the reason, except in CI where it fails.
import { randomBytes } from 'node:crypto';
import type { Env } from '@synthians/kit';
import { openDb, redactUrl, waitForPostgres, type Db } from './db.ts';

export const TEST_DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<string | false> | undefined;

/** False when PostgreSQL answers; else why its tests are skipped (throws in CI). */
export function postgresSkip(): Promise<string | false> {
  reachable ??= waitForPostgres(TEST_DATABASE_URL, { waitMs: 1500 }).then(
    () => false as const,
    (err: Error) => {
      if (process.env.CI) throw err;
      return `PostgreSQL not reachable at ${redactUrl(TEST_DATABASE_URL)} (${err.message}); set DATABASE_URL (required in CI)`;
    },
  );
  return reachable;
}

export interface TestDb {
  db: Db;
  schema: string;
  /** Service environment selecting the same database and schema. */
  env: Env;
  cleanup(): Promise<void>;
}

export interface Backend {
  name: 'postgres' | 'pglite';
  /** Opens a fresh, empty schema. */
  open(): Promise<TestDb>;
}

const pgliteKey = `memory://session-memory-tests-${process.pid}`;
let pgliteKeeper: Promise<Db> | undefined;

export const newSchema = () => `s_${randomBytes(6).toString('hex')}`;

export const backends: Backend[] = [
  {
    name: 'postgres',
    async open() {
      const schema = newSchema();
      const db = await openDb({ databaseUrl: TEST_DATABASE_URL, schema, poolSize: 4 });
      return {
        db,
        schema,
        env: { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, EXPIRY_INTERVAL_MS: '0' },
        async cleanup() {
          await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await db.close();
        },
      };
    },
  },
  {
    name: 'pglite',
    async open() {
      // One in-memory instance per test process (held open by a keeper handle); a schema per test.
      pgliteKeeper ??= openDb({ path: pgliteKey });
      await pgliteKeeper;
      const schema = newSchema();
      const db = await openDb({ path: pgliteKey, schema });
      return {
        db,
        schema,
        env: { SESSION_DB_PATH: pgliteKey, DATABASE_SCHEMA: schema, EXPIRY_INTERVAL_MS: '0' },
        async cleanup() {
          await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await db.close();
        },
      };
    },
  },
];

/** Closes the shared PGlite instance (call in the test file's `after`). */
export async function closeSharedPglite(): Promise<void> {
  if (pgliteKeeper) await (await pgliteKeeper).close();
  pgliteKeeper = undefined;
}

/** `{ skip }` for a backend's describe(): the reason PostgreSQL is skipped, or false. */
export async function skipFor(backend: Backend): Promise<string | false> {
  return backend.name === 'postgres' ? postgresSkip() : false;
}

/** A settable clock for SessionStore. */
export function testClock(start = '2030-01-01T00:00:00.000Z') {
  let now = new Date(start).getTime();
  return {
    now: () => new Date(now),
    advance(ms: number) {
      now += ms;
    },
  };
}
