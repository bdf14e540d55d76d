// Contract tests for the v1 API, against a real memory core on a loopback port.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCore, unitVector, type TestCore } from '../test-support.ts';

// ---- wire shapes (what the tests read) -----------------------------------------------------------------------

interface Emotion {
  dominant: string;
  valence: number;
  intensity: number;
  scores: Record<string, number>;
}
interface SurpriseEvent {
  at: string;
  delta: number;
  previous: number;
  new: number;
  reason: string;
}
interface Memory {
  id: string;
  content: string;
  metadata: Record<string, unknown>;
  tags: string[];
  user_id: string | null;
  session_id: string | null;
  quickrecal_score: number;
  quickrecal_stored: number;
  emotion: Emotion;
  embedding_model: string;
  created_at: string;
  updated_at: string;
  event_time: string | null;
  assemblies: string[];
  surprise_events?: SurpriseEvent[];
  embedding?: number[];
}
interface Explain {
  mode: string;
  vector_similarity: number | null;
  lexical_bm25: number | null;
  components: Record<string, number>;
  weights: Record<string, number>;
  relevance: number;
}
interface Hit extends Memory {
  similarity: number;
  relevance_score: number;
  explain?: Explain;
}
interface WireChange {
  seq: number;
  kind: 'memory' | 'assembly';
  op: 'upsert' | 'delete';
  id: string;
  memory?: {
    id: string;
    content: string;
    embedding_b64: string;
    metadata: Record<string, unknown>;
    quickrecal_score: number;
  };
}
interface ChangesPage {
  changes: WireChange[];
  last_seq: number;
  head_seq: number;
}
interface Assembly {
  id: string;
  member_count: number;
  members?: string[];
  composite_embedding?: number[];
}
interface Stats {
  memory_count: number;
  assembly_count: number;
  index_size: number;
  head_seq: number;
}

// ---- helpers -------------------------------------------------------------------------------------------------

const isoPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function cosine(a: readonly number[], b: readonly number[]): number {
  assert.equal(a.length, b.length, 'vectors of different lengths');
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

const norm = (v: readonly number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

/** `base` plus deterministic noise of amplitude `amp`, renormalised. */
function nearDuplicate(base: readonly number[], seed: number, amp = 0.01): number[] {
  let s = (seed * 48271) % 2147483647 || 1;
  const v = base.map((x) => {
    s = (s * 48271) % 2147483647;
    return x + (s / 2147483647 - 0.5) * amp;
  });
  const n = norm(v);
  return v.map((x) => x / n);
}

async function create(core: TestCore, body: Record<string, unknown>): Promise<Memory> {
  const res = await core.request('POST', '/v1/memories', body);
  assert.equal(res.status, 201, `create failed: ${JSON.stringify(res.body)}`);
  return res.body as Memory;
}

async function getMemory(core: TestCore, id: string, embedding = false): Promise<Memory> {
  const res = await core.request(
    'GET',
    `/v1/memories/${encodeURIComponent(id)}${embedding ? '?include_embedding=true' : ''}`,
  );
  assert.equal(res.status, 200, `get ${id} failed: ${JSON.stringify(res.body)}`);
  return res.body as Memory;
}

async function search(core: TestCore, body: Record<string, unknown>): Promise<Hit[]> {
  const res = await core.request('POST', '/v1/search', { track_access: false, ...body });
  assert.equal(res.status, 200, `search failed: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.mode, body.mode ?? 'hybrid', 'search echoes its mode');
  assert.ok(Array.isArray(res.body.results), 'search returns a results array');
  return res.body.results as Hit[];
}

async function stats(core: TestCore): Promise<Stats> {
  const res = await core.request('GET', '/v1/stats');
  assert.equal(res.status, 200, 'stats');
  return res.body as Stats;
}

async function changes(core: TestCore, query: string): Promise<ChangesPage> {
  const res = await core.request('GET', `/v1/changes?${query}`);
  assert.equal(res.status, 200, `changes failed: ${JSON.stringify(res.body)}`);
  return res.body as ChangesPage;
}

/** Every id a list query returns (one page of up to 1000). */
async function listIds(core: TestCore, query: Record<string, string | string[]>): Promise<string[]> {
  const params = new URLSearchParams({ limit: '1000' });
  for (const [k, v] of Object.entries(query)) for (const x of Array.isArray(v) ? v : [v]) params.append(k, x);
  const res = await core.request('GET', `/v1/memories?${params}`);
  assert.equal(res.status, 200, `list failed: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.next_cursor, null, 'a single page holds everything');
  return (res.body.items as Memory[]).map((m) => m.id);
}

const sorted = (xs: string[]) => [...xs].sort();
const idsOf = (hits: Hit[]) => hits.map((h) => h.id);

function assertError(
  res: { status: number; body: { error?: { code?: unknown; message?: unknown } } },
  status: number,
  code: string,
) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body?.error?.code, code, `error code: ${JSON.stringify(res.body)}`);
  assert.equal(typeof res.body.error.message, 'string', 'error message is a string');
  assert.ok((res.body.error.message as string).length > 0, 'error message is not empty');
}

// ---- memories: create, get, patch, delete, boost -------------------------------------------------------------

