import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestService, type TestService } from '@synthians/kit';
import { openPgliteDatabases } from './db.ts';
import { runDbMigrate } from './migrations.ts';
import { memoryOrchestratorService, sessionMemoryService } from './service.ts';
import { backends, closeSharedPglite, skipFor, type TestDb } from './test-support.ts';

after(closeSharedPglite);

for (const backend of backends) {
  describe(`services over HTTP on ${backend.name}`, { skip: await skipFor(backend) }, () => {
    let t: TestDb;
    let sm: TestService;
    let mo: TestService;
    before(async () => {
      t = await backend.open();
      sm = await startTestService(sessionMemoryService, { env: t.env });
      mo = await startTestService(memoryOrchestratorService, { env: t.env });
    });
    after(async () => {
      await sm?.destroy();
      await mo?.destroy();
      await t?.cleanup();
    });

    test('session memory: sessions, interactions, context, and the error envelope', async () => {
      const r = sm.request;
      const health = await r('GET', '/health');
      assert.equal(health.status, 200);
      assert.equal(health.body.checks.database.backend, backend.name);

      const created = await r('POST', '/v1/sessions', {
        session_id: 'http-1',
        user_id: 'u',
        ttl_seconds: 300,
      });
      assert.equal(created.status, 201);
      assert.equal(created.body.status, 'active');
      assert.equal(
        (await r('POST', '/v1/sessions', { session_id: 'http-1' })).body.error.code,
        'session_exists',
      );
      const wrongType = await r('POST', '/v1/sessions', { ttl_seconds: 'soon' });
      assert.equal(wrongType.status, 400);
      assert.equal(wrongType.body.error.code, 'validation_error');
      assert.equal((await r('POST', '/v1/sessions', { extra: 1 })).status, 400);
      assert.equal((await r('GET', '/v1/sessions/http-1')).body.session_id, 'http-1');
      const missing = await r('GET', '/v1/sessions/nope');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, 'not_found');

      for (const [role, content] of [
        ['user', 'What is the weather like in Oslo?'],
        ['assistant', 'It is cold and snowy in Oslo today.'],
        ['user', 'Then I will take the warm coat.'],
      ]) {
        const added = await r('POST', '/v1/sessions/http-1/interactions', {
          role,
          content,
          tags: ['weather'],
        });
        assert.equal(added.status, 201, JSON.stringify(added.body));
      }
      const empty = await r('POST', '/v1/sessions/http-1/interactions', { role: 'user', content: '' });
      assert.equal(empty.status, 400);
      const blank = await r('POST', '/v1/sessions/http-1/interactions', { role: 'user', content: '   ' });
      assert.equal(blank.body.error.code, 'empty_content');
      const huge = await r('POST', '/v1/sessions/http-1/interactions', {
        role: 'user',
        content: 'x'.repeat(70_000),
      });
      assert.equal(huge.status, 400);
      const bigBytes = await r('POST', '/v1/sessions/http-1/interactions', {
        role: 'user',
        content: 'é'.repeat(40_000),
      });
      assert.equal(bigBytes.body.error.code, 'content_too_large');
      assert.equal(
        (await r('POST', '/v1/sessions/http-1/interactions', { role: 'bot', content: 'x' })).status,
        400,
      );
      assert.equal(
        (await r('POST', '/v1/sessions/nope/interactions', { role: 'user', content: 'x' })).status,
        404,
      );

      const ctx = await r('GET', '/v1/sessions/http-1/context?max_tokens=25');
      assert.equal(ctx.status, 200);
      assert.deepEqual(
        ctx.body.interactions.map((i: { seq: number }) => i.seq),
        [2, 3],
      );
      assert.equal(ctx.body.truncated, true);
      assert.equal((await r('GET', '/v1/sessions/http-1/context?max_tokens=abc')).status, 400);
      assert.equal((await r('GET', '/v1/sessions/http-1/context')).status, 400);
      const page = await r('GET', '/v1/sessions/http-1/interactions?limit=2');
      assert.equal(page.body.next_before, 2);

      const ended = await r('POST', '/v1/sessions/http-1/end', { summary: 'Talked about Oslo weather.' });
      assert.equal(ended.body.status, 'ended');
      const late = await r('POST', '/v1/sessions/http-1/interactions', { role: 'user', content: 'one more' });
      assert.equal(late.status, 409);
      assert.equal(late.body.error.code, 'session_not_active');
      assert.equal(late.body.error.details.status, 'ended');

      const put = await r('PUT', '/v1/agents/coordinator/state/timer:1', { value: { label: 'tea' } });
      assert.equal(put.status, 200);
      assert.deepEqual((await r('GET', '/v1/agents/coordinator/state/timer:1')).body.value, { label: 'tea' });
      assert.equal((await r('GET', '/v1/agents/coordinator/state?prefix=timer:')).body.entries.length, 1);
      assert.equal((await r('DELETE', '/v1/agents/coordinator/state/timer:1')).status, 204);
      assert.equal((await r('GET', '/v1/agents/coordinator/state/timer:1')).status, 404);
      assert.deepEqual((await r('PATCH', '/v1/profiles/u', { name: 'Ola' })).body.profile, { name: 'Ola' });

      assert.equal((await r('DELETE', '/v1/sessions/http-1')).status, 204);
      assert.equal((await r('DELETE', '/v1/sessions/http-1')).status, 404);
      assert.equal((await r('GET', '/v1/sessions/http-1/context?max_tokens=10')).status, 404);
    });

    test('memory orchestrator: memories, search, batch get, bulk delete, sessions with summaries', async () => {
      const r = mo.request;
      const session = await r('POST', '/v1/sessions', { user_id: 'mo-user' });
      assert.equal(session.status, 201);
      const sid = session.body.session_id as string;
      const m1 = await r('POST', '/v1/memories', {
        content: 'The garage door code is 4711.',
        user_id: 'mo-user',
        session_id: sid,
        tags: ['home'],
      });
      assert.equal(m1.status, 201, JSON.stringify(m1.body));
      const m2 = await r('POST', '/v1/memories', {
        content: 'The garden needs watering on Sundays.',
        user_id: 'mo-user',
      });
      assert.equal((await r('POST', '/v1/memories', { content: '' })).status, 400);
      assert.equal((await r('POST', '/v1/memories', { content: 'x', session_id: 'nope' })).status, 404);
      assert.equal((await r('POST', '/v1/memories', { content: 5 })).status, 400);

      assert.equal(
        (await r('GET', `/v1/memories/${m1.body.id}`)).body.content,
        'The garage door code is 4711.',
      );
      assert.equal((await r('GET', '/v1/memories/nope')).status, 404);
      const patched = await r('PATCH', `/v1/memories/${m2.body.id}`, {
        content: 'The garden needs watering on Mondays.',
      });
      assert.equal(patched.body.content, 'The garden needs watering on Mondays.');
      const search = await r('GET', '/v1/memories/search?q=garage%20door&user_id=mo-user');
      assert.equal(search.status, 200);
      assert.deepEqual(
        search.body.results.map((m: { id: string }) => m.id),
        [m1.body.id],
      );
      assert.equal((await r('GET', '/v1/memories/search?q=watering&tags=home')).body.results.length, 0);
      assert.equal((await r('GET', '/v1/memories/search')).status, 400);
      const batch = await r('POST', '/v1/memories/batch-get', { ids: [m2.body.id, 'nope'] });
      assert.deepEqual(batch.body.missing, ['nope']);
      assert.equal(batch.body.memories[0].id, m2.body.id);
      const rel = await r('POST', `/v1/memories/${m1.body.id}/relationships`, {
        target_id: m2.body.id,
        strength: 0.5,
      });
      assert.equal(rel.status, 201);
      assert.equal(
        (await r('GET', `/v1/memories/${m2.body.id}/related`)).body.related[0].direction,
        'incoming',
      );

      const emptyFilter = await r('POST', '/v1/memories/bulk-delete', {});
      assert.equal(emptyFilter.status, 400);
      assert.equal(emptyFilter.body.error.code, 'empty_filter');
      assert.equal((await r('POST', '/v1/memories/bulk-delete', { older_than: 'yesterday' })).status, 400);

      await r('POST', `/v1/sessions/${sid}/interactions`, {
        role: 'user',
        content: 'Please remember the garage door code.',
      });
      await r('POST', `/v1/sessions/${sid}/interactions`, {
        role: 'assistant',
        content: 'I saved the garage door code.',
      });
      const summary = await r('POST', `/v1/sessions/${sid}/summarize`, { max_chars: 200 });
      assert.ok(summary.body.summary.includes('garage door code'), summary.body.summary);
      const ended = await r('POST', `/v1/sessions/${sid}/end`, { summarize: true });
      assert.equal(ended.body.status, 'ended');
      assert.equal(ended.body.summary, summary.body.summary);
      assert.equal((await r('POST', `/v1/sessions/${sid}/end`, {})).status, 409);
      assert.equal((await r('POST', `/v1/sessions/${sid}/archive`)).body.status, 'archived');
      assert.equal((await r('POST', '/v1/sessions/nope/archive')).status, 404);
      const expired = await r('POST', '/v1/expire');
      assert.equal(typeof expired.body.memories_expired, 'number');

      assert.equal((await r('POST', '/v1/memories/bulk-delete', { user_id: 'mo-user' })).body.deleted, 2);
      assert.equal((await r('DELETE', `/v1/memories/${m1.body.id}`)).status, 404);
      const metrics = await r('GET', '/metrics');
      assert.ok(String(metrics.body).includes('session_memory_expired_total'), 'sweep metric exported');
    });
  });
}

