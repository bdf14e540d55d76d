// Session-memory benchmark: operations per second and latency of the SessionStore library API (what the services
// and the in-process coordinator call) on the PostgreSQL server (DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/test, in a throw-away schema) and on in-process PGlite (a temporary data
// directory, the embedded default), for comparison. Prints one JSON object on stdout (progress on stderr).
//
//   node --import tsx bench/session-memory.ts [--n 2000] [--sessions 20] [--memories 5000] [--searches 500]
//                                             [--context-tokens 2000] [--concurrency 8] [--backends postgres,pglite]
//
// Phases per backend (sequential, one operation in flight, except the `_concurrent` variants on PostgreSQL):
// - add_interaction: n interactions (≈ 200 characters) spread round-robin over `sessions` sessions;
// - get_context: n context windows of `context-tokens` over those sessions (≈ 50 interactions each fit);
// - create_memory: `memories` memories (≈ 30 words from a 2000-word vocabulary, 2 tags each);
// - search: `searches` full-text searches of one random vocabulary word (≈ memories × 30 / 2000 matches, limit 10;
//   each search logs its hits in the access log).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openDb, redactUrl, waitForPostgres, type Db } from '../packages/session-memory/src/db.ts';
import { migrate } from '../packages/session-memory/src/migrations.ts';
import { SessionStore } from '../packages/session-memory/src/store.ts';
import {
  emit,
  flag,
  intFlag,
  latencySummary,
  log,
  machine,
  round,
  waitForQuiet,
  ownCpu,
} from './lib/util.ts';

const n = intFlag('n', 2000);
const sessionCount = intFlag('sessions', 20);
const memoryCount = intFlag('memories', 5000);
const searchCount = intFlag('searches', 500);
const contextTokens = intFlag('context-tokens', 2000);
const concurrency = intFlag('concurrency', 8);
const which = (flag('backends') ?? 'postgres,pglite').split(',').map((s) => s.trim());
const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

// Deterministic text (xorshift32).
let seed = 12345;
const rand = () => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 4294967296;
};
const syllables = ['ka', 'lo', 'mi', 'ne', 'ru', 'ta', 'vo', 'si', 'den', 'mar', 'tol', 'bri', 'qua', 'zen'];
const vocabulary = Array.from({ length: 2000 }, (_, i) => {
  let w = '';
  for (let k = 0, x = i + 7; k < 3; k++, x = Math.floor(x / syllables.length))
    w += syllables[x % syllables.length];
  return `${w}${i % 10}x`;
});
const pick = () => vocabulary[Math.floor(rand() * vocabulary.length)]!;
const sentence = (words: number) => Array.from({ length: words }, pick).join(' ') + '.';

async function timed<T>(count: number, parallel: number, op: (i: number) => Promise<T>) {
  const samples: number[] = [];
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, parallel) }, async () => {
      for (let i = next++; i < count; i = next++) {
        const s = performance.now();
        await op(i);
        samples.push(performance.now() - s);
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  return { ops_per_s: round(count / wall, 1), concurrency: parallel, ...latencySummary(samples) };
}

async function runBackend(name: string, db: Db) {
  await migrate(db);
  const store = new SessionStore(db, { sessionTtlSeconds: 3600 });
  const sessions: string[] = [];
  for (let i = 0; i < sessionCount; i++)
    sessions.push((await store.createSession({ user_id: `bench-${i % 4}` })).session_id);
  const texts = Array.from({ length: n }, () => sentence(28));
  await waitForQuiet(ownCpu());
  const result: Record<string, unknown> = {};

  log(`${name}: add_interaction ×${n}`);
  result.add_interaction = await timed(n, 1, (i) =>
    store.addInteraction(sessions[i % sessions.length]!, {
      role: i % 2 ? 'assistant' : 'user',
      content: texts[i]!,
    }),
  );
  log(`${name}: get_context ×${n}`);
  let included = 0;
  result.get_context = await timed(n, 1, async (i) => {
    const ctx = await store.getContext(sessions[i % sessions.length]!, { max_tokens: contextTokens });
    included += ctx.interactions.length;
  });
  (result.get_context as Record<string, unknown>).mean_interactions = round(included / Math.max(1, n), 1);

  const memoryTexts = Array.from({ length: memoryCount }, () => sentence(30));
  log(`${name}: create_memory ×${memoryCount}`);
  result.create_memory = await timed(memoryCount, 1, (i) =>
    store.createMemory({
      content: memoryTexts[i]!,
      user_id: `bench-${i % 4}`,
      tags: [`t${i % 10}`, `g${i % 3}`],
    }),
  );
  const queries = Array.from({ length: searchCount }, () => pick());
  log(`${name}: search ×${searchCount} over ${memoryCount} memories`);
  let hits = 0;
  result.search = await timed(searchCount, 1, async (i) => {
    hits += (await store.searchMemories({ query: queries[i]!, limit: 10 })).length;
  });
  (result.search as Record<string, unknown>).mean_hits = round(hits / Math.max(1, searchCount), 2);

  if (name === 'postgres' && concurrency > 1) {
    log(`${name}: concurrent phases (${concurrency} in flight)`);
    result.add_interaction_concurrent = await timed(n, concurrency, (i) =>
      store.addInteraction(sessions[i % sessions.length]!, { role: 'user', content: texts[i]! }),
    );
    result.search_concurrent = await timed(searchCount, concurrency, (i) =>
      store.searchMemories({ query: queries[i]!, limit: 10 }),
    );
  }
  return result;
}

const results: Record<string, unknown> = {};
if (which.includes('postgres')) {
  try {
    await waitForPostgres(databaseUrl, { waitMs: 3000 });
    const schema = `bench_${randomBytes(4).toString('hex')}`;
    const db = await openDb({ databaseUrl, schema, poolSize: Math.max(2, concurrency) });
    try {
      const server = await db.query<{ server_version: string }>('SHOW server_version');
      results.postgres = {
        server_version: server.rows[0]?.server_version,
        url: redactUrl(databaseUrl),
        ...(await runBackend('postgres', db)),
      };
    } finally {
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.close();
    }
  } catch (err) {
    log(`postgres skipped: ${(err as Error).message}`);
    results.postgres = { skipped: (err as Error).message };
  }
}
if (which.includes('pglite')) {
  const dir = mkdtempSync(join(tmpdir(), 'synthians-bench-session-db-'));
  const t0 = performance.now();
  const db = await openDb({ path: dir });
  const openMs = performance.now() - t0;
  try {
    results.pglite = {
      open_ms: round(openMs),
      data_dir: 'temporary directory',
      ...(await runBackend('pglite', db)),
    };
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

emit({
  benchmark: 'session-memory',
  machine: machine(),
  config: {
    n,
    sessions: sessionCount,
    memories: memoryCount,
    searches: searchCount,
    context_tokens: contextTokens,
    concurrency,
    interaction_words: 28,
    memory_words: 30,
    vocabulary: vocabulary.length,
  },
  results,
});
