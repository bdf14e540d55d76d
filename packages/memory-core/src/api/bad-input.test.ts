// Every way a client can get a request wrong: each case checks the status, the error code, a non-empty message,
// and that nothing was stored (memory count and change-feed head unchanged).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCore, unitVector, type TestCore } from '../test-support.ts';

interface Snapshot {
  memoryCount: number;
  head: number;
}

async function snapshot(core: TestCore): Promise<Snapshot> {
  const stats = await core.request('GET', '/v1/stats');
  assert.equal(stats.status, 200, 'stats');
  const feed = await core.request('GET', '/v1/changes?since=0&limit=1');
  assert.equal(feed.status, 200, 'changes');
  return { memoryCount: stats.body.memory_count as number, head: feed.body.head_seq as number };
}

interface Case {
  method: string;
  path: string;
  /** An object is sent as JSON; a string is sent as is (Content-Type application/json unless headers say otherwise). */
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  code: string;
}

/** Sends a bad request and checks the error envelope and that nothing changed. */
async function rejects(core: TestCore, c: Case): Promise<void> {
  const before = await snapshot(core);
  const res = await core.request(c.method, c.path, c.body, c.headers);
  const what = `${c.method} ${c.path}`;
  assert.equal(
    res.status,
    c.status,
    `${what}: expected ${c.status}, got ${res.status}: ${JSON.stringify(res.body)?.slice(0, 300)}`,
  );
  assert.equal(typeof res.body, 'object', `${what}: a JSON error body`);
  assert.equal(
    res.body?.error?.code,
    c.code,
    `${what}: error code in ${JSON.stringify(res.body)?.slice(0, 300)}`,
  );
  assert.equal(typeof res.body.error.message, 'string', `${what}: error.message is a string`);
  assert.ok(res.body.error.message.trim().length > 0, `${what}: error.message is not empty`);
  const after = await snapshot(core);
  assert.equal(after.memoryCount, before.memoryCount, `${what}: memory_count unchanged`);
  assert.equal(after.head, before.head, `${what}: change-feed head unchanged`);
}

const good = unitVector(1);
const withAt = (i: number, value: unknown): unknown[] => good.map((x, j) => (j === i ? value : x));
/** Raw JSON text of a 768-value embedding whose first value is `first` (a literal, e.g. 1e400 or NaN). */
const rawEmbedding = (first: string) => `[${first}${',0.01'.repeat(767)}]`;