describe('embedded default (PGlite under the data directory)', () => {
  test('db migrate, then both services in one process share one PGlite instance', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'synthians-session-db-'));
    try {
      const first = await runDbMigrate({ dataDir: dir });
      assert.deepEqual(first.applied, ['0001_initial', '0002_memory_outbox']);
      assert.deepEqual(await runDbMigrate({ dataDir: dir }), { applied: [], current: '0002_memory_outbox' });
      const env = { MIGRATE_ON_START: 'false', EXPIRY_INTERVAL_MS: '20' };
      const sm = await startTestService(sessionMemoryService, { dir, env });
      const mo = await startTestService(memoryOrchestratorService, { dir, env });
      try {
        const path = join(dir, 'session-db');
        assert.equal(openPgliteDatabases()[path], 2, 'one instance, two handles');
        const created = await sm.request('POST', '/v1/sessions', { session_id: 'shared', ttl_seconds: 1 });
        assert.equal(created.status, 201);
        assert.equal((await mo.request('GET', '/v1/sessions/shared')).body.session_id, 'shared');
        await new Promise((r) => setTimeout(r, 1300));
        const after = await mo.request('GET', '/v1/sessions/shared');
        assert.equal(after.body.status, 'expired', 'the background sweep (or the lazy check) expired it');
        await sm.stop();
        assert.equal(openPgliteDatabases()[path], 1);
        assert.equal(
          (await mo.request('GET', '/v1/sessions/shared')).status,
          200,
          'still open for the other',
        );
      } finally {
        await sm.stop();
        await mo.stop();
      }
      assert.equal(openPgliteDatabases()[join(dir, 'session-db')], undefined, 'closed with the last handle');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
