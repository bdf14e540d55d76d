import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BUILTIN_HASH_ONLY_MODEL,
  BUILTIN_MODEL,
  createBuiltinEmbedder,
  hash32,
  porterStem,
  tokenize,
} from './builtin.ts';
import { l2normalize } from './provider.ts';

function norm(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

function cos(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

const SAMPLES = [
  'Caroline: I went to a LGBTQ support group yesterday and it was so powerful.',
  'Melanie: We love painting together lately, especially nature-inspired ones. [image: a photo of a painting]',
  'Remind me to buy milk and eggs tomorrow morning',
  'Café crème à la française — déjà vu!',
  'Numbers like 2023 and 42 count too',
];

test('vectors have the requested dimension and unit norm, for several dims', async () => {
  for (const dim of [16, 17, 32, 64, 100, 128, 384, 400, 768, 1024]) {
    for (const wordVectors of [true, false]) {
      const e = createBuiltinEmbedder(dim, { wordVectors });
      assert.equal(e.dim, dim);
      const out = await e.embed(SAMPLES);
      assert.equal(out.length, SAMPLES.length);
      for (const v of out) {
        assert.ok(v instanceof Float32Array, 'Float32Array');
        assert.equal(v.length, dim);
        assert.ok(
          v.every((x) => Number.isFinite(x)),
          'finite',
        );
        assert.ok(Math.abs(norm(v) - 1) < 1e-5, `dim ${dim}: norm ${norm(v)}`);
      }
    }
  }
});

test('model names the method and version', () => {
  assert.equal(createBuiltinEmbedder(768).model, BUILTIN_MODEL);
  assert.equal(createBuiltinEmbedder(768, { wordVectors: false }).model, BUILTIN_HASH_ONLY_MODEL);
  assert.match(BUILTIN_MODEL, /^builtin-.+-v\d+$/);
});

test('rejects dimensions below 16', () => {
  assert.throws(() => createBuiltinEmbedder(15), RangeError);
  assert.throws(() => createBuiltinEmbedder(0), RangeError);
  assert.throws(() => createBuiltinEmbedder(32.5), RangeError);
});

test('deterministic: same text, same vector, across calls, instances and batches', async () => {
  const a = createBuiltinEmbedder(768);
  const b = createBuiltinEmbedder(768);
  const [x1] = await a.embed([SAMPLES[0]!]);
  const batch = await a.embed(SAMPLES);
  const [x2] = await b.embed([SAMPLES[0]!]);
  assert.deepEqual(Array.from(x1!), Array.from(batch[0]!));
  assert.deepEqual(Array.from(x1!), Array.from(x2!));
});

test('golden values: the vectors do not change without a model version bump', async () => {
  // If this fails after an intended change to the method or the asset, bump the version in the model name.
  const text = 'Melanie painted a sunrise over the lake last weekend.';
  const expected: Record<string, number[]> = {
    [BUILTIN_MODEL]: [0.62019, -0.174249, -0.17954, -0.040081, 0.159121, 0.526502, 0.235042, -0.002121],
    [BUILTIN_HASH_ONLY_MODEL]: [-0.408248, 0, 0, 0, 0, 0, 0, 0],
  };
  for (const wordVectors of [true, false]) {
    const e = createBuiltinEmbedder(32, { wordVectors });
    const [v] = await e.embed([text]);
    const want = expected[e.model]!;
    want.forEach((x, i) => assert.ok(Math.abs(v![i]! - x) < 1e-5, `${e.model}[${i}] = ${v![i]} != ${x}`));
  }
  assert.equal(hash32('hello', 1), hash32('hello', 1));
  assert.notEqual(hash32('hello', 1), hash32('hello', 2));
  assert.equal(hash32('', 0), 2872998923);
});

test('related sentences are closer than unrelated ones', async () => {
  const cases: [string, string, string][] = [
    [
      'I adopted a puppy from the animal shelter',
      'We got a new dog from the rescue shelter',
      'The stock market fell sharply on Tuesday',
    ],
    [
      'Melanie loves painting sunsets with watercolors',
      'She paints landscapes and sunsets in her art class',
      'My car needs new tires before winter',
    ],
    [
      'What did Caroline research?',
      'Caroline: Researching adoption agencies has been on my mind a lot.',
      'Melanie: The kids loved the beach this summer.',
    ],
    [
      'How is the weather today?',
      'Is it going to rain this afternoon?',
      'Quarterly revenue grew by ten percent',
    ],
  ];
  for (const dim of [768, 64]) {
    for (const wordVectors of [true, false]) {
      const e = createBuiltinEmbedder(dim, { wordVectors });
      for (const [anchor, related, unrelated] of cases) {
        // The hash-only model only sees shared words; skip the pair that shares none.
        if (!wordVectors && anchor.startsWith('How is the weather')) continue;
        const [a, r, u] = await e.embed([anchor, related, unrelated]);
        assert.ok(
          cos(a!, r!) > cos(a!, u!),
          `${e.model}/${dim}: "${anchor}": ${cos(a!, r!)} <= ${cos(a!, u!)}`,
        );
      }
    }
  }
});

test('identical texts have similarity 1; inflections match', async () => {
  const e = createBuiltinEmbedder(768);
  const [a, b, c, d] = await e.embed([
    'painting sunsets',
    'painting sunsets',
    'painted sunset',
    'fixing the car',
  ]);
  assert.ok(Math.abs(cos(a!, b!) - 1) < 1e-6, `identical: ${cos(a!, b!)}`);
  assert.ok(cos(a!, c!) > 0.6, `inflections: ${cos(a!, c!)}`);
  assert.ok(cos(a!, c!) > cos(a!, d!) + 0.2, `inflections ${cos(a!, c!)} vs unrelated ${cos(a!, d!)}`);
});

test('never returns an all-zero vector, even without usable tokens', async () => {
  const odd = [
    '',
    ' ',
    '\n\t',
    '!!!',
    '😀',
    '😀😀 🎉',
    '...',
    '?',
    'the of and',
    'what is it',
    '\u0000',
    '—',
  ];
  for (const dim of [16, 768]) {
    for (const wordVectors of [true, false]) {
      const e = createBuiltinEmbedder(dim, { wordVectors });
      const out = await e.embed(odd);
      out.forEach((v, i) => {
        assert.ok(Math.abs(norm(v) - 1) < 1e-5, `${JSON.stringify(odd[i])} has norm ${norm(v)}`);
      });
      // Fallbacks are deterministic and distinguish different inputs.
      const again = await e.embed(odd);
      out.forEach((v, i) => assert.deepEqual(Array.from(v), Array.from(again[i]!)));
      assert.ok(cos(out[3]!, out[4]!) < 0.99, '"!!!" and "😀" should differ');
    }
  }
});

test('empty batch', async () => {
  assert.deepEqual(await createBuiltinEmbedder(64).embed([]), []);
});

test('tokenize folds case and diacritics and splits like unicode61', () => {
  assert.deepEqual(tokenize("Café DÉJÀ-vu, don't 2023!"), ['cafe', 'deja', 'vu', 'don', 't', '2023']);
  assert.deepEqual(tokenize('!!! 😀'), []);
});

test('porterStem follows the Porter algorithm', () => {
  const cases: Record<string, string> = {
    caresses: 'caress',
    ponies: 'poni',
    cats: 'cat',
    agreed: 'agre',
    plastered: 'plaster',
    motoring: 'motor',
    hopping: 'hop',
    filing: 'file',
    happy: 'happi',
    relational: 'relat',
    generalization: 'gener',
    painting: 'paint',
    painted: 'paint',
    adoption: 'adopt',
    controll: 'control',
    go: 'go',
    '2023': '2023',
  };
  for (const [w, s] of Object.entries(cases)) assert.equal(porterStem(w), s, w);
});

test('l2normalize scales in place and leaves a zero vector unchanged', () => {
  const v = new Float32Array([3, 4]);
  assert.equal(l2normalize(v), v);
  assert.deepEqual(Array.from(v), [Math.fround(0.6), Math.fround(0.8)]);
  const z = new Float32Array(3);
  assert.deepEqual(Array.from(l2normalize(z)), [0, 0, 0]);
});