describe('v1 memories', () => {
  let core: TestCore;
  before(async () => {
    core = await startCore();
  });
  after(async () => {
    await core.destroy();
  });

  it('POST /v1/memories stores one memory and returns its full view (201)', async () => {
    const res = await core.request('POST', '/v1/memories', {
      content: 'I am so happy today, my dog Rex learned a new trick!',
      metadata: { topic: 'pets', nested: { level: 2 } },
      tags: ['dog', 'joy'],
      user_id: 'user-1',
      session_id: 'session-1',
      event_time: '2024-05-01T12:00:00Z',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const m = res.body as Memory;
    assert.match(m.id, /^[A-Za-z0-9_.:-]+$/);
    assert.equal(m.content, 'I am so happy today, my dog Rex learned a new trick!');
    assert.deepEqual(m.metadata, { topic: 'pets', nested: { level: 2 } });
    assert.deepEqual(sorted(m.tags), ['dog', 'joy']);
    assert.equal(m.user_id, 'user-1');
    assert.equal(m.session_id, 'session-1');
    assert.equal(typeof m.quickrecal_score, 'number');
    assert.ok(
      m.quickrecal_score >= 0 && m.quickrecal_score <= 1,
      `quickrecal_score ${m.quickrecal_score} in [0,1]`,
    );
    assert.equal(typeof m.emotion.dominant, 'string');
    assert.equal(m.emotion.dominant, 'joy');
    assert.ok(m.emotion.valence >= -1 && m.emotion.valence <= 1, 'valence in [-1,1]');
    assert.ok(m.emotion.valence > 0, 'a happy text has a positive valence');
    assert.ok(m.emotion.intensity >= 0 && m.emotion.intensity <= 1, 'intensity in [0,1]');
    assert.equal(typeof m.emotion.scores, 'object');
    assert.ok(Object.keys(m.emotion.scores).length > 0, 'emotion scores are listed');
    assert.match(m.created_at, isoPattern);
    assert.ok(Math.abs(Date.parse(m.created_at) - Date.now()) < 60_000, 'created_at is now');
    assert.equal(m.event_time, '2024-05-01T12:00:00.000Z');
    assert.equal(m.embedding, undefined, 'no embedding unless asked for');
  });

  it('stores a client embedding as given, after L2 normalisation', async () => {
    const given = unitVector(42).map((x) => x * 7.5); // not unit length
    const m = await create(core, { content: 'a memory with a client embedding', embedding: given });
    assert.equal(m.embedding_model, 'client');
    const stored = (await getMemory(core, m.id, true)).embedding;
    assert.ok(Array.isArray(stored), 'include_embedding=true returns the embedding');
    assert.equal(stored.length, 768);
    assert.ok(Math.abs(norm(stored) - 1) < 1e-5, `stored embedding has unit norm (${norm(stored)})`);
    assert.ok(cosine(stored, given) > 0.99999, 'stored embedding has the direction given');
    // An embedding alone (no content) is a memory too.
    const bare = await create(core, { embedding: unitVector(43) });
    assert.equal(bare.content, '');
  });

  it('GET /v1/memories/:id returns the memory with its surprise_events', async () => {
    const m = await create(core, { content: 'the quick brown fox', metadata: { k: 'v' } });
    const got = await getMemory(core, m.id);
    assert.equal(got.id, m.id);
    assert.equal(got.content, 'the quick brown fox');
    assert.deepEqual(got.metadata, { k: 'v' });
    assert.ok(Array.isArray(got.surprise_events), 'surprise_events is an array');
    assert.equal(got.surprise_events.length, 0);
    assert.equal(got.created_at, m.created_at);
  });

  it('GET of an unknown id → 404 not_found with a message', async () => {
    const res = await core.request('GET', '/v1/memories/mem_does_not_exist');
    assertError(res, 404, 'not_found');
  });

  it('PATCH content re-embeds: the embedding changes, lexical search finds the new words, not the old', async () => {
    const m = await create(core, { content: 'the purple elephant dances quietly' });
    const before = (await getMemory(core, m.id, true)).embedding!;
    assert.deepEqual(idsOf(await search(core, { query: 'elephant', mode: 'lexical' })), [m.id]);

    const res = await core.request('PATCH', `/v1/memories/${m.id}`, {
      content: 'a golden giraffe sings loudly',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.content, 'a golden giraffe sings loudly');
    assert.ok(Array.isArray(res.body.surprise_events), 'PATCH returns the surprise history');
    const afterPatch = await getMemory(core, m.id, true);
    assert.equal(afterPatch.content, 'a golden giraffe sings loudly');
    assert.ok(cosine(before, afterPatch.embedding!) < 0.999, 'the embedding changed with the content');
    assert.ok(Date.parse(afterPatch.updated_at) >= Date.parse(m.updated_at), 'updated_at moves forward');

    assert.deepEqual(idsOf(await search(core, { query: 'giraffe', mode: 'lexical' })), [m.id]);
    assert.deepEqual(await search(core, { query: 'elephant', mode: 'lexical' }), []);
    // The vector index follows too: the new text's own embedding finds it first.
    const hits = await search(core, { query: 'a golden giraffe sings loudly', mode: 'vector', top_k: 1 });
    assert.equal(hits[0]?.id, m.id);
  });

  it('PATCH metadata replaces it, or merges with merge_metadata=true', async () => {
    const m = await create(core, { content: 'metadata patching', metadata: { a: 1, b: 2 } });
    let res = await core.request('PATCH', `/v1/memories/${m.id}`, {
      metadata: { b: 3, c: 4 },
      merge_metadata: true,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.metadata, { a: 1, b: 3, c: 4 });
    res = await core.request('PATCH', `/v1/memories/${m.id}`, { metadata: { z: true } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.metadata, { z: true });
    assert.deepEqual((await getMemory(core, m.id)).metadata, { z: true });
    // Content untouched by a metadata-only patch.
    assert.equal((await getMemory(core, m.id)).content, 'metadata patching');
  });

  it('DELETE → 204, then 404 on get, gone from vector and lexical search', async () => {
    const embedding = unitVector(777);
    const m = await create(core, { content: 'the xylophone quartet rehearses', embedding });
    assert.equal((await search(core, { embedding, mode: 'vector', top_k: 1 }))[0]?.id, m.id);
    assert.deepEqual(idsOf(await search(core, { query: 'xylophone', mode: 'lexical' })), [m.id]);

    const del = await core.request('DELETE', `/v1/memories/${m.id}`);
    assert.equal(del.status, 204);
    assert.equal(del.body, undefined, '204 has no body');
    assertError(await core.request('GET', `/v1/memories/${m.id}`), 404, 'not_found');
    assert.ok(
      !idsOf(await search(core, { embedding, mode: 'vector', top_k: 50 })).includes(m.id),
      'gone from vector search',
    );
    assert.deepEqual(await search(core, { query: 'xylophone', mode: 'lexical' }), []);
    assert.ok(
      !idsOf(
        await search(core, { query: 'xylophone quartet', embedding, mode: 'hybrid', top_k: 50 }),
      ).includes(m.id),
      'gone from hybrid search',
    );
    assertError(await core.request('DELETE', `/v1/memories/${m.id}`), 404, 'not_found');
  });

  it('POST /v1/memories/:id/boost changes the score, clamps to [0,1] and leaves an audit trail', async () => {
    const m = await create(core, { content: 'boost me please' });
    const start = (await getMemory(core, m.id)).quickrecal_stored;

    let res = await core.request('POST', `/v1/memories/${m.id}/boost`, { delta: 0.1, reason: 'surprising' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.id, m.id);
    assert.equal(res.body.previous_score, start);
    assert.ok(Math.abs(res.body.new_score - Math.min(1, start + 0.1)) < 1e-6, 'new = previous + delta');

    res = await core.request('POST', `/v1/memories/${m.id}/boost`, { delta: 1, reason: 'way up' });
    assert.equal(res.status, 200);
    assert.equal(res.body.new_score, 1, 'clamped at 1');

    res = await core.request('POST', `/v1/memories/${m.id}/boost`, { delta: -1, reason: 'way down' });
    assert.equal(res.status, 200);
    assert.equal(res.body.previous_score, 1);
    assert.equal(res.body.new_score, 0, 'clamped at 0');

    res = await core.request('POST', `/v1/memories/${m.id}/boost`, { delta: 0.25 }); // reason defaults
    assert.equal(res.status, 200);
    assert.equal(res.body.new_score, 0.25);

    const got = await getMemory(core, m.id);
    assert.equal(got.quickrecal_stored, 0.25);
    const events = got.surprise_events!;
    assert.equal(events.length, 4);
    assert.deepEqual(
      events.map((e) => [e.delta, e.new, e.reason]),
      [
        [0.1, Math.min(1, Math.round((start + 0.1) * 1e6) / 1e6), 'surprising'],
        [1, 1, 'way up'],
        [-1, 0, 'way down'],
        [0.25, 0.25, 'manual'],
      ],
    );
    for (const e of events) assert.match(e.at, isoPattern);
    assert.equal(events[1]!.previous, events[0]!.new, 'each event starts where the last ended');
  });
});

// ---- batch ---------------------------------------------------------------------------------------------------

describe('v1 batch', () => {
  let core: TestCore;
  before(async () => {
    core = await startCore();
  });
  after(async () => {
    await core.destroy();
  });

  it('stores a batch and returns ids, scores and creation times', async () => {
    const res = await core.request('POST', '/v1/memories/batch', {
      memories: [
        { content: 'first of three', tags: ['b'] },
        { id: 'client-id-1', content: 'second of three' },
        { embedding: unitVector(5) },
      ],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.count, 3);
    assert.equal(res.body.items.length, 3);
    assert.equal(res.body.items[1].id, 'client-id-1');
    for (const item of res.body.items as { id: string; quickrecal_score: number; created_at: string }[]) {
      assert.ok(item.quickrecal_score >= 0 && item.quickrecal_score <= 1, 'score in [0,1]');
      assert.match(item.created_at, isoPattern);
      assert.equal((await getMemory(core, item.id)).id, item.id);
    }
    assert.equal((await stats(core)).memory_count, 3);
  });

  it('takes 1000 memories; 1001 → 400 and nothing stored', async () => {
    const before = await stats(core);
    const many = Array.from({ length: 1001 }, (_, i) => ({ content: `note ${i}` }));
    const tooMany = await core.request('POST', '/v1/memories/batch', { memories: many });
    assertError(tooMany, 400, 'validation_error');
    assert.equal((await stats(core)).memory_count, before.memory_count, 'nothing stored');

    const ok = await core.request('POST', '/v1/memories/batch', { memories: many.slice(0, 1000) });
    assert.equal(ok.status, 201, JSON.stringify(ok.body).slice(0, 300));
    assert.equal(ok.body.count, 1000);
    assert.equal((await stats(core)).memory_count, before.memory_count + 1000);
  });

  it('is atomic: one bad item → 400 and none stored', async () => {
    const before = await stats(core);
    const bad = [
      [{ content: 'good one' }, { content: 'bad one', embedding: [1, 2, 3] }],
      [{ content: 'good one' }, { content: '   ' }],
      [{ content: 'good one' }, { content: 'bad type', tags: 'x' }],
      [
        { id: 'twice', content: 'a' },
        { id: 'twice', content: 'b' },
      ],
    ];
    for (const memories of bad) {
      const res = await core.request('POST', '/v1/memories/batch', { memories });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(typeof res.body.error.code, 'string');
    }
    // An id that already exists: 409, and the other items are not stored either.
    const dup = await core.request('POST', '/v1/memories/batch', {
      memories: [
        { id: 'fresh-id', content: 'a' },
        { id: 'client-id-1', content: 'b' },
      ],
    });
    assertError(dup, 409, 'duplicate_id');
    const after = await stats(core);
    assert.equal(after.memory_count, before.memory_count, 'nothing stored');
    assert.equal(after.head_seq, before.head_seq, 'nothing logged');
    assertError(await core.request('GET', '/v1/memories/fresh-id'), 404, 'not_found');
  });
});

// ---- list: pagination and filters ----------------------------------------------------------------------------

describe('v1 list', () => {
  let core: TestCore;
  let m1: Memory;
  let m2: Memory;
  let m3: Memory;
  let early: Memory;
  let late: Memory;
  let pager: string[];

  before(async () => {
    core = await startCore();
    m1 = await create(core, {
      content: 'pasta recipe with basil',
      metadata: { topic: 'food', score: 1, a: { b: 'x' } },
      tags: ['red', 'blue'],
      user_id: 'alice',
      session_id: 's1',
    });
    m2 = await create(core, {
      content: 'a trip to lisbon',
      metadata: { topic: 'travel', score: 5, a: { b: 'y' } },
      tags: ['red'],
      user_id: 'bob',
      session_id: 's2',
    });
    m3 = await create(core, {
      content: 'quarterly planning meeting',
      metadata: { topic: 'work', score: 10, a: { b: 'x' } },
      tags: ['green'],
      user_id: 'alice',
      session_id: 's2',
    });
    const res = await core.request('POST', '/v1/memories/batch', {
      memories: Array.from({ length: 25 }, (_, i) => ({ content: `paged memory ${i}`, user_id: 'pager' })),
    });
    assert.equal(res.status, 201, 'batch for pagination');
    pager = (res.body.items as { id: string }[]).map((x) => x.id);
    early = await create(core, { content: 'early bird', user_id: 'timer' });
    await sleep(25);
    late = await create(core, { content: 'late owl', user_id: 'timer' });
    assert.ok(Date.parse(late.created_at) > Date.parse(early.created_at), 'distinct creation times');
  });
  after(async () => {
    await core.destroy();
  });

  it('pages with a cursor: 25 items at limit 10 → 3 pages, no duplicates, every id', async () => {
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    do {
      const q = new URLSearchParams({ limit: '10', user_id: 'pager' });
      if (cursor) q.set('cursor', cursor);
      const res = await core.request('GET', `/v1/memories?${q}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      sizes.push(res.body.items.length);
      seen.push(...(res.body.items as Memory[]).map((m) => m.id));
      cursor = res.body.next_cursor as string | null;
      assert.ok(sizes.length <= 5, 'pagination terminates');
    } while (cursor);
    assert.deepEqual(sizes, [10, 10, 5]);
    assert.equal(new Set(seen).size, seen.length, 'no duplicates');
    assert.deepEqual(sorted(seen), sorted(pager));
    // Default order is newest first; asc reverses it.
    assert.deepEqual(seen, [...pager].reverse());
    const asc = await core.request('GET', '/v1/memories?limit=1000&user_id=pager&order=asc');
    assert.deepEqual(
      (asc.body.items as Memory[]).map((m) => m.id),
      pager,
    );
  });

  it('filters by metadata equality', async () => {
    assert.deepEqual(await listIds(core, { filter: JSON.stringify({ topic: 'food' }) }), [m1.id]);
    assert.deepEqual(await listIds(core, { filter: JSON.stringify({ topic: 'nothing' }) }), []);
  });

  it('filters with $in', async () => {
    assert.deepEqual(
      sorted(await listIds(core, { filter: JSON.stringify({ topic: { $in: ['food', 'work'] } }) })),
      sorted([m1.id, m3.id]),
    );
  });

  it('filters with a numeric range ($gte/$lt)', async () => {
    assert.deepEqual(await listIds(core, { filter: JSON.stringify({ score: { $gte: 5, $lt: 10 } }) }), [
      m2.id,
    ]);
    assert.deepEqual(
      sorted(await listIds(core, { filter: JSON.stringify({ 'metadata.score': { $gte: 1, $lt: 6 } }) })),
      sorted([m1.id, m2.id]),
    );
  });

  it('filters on dotted paths (metadata.a.b and a.b)', async () => {
    assert.deepEqual(
      sorted(await listIds(core, { filter: JSON.stringify({ 'metadata.a.b': 'x' }) })),
      sorted([m1.id, m3.id]),
    );
    assert.deepEqual(await listIds(core, { filter: JSON.stringify({ 'a.b': 'y' }) }), [m2.id]);
  });

  it('filters on a time range (since/until on creation time)', async () => {
    assert.deepEqual(await listIds(core, { user_id: 'timer', since: late.created_at }), [late.id]);
    assert.deepEqual(await listIds(core, { user_id: 'timer', until: late.created_at }), [early.id]);
    assert.deepEqual(
      sorted(await listIds(core, { user_id: 'timer', since: early.created_at })),
      sorted([early.id, late.id]),
    );
    assert.deepEqual(
      await listIds(core, { user_id: 'timer', since: late.created_at, until: late.created_at }),
      [],
    );
  });

  it('filters on tags (all of them), also through the filter language', async () => {
    assert.deepEqual(sorted(await listIds(core, { tag: 'red' })), sorted([m1.id, m2.id]));
    assert.deepEqual(await listIds(core, { tag: ['red', 'blue'] }), [m1.id]);
    assert.deepEqual(await listIds(core, { tag: 'red,blue' }), [m1.id]);
    assert.deepEqual(
      sorted(await listIds(core, { filter: JSON.stringify({ tags: { $in: ['green', 'blue'] } }) })),
      sorted([m1.id, m3.id]),
    );
  });

  it('scopes by user_id and session_id', async () => {
    assert.deepEqual(sorted(await listIds(core, { user_id: 'alice' })), sorted([m1.id, m3.id]));
    assert.deepEqual(sorted(await listIds(core, { session_id: 's2' })), sorted([m2.id, m3.id]));
    assert.deepEqual(await listIds(core, { user_id: 'alice', session_id: 's2' }), [m3.id]);
    assert.deepEqual(await listIds(core, { user_id: 'nobody' }), []);
  });

  it('a filter with an unknown operator → 400 invalid_filter', async () => {
    const q = new URLSearchParams({ filter: JSON.stringify({ topic: { $regex: 'fo.*' } }) });
    assertError(await core.request('GET', `/v1/memories?${q}`), 400, 'invalid_filter');
  });

  it('include_embedding=true adds 768-d embeddings to listed items', async () => {
    const res = await core.request('GET', '/v1/memories?user_id=bob&include_embedding=true');
    assert.equal(res.status, 200);
    assert.equal(res.body.items[0].embedding.length, 768);
  });
});

// ---- search --------------------------------------------------------------------------------------------------

describe('v1 search', () => {
  let core: TestCore;
  const docs = [
    {
      content: 'zebra crossing near the harbor',
      metadata: { group: 'g1' },
      user_id: 'u1',
      tags: ['t1'],
      seed: 101,
    },
    {
      content: 'lighthouse keeper at the harbor',
      metadata: { group: 'g1' },
      user_id: 'u1',
      tags: ['t2'],
      seed: 102,
    },
    {
      content: 'fishing boats in the harbor',
      metadata: { group: 'g2' },
      user_id: 'u2',
      tags: ['t1'],
      seed: 103,
    },
    {
      content: 'the harbor market sells bread',
      metadata: { group: 'g2' },
      user_id: 'u2',
      tags: ['t2'],
      seed: 104,
    },
    {
      content: 'I am so happy and delighted, what a wonderful harbor festival!',
      metadata: { group: 'g3' },
      user_id: 'u2',
      tags: [],
      seed: 105,
    },
  ];
  const ids: string[] = [];
  const groupOf = new Map<string, string>();

  before(async () => {
    core = await startCore();
    for (const d of docs) {
      const m = await create(core, {
        content: d.content,
        metadata: d.metadata,
        user_id: d.user_id,
        tags: d.tags,
        embedding: unitVector(d.seed),
      });
      ids.push(m.id);
      groupOf.set(m.id, d.metadata.group);
    }
  });
  after(async () => {
    await core.destroy();
  });

  it('vector search with an embedding finds the nearest memory first', async () => {
    const hits = await search(core, { embedding: unitVector(101), mode: 'vector' });
    assert.equal(hits.length, docs.length);
    assert.equal(hits[0]!.id, ids[0]);
    assert.ok(hits[0]!.similarity > 0.999, `self-similarity ≈ 1 (${hits[0]!.similarity})`);
    for (const h of hits) {
      assert.equal(typeof h.relevance_score, 'number');
      assert.ok(h.relevance_score >= 0 && h.relevance_score <= 1, 'relevance in [0,1]');
    }
  });

  it('lexical search finds memories by their words', async () => {
    assert.deepEqual(idsOf(await search(core, { query: 'zebra', mode: 'lexical' })), [ids[0]]);
    assert.deepEqual(sorted(idsOf(await search(core, { query: 'harbor', mode: 'lexical' }))), sorted(ids));
    assert.deepEqual(await search(core, { query: 'submarine', mode: 'lexical' }), []);
  });

  it('hybrid search combines text and embedding (the default mode)', async () => {
    const hits = await search(core, { query: 'lighthouse keeper', embedding: unitVector(102) });
    assert.equal(hits[0]!.id, ids[1]);
    assert.ok(hits[0]!.similarity > 0.99, 'a full match on both sides');
    const textOnly = await search(core, { query: 'lighthouse keeper', mode: 'hybrid' });
    assert.equal(textOnly[0]!.id, ids[1]);
  });

  it('explain=true returns every component of the score', async () => {
    const hits = await search(core, {
      query: 'zebra',
      embedding: unitVector(101),
      mode: 'hybrid',
      explain: true,
    });
    assert.ok(hits.length > 0, 'hits');
    for (const h of hits) {
      const e = h.explain;
      assert.ok(e, `hit ${h.id} has an explanation`);
      assert.equal(e.mode, 'hybrid');
      assert.equal(typeof e.vector_similarity, 'number');
      assert.equal(typeof e.lexical_bm25, 'number');
      for (const k of ['similarity', 'quickrecal', 'recency', 'assembly', 'emotion']) {
        assert.equal(typeof e.components[k], 'number', `components.${k}`);
        assert.ok(e.components[k]! >= 0 && e.components[k]! <= 1, `components.${k} in [0,1]`);
        assert.equal(typeof e.weights[k], 'number', `weights.${k}`);
      }
      const total = Object.values(e.weights).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(total - 1) < 1e-9, 'weights sum to 1');
      assert.equal(e.components.similarity, h.similarity);
      assert.equal(e.relevance, h.relevance_score);
      const recomputed = Object.keys(e.weights).reduce((s, k) => s + e.weights[k]! * e.components[k]!, 0);
      assert.ok(
        Math.abs(recomputed - h.relevance_score) < 1e-5,
        'relevance is the weighted sum of its components',
      );
    }
    assert.equal(hits[0]!.id, ids[0]);
    assert.ok(hits[0]!.explain!.vector_similarity! > 0.999, 'vector similarity of the exact match');
    assert.ok(hits[0]!.explain!.lexical_bm25! > 0, 'lexical score of the word match');
    // Without explain there is no explanation.
    const plain = await search(core, { query: 'zebra', mode: 'hybrid' });
    assert.equal(plain[0]!.explain, undefined);
  });

  it('top_k is honoured', async () => {
    assert.equal((await search(core, { query: 'harbor', mode: 'lexical', top_k: 2 })).length, 2);
    assert.equal((await search(core, { embedding: unitVector(101), mode: 'vector', top_k: 3 })).length, 3);
    assert.equal((await search(core, { query: 'harbor', mode: 'hybrid', top_k: 1 })).length, 1);
  });

  it('threshold is honoured', async () => {
    const hits = await search(core, { embedding: unitVector(101), mode: 'vector', threshold: 0.5 });
    assert.deepEqual(idsOf(hits), [ids[0]]);
    const hybrid = await search(core, {
      query: 'zebra',
      embedding: unitVector(101),
      mode: 'hybrid',
      threshold: 0.6,
    });
    assert.deepEqual(idsOf(hybrid), [ids[0]]);
    const loose = await search(core, { embedding: unitVector(101), mode: 'vector', threshold: -1 });
    assert.equal(loose.length, docs.length);
    for (const h of await search(core, { query: 'harbor zebra', mode: 'lexical', threshold: 0.3 })) {
      assert.ok(h.similarity >= 0.3, 'every hit at or above the threshold');
    }
  });

  it('filters are honoured in all three modes', async () => {
    const filter = { group: 'g2' };
    const g2 = sorted([ids[2]!, ids[3]!]);
    const vector = await search(core, { embedding: unitVector(101), mode: 'vector', filter });
    assert.deepEqual(sorted(idsOf(vector)), g2);
    const lexical = await search(core, { query: 'harbor zebra', mode: 'lexical', filter });
    assert.deepEqual(sorted(idsOf(lexical)), g2);
    const hybrid = await search(core, {
      query: 'zebra harbor',
      embedding: unitVector(101),
      mode: 'hybrid',
      filter,
    });
    assert.deepEqual(sorted(idsOf(hybrid)), g2);
    // $in, scopes and tags in every mode too.
    for (const mode of ['vector', 'lexical', 'hybrid']) {
      const q = { query: 'harbor', embedding: unitVector(103), mode };
      assert.deepEqual(
        sorted(idsOf(await search(core, { ...q, filter: { group: { $in: ['g1', 'g3'] } } }))),
        sorted([ids[0]!, ids[1]!, ids[4]!]),
        mode,
      );
      assert.deepEqual(
        sorted(idsOf(await search(core, { ...q, user_id: 'u1' }))),
        sorted([ids[0]!, ids[1]!]),
        mode,
      );
      assert.deepEqual(
        sorted(idsOf(await search(core, { ...q, tags: ['t1'] }))),
        sorted([ids[0]!, ids[2]!]),
        mode,
      );
      assert.deepEqual(idsOf(await search(core, { ...q, user_id: 'u2', tags: ['t2'] })), [ids[3]], mode);
    }
  });

  it('user_emotion changes the emotion component (and the relevance)', async () => {
    const q = { embedding: unitVector(105), mode: 'vector', explain: true, top_k: 1 };
    const neutral = (await search(core, q))[0]!;
    assert.equal(neutral.id, ids[4]);
    assert.equal(neutral.emotion.dominant, 'joy');
    assert.equal(neutral.explain!.components.emotion, 0, 'no user emotion: no emotion component');
    const joyful = (await search(core, { ...q, user_emotion: 'joy' }))[0]!;
    assert.ok(
      joyful.explain!.components.emotion! > 0.9,
      `matching emotion resonates (${joyful.explain!.components.emotion})`,
    );
    assert.ok(joyful.relevance_score > neutral.relevance_score, 'resonance raises relevance');
    const sad = (await search(core, { ...q, user_emotion: { dominant: 'sadness', valence: -0.8 } }))[0]!;
    assert.ok(
      sad.explain!.components.emotion! < joyful.explain!.components.emotion!,
      'a contrary emotion resonates less',
    );
    assert.ok(sad.relevance_score < joyful.relevance_score, 'and ranks lower');
  });
});

// ---- export / import -----------------------------------------------------------------------------------------

describe('v1 export and import', () => {
  let source: TestCore;
  let target: TestCore;
  let exported = '';
  const ids: string[] = [];

  before(async () => {
    source = await startCore();
    target = await startCore();
    ids.push(
      (
        await create(source, {
          content: 'exported with metadata',
          metadata: { deep: { k: [1, 2] }, flag: true },
          tags: ['x'],
          user_id: 'u',
        })
      ).id,
    );
    ids.push(
      (
        await create(source, {
          id: 'client.chosen:id-1',
          content: 'with a client embedding',
          embedding: unitVector(9),
        })
      ).id,
    );
    ids.push(
      (await create(source, { content: 'boosted memory about kayaks', event_time: '2023-03-03T03:03:03Z' }))
        .id,
    );
    const boost = await source.request('POST', `/v1/memories/${ids[2]}/boost`, {
      delta: 0.2,
      reason: 'export test',
    });
    assert.equal(boost.status, 200, 'boost');
  });
  after(async () => {
    await source.destroy();
    await target.destroy();
  });

  it('GET /v1/export streams NDJSON, one line per memory', async () => {
    const res = await fetch(`${source.url}/v1/export`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/x-ndjson/);
    exported = await res.text();
    const lines = exported.split('\n').filter((l) => l.trim() !== '');
    assert.equal(lines.length, (await stats(source)).memory_count);
    assert.equal(lines.length, 3);
    const parsed = lines.map((l) => JSON.parse(l) as { id: string; content: string; embedding: number[] });
    assert.deepEqual(sorted(parsed.map((p) => p.id)), sorted(ids));
    for (const p of parsed) assert.equal(p.embedding.length, 768);
    // Filters narrow the export.
    const narrowed = await (await fetch(`${source.url}/v1/export?user_id=u`)).text();
    assert.equal(narrowed.trim().split('\n').length, 1);
  });

  it('POST /v1/import into a fresh core round-trips ids, content, metadata, embeddings and quickrecal', async () => {
    assert.ok(exported, 'the export test ran first');
    const res = await target.request('POST', '/v1/import', exported, {
      'content-type': 'application/x-ndjson',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.imported, 3);
    assert.equal(res.body.skipped, 0);
    assert.equal((await stats(target)).memory_count, 3);
    for (const id of ids) {
      const a = await getMemory(source, id, true);
      const b = await getMemory(target, id, true);
      assert.equal(b.id, a.id);
      assert.equal(b.content, a.content);
      assert.deepEqual(b.metadata, a.metadata);
      assert.deepEqual(b.tags, a.tags);
      assert.equal(b.user_id, a.user_id);
      assert.equal(b.quickrecal_stored, a.quickrecal_stored);
      assert.equal(b.created_at, a.created_at);
      assert.equal(b.event_time, a.event_time);
      assert.ok(cosine(a.embedding!, b.embedding!) > 0.99999, 'same embedding');
      assert.deepEqual(
        b.surprise_events!.map((e) => e.reason),
        a.surprise_events!.map((e) => e.reason),
      );
    }
    // The imported memories are searchable, lexically and by vector.
    assert.deepEqual(idsOf(await search(target, { query: 'kayaks', mode: 'lexical' })), [ids[2]]);
    assert.equal(
      (await search(target, { embedding: unitVector(9), mode: 'vector', top_k: 1 }))[0]?.id,
      ids[1],
    );
    // A second import skips what exists.
    const again = await target.request('POST', '/v1/import', exported, {
      'content-type': 'application/x-ndjson',
    });
    assert.equal(again.status, 200);
    assert.equal(again.body.imported, 0);
    assert.equal(again.body.skipped, 3);
  });

  it('an import with one bad line → 400 and nothing imported', async () => {
    const before = await stats(target);
    const good = JSON.stringify({ id: 'imp-good', content: 'fine', embedding: unitVector(11) });
    for (const bad of [
      JSON.stringify({ id: 'imp-bad' }),
      '{"id": "imp-broken", ',
      JSON.stringify({ id: 'imp-short', content: 'x', embedding: [1, 2] }),
    ]) {
      const res = await target.request('POST', '/v1/import', `${good}\n${bad}\n`, {
        'content-type': 'application/x-ndjson',
      });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.ok(
        typeof res.body.error.message === 'string' && res.body.error.message.includes('line 2'),
        'the message names the line',
      );
    }
    const after = await stats(target);
    assert.equal(after.memory_count, before.memory_count, 'nothing imported');
    assert.equal(after.head_seq, before.head_seq, 'nothing logged');
    assertError(await target.request('GET', '/v1/memories/imp-good'), 404, 'not_found');
  });
});

// ---- change feed and stats -----------------------------------------------------------------------------------

describe('v1 change feed and stats', () => {
  let core: TestCore;
  const ids: string[] = [];

  before(async () => {
    core = await startCore();
    for (const [i, content] of ['alpha memory', 'beta memory', 'gamma memory'].entries()) {
      ids.push((await create(core, { content, metadata: { i }, embedding: unitVector(300 + i) })).id);
    }
  });
  after(async () => {
    await core.destroy();
  });

  it('GET /v1/changes?since=0 lists upserts with full memory payloads', async () => {
    const page = await changes(core, 'since=0');
    const memories = page.changes.filter((c) => c.kind === 'memory');
    assert.deepEqual(
      memories.map((c) => c.id),
      ids,
    );
    for (const [i, c] of memories.entries()) {
      assert.equal(c.op, 'upsert');
      assert.ok(c.memory, 'the payload is there');
      assert.equal(c.memory.id, ids[i]);
      assert.equal(c.memory.content, ['alpha memory', 'beta memory', 'gamma memory'][i]);
      assert.deepEqual(c.memory.metadata, { i });
      assert.equal(Buffer.from(c.memory.embedding_b64, 'base64').byteLength, 768 * 4);
      assert.equal(typeof c.memory.quickrecal_score, 'number');
    }
    assert.equal(page.last_seq, page.head_seq);
    const seqs = page.changes.map((c) => c.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'in sequence order',
    );
  });

  it('since=<last_seq> returns nothing', async () => {
    const { last_seq } = await changes(core, 'since=0');
    const page = await changes(core, `since=${last_seq}`);
    assert.deepEqual(page.changes, []);
    assert.equal(page.last_seq, last_seq);
    assert.equal(page.head_seq, last_seq);
  });

  it('limit pages through the feed', async () => {
    const first = await changes(core, 'since=0&limit=1');
    assert.equal(first.changes.length, 1);
    const second = await changes(core, `since=${first.last_seq}&limit=1`);
    assert.equal(second.changes.length, 1);
    assert.ok(second.changes[0]!.seq > first.changes[0]!.seq, 'the next page continues after the last');
  });

  it('a long-poll returns early when a write happens meanwhile', async () => {
    const { head_seq } = await changes(core, 'since=0');
    const started = Date.now();
    const pending = changes(core, `since=${head_seq}&wait_ms=2000`);
    await sleep(150);
    const written = await create(core, { content: 'written during the long poll' });
    const page = await pending;
    const took = Date.now() - started;
    assert.ok(took < 1500, `returned early (${took} ms)`);
    const mine = page.changes.find((c) => c.id === written.id);
    assert.ok(mine, 'the write is in the long-poll answer');
    assert.equal(mine.op, 'upsert');
    ids.push(written.id);
  });

  it('a long-poll without writes waits and returns nothing', async () => {
    const { head_seq } = await changes(core, 'since=0');
    const started = Date.now();
    const page = await changes(core, `since=${head_seq}&wait_ms=300`);
    assert.ok(Date.now() - started >= 250, 'it waited');
    assert.deepEqual(page.changes, []);
  });

  it('updates give the latest state; deletes appear as op "delete"', async () => {
    const { head_seq } = await changes(core, 'since=0');
    assert.equal((await core.request('POST', `/v1/memories/${ids[0]}/boost`, { delta: 0.1 })).status, 200);
    assert.equal(
      (await core.request('PATCH', `/v1/memories/${ids[0]}`, { metadata: { patched: true } })).status,
      200,
    );
    assert.equal((await core.request('DELETE', `/v1/memories/${ids[1]}`)).status, 204);
    const page = await changes(core, `since=${head_seq}`);
    const updated = page.changes.filter((c) => c.id === ids[0]);
    assert.equal(updated.length, 1, 'one entry per item');
    assert.equal(updated[0]!.op, 'upsert');
    assert.deepEqual(updated[0]!.memory!.metadata, { patched: true });
    const deleted = page.changes.find((c) => c.id === ids[1]);
    assert.ok(deleted, 'the delete is in the feed');
    assert.equal(deleted.op, 'delete');
    assert.equal(deleted.kind, 'memory');
    assert.equal(deleted.memory, undefined);
    // From the start, the deleted memory shows as deleted too.
    assert.equal((await changes(core, 'since=0')).changes.find((c) => c.id === ids[1])?.op, 'delete');
  });

  it('GET /v1/stats counts memories, the index and the feed head', async () => {
    const s = await stats(core);
    assert.equal(s.memory_count, 3); // 4 created, 1 deleted
    assert.equal(s.index_size, s.memory_count);
    assert.equal(typeof s.assembly_count, 'number');
    assert.equal(s.head_seq, (await changes(core, 'since=0')).head_seq);
    const listed = await core.request('GET', '/v1/memories?limit=1000');
    assert.equal(listed.body.items.length, s.memory_count);
  });
});

// ---- assemblies ----------------------------------------------------------------------------------------------

describe('v1 assemblies', () => {
  let core: TestCore;
  const members: string[] = [];
  let loner: Memory;
  let assemblyId = '';

  before(async () => {
    core = await startCore();
    const base = unitVector(1);
    for (let i = 0; i < 4; i++) {
      members.push(
        (
          await create(core, {
            content: `tide pool crab sighting ${i}`,
            embedding: nearDuplicate(base, i + 1),
          })
        ).id,
      );
    }
    loner = await create(core, { content: 'an unrelated thought', embedding: unitVector(999) });
  });
  after(async () => {
    await core.destroy();
  });

  it('near-duplicate memories form an assembly', async () => {
    const views = await Promise.all(members.map((id) => getMemory(core, id)));
    const ids = new Set(views.flatMap((v) => v.assemblies));
    assert.equal(ids.size, 1, `one assembly holds the near-duplicates: ${[...ids].join(', ')}`);
    assemblyId = [...ids][0]!;
    for (const v of views) assert.deepEqual(v.assemblies, [assemblyId]);
    assert.deepEqual((await getMemory(core, loner.id)).assemblies, []);
    assert.equal((await stats(core)).assembly_count, 1);
  });

  it('is listed in /v1/assemblies and /assemblies', async () => {
    assert.ok(assemblyId, 'the assembly was found');
    const v1 = await core.request('GET', '/v1/assemblies');
    assert.equal(v1.status, 200);
    const item = (v1.body.items as Assembly[]).find((a) => a.id === assemblyId);
    assert.ok(item, 'listed in /v1/assemblies');
    assert.equal(item.member_count, 4);
    const compat = await core.request('GET', '/assemblies');
    assert.equal(compat.status, 200);
    assert.equal(compat.body.success, true);
    assert.ok(
      (compat.body.assemblies as Assembly[]).some((a) => a.id === assemblyId),
      'listed in /assemblies',
    );
  });

  it('GET /v1/assemblies/:id lists the members; unknown id → 404', async () => {
    const res = await core.request('GET', `/v1/assemblies/${assemblyId}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const a = res.body as Assembly;
    assert.equal(a.id, assemblyId);
    assert.deepEqual(sorted(a.members!), sorted(members));
    assert.equal(a.member_count, 4);
    assert.equal(a.composite_embedding!.length, 768);
    assert.ok(
      cosine(a.composite_embedding!, unitVector(1)) > 0.99,
      'the composite points at the shared direction',
    );
    assertError(await core.request('GET', '/v1/assemblies/asm_nope'), 404, 'not_found');
  });

  it('a deleted memory leaves its assembly', async () => {
    assert.equal((await core.request('DELETE', `/v1/memories/${members[0]}`)).status, 204);
    const res = await core.request('GET', `/v1/assemblies/${assemblyId}`);
    assert.equal(res.status, 200);
    assert.deepEqual(sorted(res.body.members as string[]), sorted(members.slice(1)));
    assert.equal(res.body.member_count, 3);
    const compat = await core.request('GET', `/assemblies/${assemblyId}`);
    assert.equal(compat.status, 200);
    assert.ok(
      !(compat.body.assembly.memories as { id: string }[]).some((m) => m.id === members[0]),
      'gone from the compat view',
    );
    // Down to one member, the assembly dissolves.
    for (const id of members.slice(1, 3))
      assert.equal((await core.request('DELETE', `/v1/memories/${id}`)).status, 204);
    assertError(await core.request('GET', `/v1/assemblies/${assemblyId}`), 404, 'not_found');
    assert.deepEqual((await getMemory(core, members[3]!)).assemblies, []);
    assert.equal((await stats(core)).assembly_count, 0);
  });
});
