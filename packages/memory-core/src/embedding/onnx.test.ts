// The `onnx` embedding provider with a real ONNX model (the word-vector encoder built from the shipped asset),
// its real tokenizer.json and onnxruntime-node: pooling, batching, truncation, start-up errors, and a memory
// core that stores and finds memories with it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonClient } from '@synthians/kit';
import { startCore } from '../test-support.ts';
import { createOnnxEncoder, type OnnxEncoder } from './onnx.ts';
import { buildWordVectorModel } from './word-vector-onnx.ts';

let dir: string;
let model: string;
let encoder: OnnxEncoder;
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'synthians-onnx-'));
  model = join(dir, 'glove-sif-100d');
  await buildWordVectorModel(model);
  encoder = await createOnnxEncoder({ modelPath: model, batchSize: 4, maxTokens: 16 });
});
after(async () => {
  await encoder?.close?.();
  rmSync(dir, { recursive: true, force: true });
});

test("vectors: unit length, the model's width, similar texts closer", async () => {
  assert.equal(encoder.dim, 100);
  assert.equal(encoder.model, 'onnx:glove-sif-100d');
  assert.equal(encoder.executionProvider, 'cpu');
  const [cat, kitten, tax] = await encoder.embed([
    'the cat sleeps on the sofa',
    'a kitten naps on the couch',
    'file your income tax return',
  ]);
  for (const v of [cat!, kitten!, tax!]) assert.ok(Math.abs(dot(v, v) - 1) < 1e-5);
  assert.ok(dot(cat!, kitten!) > dot(cat!, tax!) + 0.2);
});

test('batching: results in input order and independent of the other texts in the run', async () => {
  const texts = Array.from({ length: 11 }, (_, i) => `${'word '.repeat(i)}garden number ${i}`);
  const together = await encoder.embed(texts);
  for (let i = 0; i < texts.length; i++) {
    const [alone] = await encoder.embed([texts[i]!]);
    assert.ok(Math.abs(dot(alone!, together[i]!) - 1) < 1e-5, `text ${i}`);
  }
});

test('truncation: words past maxTokens do not count', async () => {
  const head = 'apple banana cherry grape melon lemon peach plum pear fig lime kiwi mango papaya guava';
  assert.equal(encoder.countTokens([head])[0], 15);
  const [a, b] = await encoder.embed([
    `${head} orange`,
    `${head} orange volcano earthquake tsunami hurricane`,
  ]);
  assert.ok(Math.abs(dot(a!, b!) - 1) < 1e-5, 'tokens after the 16th are dropped');
});

test('start-up errors name what is missing', async () => {
  await assert.rejects(createOnnxEncoder({ modelPath: join(dir, 'nope') }), /synthians models pull/);
  const half = join(dir, 'half');
  mkdirSync(half);
  writeFileSync(join(half, 'model.onnx'), 'not a model');
  await assert.rejects(createOnnxEncoder({ modelPath: half }), /no tokenizer\.json/);
  await assert.rejects(createOnnxEncoder({ modelPath: model, executionProvider: 'cuda' }), /CUDA/);
});

test('a memory core on EMBEDDING_PROVIDER=onnx stores and finds memories; a width mismatch refuses to start', async () => {
  const core = await startCore({
    EMBEDDING_PROVIDER: 'onnx',
    EMBEDDING_MODEL_PATH: model,
    EMBEDDING_DIM: '100',
  });
  try {
    const req = jsonClient(core.url);
    for (const content of [
      'We hiked up the mountain trail',
      'The invoice is due on Friday',
      'I fed the goldfish',
    ])
      assert.equal((await req('POST', '/v1/memories', { content })).status, 201);
    const s = await req('POST', '/v1/search', { query: 'climbing a hill', mode: 'vector', top_k: 1 });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    assert.match(s.body.results[0].content, /mountain/);
  } finally {
    await core.destroy();
  }
  await assert.rejects(
    startCore({ EMBEDDING_PROVIDER: 'onnx', EMBEDDING_MODEL_PATH: model, EMBEDDING_DIM: '768' }),
    /gives 100-d vectors but EMBEDDING_DIM is 768/,
  );
  await assert.rejects(startCore({ EMBEDDING_PROVIDER: 'onnx' }), /needs EMBEDDING_MODEL_PATH/);
});
