// Contract tests for the Synthians-compatible API (the original Python service's paths and fields),
// plus the service endpoints every app has: /health, /ready, /metrics, /openapi.json and /docs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCore, unitVector, type TestCore } from '../test-support.ts';

interface CompatMemory {
  id: string;
  content: string;
  metadata: Record<string, unknown>;
  quickrecal_score: number;
  timestamp: number;
  created_at: number;
  emotion: { dominant: string; valence: number; intensity: number };
  dominant_emotion: string;
  assemblies: string[];
  surprise_events: { at: number; delta: number; previous: number; new: number; reason: string }[];
  embedding?: number[];
}
interface Retrieved extends CompatMemory {
  similarity: number;
  relevance_score: number;
}

const norm = (v: readonly number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const sorted = (xs: string[]) => [...xs].sort();

function normalised(v: readonly number[]): number[] {
  const n = norm(v);
  return v.map((x) => x / n);
}

function cosine(a: readonly number[], b: readonly number[]): number {
  let ab = 0;
  for (let i = 0; i < a.length; i++) ab += a[i]! * b[i]!;
  return ab / (norm(a) * norm(b));
}

function assertError(
  res: { status: number; body: { error?: { code?: unknown; message?: unknown } } },
  status: number,
  code: string,
) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body?.error?.code, code, `error code: ${JSON.stringify(res.body)}`);
  assert.ok(
    typeof res.body.error.message === 'string' && res.body.error.message.length > 0,
    'non-empty error message',
  );
}

async function processMemory(
  core: TestCore,
  body: Record<string, unknown>,
): Promise<{
  memory_id: string;
  quickrecal_score: number;
  embedding: number[];
  metadata: Record<string, unknown>;
}> {
  const res = await core.request('POST', '/process_memory', body);
  assert.equal(res.status, 200, `process_memory failed: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.success, true, 'success: true');
  return res.body;
}

async function retrieve(core: TestCore, body: Record<string, unknown>): Promise<Retrieved[]> {
  const res = await core.request('POST', '/retrieve_memories', body);
  assert.equal(res.status, 200, `retrieve_memories failed: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.success, true, 'success: true');
  assert.ok(Array.isArray(res.body.memories), 'memories is an array');
  return res.body.memories as Retrieved[];
}

async function memoryCount(core: TestCore): Promise<{ memory_count: number; head_seq: number }> {
  const res = await core.request('GET', '/stats');
  assert.equal(res.status, 200, 'stats');
  return res.body;
}

const idsOf = (ms: { id: string }[]) => ms.map((m) => m.id);

