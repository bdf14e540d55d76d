// Assemblies form from close neighbours, and merge when a memory bridges two whose composites converge.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCore, unitVector, type TestCore } from './test-support.ts';

const normalise = (v: number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const add = (a: number[], b: number[], s = 1) => a.map((x, i) => x + s * b[i]!);
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('assembly merge', () => {
  let core: TestCore;
  before(async () => {
    core = await startCore({
      ASSEMBLY_JOIN_THRESHOLD: '0.95',
      ASSEMBLY_SEED_THRESHOLD: '0.97',
      ASSEMBLY_MERGE_THRESHOLD: '0.9',
    });
  });
  after(() => core.destroy());

  test('two assemblies merge into one when a bridging memory makes their composites converge', async () => {
    const v = unitVector(1);
    // w: cosine 0.9 with v.
    const r = unitVector(2);
    const u = normalise(add(r, v, -dot(r, v)));
    const w = normalise(
      add(
        v.map((x) => x * 0.9),
        u,
        Math.sqrt(1 - 0.81),
      ),
    );
    const near = (c: number[], seed: number) => normalise(add(c, unitVector(seed), 0.14));
    const store = async (content: string, embedding: number[]) => {
      const res = await core.request('POST', '/v1/memories', { content, embedding });
      assert.equal(res.status, 201);
      return res.body.id as string;
    };
    const a = [await store('a1', near(v, 10)), await store('a2', near(v, 11))];
    const b = [await store('b1', near(w, 20)), await store('b2', near(w, 21))];
    const two = (await core.request('GET', '/v1/assemblies')).body.items as {
      id: string;
      member_count: number;
    }[];
    assert.equal(two.length, 2, 'each pair formed its own assembly');
    const bridge = await store('bridge', normalise(add(v, w)));
    const one = (await core.request('GET', '/v1/assemblies')).body.items as {
      id: string;
      member_count: number;
    }[];
    assert.equal(one.length, 1, 'the bridge merged them');
    assert.equal(one[0]!.member_count, 5);
    const detail = await core.request('GET', `/v1/assemblies/${one[0]!.id}`);
    assert.deepEqual([...detail.body.members].sort(), [...a, ...b, bridge].sort());
    // The merge is in the change feed: one assembly deleted, the survivor upserted.
    const changes = (await core.request('GET', '/v1/changes?since=0&limit=5000')).body.changes as {
      kind: string;
      op: string;
    }[];
    assert.ok(
      changes.some((c) => c.kind === 'assembly' && c.op === 'delete'),
      'the absorbed assembly is deleted in the change feed',
    );
  });
});
