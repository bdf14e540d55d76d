// The standby follows the primary's change feed, serves reads, refuses writes and reports its lag.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startCore, tempDir, unitVector, type TestCore } from './test-support.ts';

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('standby replication', () => {
  let primary: TestCore;
  let standby: TestCore;
  const standbyDir = tempDir();

  before(async () => {
    primary = await startCore();
  });
  after(async () => {
    await standby?.stop();
    await primary?.destroy();
    rmSync(standbyDir, { recursive: true, force: true });
  });

  test('replicates creates, updates, boosts, deletes and assemblies; serves reads', async () => {
    standby = await startCore({ FOLLOW_POLL_WAIT_MS: '1000' }, { follow: primary.url, dir: standbyDir });
    const created = await primary.request('POST', '/v1/memories/batch', {
      memories: [
        {
          content: 'My daughter Lia was born on 3 May 2019',
          tags: ['family'],
          metadata: { topic: 'family' },
        },
        { content: 'The boiler needs its annual service in October', metadata: { topic: 'home' } },
        { content: 'to be deleted', embedding: unitVector(5) },
        { content: 'twin a', embedding: unitVector(9) },
        { content: 'twin b', embedding: unitVector(9).map((x, i) => x + (i % 2 ? 1e-3 : -1e-3)) },
      ],
    });
    assert.equal(created.status, 201);
    const [lia, boiler, doomed] = (created.body.items as { id: string }[]).map((x) => x.id);
    await primary.request('PATCH', `/v1/memories/${boiler}`, { metadata: { topic: 'home', urgent: true } });
    await primary.request('POST', '/api/memories/update_quickrecal_score', {
      memory_id: lia,
      delta: 0.1,
      reason: 'surprise:0.8',
    });
    await primary.request('DELETE', `/v1/memories/${doomed}`);
    const primaryHead = (await primary.request('GET', '/v1/stats')).body.head_seq as number;

    await until('the standby to catch up', async () => {
      const s = (await standby.request('GET', '/v1/stats')).body;
      return s.replication?.applied_seq >= primaryHead ? s : undefined;
    });
    const got = await standby.request('GET', `/v1/memories/${lia}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.content, 'My daughter Lia was born on 3 May 2019');
    assert.deepEqual(got.body.tags, ['family']);
    assert.equal(got.body.surprise_events.length, 1);
    const primaryLia = (await primary.request('GET', `/v1/memories/${lia}`)).body;
    assert.equal(got.body.quickrecal_stored, primaryLia.quickrecal_stored);
    assert.deepEqual((await standby.request('GET', `/v1/memories/${boiler}`)).body.metadata, {
      topic: 'home',
      urgent: true,
    });
    assert.equal((await standby.request('GET', `/v1/memories/${doomed}`)).status, 404);
    const search = await standby.request('POST', '/v1/search', {
      query: 'when was my daughter born',
      top_k: 1,
    });
    assert.equal(search.body.results[0].id, lia);
    const compat = await standby.request('POST', '/retrieve_memories', { query: 'boiler service', top_k: 1 });
    assert.equal(compat.body.memories[0].id, boiler);
    const primaryAssemblies = (await primary.request('GET', '/v1/assemblies')).body.items.map(
      (a: { id: string }) => a.id,
    );
    const standbyAssemblies = (await standby.request('GET', '/v1/assemblies')).body.items.map(
      (a: { id: string }) => a.id,
    );
    assert.ok(primaryAssemblies.length >= 1, 'the twins formed an assembly on the primary');
    assert.deepEqual(standbyAssemblies, primaryAssemblies);
  });

  test('answers every write with 503 read_only_standby and changes nothing', async () => {
    const before = (await standby.request('GET', '/v1/stats')).body.memory_count;
    const writes: [string, string, unknown][] = [
      ['POST', '/v1/memories', { content: 'nope' }],
      ['POST', '/v1/memories/batch', { memories: [{ content: 'nope' }] }],
      ['POST', '/process_memory', { content: 'nope' }],
      ['POST', '/api/memories/update_quickrecal_score', { memory_id: 'x', delta: 0.1 }],
    ];
    for (const [method, path, body] of writes) {
      const res = await standby.request(method, path, body);
      assert.equal(res.status, 503, `${method} ${path}`);
      assert.equal(res.body.error.code, 'read_only_standby');
    }
    const anyId = (await standby.request('GET', '/v1/memories?limit=1')).body.items[0].id;
    assert.equal((await standby.request('DELETE', `/v1/memories/${anyId}`)).status, 503);
    assert.equal(
      (await standby.request('PATCH', `/v1/memories/${anyId}`, { content: 'changed' })).status,
      503,
    );
    assert.equal((await standby.request('GET', '/v1/stats')).body.memory_count, before);
  });

  test('reports its lag and resumes after a restart without re-applying', async () => {
    const stats = (await standby.request('GET', '/stats')).body;
    assert.equal(stats.role, 'standby');
    assert.equal(stats.replication.upstream, primary.url);
    assert.equal(stats.replication.lag_changes, 0);
    assert.equal(typeof stats.replication.lag_ms, 'number');
    await standby.stop();
    const late = await primary.request('POST', '/v1/memories', {
      content: 'written while the standby was down',
    });
    standby = await startCore({ FOLLOW_POLL_WAIT_MS: '1000' }, { follow: primary.url, dir: standbyDir });
    await until('the late write', async () =>
      (await standby.request('GET', `/v1/memories/${late.body.id}`)).status === 200 ? true : undefined,
    );
    const s = (await standby.request('GET', '/v1/stats')).body;
    assert.equal(s.memory_count, (await primary.request('GET', '/v1/stats')).body.memory_count);
    const health = await standby.request('GET', '/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.role, 'standby');
  });
});