describe('compat: memories', () => {
  let core: TestCore;
  // Retrieval fixtures, all in group "ret".
  const ret: Record<string, string> = {};

  before(async () => {
    core = await startCore();
    const docs: [string, string, number, Record<string, unknown>][] = [
      ['zebra', 'the zebra crossed the savanna at dawn', 501, { group: 'ret', kind: 'animal' }],
      ['lighthouse', 'the lighthouse keeper polished the lamp', 502, { group: 'ret', kind: 'place' }],
      ['market', 'the fish market opens early on saturdays', 503, { group: 'ret', kind: 'place' }],
    ];
    for (const [key, content, seed, metadata] of docs) {
      ret[key] = (await processMemory(core, { content, embedding: unitVector(seed), metadata })).memory_id;
    }
  });
  after(async () => {
    await core.destroy();
  });

  it('POST /process_memory stores a memory and returns its id, score, embedding and metadata', async () => {
    const body = await processMemory(core, {
      content: 'My sister Anna lives in Porto and loves surfing',
      metadata: { source: 'chat', importance: 0.9 },
    });
    assert.equal(typeof body.memory_id, 'string');
    assert.ok(body.memory_id.length > 0, 'an id');
    assert.ok(
      body.quickrecal_score >= 0 && body.quickrecal_score <= 1,
      `score ${body.quickrecal_score} in [0,1]`,
    );
    assert.equal(body.embedding.length, 768);
    assert.ok(
      body.embedding.every((x) => typeof x === 'number' && Number.isFinite(x)),
      '768 finite numbers',
    );
    assert.ok(Math.abs(norm(body.embedding) - 1) < 1e-5, 'unit norm');
    assert.deepEqual(body.metadata, { source: 'chat', importance: 0.9 });
    // Stored: readable through both APIs.
    const v1 = await core.request('GET', `/v1/memories/${body.memory_id}`);
    assert.equal(v1.status, 200);
    assert.equal(v1.body.content, 'My sister Anna lives in Porto and loves surfing');
    assert.equal(v1.body.importance, 0.9, 'metadata.importance is the importance');
  });

  it('POST /process_memory with an embedding stores it normalised; null metadata is accepted', async () => {
    const given = unitVector(600).map((x) => x * 3);
    const body = await processMemory(core, { content: 'client embedded', embedding: given, metadata: null });
    assert.ok(Math.abs(norm(body.embedding) - 1) < 1e-5, 'unit norm');
    assert.ok(cosine(body.embedding, given) > 0.99999, 'same direction');
    assert.deepEqual(body.metadata, {});
  });

  it('/retrieve_memories by query text finds the matching memory, with similarity and relevance_score', async () => {
    const hits = await retrieve(core, { query: 'lighthouse lamp', metadata_filter: { group: 'ret' } });
    assert.equal(hits[0]!.id, ret.lighthouse);
    for (const h of hits) {
      assert.equal(typeof h.similarity, 'number');
      assert.equal(typeof h.relevance_score, 'number');
      assert.ok(h.relevance_score >= 0 && h.relevance_score <= 1, 'relevance in [0,1]');
      assert.equal(typeof h.content, 'string');
      assert.equal(typeof h.quickrecal_score, 'number');
      assert.equal(typeof h.timestamp, 'number');
      assert.ok(Array.isArray(h.surprise_events), 'surprise_events');
      assert.equal(h.embedding, undefined, 'no embedding in retrieval results');
    }
    assert.ok(hits[0]!.relevance_score >= hits[hits.length - 1]!.relevance_score, 'sorted by relevance');
  });

  it('/retrieve_memories by query_embedding finds the nearest memory', async () => {
    const hits = await retrieve(core, {
      query_embedding: unitVector(503),
      metadata_filter: { group: 'ret' },
    });
    assert.equal(hits[0]!.id, ret.market);
    assert.ok(hits[0]!.similarity > 0.999, 'self-similarity ≈ 1');
    const other = await retrieve(core, {
      query_embedding: unitVector(501),
      metadata_filter: { group: 'ret' },
    });
    assert.equal(other[0]!.id, ret.zebra);
  });

  it('/retrieve_memories honours top_k (default 5)', async () => {
    for (let i = 0; i < 4; i++)
      await processMemory(core, { content: `filler memory number ${i}`, metadata: { group: 'filler' } });
    assert.equal((await retrieve(core, { query: 'memory' })).length, 5, 'default top_k is 5');
    assert.equal((await retrieve(core, { query: 'memory', top_k: 2 })).length, 2);
    assert.equal((await retrieve(core, { query_embedding: unitVector(501), top_k: 1 })).length, 1);
  });

  it('/retrieve_memories honours threshold', async () => {
    const all = await retrieve(core, {
      query_embedding: unitVector(502),
      metadata_filter: { group: 'ret' },
      threshold: null,
    });
    assert.equal(all.length, 3);
    const strict = await retrieve(core, {
      query_embedding: unitVector(502),
      metadata_filter: { group: 'ret' },
      threshold: 0.5,
    });
    assert.deepEqual(idsOf(strict), [ret.lighthouse]);
    for (const h of strict) assert.ok(h.similarity >= 0.5, 'at or above the threshold');
  });

  it('/retrieve_memories honours metadata_filter', async () => {
    const places = await retrieve(core, {
      query_embedding: unitVector(501),
      metadata_filter: { kind: 'place' },
      top_k: 10,
    });
    assert.deepEqual(sorted(idsOf(places)), sorted([ret.lighthouse!, ret.market!]));
    const animals = await retrieve(core, {
      query: 'the',
      metadata_filter: { group: 'ret', kind: { $in: ['animal'] } },
    });
    assert.deepEqual(idsOf(animals), [ret.zebra]);
    const none = await retrieve(core, { query: 'zebra', metadata_filter: { kind: 'nothing' } });
    assert.deepEqual(none, []);
    const unfiltered = await retrieve(core, { query: 'zebra', metadata_filter: null });
    assert.equal(unfiltered[0]!.id, ret.zebra);
  });

  it('/retrieve_memories honours every form of user_emotion', async () => {
    // Two memories equally similar to the query, with equal scores: only the emotion component tells them apart.
    const a = unitVector(701);
    const b = unitVector(702);
    const joy = await processMemory(core, {
      content: 'I am so happy and delighted, what a wonderful day!',
      embedding: a,
      metadata: { group: 'emo' },
    });
    const sad = await processMemory(core, {
      content: 'I feel so sad and heartbroken, I miss her terribly.',
      embedding: b,
      metadata: { group: 'emo' },
    });
    for (const id of [joy.memory_id, sad.memory_id]) {
      const res = await core.request('POST', '/api/memories/update_quickrecal_score', {
        memory_id: id,
        delta: 1,
        reason: 'equalise',
      });
      assert.equal(res.status, 200, 'equalised');
      assert.equal(res.body.new_score, 1);
    }
    const query = {
      query_embedding: normalised(a.map((x, i) => x + b[i]!)),
      metadata_filter: { group: 'emo' },
      top_k: 2,
    };
    const order = async (user_emotion: unknown) => {
      const hits = await retrieve(core, { ...query, user_emotion });
      assert.equal(hits.length, 2);
      return hits.map((h) => (h.id === joy.memory_id ? 'joy' : 'sad'));
    };
    const byId = async (user_emotion: unknown) =>
      new Map((await retrieve(core, { ...query, user_emotion })).map((h) => [h.id, h.relevance_score]));

    const neutral = await byId(undefined);
    assert.ok(
      Math.abs(neutral.get(joy.memory_id)! - neutral.get(sad.memory_id)!) < 0.005,
      'without user_emotion they tie',
    );

    // A bare label, and each spelling of the label field.
    assert.deepEqual(await order('joy'), ['joy', 'sad']);
    assert.deepEqual(await order('sadness'), ['sad', 'joy']);
    assert.deepEqual(await order('JOY'), ['joy', 'sad'], 'labels are case-insensitive');
    assert.deepEqual(await order({ dominant: 'sadness' }), ['sad', 'joy']);
    assert.deepEqual(await order({ dominant: 'joy' }), ['joy', 'sad']);
    assert.deepEqual(await order({ dominant_emotion: 'sadness' }), ['sad', 'joy']);
    assert.deepEqual(await order({ dominant_emotion: 'joy' }), ['joy', 'sad']);
    assert.deepEqual(await order({ label: 'sadness' }), ['sad', 'joy']);
    assert.deepEqual(await order({ label: 'joy' }), ['joy', 'sad']);
    // Valence alone: positive favours the happy memory, negative the sad one.
    assert.deepEqual(await order({ valence: 0.9 }), ['joy', 'sad']);
    assert.deepEqual(await order({ valence: -0.9 }), ['sad', 'joy']);
    // Valence refines a label: same label, closer valence → more resonance.
    const close = await byId({ dominant: 'joy', valence: 0.9 });
    const far = await byId({ dominant: 'joy', valence: -1 });
    assert.ok(close.get(joy.memory_id)! > far.get(joy.memory_id)!, 'a matching valence resonates more');
    // The analyser's own output works as a user emotion.
    const analysed = await core.request('POST', '/analyze_emotion', {
      text: 'this is awful, I am so sad and lonely',
    });
    assert.deepEqual(
      await order({ dominant_emotion: analysed.body.dominant_emotion, valence: analysed.body.valence }),
      ['sad', 'joy'],
    );
    // Resonance raises relevance over no emotion at all.
    const joyful = await byId('joy');
    assert.ok(joyful.get(joy.memory_id)! > neutral.get(joy.memory_id)!, 'resonance raises relevance');
    // (Relevance is rounded to 1e-6 and recency moves a hair between calls.)
    assert.ok(
      Math.abs(joyful.get(sad.memory_id)! - neutral.get(sad.memory_id)!) < 1e-5,
      'no resonance leaves relevance as it was',
    );
  });

  it('GET /api/memories/{id} returns the memory with its embedding', async () => {
    const res = await core.request('GET', `/api/memories/${ret.zebra}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    const m = res.body.memory as CompatMemory;
    assert.equal(m.id, ret.zebra);
    assert.equal(m.content, 'the zebra crossed the savanna at dawn');
    assert.deepEqual(m.metadata, { group: 'ret', kind: 'animal' });
    assert.equal(m.embedding!.length, 768);
    assert.ok(cosine(m.embedding!, unitVector(501)) > 0.99999, 'the embedding given');
    assert.ok(Math.abs(m.timestamp * 1000 - Date.now()) < 60_000, 'timestamp in seconds');
    assert.equal(typeof m.dominant_emotion, 'string');
    assert.ok(Array.isArray(m.surprise_events), 'surprise_events');
    assertError(await core.request('GET', '/api/memories/mem_unknown'), 404, 'not_found');
  });

  it('POST /api/memories/update_quickrecal_score boosts with an audit event; unknown id → 404', async () => {
    const id = ret.market!;
    const before = (await core.request('GET', `/api/memories/${id}`)).body.memory as CompatMemory;
    const res = await core.request('POST', '/api/memories/update_quickrecal_score', {
      memory_id: id,
      delta: 0.15,
      reason: 'surprise from the neural memory',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'success');
    assert.equal(res.body.memory_id, id);
    assert.equal(typeof res.body.previous_score, 'number');
    assert.ok(
      Math.abs(res.body.new_score - Math.min(1, res.body.previous_score + 0.15)) < 1e-6,
      'new = previous + delta',
    );
    const after = (await core.request('GET', `/api/memories/${id}`)).body.memory as CompatMemory;
    assert.equal(after.surprise_events.length, before.surprise_events.length + 1);
    const event = after.surprise_events[after.surprise_events.length - 1]!;
    assert.equal(event.reason, 'surprise from the neural memory');
    assert.equal(event.delta, 0.15);
    assert.equal(event.previous, res.body.previous_score);
    assert.equal(event.new, res.body.new_score);
    assert.ok(Math.abs(event.at * 1000 - Date.now()) < 60_000, 'event time in seconds');
    // Clamped, with a default reason.
    const down = await core.request('POST', '/api/memories/update_quickrecal_score', {
      memory_id: id,
      delta: -1,
    });
    assert.equal(down.status, 200);
    assert.equal(down.body.new_score, 0);
    const last = (
      (await core.request('GET', `/api/memories/${id}`)).body.memory as CompatMemory
    ).surprise_events.at(-1)!;
    assert.equal(last.reason, 'unspecified');

    const missing = await core.request('POST', '/api/memories/update_quickrecal_score', {
      memory_id: 'mem_unknown',
      delta: 0.1,
      reason: 'x',
    });
    assertError(missing, 404, 'not_found');
  });
});

describe('compat: analysis endpoints', () => {
  let core: TestCore;
  before(async () => {
    core = await startCore();
  });
  after(async () => {
    await core.destroy();
  });

  it('POST /generate_embedding → 768 unit-norm values, deterministic', async () => {
    const a = await core.request('POST', '/generate_embedding', { text: 'the cat sat on the mat' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.success, true);
    assert.equal(a.body.dimension, 768);
    assert.equal(typeof a.body.model, 'string');
    const v = a.body.embedding as number[];
    assert.equal(v.length, 768);
    assert.ok(
      v.every((x) => Number.isFinite(x)),
      'finite',
    );
    assert.ok(Math.abs(norm(v) - 1) < 1e-5, 'unit norm');
    const b = await core.request('POST', '/generate_embedding', { text: 'the cat sat on the mat' });
    assert.deepEqual(b.body.embedding, v, 'same text, same vector');
    const c = await core.request('POST', '/generate_embedding', { text: 'quarterly revenue forecast' });
    assert.notDeepEqual(c.body.embedding, v, 'another text, another vector');
    assert.equal((await memoryCount(core)).memory_count, 0, 'nothing stored');
  });

  it('POST /calculate_quickrecal scores without storing', async () => {
    const before = await memoryCount(core);
    const res = await core.request('POST', '/calculate_quickrecal', {
      text: 'Remember: my daughter is allergic to peanuts!',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.ok(res.body.quickrecal_score >= 0 && res.body.quickrecal_score <= 1, 'score in [0,1]');
    for (const k of [
      'recency',
      'importance',
      'emotion',
      'novelty',
      'personal',
      'information',
      'overlap_penalty',
    ]) {
      assert.equal(typeof res.body.factors[k], 'number', `factor ${k}`);
    }
    const plain = await core.request('POST', '/calculate_quickrecal', { text: 'ok' });
    assert.ok(
      plain.body.quickrecal_score < res.body.quickrecal_score,
      'an important personal memory scores higher than "ok"',
    );
    const important = await core.request('POST', '/calculate_quickrecal', {
      text: 'ok',
      context: { importance: 1 },
    });
    assert.equal(important.body.factors.importance, 1, 'context.importance is used');
    const byEmbedding = await core.request('POST', '/calculate_quickrecal', { embedding: unitVector(1) });
    assert.equal(byEmbedding.status, 200);
    assert.ok(
      byEmbedding.body.quickrecal_score >= 0 && byEmbedding.body.quickrecal_score <= 1,
      'score in [0,1]',
    );
    const after = await memoryCount(core);
    assert.equal(after.memory_count, before.memory_count, 'count unchanged');
    assert.equal(after.head_seq, before.head_seq, 'nothing logged');
    assertError(await core.request('POST', '/calculate_quickrecal', { text: '  ' }), 400, 'missing_content');
  });

  it('POST /analyze_emotion labels text with dominant emotion, valence, intensity and scores', async () => {
    const happy = await core.request('POST', '/analyze_emotion', {
      text: 'I am so happy and delighted today, what a wonderful day!',
    });
    assert.equal(happy.status, 200, JSON.stringify(happy.body));
    assert.equal(happy.body.success, true);
    assert.equal(happy.body.dominant_emotion, 'joy');
    assert.ok(happy.body.valence > 0, 'positive valence');
    assert.ok(happy.body.intensity > 0 && happy.body.intensity <= 1, 'intensity in (0,1]');
    assert.equal(typeof happy.body.emotions, 'object');
    assert.ok(happy.body.emotions.joy > 0, 'joy score');
    const sad = await core.request('POST', '/analyze_emotion', {
      text: 'I feel so sad and heartbroken, I miss her terribly.',
    });
    assert.equal(sad.body.dominant_emotion, 'sadness');
    assert.ok(sad.body.valence < 0, 'negative valence');
    const flat = await core.request('POST', '/analyze_emotion', { text: 'The meeting is at 3pm in room 4.' });
    assert.equal(flat.body.dominant_emotion, 'neutral');
    assert.equal(flat.body.intensity, 0);
  });
});

describe('compat: assemblies and stats', () => {
  let core: TestCore;
  const members: string[] = [];
  before(async () => {
    core = await startCore();
    const base = unitVector(7);
    for (let i = 0; i < 3; i++) {
      const noisy = normalised(base.map((x, j) => x + (((j * 31 + i * 17) % 13) - 6) * 0.0005));
      members.push(
        (await processMemory(core, { content: `ferry timetable change ${i}`, embedding: noisy })).memory_id,
      );
    }
    await processMemory(core, { content: 'something else entirely', embedding: unitVector(8) });
  });
  after(async () => {
    await core.destroy();
  });

  it('GET /assemblies and GET /assemblies/{id} show the assembly and its memories', async () => {
    const list = await core.request('GET', '/assemblies');
    assert.equal(list.status, 200);
    assert.equal(list.body.success, true);
    assert.equal(list.body.count, 1);
    assert.equal(list.body.assemblies.length, 1);
    const id = list.body.assemblies[0].id as string;
    assert.equal(list.body.assemblies[0].assembly_id, id);
    assert.equal(list.body.assemblies[0].memory_count, 3);

    const one = await core.request('GET', `/assemblies/${id}`);
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.equal(one.body.success, true);
    assert.equal(one.body.assembly.id, id);
    const ms = one.body.assembly.memories as { id: string; content: string; quickrecal_score: number }[];
    assert.deepEqual(sorted(ms.map((m) => m.id)), sorted(members));
    for (const m of ms) {
      assert.match(m.content, /^ferry timetable change \d$/);
      assert.ok(m.quickrecal_score >= 0 && m.quickrecal_score <= 1, 'score in [0,1]');
    }
    assert.ok(Array.isArray(one.body.assembly.keywords), 'keywords');
    assert.ok((one.body.assembly.keywords as string[]).includes('ferry'), 'keywords come from the members');
    const m = (await core.request('GET', `/api/memories/${members[0]}`)).body.memory as CompatMemory;
    assert.deepEqual(m.assemblies, [id]);
    assertError(await core.request('GET', '/assemblies/asm_unknown'), 404, 'not_found');
  });

  it('GET /stats reports counts with success: true', async () => {
    const res = await core.request('GET', '/stats');
    assert.equal(res.status, 200);
    assert.equal(res.body.success, true);
    assert.equal(res.body.memory_count, 4);
    assert.equal(res.body.assembly_count, 1);
    assert.equal(res.body.index_size, 4);
    assert.equal(res.body.embedding.dim, 768);
  });
});

describe('service endpoints', () => {
  let core: TestCore;
  before(async () => {
    core = await startCore();
    await processMemory(core, { content: 'one memory so the routes have traffic' });
    await core.request('GET', '/v1/memories/mem_unknown');
  });
  after(async () => {
    await core.destroy();
  });

  it('GET /health → 200, healthy', async () => {
    const res = await core.request('GET', '/health');
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'healthy');
    assert.equal(res.body.service, 'memory-core');
    assert.equal(res.body.checks.storage.status, 'healthy');
    assert.equal(res.body.memory_count, 1);
  });

  it('GET /ready → 200, ready', async () => {
    const res = await core.request('GET', '/ready');
    assert.equal(res.status, 200);
    assert.equal(res.body.ready, true);
  });

  it('GET /metrics → Prometheus text with request counts and latencies by route', async () => {
    const res = await fetch(`${core.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /^# TYPE http_requests_total counter$/m);
    assert.match(text, /^# TYPE http_request_duration_seconds histogram$/m);
    assert.match(
      text,
      /^http_requests_total\{[^}]*method="POST"[^}]*route="\/process_memory"[^}]*status_code="200"[^}]*\} 1$/m,
    );
    assert.match(
      text,
      /^http_requests_total\{[^}]*route="\/v1\/memories\/:id"[^}]*status_code="404"[^}]*\} 1$/m,
    );
    assert.match(text, /^http_request_duration_seconds_bucket\{[^}]*route="\/process_memory"/m);
    assert.match(text, /^http_request_duration_seconds_count\{[^}]*route="\/process_memory"[^}]*\} 1$/m);
  });

  it('GET /openapi.json → an OpenAPI 3 document listing the routes', async () => {
    const res = await core.request('GET', '/openapi.json');
    assert.equal(res.status, 200);
    assert.match(String(res.body.openapi), /^3\./);
    assert.equal(typeof res.body.info.title, 'string');
    const paths = Object.keys(res.body.paths as Record<string, unknown>);
    for (const p of [
      '/process_memory',
      '/retrieve_memories',
      '/api/memories/{id}',
      '/v1/search',
      '/v1/memories',
      '/v1/memories/{id}',
      '/v1/changes',
    ]) {
      assert.ok(paths.includes(p), `${p} is documented`);
    }
    assert.ok(res.body.paths['/v1/search'].post, 'POST /v1/search');
  });

  it('GET /docs → the HTML docs (or a redirect to them)', async () => {
    let res = await fetch(`${core.url}/docs`, { redirect: 'manual' });
    if (res.status >= 300 && res.status < 400) {
      const location = res.headers.get('location');
      assert.ok(location, 'a redirect has a location');
      res = await fetch(new URL(location, `${core.url}/docs`));
    }
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await res.text(), /<html/i);
  });
});
