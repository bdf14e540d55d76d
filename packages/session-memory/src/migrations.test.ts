import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb, waitForPostgres } from './db.ts';
import { migrate, migrations, migrationStatus, runDbMigrate, type Migration } from './migrations.ts';
import { backends, closeSharedPglite, skipFor, TEST_DATABASE_URL } from './test-support.ts';

after(closeSharedPglite);

const tables = async (db: Awaited<ReturnType<typeof openDb>>) =>
  (
    await db.query<{ t: string }>(
      `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`,
    )
  ).rows.map((r) => r.t);

for (const backend of backends) {
  describe(`migrations on ${backend.name}`, { skip: await skipFor(backend) }, () => {
    test('an empty database gets every migration; a second run is a no-op', async () => {
      const t = await backend.open();
      try {
        const first = await migrate(t.db);
        assert.deepEqual(
          first.applied,
          migrations.map((m) => m.id),
        );
        assert.equal(first.current, migrations.at(-1)!.id);
        const names = await tables(t.db);
        for (const table of [
          'sessions',
          'interactions',
          'interaction_tags',
          'memory_tags',
          'user_profiles',
          'agent_state',
          'memories',
          'memory_relationships',
          'access_log',
          'schema_migrations',
        ]) {
          assert.ok(names.includes(table), `table ${table} exists (have ${names.join(', ')})`);
        }
        const again = await migrate(t.db);
        assert.deepEqual(again, { applied: [], current: first.current });
        assert.deepEqual(await migrationStatus(t.db), { current: first.current, pending: [] });
        // The foreign keys hold: an interaction for a session that does not exist is refused.
        await assert.rejects(
          t.db.query(
            `INSERT INTO interactions (session_id, seq, role, content, created_at) VALUES ('nope', 1, 'user', 'x', now())`,
          ),
          (err: { code?: string }) => err.code === '23503',
        );
      } finally {
        await t.cleanup();
      }
    });

    test('an applied migration edited afterwards is detected; an unknown applied one too', async () => {
      const t = await backend.open();
      try {
        const list: Migration[] = [{ id: '0001_a', statements: ['CREATE TABLE a (x int)'] }];
        await migrate(t.db, { migrations: list });
        const tampered: Migration[] = [{ id: '0001_a', statements: ['CREATE TABLE a (x bigint)'] }];
        await assert.rejects(
          migrate(t.db, { migrations: tampered }),
          /0001_a was changed after it was applied/,
        );
        await assert.rejects(migrate(t.db, { migrations: [] }), /0001_a, which this version does not know/);
      } finally {
        await t.cleanup();
      }
    });

    test('a failing migration leaves nothing half-applied and the error surfaces', async () => {
      const t = await backend.open();
      try {
        const list: Migration[] = [
          { id: '0001_ok', statements: ['CREATE TABLE ok (x int)'] },
          { id: '0002_bad', statements: ['CREATE TABLE half (x int)', 'SELECT no_such_function()'] },
        ];
        await assert.rejects(migrate(t.db, { migrations: list }), /no_such_function/);
        const names = await tables(t.db);
        assert.ok(names.includes('ok'), 'the first migration stays applied');
        assert.ok(!names.includes('half'), 'the failed migration was rolled back');
        const status = await migrationStatus(t.db, list);
        assert.deepEqual(status, { current: '0001_ok', pending: ['0002_bad'] });
      } finally {
        await t.cleanup();
      }
    });

    test('two concurrent migrators apply each migration exactly once', async () => {
      const t = await backend.open();
      const other = await openDb(
        backend.name === 'postgres'
          ? { databaseUrl: TEST_DATABASE_URL, schema: t.schema, poolSize: 2 }
          : { path: t.env.SESSION_DB_PATH, schema: t.schema },
      );
      try {
        const list: Migration[] = [
          { id: '0001_a', statements: ['CREATE TABLE a (x int)', 'SELECT pg_sleep(0.1)'] },
          { id: '0002_b', statements: ['CREATE TABLE b (x int)'] },
          { id: '0003_c', statements: ['CREATE TABLE c (x int)', 'SELECT pg_sleep(0.05)'] },
        ];
        const [r1, r2] = await Promise.all([
          migrate(t.db, { migrations: list }),
          migrate(other, { migrations: list }),
        ]);
        assert.deepEqual([...r1.applied, ...r2.applied].sort(), ['0001_a', '0002_b', '0003_c']);
        assert.equal(r1.current, '0003_c');
        assert.equal(r2.current, '0003_c');
        const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
        assert.equal(rows[0]!.n, 3);
      } finally {
        await other.close();
        await t.cleanup();
      }
    });
  });
}

describe('waiting for PostgreSQL', () => {
  test('an unreachable server fails in bounded time with a clear error', async () => {
    const t0 = Date.now();
    let retries = 0;
    await assert.rejects(
      waitForPostgres('postgres://postgres:secret@127.0.0.1:1/test', {
        waitMs: 700,
        initialDelayMs: 50,
        onRetry: () => retries++,
      }),
      (err: Error) => {
        assert.match(
          err.message,
          /PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test is not reachable/,
        );
        assert.doesNotMatch(err.message, /secret/);
        return true;
      },
    );
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 2500, `gave up in bounded time (${elapsed} ms)`);
    assert.ok(retries >= 2, `retried with backoff (${retries} retries)`);
  });

  test('runDbMigrate throws on an unreachable server', async () => {
    await assert.rejects(
      runDbMigrate({
        databaseUrl: 'postgres://postgres@127.0.0.1:1/test',
        dataDir: '/nonexistent',
        waitMs: 300,
      }),
      /not reachable/,
    );
  });
});
