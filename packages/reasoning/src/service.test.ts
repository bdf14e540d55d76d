// The reasoning agent against a real memory core and real session storage (PGlite in a temporary data directory,
// and PostgreSQL when reachable): summaries with citations, contradictions, the profile, error patterns surviving a
// restart, context assembly within the budget, health, and every bad-input case.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonClient, startTestService, type TestService } from '@synthians/kit';
import { estimateTokens, openDb } from '@synthians/session-memory';
import { startCore, type TestCore } from '../../memory-core/src/test-support.ts';
import { postgresSkip, TEST_DATABASE_URL, newSchema } from '../../session-memory/src/test-support.ts';
import { memoryReasoningService } from './service.ts';

const DIM = '64';
const day = (d: number) => new Date(Date.UTC(2024, 0, d)).toISOString();

const backends = [
  { name: 'pglite', skip: false as string | false, env: () => ({}) as Record<string, string> },
  {
    name: 'postgres',
    skip: await postgresSkip(),
    env: () => ({ DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: newSchema() }) as Record<string, string>,
  },
];

for (const backend of backends) {
  describe(`memory reasoning over HTTP on ${backend.name}`, { skip: backend.skip }, () => {
    let core: TestCore;
    let svc: TestService;
    let dir: string;
    let env: Record<string, string>;
    const coreReq = () => jsonClient(core.url);
    const store = async (content: string, extra: Record<string, unknown>) => {
      const r = await coreReq()('POST', '/v1/memories', { content, ...extra });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.id as string;
    };

    before(async () => {
      core = await startCore({ EMBEDDING_DIM: DIM });
      dir = mkdtempSync(join(tmpdir(), 'synthians-reasoning-'));
      env = { MEMORY_CORE_URL: core.url, HEALTH_TIMEOUT_MS: '500', ...backend.env() };
      svc = await startTestService(memoryReasoningService, { env, dir });
    });
    after(async () => {
      await svc?.stop();
      await core?.destroy();
      if (env?.DATABASE_SCHEMA) {
        const db = await openDb({ databaseUrl: TEST_DATABASE_URL });
        await db.query(`DROP SCHEMA IF EXISTS ${env.DATABASE_SCHEMA} CASCADE`);
        await db.close();
      }
      rmSync(dir, { recursive: true, force: true });
    });

    test('health checks the memory core and the session database', async () => {
      const h = await svc.request('GET', '/health');
      assert.equal(h.status, 200);
      assert.equal(h.body.status, 'healthy');
      assert.equal(h.body.checks.memory_core.status, 'healthy');
      assert.equal(h.body.checks.session_db.status, 'healthy');
      const spec = await svc.request('GET', '/openapi.json');
      for (const path of ['/v1/contradictions', '/v1/context', '/v1/error-patterns/lookup'])
        assert.ok(spec.body.paths[path], path);
    });

    test('session summary cites the memories holding each sentence and the turns, within the budget', async () => {
      // Turns through the session database the agent uses (a session-memory service would write the same rows).
      const sm = await openSessionStore(env, dir);
      try {
        await sm.createSession({ session_id: 'trip', user_id: 'sam' });
        const turns = [
          [
            'user',
            'We are planning a trip to Lisbon in April. The flights to Lisbon are booked for April 12.',
          ],
          ['assistant', 'Great, Lisbon in April is lovely. Do you need a hotel in Lisbon?'],
          ['user', 'Yes, a hotel near the Alfama district in Lisbon. My budget is 120 euros per night.'],
          ['assistant', 'Noted: a hotel in Alfama, Lisbon, up to 120 euros per night.'],
          ['user', 'Thanks!'],
        ] as const;
        for (const [role, content] of turns) await sm.addInteraction('trip', { role, content });
      } finally {
        await sm.close();
      }
      const flights = await store('The flights to Lisbon are booked for April 12.', {
        user_id: 'sam',
        session_id: 'trip',
      });
      const hotel = await store('Sam wants a hotel near the Alfama district in Lisbon.', {
        user_id: 'sam',
        session_id: 'trip',
      });
      await store('The flights to Lisbon are booked for April 12.', { user_id: 'sam', session_id: 'other' });

      const r = await svc.request('POST', '/v1/sessions/trip/summary', { max_chars: 200 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(r.body.summary.length <= 200, r.body.summary);
      assert.ok(r.body.sentences.length >= 2);
      const cited = new Set(r.body.cited_memory_ids);
      assert.ok(cited.has(flights) && cited.has(hotel), JSON.stringify(r.body));
      assert.equal(cited.size, 2, 'only memories of this session are cited');
      const flightSentence = r.body.sentences.find((s: { text: string }) => s.text.includes('flights'));
      assert.deepEqual(flightSentence.memory_ids, [flights]);
      assert.deepEqual(flightSentence.interaction_ids, ['trip:1']);
      assert.ok(!r.body.summary.includes('Thanks'));
      // Original order of the sentences.
      const positions = r.body.sentences.map((s: { interaction_ids: string[] }) =>
        Number(s.interaction_ids[0]!.split(':')[1]),
      );
      assert.deepEqual(
        positions,
        [...positions].sort((a, b) => a - b),
      );

      const tiny = await svc.request('POST', '/v1/sessions/trip/summary', { max_chars: 60 });
      assert.equal(tiny.status, 200);
      assert.ok(tiny.body.summary.length <= 60);
      const dflt = await svc.request('POST', '/v1/sessions/trip/summary', {});
      assert.equal(dflt.body.max_chars, 600);

      // A session known only to the memory core is summarised from its memories.
      const m = await store('The plumber comes on Tuesday to fix the boiler.', { session_id: 'core-only' });
      const fromCore = await svc.request('POST', '/v1/sessions/core-only/summary', {});
      assert.equal(fromCore.status, 200);
      assert.deepEqual(fromCore.body.cited_memory_ids, [m]);
    });

    test('contradictions: planted conflicts found, distractors not, newer memory named', async () => {
      const user = 'kim';
      const planted: [string, string, string][] = [
        ['My sister is called Ana.', 'My sister is called Maria.', 'conflicting_value'],
        ['I like coffee.', "I don't like coffee.", 'negation'],
        ['I have 2 cats.', 'I have 3 cats.', 'changed_number'],
        ['The meeting is on May 3.', 'The meeting is on May 5.', 'changed_date'],
        ['I live in Oslo.', 'I live in Bergen now.', 'conflicting_value'],
      ];
      const distractors = [
        'I like tea.',
        'My brother is called Tom.',
        'I have 2 dogs.',
        'The party is on May 9.',
        'My sister likes coffee.',
        "My brother's name is Tom.",
        'I went to the gym on Monday.',
        'I went to the gym on Friday.',
      ];
      const expected = new Map<string, string>();
      let d = 1;
      for (const [older, newer, reason] of planted) {
        const a = await store(older, { user_id: user, event_time: day(d++) });
        const b = await store(newer, { user_id: user, event_time: day(d++) });
        expected.set(`${a}|${b}`, reason);
      }
      for (const text of distractors) await store(text, { user_id: user, event_time: day(d++) });
      await store('My sister is called Zoe.', { user_id: 'someone-else', event_time: day(d++) });

      const r = await svc.request('POST', '/v1/contradictions', { user_id: user });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.scanned, planted.length * 2 + distractors.length);
      const found = r.body.pairs.map((p: { a: { id: string }; b: { id: string } }) => `${p.a.id}|${p.b.id}`);
      const truePositives = found.filter((k: string) => expected.has(k)).length;
      const precision = truePositives / found.length;
      const recall = truePositives / expected.size;
      // Measured: 1.0 / 1.0 on this set; the thresholds leave room for rule changes, not for regressions.
      assert.ok(precision >= 0.9, `precision ${precision}: ${JSON.stringify(r.body.pairs)}`);
      assert.ok(recall >= 0.9, `recall ${recall}`);
      for (const p of r.body.pairs) {
        const reason = expected.get(`${p.a.id}|${p.b.id}`);
        if (reason) assert.equal(p.reason, reason, p.explanation);
        assert.equal(p.newer_id, p.b.id);
        assert.ok(p.confidence > 0 && p.confidence <= 1);
        assert.ok(p.explanation.includes(p.b.id));
      }
      const confidences = r.body.pairs.map((p: { confidence: number }) => p.confidence);
      assert.deepEqual(
        confidences,
        [...confidences].sort((a, b) => b - a),
      );

      // By ids: only those memories; unknown ids are a 404.
      const [key] = [...expected.keys()];
      const ids = key!.split('|');
      const byIds = await svc.request('POST', '/v1/contradictions', { memory_ids: ids });
      assert.equal(byIds.status, 200);
      assert.equal(byIds.body.pairs.length, 1);
      assert.equal(byIds.body.pairs[0].subject, 'sister');
      const unknown = await svc.request('POST', '/v1/contradictions', {
        memory_ids: [ids[0], 'no-such-memory'],
      });
      assert.equal(unknown.status, 404);
      const limited = await svc.request('POST', '/v1/contradictions', { user_id: user, limit: 2 });
      assert.equal(limited.body.pairs.length, 2);
    });

    test('profile: extraction with provenance, newer memories override, manual edits and deletes', async () => {
      const u = 'lena';
      const name = await store('My name is Lena.', { user_id: u, event_time: day(1) });
      const sis1 = await store('My sister is called Ana.', { user_id: u, event_time: day(2) });
      const home1 = await store('I live in Paris.', { user_id: u, event_time: day(3) });
      const coffee = await store('I love coffee.', { user_id: u, event_time: day(4) });
      const dog = await store('I have a dog called Rex.', { user_id: u, event_time: day(5) });
      const home2 = await store('Actually, I live in Lyon now.', { user_id: u, event_time: day(6) });
      await store('I like the weather today.', { user_id: 'other', event_time: day(6) });

      const r = await svc.request('POST', `/v1/profile/${u}/extract`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const fact = (body: { facts: { key: string }[] }, key: string) =>
        body.facts.find((f) => f.key === key) as unknown as Record<string, unknown> & {
          memory_ids: string[];
          history: { value: string; memory_ids: string[] }[];
        };
      assert.equal(fact(r.body, 'name').value, 'Lena');
      assert.deepEqual(fact(r.body, 'name').memory_ids, [name]);
      assert.equal(fact(r.body, 'sister.name').value, 'Ana');
      assert.deepEqual(fact(r.body, 'sister.name').memory_ids, [sis1]);
      assert.equal(fact(r.body, 'likes.coffee').value, 'likes');
      assert.deepEqual(fact(r.body, 'likes.coffee').memory_ids, [coffee]);
      assert.equal(fact(r.body, 'dog.name').value, 'Rex');
      assert.deepEqual(fact(r.body, 'dog.name').memory_ids, [dog]);
      const lives = fact(r.body, 'lives_in');
      assert.equal(lives.value, 'Lyon');
      assert.deepEqual(lives.memory_ids, [home2]);
      assert.equal(lives.history[0]!.value, 'Paris');
      assert.deepEqual(lives.history[0]!.memory_ids, [home1]);
      for (const f of r.body.facts) {
        assert.equal(typeof f.id, 'string');
        assert.ok(f.extracted_at && f.updated_at && f.confidence > 0 && f.confidence <= 1);
      }

      // A newer memory changes the sister's name: the old value goes to the history.
      const sis2 = await store("My sister's name is Maria.", { user_id: u, event_time: day(7) });
      const again = await svc.request('POST', `/v1/profile/${u}/extract`);
      assert.deepEqual(again.body.updated, ['sister.name']);
      const sister = fact(again.body, 'sister.name');
      assert.equal(sister.value, 'Maria');
      assert.deepEqual(sister.memory_ids, [sis2]);
      assert.equal(sister.history.at(-1)!.value, 'Ana');
      assert.equal(sister.id, fact(r.body, 'sister.name').id, 'the fact keeps its id');

      // Manual edit: provenance "user", survives re-extraction from older memories.
      const put = await svc.request('PUT', `/v1/profile/${u}/facts/lives_in`, { value: 'Grenoble' });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.equal(put.body.source, 'user');
      assert.equal(put.body.note, 'edited by the user');
      assert.equal(put.body.history.at(-1).value, 'Lyon');
      await svc.request('POST', `/v1/profile/${u}/extract`);
      const got = await svc.request('GET', `/v1/profile/${u}`);
      assert.equal(fact(got.body, 'lives_in').value, 'Grenoble');

      // Delete: gone, and not resurrected by the same (older) memories.
      assert.equal((await svc.request('DELETE', `/v1/profile/${u}/facts/dog.name`)).status, 204);
      await svc.request('POST', `/v1/profile/${u}/extract`);
      const afterDelete = await svc.request('GET', `/v1/profile/${u}`);
      assert.equal(fact(afterDelete.body, 'dog.name'), undefined);
      assert.equal((await svc.request('DELETE', `/v1/profile/${u}/facts/dog.name`)).status, 404);
      assert.equal((await svc.request('GET', '/v1/profile/nobody-here')).status, 404);
    });

    test('error patterns: lookup counts occurrences durably across a restart', async () => {
      const created = await svc.request('POST', '/v1/error-patterns', {
        pattern: 'ECONNREFUSED .*:5432',
        solution: 'Start PostgreSQL or set DATABASE_URL',
        tags: ['db'],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const other = await svc.request('POST', '/v1/error-patterns', {
        pattern: 'out of memory',
        solution: 'Lower the batch size',
      });
      assert.equal(other.status, 201);
      const message = 'connect ECONNREFUSED 127.0.0.1:5432 while migrating';
      const first = await svc.request('POST', '/v1/error-patterns/lookup', { message });
      assert.equal(first.status, 200);
      assert.equal(first.body.matches.length, 1);
      assert.equal(first.body.matches[0].id, created.body.id);
      assert.equal(first.body.matches[0].occurrences, 1);
      assert.equal(first.body.matches[0].solution, 'Start PostgreSQL or set DATABASE_URL');
      assert.equal(typeof first.body.matches[0].last_seen, 'string');
      await svc.request('POST', '/v1/error-patterns/lookup', { message: message.toUpperCase() });
      assert.equal(
        (await svc.request('POST', '/v1/error-patterns/lookup', { message: 'all fine' })).body.matches.length,
        0,
      );

      // Restart on the same data directory (and database).
      await svc.stop();
      svc = await startTestService(memoryReasoningService, { env, dir });
      const third = await svc.request('POST', '/v1/error-patterns/lookup', { message });
      assert.equal(third.body.matches[0].occurrences, 3);
      const list = await svc.request('GET', '/v1/error-patterns');
      assert.equal(list.body.patterns.length, 2);
      assert.equal((await svc.request('DELETE', `/v1/error-patterns/${other.body.id}`)).status, 204);
      assert.equal((await svc.request('DELETE', `/v1/error-patterns/${other.body.id}`)).status, 404);
      assert.equal((await svc.request('GET', '/v1/error-patterns')).body.patterns.length, 1);
    });

    test('context assembly: turns, memories and facts within the budget', async () => {
      const sm = await openSessionStore(env, dir);
      try {
        await sm.createSession({ session_id: 'chat', user_id: 'lena' });
        for (let i = 1; i <= 12; i++) {
          await sm.addInteraction('chat', {
            role: i % 2 ? 'user' : 'assistant',
            content: `turn ${i}: we talked about the garden and the roses, part ${i} of a long conversation.`,
          });
        }
      } finally {
        await sm.close();
      }
      await store('Lena planted red roses in the garden last spring.', {
        user_id: 'lena',
        event_time: day(8),
      });
      for (const max of [60, 150, 400, 4000]) {
        const r = await svc.request('POST', '/v1/context', {
          query: 'roses in the garden',
          session_id: 'chat',
          max_tokens: max,
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.ok(r.body.tokens_used <= max, `${r.body.tokens_used} > ${max}`);
        assert.ok(Math.ceil([...r.body.context].length / 4) <= max, 'the whole context fits the estimate');
        const sum = r.body.parts.reduce((s: number, p: { tokens: number }) => s + p.tokens, 0);
        assert.ok(sum <= r.body.tokens_used);
        for (const p of r.body.parts) assert.equal(p.tokens, estimateTokens(p.text));
        if (max >= 400) {
          const kinds = new Set(r.body.parts.map((p: { kind: string }) => p.kind));
          assert.deepEqual([...kinds].sort(), ['fact', 'memory', 'turn'], JSON.stringify(r.body.parts));
          const turns = r.body.parts.filter((p: { kind: string }) => p.kind === 'turn');
          const seqs = turns.map((t: { id: string }) => Number(t.id.split(':')[1]));
          assert.deepEqual(
            seqs,
            [...seqs].sort((a, b) => a - b),
            'chronological',
          );
          assert.equal(seqs.at(-1), 12, 'the newest turn is included');
          assert.ok(r.body.context.includes('Lena planted red roses'));
        }
      }
      const noSession = await svc.request('POST', '/v1/context', {
        query: 'roses',
        user_id: 'lena',
        max_tokens: 200,
      });
      assert.equal(noSession.status, 200);
      assert.ok(noSession.body.parts.every((p: { kind: string }) => p.kind !== 'turn'));
    });

    test('bad input: 400 with the envelope, 404 for unknown ids', async () => {
      const cases: [string, string, unknown, number, string?][] = [
        ['POST', '/v1/error-patterns', { pattern: '(a+)+$', solution: 'x' }, 400, 'invalid_pattern'],
        ['POST', '/v1/error-patterns', { pattern: '(unclosed', solution: 'x' }, 400, 'invalid_pattern'],
        ['POST', '/v1/error-patterns', { pattern: 'x'.repeat(501), solution: 'x' }, 400, 'invalid_pattern'],
        ['POST', '/v1/error-patterns', { pattern: '(a|ab)*c', solution: 'x' }, 400, 'invalid_pattern'],
        ['POST', '/v1/error-patterns', { pattern: '(\\w)\\1', solution: 'x' }, 400, 'invalid_pattern'],
        ['POST', '/v1/error-patterns', { pattern: 'ok' }, 400, 'validation_error'],
        ['POST', '/v1/error-patterns/lookup', {}, 400, 'validation_error'],
        ['POST', '/v1/error-patterns/lookup', { message: 42 }, 400, 'validation_error'],
        ['DELETE', '/v1/error-patterns/nope', undefined, 404, 'not_found'],
        ['GET', '/v1/error-patterns/nope', undefined, 404, 'not_found'],
        ['POST', '/v1/contradictions', { memory_ids: ['only-one'] }, 400, 'validation_error'],
        ['POST', '/v1/contradictions', { limit: 0 }, 400, 'validation_error'],
        ['POST', '/v1/contradictions', { user_id: 'bad id!' }, 400, 'validation_error'],
        ['POST', '/v1/contradictions', { extra: true }, 400, 'validation_error'],
        ['POST', '/v1/sessions/nope/summary', {}, 404, 'not_found'],
        ['POST', '/v1/sessions/trip/summary', { max_chars: 5 }, 400, 'validation_error'],
        ['POST', '/v1/sessions/trip/summary', { max_chars: '100' }, 400, 'validation_error'],
        ['POST', '/v1/context', { query: 'x', max_tokens: 0 }, 400, 'validation_error'],
        ['POST', '/v1/context', { max_tokens: 100 }, 400, 'validation_error'],
        ['POST', '/v1/context', { query: 'x', max_tokens: 100, session_id: 'nope' }, 404, 'not_found'],
        ['PUT', '/v1/profile/lena/facts/Bad Key', { value: 'x' }, 400, 'validation_error'],
        ['PUT', '/v1/profile/lena/facts/city', { value: '' }, 400, 'validation_error'],
        ['PUT', '/v1/profile/lena/facts/city', { value: '   ' }, 400, 'invalid_value'],
        ['DELETE', '/v1/profile/lena/facts/never.set', undefined, 404, 'not_found'],
        ['POST', '/v1/context', '{not json', 400, 'invalid_json'],
      ];
      for (const [method, path, body, status, code] of cases) {
        const r = await svc.request(method, path, body);
        assert.equal(
          r.status,
          status,
          `${method} ${path} ${JSON.stringify(body)} → ${JSON.stringify(r.body)}`,
        );
        if (code) assert.equal(r.body.error.code, code, `${method} ${path}`);
        assert.equal(typeof r.body.error.message, 'string');
      }
    });

    test('memory core down: 503 memory_core_unavailable, health degraded', async () => {
      const down = await startTestService(memoryReasoningService, {
        env: { ...env, MEMORY_CORE_URL: 'http://127.0.0.1:9', MEMORY_CORE_TIMEOUT_MS: '500' },
        dir,
      });
      try {
        for (const [path, body] of [
          ['/v1/contradictions', { user_id: 'kim' }],
          ['/v1/profile/kim/extract', undefined],
          ['/v1/context', { query: 'x', max_tokens: 100 }],
        ] as const) {
          const r = await down.request('POST', path, body);
          assert.equal(r.status, 503, path);
          assert.equal(r.body.error.code, 'memory_core_unavailable');
        }
        const h = await down.request('GET', '/health');
        assert.equal(h.status, 200);
        assert.equal(h.body.status, 'degraded');
        assert.equal(h.body.checks.memory_core.status, 'unhealthy');
        // Error patterns need no memory core.
        assert.equal((await down.request('GET', '/v1/error-patterns')).status, 200);
      } finally {
        await down.stop();
      }
    });
  });
}

/** The session store on the agent's own database (same variables and data directory). */
async function openSessionStore(env: Record<string, string>, dir: string) {
  const { loadSessionMemoryConfig, openConfiguredDb, SessionStore } =
    await import('@synthians/session-memory');
  const { createLogger } = await import('@synthians/kit');
  const db = await openConfiguredDb(loadSessionMemoryConfig(env), dir, createLogger('test', 'silent'));
  const store = new SessionStore(db);
  return Object.assign(store, { close: () => db.close() });
}