describe('bad input', () => {
  let core: TestCore;
  let existing = '';

  before(async () => {
    core = await startCore();
    const res = await core.request('POST', '/v1/memories', {
      id: 'existing-1',
      content: 'a memory that exists',
    });
    assert.equal(res.status, 201, 'seed memory');
    existing = res.body.id as string;
  });
  after(async () => {
    await core.destroy();
  });

  describe('embedding of the wrong length → 400 invalid_embedding', () => {
    const short = [0.1, 0.2, 0.3];
    const long = [...good, 0.1];
    it('v1 create', async () => {
      await rejects(core, {
        method: 'POST',
        path: '/v1/memories',
        body: { content: 'x', embedding: short },
        status: 400,
        code: 'invalid_embedding',
      });
      await rejects(core, {
        method: 'POST',
        path: '/v1/memories',
        body: { content: 'x', embedding: long },
        status: 400,
        code: 'invalid_embedding',
      });
      await rejects(core, {
        method: 'POST',
        path: '/v1/memories',
        body: { content: 'x', embedding: [] },
        status: 400,
        code: 'invalid_embedding',
      });
    });
    it('v1 batch', async () => {
      await rejects(core, {
        method: 'POST',
        path: '/v1/memories/batch',
        body: { memories: [{ content: 'fine' }, { content: 'x', embedding: short }] },
        status: 400,
        code: 'invalid_embedding',
      });
    });
    it('v1 search', async () => {
      await rejects(core, {
        method: 'POST',
        path: '/v1/search',
        body: { embedding: short, mode: 'vector' },
        status: 400,
        code: 'invalid_embedding',
      });
    });
    it('v1 patch', async () => {
      await rejects(core, {
        method: 'PATCH',
        path: `/v1/memories/${existing}`,
        body: { embedding: long },
        status: 400,
        code: 'invalid_embedding',
      });
    });
    it('compat process_memory', async () => {
      await rejects(core, {
        method: 'POST',
        path: '/process_memory',
        body: { content: 'x', embedding: short },
        status: 400,
        code: 'invalid_embedding',
      });
    });
    it('compat retrieve_memories query_embedding', async () => {
      await rejects(core, {
        method: 'POST',
        path: '/retrieve_memories',
        body: { query: 'x', query_embedding: short },
        status: 400,
        code: 'invalid_embedding',
      });
    });
  });

  describe('embedding values that are not finite float32 numbers → 400 invalid_embedding', () => {
    const values: [string, unknown][] = [
      ['a string', '0.5'],
      ['null', null],
      ['a nested array', [0.5]],
      ['an object', { x: 1 }],
      ['a boolean', true],
      ['a float32 overflow (1e40)', 1e40],
      ['a float32 overflow (-3.5e38)', -3.5e38],
    ];
    for (const [label, value] of values) {
      it(`${label} (v1 create, batch, search, compat)`, async () => {
        const embedding = withAt(5, value);
        await rejects(core, {
          method: 'POST',
          path: '/v1/memories',
          body: { content: 'x', embedding },
          status: 400,
          code: 'invalid_embedding',
        });
        await rejects(core, {
          method: 'POST',
          path: '/v1/memories/batch',
          body: { memories: [{ content: 'x', embedding }] },
          status: 400,
          code: 'invalid_embedding',
        });
        await rejects(core, {
          method: 'POST',
          path: '/v1/search',
          body: { embedding, mode: 'vector' },
          status: 400,
          code: 'invalid_embedding',
        });
        await rejects(core, {
          method: 'POST',
          path: '/process_memory',
          body: { content: 'x', embedding },
          status: 400,
          code: 'invalid_embedding',
        });
        await rejects(core, {
          method: 'POST',
          path: '/retrieve_memories',
          body: { query_embedding: embedding },
          status: 400,
          code: 'invalid_embedding',
        });
      });
    }
    it('an embedding that is not an array', async () => {
      await rejects(core, {
        method: 'POST',
        path: '/v1/memories',
        body: { content: 'x', embedding: 'not a vector' },
        status: 400,
        code: 'validation_error',
      });
      await rejects(core, {
        method: 'POST',
        path: '/process_memory',
        body: { content: 'x', embedding: { 0: 1 } },
        status: 400,
        code: 'validation_error',
      });
    });
  });

  it('a JSON number too big for a double (1e400) → 400 invalid_embedding', async () => {
    const body = `{"content":"x","embedding":${rawEmbedding('1e400')}}`;
    await rejects(core, {
      method: 'POST',
      path: '/v1/memories',
      body,
      status: 400,
      code: 'invalid_embedding',
    });
    await rejects(core, {
      method: 'POST',
      path: '/process_memory',
      body,
      status: 400,
      code: 'invalid_embedding',
    });
    await rejects(core, {
      method: 'POST',
      path: '/v1/memories',
      body: `{"content":"x","embedding":${rawEmbedding('-1e400')}}`,
      status: 400,
      code: 'invalid_embedding',
    });
  });

  it('a Python-style NaN / Infinity literal → 400 invalid_json', async () => {
    for (const literal of ['NaN', 'Infinity', '-Infinity']) {
      await rejects(core, {
        method: 'POST',
        path: '/v1/memories',
        body: `{"content":"x","embedding":${rawEmbedding(literal)}}`,
        status: 400,
        code: 'invalid_json',
      });
    }
    await rejects(core, {
      method: 'POST',
      path: '/process_memory',
      body: `{"content":"x","embedding":${rawEmbedding('NaN')}}`,
      status: 400,
      code: 'invalid_json',
    });
  });

  it('an all-zero vector → 400 invalid_embedding', async () => {
    const zero = new Array(768).fill(0);
    await rejects(core, {
      method: 'POST',
      path: '/v1/memories',
      body: { content: 'x', embedding: zero },
      status: 400,
      code: 'invalid_embedding',
    });
    await rejects(core, {
      method: 'POST',
      path: '/v1/memories/batch',
      body: { memories: [{ embedding: zero }] },
      status: 400,
      code: 'invalid_embedding',
    });
    await rejects(core, {
      method: 'POST',
      path: '/v1/search',
      body: { embedding: zero, mode: 'vector' },
      status: 400,
      code: 'invalid_embedding',
    });
    await rejects(core, {
      method: 'POST',
      path: '/process_memory',
      body: { content: 'x', embedding: zero },
      status: 400,
      code: 'invalid_embedding',
    });
    await rejects(core, {
      method: 'PATCH',
      path: `/v1/memories/${existing}`,
      body: { embedding: zero },
      status: 400,
      code: 'invalid_embedding',
    });
    // Values that underflow float32 to zero are a zero vector too.
    await rejects(core, {
      method: 'POST',
      path: '/v1/memories',
      body: { embedding: new Array(768).fill(1e-46) },
      status: 400,
      code: 'invalid_embedding',
    });
  });

  it('neither content nor embedding (or whitespace-only content) → 400 missing_content', async () => {
    for (const body of [{}, { content: '' }, { content: '   \n\t ' }, { metadata: { a: 1 } }]) {
      await rejects(core, {
        method: 'POST',
        path: '/v1/memories',
        body,
        status: 400,
        code: 'missing_content',
      });
      await rejects(core, {
        method: 'POST',
        path: '/process_memory',
        body,
        status: 400,
        code: 'missing_content',
      });
    }
    await rejects(core, {
      method: 'POST',
      path: '/v1/memories/batch',
      body: { memories: [{ content: 'ok' }, { content: ' ' }] },
      status: 400,
      code: 'missing_content',
    });
    await rejects(core, {
      method: 'POST',
      path: '/process_memory',
      body: { content: ' ', embedding: null },
      status: 400,
      code: 'missing_content',
    });
    await rejects(core, {
      method: 'POST',
      path: '/v1/search',
      body: { query: '  ', mode: 'hybrid' },
      status: 400,
      code: 'missing_query',
    });
    await rejects(core, {
      method: 'POST',
      path: '/v1/search',
      body: { mode: 'lexical', embedding: good },
      status: 400,
      code: 'missing_query',
    });
    await rejects(core, {
      method: 'PATCH',
      path: `/v1/memories/${existing}`,
      body: { content: '' },
      status: 400,
      code: 'validation_error',
    });
    await rejects(core, {
      method: 'PATCH',
      path: `/v1/memories/${existing}`,
      body: {},
      status: 400,
      code: 'validation_error',
    });
    await rejects(core, {
      method: 'PATCH',
      path: `/v1/memories/${existing}`,
      body: { merge_metadata: true },
      status: 400,
      code: 'validation_error',
    });
  });

  it('unknown id → 404 not_found for GET, PATCH, DELETE, boost and the compat routes', async () => {
    const id = 'mem_no_such_memory';
    await rejects(core, { method: 'GET', path: `/v1/memories/${id}`, status: 404, code: 'not_found' });
    await rejects(core, {
      method: 'PATCH',
      path: `/v1/memories/${id}`,
      body: { content: 'new' },
      status: 404,
      code: 'not_found',
    });
    await rejects(core, {
      method: 'PATCH',
      path: `/v1/memories/${id}`,
      body: { metadata: { a: 1 } },
      status: 404,
      code: 'not_found',
    });
    await rejects(core, { method: 'DELETE', path: `/v1/memories/${id}`, status: 404, code: 'not_found' });
    await rejects(core, {
      method: 'POST',
      path: `/v1/memories/${id}/boost`,
      body: { delta: 0.1, reason: 'x' },
      status: 404,
      code: 'not_found',
    });
    await rejects(core, { method: 'GET', path: `/api/memories/${id}`, status: 404, code: 'not_found' });
    await rejects(core, {
      method: 'POST',
      path: '/api/memories/update_quickrecal_score',
      body: { memory_id: id, delta: 0.1 },
      status: 404,
      code: 'not_found',
    });
    await rejects(core, { method: 'GET', path: '/v1/assemblies/asm_none', status: 404, code: 'not_found' });
    await rejects(core, { method: 'GET', path: '/assemblies/asm_none', status: 404, code: 'not_found' });
    await rejects(core, { method: 'GET', path: '/v1/no-such-route', status: 404, code: 'route_not_found' });
  });

  it('malformed JSON → 400 invalid_json', async () => {
    for (const body of ['{"content": ', '{content: "x"}', "{'content': 'x'}", '{"content": "x",}', '[1, 2']) {
      await rejects(core, { method: 'POST', path: '/v1/memories', body, status: 400, code: 'invalid_json' });
    }
    await rejects(core, {
      method: 'POST',
      path: '/process_memory',
      body: '{"content": "x"',
      status: 400,
      code: 'invalid_json',
    });
    await rejects(core, {
      method: 'POST',
      path: '/v1/memories/batch',
      body: '{"memories": [}',
      status: 400,
      code: 'invalid_json',
    });
    await rejects(core, {
      method: 'POST',
      path: '/v1/memories',
      body: '',
      headers: { 'content-type': 'application/json' },
      status: 400,
      code: 'invalid_json',
    });
    // A filter in the query string is JSON too.
    await rejects(core, {
      method: 'GET',
      path: `/v1/memories?filter=${encodeURIComponent('{"topic": ')}`,
      status: 400,
      code: 'invalid_json',
    });
  });

  it('wrong types → 400 validation_error', async () => {
    const cases: [string, string, unknown][] = [
      ['POST', '/v1/search', { query: 'x', top_k: '5' }],
      ['POST', '/v1/search', { query: 'x', top_k: 0 }],
      ['POST', '/v1/search', { query: 'x', top_k: 1.5 }],
      ['POST', '/v1/search', { query: 'x', mode: 'semantic' }],
      ['POST', '/v1/search', { query: 'x', threshold: 2 }],
      ['POST', '/retrieve_memories', { query: 'x', top_k: '5' }],
      ['POST', '/v1/memories', { content: 5 }],
      ['POST', '/v1/memories', { content: 'x', metadata: [1, 2] }],
      ['POST', '/v1/memories', { content: 'x', metadata: 'a=1' }],
      ['POST', '/v1/memories', { content: 'x', tags: 'a' }],
      ['POST', '/v1/memories', { content: 'x', tags: [1] }],
      ['POST', '/v1/memories', { content: 'x', importance: 1.5 }],
      ['POST', '/v1/memories', { content: 'x', id: 'has spaces' }],
      ['POST', '/v1/memories', { content: 'x', user_id: 7 }],
      ['POST', '/v1/memories/batch', { memories: [] }],
      ['POST', '/v1/memories/batch', { memories: { content: 'x' } }],
      ['POST', '/v1/memories/batch', { memories: [{ content: 'ok' }, { content: 5 }] }],
      ['POST', '/process_memory', { content: 5 }],
      ['POST', '/process_memory', { content: 'x', metadata: [1] }],
      ['PATCH', '/v1/memories/existing-1', { tags: 'a' }],
      ['PATCH', '/v1/memories/existing-1', { metadata: [1] }],
      ['POST', '/v1/memories/existing-1/boost', { delta: '0.1' }],
      ['POST', '/v1/memories/existing-1/boost', { delta: 2 }],
      ['POST', '/v1/memories/existing-1/boost', {}],
      ['POST', '/api/memories/update_quickrecal_score', { memory_id: 'existing-1', delta: 'big' }],
      ['POST', '/api/memories/update_quickrecal_score', { delta: 0.1 }],
      ['POST', '/generate_embedding', { text: 5 }],
      ['POST', '/analyze_emotion', {}],
      ['POST', '/v1/memories', [{ content: 'x' }]],
    ];
    for (const [method, path, body] of cases) {
      await rejects(core, { method, path, body, status: 400, code: 'validation_error' });
    }
    await rejects(core, {
      method: 'GET',
      path: '/v1/memories?limit=0',
      status: 400,
      code: 'validation_error',
    });
    await rejects(core, {
      method: 'GET',
      path: '/v1/memories?limit=abc',
      status: 400,
      code: 'validation_error',
    });
    await rejects(core, {
      method: 'GET',
      path: '/v1/memories?order=sideways',
      status: 400,
      code: 'validation_error',
    });
    await rejects(core, {
      method: 'GET',
      path: '/v1/changes?since=-1',
      status: 400,
      code: 'validation_error',
    });
  });

  it('bad times and user emotions → 400', async () => {
    await rejects(core, {
      method: 'POST',
      path: '/v1/memories',
      body: { content: 'x', event_time: 'yesterday-ish' },
      status: 400,
      code: 'invalid_time',
    });
    await rejects(core, {
      method: 'GET',
      path: '/v1/memories?since=not-a-date',
      status: 400,
      code: 'invalid_time',
    });
    await rejects(core, {
      method: 'POST',
      path: '/v1/search',
      body: { query: 'x', user_emotion: { valence: 5 } },
      status: 400,
      code: 'invalid_user_emotion',
    });
    await rejects(core, {
      method: 'POST',
      path: '/retrieve_memories',
      body: { query: 'x', user_emotion: 42 },
      status: 400,
      code: 'invalid_user_emotion',
    });
    await rejects(core, {
      method: 'POST',
      path: '/retrieve_memories',
      body: { query: 'x', user_emotion: { dominant: 3 } },
      status: 400,
      code: 'invalid_user_emotion',
    });
  });

  it('unknown fields in v1 bodies → 400 validation_error', async () => {
    const cases: [string, string, unknown][] = [
      ['POST', '/v1/memories', { content: 'x', colour: 'blue' }],
      ['POST', '/v1/memories', { content: 'x', quickrecal_score: 1 }],
      ['POST', '/v1/memories/batch', { memories: [{ content: 'x', extra: 1 }] }],
      ['POST', '/v1/memories/batch', { memories: [{ content: 'x' }], atomic: true }],
      ['POST', '/v1/search', { query: 'x', k: 5 }],
      ['PATCH', '/v1/memories/existing-1', { content: 'x', colour: 'blue' }],
      ['POST', '/v1/memories/existing-1/boost', { delta: 0.1, why: 'x' }],
    ];
    for (const [method, path, body] of cases) {
      await rejects(core, { method, path, body, status: 400, code: 'validation_error' });
    }
    await rejects(core, {
      method: 'GET',
      path: '/v1/memories?colour=blue',
      status: 400,
      code: 'validation_error',
    });
  });

  it('a filter with an unknown operator, a bad path or a non-array $in → 400 invalid_filter', async () => {
    const filters: unknown[] = [
      { topic: { $regex: 'a.*' } },
      { $where: 'true' },
      { topic: { $in: 'food' } },
      { topic: { $in: [] } },
      { topic: { $nin: { a: 1 } } },
      { 'a..b': 1 },
      { "a'b": 1 },
      { 'metadata.a b': 1 },
      { topic: {} },
      { topic: { $gt: true } },
      { topic: { $lte: null } },
      { topic: { $exists: 'yes' } },
      { topic: [1, 2] },
      { topic: { $eq: { nested: 1 } } },
      { $and: [] },
      { $or: 'x' },
      { tags: { $regex: 'a' } },
      { tags: [1] },
      { created_at: { $gte: 'not a date' } },
    ];
    for (const filter of filters) {
      await rejects(core, {
        method: 'POST',
        path: '/v1/search',
        body: { query: 'x', filter },
        status: 400,
        code: 'invalid_filter',
      });
      await rejects(core, {
        method: 'GET',
        path: `/v1/memories?filter=${encodeURIComponent(JSON.stringify(filter))}`,
        status: 400,
        code: 'invalid_filter',
      });
    }
    for (const mode of ['vector', 'lexical', 'hybrid']) {
      await rejects(core, {
        method: 'POST',
        path: '/v1/search',
        body: { query: 'x', mode, filter: { topic: { $like: 'a' } } },
        status: 400,
        code: 'invalid_filter',
      });
    }
    await rejects(core, {
      method: 'POST',
      path: '/retrieve_memories',
      body: { query: 'x', metadata_filter: { topic: { $regex: 'a' } } },
      status: 400,
      code: 'invalid_filter',
    });
    await rejects(core, {
      method: 'GET',
      path: `/v1/export?filter=${encodeURIComponent(JSON.stringify({ topic: { $in: 'x' } }))}`,
      status: 400,
      code: 'invalid_filter',
    });
    await rejects(core, {
      method: 'GET',
      path: `/v1/memories?filter=${encodeURIComponent('[1]')}`,
      status: 400,
      code: 'invalid_filter',
    });
  });

  it('an invalid cursor → 400 invalid_cursor', async () => {
    for (const cursor of [
      'zzz',
      'not-a-cursor',
      Buffer.from('k:abc').toString('base64url'),
      Buffer.from('x:12').toString('base64url'),
    ]) {
      await rejects(core, {
        method: 'GET',
        path: `/v1/memories?cursor=${encodeURIComponent(cursor)}`,
        status: 400,
        code: 'invalid_cursor',
      });
    }
  });

  it('a duplicate client id → 409 duplicate_id', async () => {
    await rejects(core, {
      method: 'POST',
      path: '/v1/memories',
      body: { id: existing, content: 'again' },
      status: 409,
      code: 'duplicate_id',
    });
    await rejects(core, {
      method: 'POST',
      path: '/v1/memories/batch',
      body: {
        memories: [
          { id: 'new-one', content: 'a' },
          { id: existing, content: 'b' },
        ],
      },
      status: 409,
      code: 'duplicate_id',
    });
    // The same id twice within one batch is a bad request.
    await rejects(core, {
      method: 'POST',
      path: '/v1/memories/batch',
      body: {
        memories: [
          { id: 'twin', content: 'a' },
          { id: 'twin', content: 'b' },
        ],
      },
      status: 400,
      code: 'duplicate_id',
    });
    const line = (id: string) => JSON.stringify({ id, content: 'imported', embedding: good });
    await rejects(core, {
      method: 'POST',
      path: '/v1/import?on_conflict=error',
      body: `${line('import-new')}\n${line(existing)}\n`,
      headers: { 'content-type': 'application/x-ndjson' },
      status: 409,
      code: 'duplicate_id',
    });
  });

  it('bad import bodies → 400, nothing imported', async () => {
    const ndjson = { 'content-type': 'application/x-ndjson' };
    const line = JSON.stringify({ id: 'import-ok', content: 'fine', embedding: good });
    await rejects(core, {
      method: 'POST',
      path: '/v1/import',
      body: `${line}\n{"id": "broken"`,
      headers: ndjson,
      status: 400,
      code: 'invalid_json',
    });
    await rejects(core, {
      method: 'POST',
      path: '/v1/import',
      body: `${line}\n${JSON.stringify({ id: 'no-content', embedding: good })}`,
      headers: ndjson,
      status: 400,
      code: 'invalid_import',
    });
    await rejects(core, {
      method: 'POST',
      path: '/v1/import',
      body: `${line}\n${JSON.stringify({ id: 'bad id!', content: 'x', embedding: good })}`,
      headers: ndjson,
      status: 400,
      code: 'invalid_import',
    });
    await rejects(core, {
      method: 'POST',
      path: '/v1/import',
      body: `${line}\n[1, 2]`,
      headers: ndjson,
      status: 400,
      code: 'invalid_import',
    });
    await rejects(core, {
      method: 'POST',
      path: '/v1/import',
      body: `${line}\n${JSON.stringify({ id: 'zero', content: 'x', embedding: new Array(768).fill(0) })}`,
      headers: ndjson,
      status: 400,
      code: 'invalid_embedding',
    });
    await rejects(core, {
      method: 'POST',
      path: '/v1/import',
      body: `${line}\n${JSON.stringify({ id: 'b64', content: 'x', embedding_b64: 'AAAA' })}`,
      headers: ndjson,
      status: 400,
      code: 'invalid_embedding',
    });
    await rejects(core, {
      method: 'POST',
      path: '/v1/import',
      body: `${line}\n${line}`,
      headers: ndjson,
      status: 400,
      code: 'duplicate_id',
    });
    // What the JSON API refuses, an import refuses too (the lines are not seen by the kit's body check).
    for (const [bad, code] of [
      ['{"content":"nul \\u0000"}', 'invalid_text'],
      ['{"content":"lone \\ud800"}', 'invalid_text'],
      ['{"tags":["lone \\udc00"]}', 'invalid_text'],
      ['{"metadata":{"k\\u0000":1}}', 'invalid_text'],
      [`{"metadata":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`, 'nesting_too_deep'],
    ]) {
      const fields = JSON.stringify({ id: 'import-bad', content: 'x', embedding: good }).slice(0, -1);
      await rejects(core, {
        method: 'POST',
        path: '/v1/import',
        body: `${line}\n${fields},${bad!.slice(1)}`,
        headers: ndjson,
        status: 400,
        code: code!,
      });
    }
    await rejects(core, {
      method: 'POST',
      path: '/v1/import',
      body: { id: 'x', content: 'x' },
      status: 400,
      code: 'invalid_content_type',
    });
  });

  it('a wrong content-type → 415 unsupported_media_type', async () => {
    const json = JSON.stringify({ content: 'sent with the wrong content type' });
    for (const type of [
      'application/x-www-form-urlencoded',
      'text/plain',
      'text/plain; charset=utf-8',
      'application/xml',
      'multipart/form-data; boundary=x',
    ]) {
      await rejects(core, {
        method: 'POST',
        path: '/v1/memories',
        body: json,
        headers: { 'content-type': type },
        status: 415,
        code: 'unsupported_media_type',
      });
      await rejects(core, {
        method: 'POST',
        path: '/process_memory',
        body: json,
        headers: { 'content-type': type },
        status: 415,
        code: 'unsupported_media_type',
      });
    }
    // JSON lines belong to /v1/import only.
    await rejects(core, {
      method: 'POST',
      path: '/v1/memories',
      body: `${json}\n`,
      headers: { 'content-type': 'application/x-ndjson' },
      status: 415,
      code: 'unsupported_media_type',
    });
  });
});

describe('bad input: body size limit', () => {
  let core: TestCore;
  before(async () => {
    core = await startCore({ MAX_BODY_BYTES: '2048' });
  });
  after(async () => {
    await core.destroy();
  });

  it('a body over MAX_BODY_BYTES → 413 body_too_large', async () => {
    await rejects(core, {
      method: 'POST',
      path: '/v1/memories',
      body: { content: 'x'.repeat(4096) },
      status: 413,
      code: 'body_too_large',
    });
    await rejects(core, {
      method: 'POST',
      path: '/process_memory',
      body: { content: 'y'.repeat(4096) },
      status: 413,
      code: 'body_too_large',
    });
    await rejects(core, {
      method: 'POST',
      path: '/v1/memories',
      body: { content: 'x', embedding: good },
      status: 413,
      code: 'body_too_large',
    });
    // Just under the limit is fine.
    const ok = await core.request('POST', '/v1/memories', { content: 'z'.repeat(1500) });
    assert.equal(ok.status, 201, 'a body under the limit is accepted');
  });
});
