import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultFusionWeights, fuse } from './fusion.ts';
import type { FusionCandidate } from './fusion.ts';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

test('default weights are valid and sum to 1', () => {
  assert.ok(defaultFusionWeights.vector > 0 && defaultFusionWeights.lexical > 0, 'both sides used');
  close(defaultFusionWeights.vector + defaultFusionWeights.lexical, 1);
  assert.ok(Object.isFrozen(defaultFusionWeights), 'frozen');
});

test('convex combination of clamped cosine and max-normalised BM25', () => {
  const out = fuse(
    [
      { key: 1, vector: 0.5, lexical: 10 },
      { key: 2, vector: 0.9, lexical: 0 },
      { key: 3, vector: 0.2, lexical: 5 },
    ],
    { vector: 0.6, lexical: 0.4 },
  );
  const byKey = new Map(out.map((f) => [f.key, f]));
  close(byKey.get(1)!.vectorComponent, 0.3);
  close(byKey.get(1)!.lexicalComponent, 0.4);
  close(byKey.get(1)!.similarity, 0.7);
  close(byKey.get(2)!.similarity, 0.54);
  close(byKey.get(3)!.similarity, 0.12 + 0.2);
  assert.deepEqual(
    out.map((f) => f.key),
    [1, 2, 3],
  );
});

test('sorted best first, ties by smaller key, similarity in [0, 1]', () => {
  const cands: FusionCandidate[] = [];
  // deterministic pseudo-random candidates
  let s = 12345;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let k = 0; k < 200; k++)
    cands.push({ key: k, vector: rnd() * 2 - 1, lexical: rnd() < 0.5 ? rnd() * 20 : 0 });
  cands.push({ key: 500, vector: 0.3 }, { key: 400, vector: 0.3 });
  const out = fuse(cands, { vector: 0.65, lexical: 0.35 });
  assert.equal(out.length, cands.length);
  for (let i = 0; i < out.length; i++) {
    const f = out[i]!;
    assert.ok(f.similarity >= 0 && f.similarity <= 1, `similarity ${f.similarity}`);
    close(f.similarity, f.vectorComponent + f.lexicalComponent);
    if (i > 0) {
      const p = out[i - 1]!;
      assert.ok(p.similarity > f.similarity || (p.similarity === f.similarity && p.key < f.key), 'order');
    }
  }
  const i400 = out.findIndex((f) => f.key === 400);
  const i500 = out.findIndex((f) => f.key === 500);
  assert.ok(i400 < i500, 'tie broken by key');
});

test('negative cosine counts as 0, cosine above 1 as 1, missing sides as 0', () => {
  const out = fuse([{ key: 1, vector: -0.7 }, { key: 2, vector: 1.5 }, { key: 3, lexical: 4 }, { key: 4 }], {
    vector: 0.5,
    lexical: 0.5,
  });
  const byKey = new Map(out.map((f) => [f.key, f]));
  close(byKey.get(1)!.similarity, 0);
  close(byKey.get(2)!.similarity, 0.5);
  close(byKey.get(3)!.similarity, 0.5);
  close(byKey.get(4)!.similarity, 0);
});

test('no lexical match at all: only the vector side counts', () => {
  const out = fuse(
    [
      { key: 1, vector: 0.8, lexical: 0 },
      { key: 2, vector: 0.4 },
    ],
    { vector: 0.6, lexical: 0.4 },
  );
  close(out[0]!.similarity, 0.48);
  close(out[0]!.lexicalComponent, 0);
  close(out[1]!.similarity, 0.24);
});

test('weights are rescaled to sum to 1; both zero means equal; invalid weights throw', () => {
  const c = [{ key: 1, vector: 0.5, lexical: 2 }];
  close(fuse(c, { vector: 3, lexical: 1 })[0]!.similarity, 0.75 * 0.5 + 0.25);
  close(fuse(c, { vector: 0, lexical: 0 })[0]!.similarity, 0.25 + 0.5);
  close(fuse(c, { vector: 1, lexical: 0 })[0]!.similarity, 0.5);
  close(fuse(c, { vector: 0, lexical: 1 })[0]!.similarity, 1);
  assert.throws(() => fuse(c, { vector: -1, lexical: 1 }), RangeError);
  assert.throws(() => fuse(c, { vector: Number.NaN, lexical: 1 }), RangeError);
  assert.throws(() => fuse(c, { vector: Infinity, lexical: 1 }), RangeError);
});

test('uses the default weights when none are given', () => {
  const c = [{ key: 1, vector: 0.5, lexical: 2 }];
  close(fuse(c)[0]!.similarity, defaultFusionWeights.vector * 0.5 + defaultFusionWeights.lexical);
});

test('duplicate keys are merged; non-finite inputs count as 0', () => {
  const out = fuse(
    [
      { key: 7, vector: 0.2 },
      { key: 7, lexical: 3 },
      { key: 8, vector: Number.NaN, lexical: Infinity },
    ],
    { vector: 0.5, lexical: 0.5 },
  );
  assert.equal(out.length, 2);
  close(out[0]!.similarity, 0.1 + 0.5);
  close(out.find((f) => f.key === 8)!.similarity, 0);
});

test('empty input gives empty output', () => {
  assert.deepEqual(fuse([], defaultFusionWeights), []);
});
