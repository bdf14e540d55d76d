import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '@synthians/kit';
import { migrate } from './migrations.ts';
import { SessionStore } from './store.ts';
import { estimateTokens, extractiveSummary } from './text.ts';
import { backends, closeSharedPglite, skipFor, testClock, type TestDb } from './test-support.ts';

after(closeSharedPglite);

/** Asserts an AppError with this status and (optionally) code. */
const appError = (status: number, code?: string) => (err: unknown) => {
  assert.ok(AppError.isInstance(err), `an AppError, got ${String(err)}`);
  assert.equal(err.statusCode, status, `status of ${err.code}: ${err.message}`);
  if (code) assert.equal(err.code, code);
  return true;
};

describe('text helpers', () => {
  test('token estimate: ceil(code points / 4) + 4', () => {
    assert.equal(estimateTokens('abcd'), 5);
    assert.equal(estimateTokens('abcde'), 6);
    assert.equal(estimateTokens('😀😀😀😀'), 5, 'astral characters count once');
  });

  test('extractive summary is deterministic, within budget, in conversation order', () => {
    const input = [
      { seq: 1, role: 'user', content: 'Hi there. I want to plan a trip to Lisbon in May.' },
      {
        seq: 2,
        role: 'assistant',
        content: 'Lisbon in May is lovely. Flights to Lisbon are cheapest midweek.',
      },
      { seq: 3, role: 'system', content: 'Lisbon Lisbon Lisbon system prompt.' },
      { seq: 4, role: 'user', content: 'Book a hotel in Lisbon near the river. Ok.' },
    ];
    const a = extractiveSummary(input, 120);
    const b = extractiveSummary(input, 120);
    assert.deepEqual(a, b);
    assert.ok(a.summary.length <= 120, `within budget: ${a.summary.length}`);
    assert.ok(a.summary.includes('Lisbon'), a.summary);
    assert.ok(!a.summary.includes('system prompt'), 'system messages are not summarised');
    const seqs = a.sentences.map((s) => s.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((x, y) => x - y),
      'conversation order',
    );
    assert.equal(extractiveSummary(input, 5).summary, '', 'nothing fits in 5 characters');
  });
});

