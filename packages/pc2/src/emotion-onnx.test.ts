// The ONNX emotion path: a sequence classifier with config.json labels, run by onnxruntime-node behind the task API.
// The classifier here is a small real graph written with onnx-proto (token logits summed over the text) and a
// WordPiece tokenizer.json; what is tested is the worker's side — tokenising, batching, the multi-label sigmoid
// and the label mapping — which is the same for a pulled GoEmotions model.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { startTestService, type TestService } from '@synthians/kit';
import { onnxValueInfo, wordTokenizerJson } from '../../memory-core/src/embedding/word-vector-onnx.ts';
import { pc2Service } from './service.ts';

const { onnx } = onnxProto;
const LABELS = ['joy', 'sadness', 'anger'];
// Vocabulary: [PAD], [UNK], then words with a logit contribution per label.
const WORDS: [string, number[]][] = [
  ['happy', [4, -2, -2]],
  ['delighted', [4, -2, -2]],
  ['sad', [-2, 4, -2]],
  ['miserable', [-2, 4, -2]],
  ['angry', [-2, -2, 4]],
  ['furious', [-2, -2, 4]],
];

function writeClassifier(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const V = WORDS.length + 2;
  const table = new Float32Array(V * LABELS.length).fill(0);
  // Every token but padding adds a small bias towards "not this label".
  for (let i = 0; i < V; i++)
    for (let l = 0; l < LABELS.length; l++) table[i * LABELS.length + l] = i === 0 ? 0 : -0.5;
  WORDS.forEach(([, v], k) => v.forEach((x, l) => (table[(k + 2) * LABELS.length + l] = x)));
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const INT64 = onnx.TensorProto.DataType.INT64;
  const graph = onnx.GraphProto.create({
    name: 'tiny-emotion',
    input: [
      onnxValueInfo('input_ids', INT64, ['b', 't']),
      onnxValueInfo('attention_mask', INT64, ['b', 't']),
    ],
    output: [onnxValueInfo('logits', FLOAT, ['b', LABELS.length])],
    initializer: [
      onnx.TensorProto.create({
        name: 'table',
        dataType: FLOAT,
        dims: [V, LABELS.length],
        rawData: new Uint8Array(table.buffer),
      }),
      onnx.TensorProto.create({
        name: 'axis1',
        dataType: INT64,
        dims: [1],
        rawData: new Uint8Array(new BigInt64Array([1n]).buffer),
      }),
    ],
    node: [
      onnx.NodeProto.create({ opType: 'Gather', input: ['table', 'input_ids'], output: ['tok'] }),
      onnx.NodeProto.create({
        opType: 'ReduceSum',
        input: ['tok', 'axis1'],
        output: ['logits'],
        attribute: [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
      }),
    ],
  });
  const model = onnx.ModelProto.encode(
    onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph }),
  ).finish();
  writeFileSync(join(dir, 'model.onnx'), model);
  writeFileSync(join(dir, 'tokenizer.json'), wordTokenizerJson(WORDS.map(([w]) => w)));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      id2label: Object.fromEntries(LABELS.map((l, i) => [String(i), l])),
      problem_type: 'multi_label_classification',
    }),
  );
}

let dir: string;
let svc: TestService;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'synthians-emotion-'));
  writeClassifier(join(dir, 'tiny-emotion'));
  svc = await startTestService(pc2Service, {
    env: { EMOTION_MODEL: join(dir, 'tiny-emotion'), EMBED_MODELS: 'builtin' },
  });
});
after(async () => {
  await svc?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('emotion through an ONNX classifier: labels from config.json, sigmoid probabilities, batch order kept', async () => {
  const texts = ['I am so happy today', 'What a miserable, sad week', 'I am FURIOUS', 'the table is brown'];
  const r = await svc.request('POST', '/v1/tasks/emotion', { texts });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const results = r.body.results as { dominant: string; scores: Record<string, number> }[];
  assert.deepEqual(
    results.slice(0, 3).map((x) => x.dominant),
    ['joy', 'sadness', 'anger'],
  );
  // Sigmoid (multi-label): independent probabilities, not summing to 1.
  const happy = results[0]!.scores;
  // 4 words unknown (−0.5 each) and "happy" (+4): joy = σ(2); sadness = σ(−4).
  assert.ok(Math.abs(happy.joy! - 1 / (1 + Math.exp(-2))) < 1e-5);
  assert.ok(Math.abs(happy.sadness! - 1 / (1 + Math.exp(4))) < 1e-5);
  const neutral = results[3]!.scores;
  for (const l of LABELS) assert.ok(neutral[l]! < 0.5, `no word of the vocabulary: ${l} below 0.5`);
  const t = await svc.request('GET', '/v1/tasks');
  assert.equal(t.body.tasks.emotion.loaded, true);
});

test('a classifier folder without config.json is a start-up error', async () => {
  const half = join(dir, 'half');
  mkdirSync(half);
  writeFileSync(join(half, 'model.onnx'), 'x');
  writeFileSync(join(half, 'tokenizer.json'), '{}');
  await assert.rejects(startTestService(pc2Service, { env: { EMOTION_MODEL: half } }), /no config\.json/);
});