for (const backend of backends) {
  describe(`SessionStore on ${backend.name}`, { skip: await skipFor(backend) }, () => {
    let t: TestDb;
    const clock = testClock();
    let store: SessionStore;
    before(async () => {
      t = await backend.open();
      await migrate(t.db);
      store = new SessionStore(t.db, { clock: clock.now, sessionTtlSeconds: 600, maxContentBytes: 4096 });
    });
    after(async () => {
      await t?.cleanup();
    });

    test('sessions: create, get, list with cursor, end with summary, archive, delete', async () => {
      const s = await store.createSession({ session_id: 'sess-1', user_id: 'u1', metadata: { lang: 'en' } });
      assert.equal(s.status, 'active');
      assert.equal(s.ttl_seconds, 600);
      assert.equal(s.expires_at, new Date(clock.now().getTime() + 600_000).toISOString());
      await assert.rejects(store.createSession({ session_id: 'sess-1' }), appError(409, 'session_exists'));
      await assert.rejects(store.createSession({ session_id: 'bad id!' }), appError(400));
      await assert.rejects(store.createSession({ ttl_seconds: 0 }), appError(400, 'invalid_ttl'));
      assert.deepEqual(await store.getSession('sess-1'), s);
      assert.equal(await store.getSession('nope'), null);

      for (let i = 0; i < 4; i++) {
        clock.advance(1000);
        await store.createSession({ session_id: `list-${i}`, user_id: 'lister' });
      }
      const page1 = await store.listSessions({ user_id: 'lister', limit: 3 });
      assert.deepEqual(
        page1.sessions.map((x) => x.session_id),
        ['list-3', 'list-2', 'list-1'],
      );
      assert.ok(page1.next_cursor, 'a cursor for the rest');
      const page2 = await store.listSessions({ user_id: 'lister', limit: 3, cursor: page1.next_cursor });
      assert.deepEqual(
        page2.sessions.map((x) => x.session_id),
        ['list-0'],
      );
      assert.equal(page2.next_cursor, null);
      await assert.rejects(store.listSessions({ cursor: 'garbage' }), appError(400, 'invalid_cursor'));

      await store.addInteraction('sess-1', {
        role: 'user',
        content: 'Remind me to water the tomatoes tomorrow.',
      });
      const ended = await store.endSession('sess-1', { summarize: true });
      assert.equal(ended.status, 'ended');
      assert.ok(ended.summary?.includes('tomatoes'), `summary ${ended.summary}`);
      await assert.rejects(store.endSession('sess-1'), appError(409, 'session_not_active'));
      await assert.rejects(
        store.addInteraction('sess-1', { role: 'user', content: 'more' }),
        appError(409, 'session_not_active'),
      );
      assert.equal((await store.listSessions({ status: 'ended', user_id: 'u1' })).sessions.length, 1);
      const archived = await store.archiveSession('sess-1');
      assert.equal(archived.status, 'archived');
      await assert.rejects(store.archiveSession('nope'), appError(404));
      assert.equal(await store.deleteSession('sess-1'), true);
      assert.equal(await store.deleteSession('sess-1'), false);
    });

    test('interactions: validation, ordering, paging, nothing half-written', async () => {
      const s = await store.createSession({});
      await assert.rejects(store.addInteraction('missing', { role: 'user', content: 'x' }), appError(404));
      await assert.rejects(
        store.addInteraction(s.session_id, { role: 'user', content: '   ' }),
        appError(400, 'empty_content'),
      );
      await assert.rejects(
        store.addInteraction(s.session_id, { role: 'user', content: 'é'.repeat(2049) }),
        appError(400, 'content_too_large'),
      );
      await assert.rejects(
        store.addInteraction(s.session_id, { role: 'user', content: 'a\u0000b' }),
        appError(400),
      );
      await assert.rejects(
        store.addInteraction(s.session_id, { role: 'robot' as 'user', content: 'x' }),
        appError(400, 'invalid_role'),
      );
      await assert.rejects(
        store.addInteraction(s.session_id, { role: 'user', content: 'x', metadata: [] as never }),
        appError(400, 'invalid_metadata'),
      );
      await assert.rejects(
        store.addInteraction(s.session_id, { role: 'user', content: 'x', metadata: { k: 'a\u0000b' } }),
        appError(400, 'invalid_metadata'),
      );
      // The text backslash-u-0-0-0-0 is no NUL: stored and read back as it is.
      const other = await store.createSession({ metadata: { k: 'a\\u0000b' } });
      assert.deepEqual((await store.getSession(other.session_id))?.metadata, { k: 'a\\u0000b' });
      for (let i = 1; i <= 5; i++) {
        const it = await store.addInteraction(s.session_id, {
          role: i % 2 ? 'user' : 'assistant',
          content: `message ${i}`,
          tags: i === 1 ? ['b', 'a', 'a'] : undefined,
          metadata: { i },
        });
        assert.equal(it.seq, i);
      }
      const page = await store.listInteractions(s.session_id, { limit: 2 });
      assert.deepEqual(
        page.interactions.map((i) => i.seq),
        [4, 5],
      );
      assert.equal(page.next_before, 4);
      const first = await store.listInteractions(s.session_id, { limit: 10, before: 2 });
      assert.deepEqual(first.interactions[0]!.tags, ['a', 'b']);
      assert.deepEqual(first.interactions[0]!.metadata, { i: 1 });
      assert.equal(first.next_before, null);
      const after = await store.getSession(s.session_id);
      assert.equal(after!.interaction_count, 5, 'the rejected inputs left no trace');

      // A transaction that throws leaves nothing behind.
      await assert.rejects(
        t.db.transaction(async (tx) => {
          await tx.query(
            `INSERT INTO user_profiles (user_id, created_at, updated_at) VALUES ('ghost', now(), now())`,
          );
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await store.getProfile('ghost'), null);
    });

    test('context: the most recent interactions within the token budget, oldest first', async () => {
      const s = await store.createSession({});
      const contents = ['a'.repeat(40), 'b'.repeat(40), 'c'.repeat(40), 'd'.repeat(8)]; // 14, 14, 14, 6 tokens
      for (const content of contents) await store.addInteraction(s.session_id, { role: 'user', content });
      const all = await store.getContext(s.session_id, { max_tokens: 1000 });
      assert.equal(all.tokens, 48);
      assert.equal(all.truncated, false);
      const some = await store.getContext(s.session_id, { max_tokens: 34 });
      assert.deepEqual(
        some.interactions.map((i) => i.seq),
        [2, 3, 4],
      );
      assert.equal(some.tokens, 34);
      assert.equal(some.truncated, true);
      const tiny = await store.getContext(s.session_id, { max_tokens: 5 });
      assert.deepEqual(tiny.interactions, []);
      assert.equal(tiny.truncated, true);
      await assert.rejects(store.getContext(s.session_id, { max_tokens: 0 }), appError(400));
      await assert.rejects(store.getContext('missing', { max_tokens: 10 }), appError(404));
    });

    test('idle expiry with an injected clock; touch restarts it', async () => {
      const a = await store.createSession({ ttl_seconds: 60 });
      const b = await store.createSession({ ttl_seconds: 60 });
      clock.advance(30_000);
      await store.touchSession(b.session_id); // b now expires at +90 s
      clock.advance(20_000);
      await store.addInteraction(a.session_id, { role: 'user', content: 'still here' }); // a at +110 s
      clock.advance(39_000); // +89 s
      assert.deepEqual(await store.expireIdle(), []);
      clock.advance(2_000); // +91 s
      assert.equal(
        (await store.getSession(b.session_id))!.status,
        'expired',
        'reported expired before the sweep',
      );
      await assert.rejects(store.touchSession(b.session_id), appError(409, 'session_not_active'));
      const expired = await store.expireIdle();
      assert.ok(expired.includes(b.session_id), 'b expired');
      assert.ok(!expired.includes(a.session_id), 'a was active 20 s later');
      clock.advance(20_000); // +111 s
      assert.deepEqual(await store.expireIdle(), [a.session_id]);
      await assert.rejects(
        store.addInteraction(a.session_id, { role: 'user', content: 'too late' }),
        appError(409, 'session_not_active'),
      );
    });

    test('summarize: extractive, deterministic, stored on request', async () => {
      const s = await store.createSession({});
      const lines: [string, string][] = [
        ['user', 'I need a vegetarian dinner recipe for six people.'],
        ['assistant', 'A vegetarian lasagne feeds six people well. It takes about an hour.'],
        ['system', 'Be brief.'],
        ['user', 'Does the vegetarian lasagne freeze well?'],
        ['assistant', 'Yes, the lasagne freezes well for three months.'],
      ];
      for (const [role, content] of lines)
        await store.addInteraction(s.session_id, { role: role as 'user', content });
      const one = await store.summarize(s.session_id, { max_chars: 120 });
      const two = await store.summarize(s.session_id, { max_chars: 120 });
      assert.deepEqual(one, two);
      assert.ok(one.summary.length <= 120 && one.summary.includes('lasagne'), one.summary);
      assert.equal((await store.getSession(s.session_id))!.summary, null);
      await store.summarize(s.session_id, { max_chars: 120, store: true });
      assert.equal((await store.getSession(s.session_id))!.summary, one.summary);
      await assert.rejects(store.summarize('missing'), appError(404));
    });

    test('agent state: set, get, prefix list, expiry, delete', async () => {
      await store.setAgentState('coordinator', 'timer:1', { at: '2030-01-01T00:05:00Z', label: 'tea' });
      await store.setAgentState('coordinator', 'timer:2', 42, {
        expires_at: new Date(clock.now().getTime() + 1000),
      });
      await store.setAgentState('coordinator', 'reminder:1', 'call mum');
      await store.setAgentState('other', 'timer:9', null);
      assert.deepEqual((await store.getAgentState('coordinator', 'timer:1'))!.value, {
        at: '2030-01-01T00:05:00Z',
        label: 'tea',
      });
      assert.equal((await store.getAgentState('other', 'timer:9'))!.value, null);
      const timers = await store.listAgentState('coordinator', { prefix: 'timer:' });
      assert.deepEqual(
        timers.map((e) => e.key),
        ['timer:1', 'timer:2'],
      );
      const updated = await store.setAgentState('coordinator', 'timer:1', { done: true });
      assert.deepEqual(updated.value, { done: true });
      clock.advance(1500);
      assert.equal(
        await store.getAgentState('coordinator', 'timer:2'),
        null,
        'expired entries are invisible',
      );
      assert.equal((await store.sweep()).agent_state_expired, 1);
      assert.equal(await store.deleteAgentState('coordinator', 'timer:1'), true);
      assert.equal(await store.deleteAgentState('coordinator', 'timer:1'), false);
      await assert.rejects(store.setAgentState('', 'k', 1), appError(400));
    });

    test('profiles: shallow merge, null removes a key', async () => {
      assert.equal(await store.getProfile('u-prof'), null);
      const p1 = await store.upsertProfile('u-prof', { name: 'Ada', city: 'Paris', gone: null });
      assert.deepEqual(p1.profile, { name: 'Ada', city: 'Paris' });
      const p2 = await store.upsertProfile('u-prof', { city: null, lang: 'fr' });
      assert.deepEqual(p2.profile, { name: 'Ada', lang: 'fr' });
      assert.equal(p2.created_at, p1.created_at);
    });

    test('memories: CRUD, batch get, full-text search, tags, access log', async () => {
      const s = await store.createSession({ user_id: 'mem-user' });
      const m1 = await store.createMemory({
        content: 'The user prefers oat milk in their coffee.',
        user_id: 'mem-user',
        session_id: s.session_id,
        type: 'preference',
        tags: ['food', 'coffee'],
      });
      const m2 = await store.createMemory({
        content: 'Coffee beans are running low; buy more beans.',
        user_id: 'mem-user',
        tags: ['shopping'],
      });
      const m3 = await store.createMemory({
        content: 'The dentist appointment is on Friday.',
        user_id: 'other',
      });
      await assert.rejects(store.createMemory({ content: '' }), appError(400, 'empty_content'));
      await assert.rejects(store.createMemory({ content: 'x', session_id: 'missing' }), appError(404));
      assert.deepEqual(m1.tags, ['coffee', 'food']);

      const got = await store.getMemory(m1.id);
      assert.equal(got!.access_count, 1);
      assert.equal(await store.getMemory('missing'), null);
      const batch = await store.getMemories([m3.id, 'missing', m1.id]);
      assert.deepEqual(
        batch.map((m) => m.id),
        [m3.id, m1.id],
      );

      const hits = await store.searchMemories({ query: 'coffee', user_id: 'mem-user', limit: 10 });
      assert.deepEqual(new Set(hits.map((h) => h.id)), new Set([m1.id, m2.id]));
      assert.ok(
        hits.every((h) => h.rank > 0),
        'ranked',
      );
      const beans = await store.searchMemories({ query: 'buying bean', limit: 5 });
      assert.deepEqual(
        beans.map((h) => h.id),
        [m2.id],
        'stemmed match',
      );
      const tagged = await store.searchMemories({ query: 'coffee', tags: ['food', 'coffee'], limit: 5 });
      assert.deepEqual(
        tagged.map((h) => h.id),
        [m1.id],
      );
      assert.deepEqual(
        await store
          .searchMemories({ query: 'coffee -milk', user_id: 'mem-user', limit: 5 })
          .then((h) => h.map((x) => x.id)),
        [m2.id],
      );
      assert.deepEqual(await store.searchMemories({ query: 'the and of', limit: 5 }), [], 'stop words only');
      await assert.rejects(store.searchMemories({ query: '  ', limit: 5 }), appError(400, 'empty_query'));

      const log = await store.accessLog(m1.id);
      assert.deepEqual(log.map((e) => e.operation).sort(), ['batch_get', 'get', 'search', 'search'].sort());

      const updated = await store.updateMemory(m3.id, {
        content: 'The dentist appointment moved to Monday.',
        tags: ['health'],
      });
      assert.equal(updated.content, 'The dentist appointment moved to Monday.');
      assert.deepEqual(updated.tags, ['health']);
      assert.deepEqual(
        (await store.searchMemories({ query: 'monday', limit: 5 })).map((h) => h.id),
        [m3.id],
      );
      await assert.rejects(store.updateMemory('missing', { content: 'x' }), appError(404));

      await store.relate(m1.id, m2.id, 'about', 0.7);
      await store.relate(m3.id, m1.id, 'related', 0.2);
      await assert.rejects(store.relate(m1.id, m1.id), appError(400));
      await assert.rejects(store.relate(m1.id, 'missing'), appError(404));
      const rel = await store.related(m1.id);
      assert.deepEqual(
        rel.map((r) => [r.memory.id, r.type, r.direction]),
        [
          [m2.id, 'about', 'outgoing'],
          [m3.id, 'related', 'incoming'],
        ],
      );
      assert.ok(Math.abs(rel[0]!.strength - 0.7) < 1e-6, 'strength kept');

      assert.equal(await store.deleteMemory(m3.id), true);
      assert.equal(await store.deleteMemory(m3.id), false);
      assert.equal((await store.related(m1.id)).length, 1, 'relationships go with the memory');
      // Deleting the session deletes its memories.
      await store.deleteSession(s.session_id);
      assert.equal(await store.getMemory(m1.id), null);
    });

    test('bulk delete by filter; refuses an empty filter; TTL expiry of memories', async () => {
      const mk = (
        content: string,
        extra: Parameters<SessionStore['createMemory']>[0] extends infer T ? Partial<T> : never,
      ) => store.createMemory({ content, ...extra });
      await mk('alpha one', { user_id: 'bulk', type: 'note', tags: ['x'] });
      await mk('alpha two', { user_id: 'bulk', type: 'fact', tags: ['x', 'y'] });
      await mk('alpha three', { user_id: 'bulk', type: 'fact' });
      await mk('alpha four', { user_id: 'keep', type: 'fact', tags: ['x', 'y'] });
      await assert.rejects(store.bulkDelete({}), appError(400, 'empty_filter'));
      assert.equal(await store.bulkDelete({ user_id: 'bulk', tags: ['x', 'y'] }), 1);
      assert.equal(await store.bulkDelete({ user_id: 'bulk', type: 'fact' }), 1);
      clock.advance(1000);
      assert.equal(await store.bulkDelete({ user_id: 'bulk', older_than: clock.now() }), 1);
      assert.equal((await store.searchMemories({ query: 'alpha', limit: 10 })).length, 1);

      const short = await store.createMemory({ content: 'ephemeral note', ttl_seconds: 10 });
      const forever = await store.createMemory({ content: 'ephemeral but kept', ttl_seconds: null });
      assert.equal(forever.expires_at, null);
      clock.advance(11_000);
      assert.equal(await store.getMemory(short.id), null, 'expired memories are invisible before the sweep');
      assert.equal(await store.expireMemories(), 1);
      assert.equal((await store.getMemory(forever.id))!.id, forever.id);
    });

    test('a PGlite-style single connection never mixes a query into an open transaction', async () => {
      const s = await store.createSession({});
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const tx = t.db.transaction(async (q) => {
        await q.query(`UPDATE sessions SET summary = 'uncommitted' WHERE session_id = $1`, [s.session_id]);
        await gate;
        throw new Error('rollback');
      });
      const outside = store.getSession(s.session_id);
      release();
      await assert.rejects(tx, /rollback/);
      assert.equal((await outside)!.summary, null, 'the outside read did not see the uncommitted write');
    });
  });
}
