import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '@synthians/kit';
import { validateEmbedding, toFloat32, isInvalidEmbedding, NeuralMemory } from './index.ts';

const expectInvalid = (fn: () => unknown, pattern: RegExp) => {
  assert.throws(fn, (err: unknown) => {
    assert.ok(AppError.isInstance(err), 'throws an AppError');
    assert.equal(err.statusCode, 400);
    assert.equal(err.code, 'invalid_embedding');
    assert.ok(isInvalidEmbedding(err), 'isInvalidEmbedding recognises it');
    assert.match(err.message, pattern);
    return true;
  });
};

test('validateEmbedding accepts arrays and typed arrays of the right length', () => {
  validateEmbedding([0, 1, -2.5], 3);
  validateEmbedding(new Float32Array(4), 4);
  validateEmbedding(new Float64Array([1e30, -1e-30]), 2);
  const out = toFloat32([1, 2, 3], 3);
  assert.ok(out instanceof Float32Array, 'toFloat32 returns a Float32Array');
  assert.deepEqual([...out], [1, 2, 3]);
});

test('validateEmbedding rejects wrong length, NaN, ±Infinity, non-numbers and float32 overflow', () => {
  expectInvalid(() => validateEmbedding([1, 2], 3), /3 elements, got 2/);
  expectInvalid(() => validateEmbedding(new Float32Array(5), 3), /3 elements, got 5/);
  expectInvalid(() => validateEmbedding([1, NaN, 3], 3), /\[1\].*NaN/);
  expectInvalid(() => validateEmbedding([Infinity, 0, 0], 3), /\[0\].*Infinity/);
  expectInvalid(() => validateEmbedding(new Float64Array([0, 0, -Infinity]), 3), /\[2\].*-Infinity/);
  expectInvalid(() => validateEmbedding([1, '2', 3] as unknown as number[], 3), /\[1\].*string/);
  expectInvalid(() => validateEmbedding([1, null, 3] as unknown as number[], 3), /null/);
  expectInvalid(() => validateEmbedding([1e39, 0, 0], 3), /float32 range/);
  expectInvalid(() => validateEmbedding('abc', 3), /array of 3 numbers/);
  expectInvalid(() => validateEmbedding(null, 3), /array of 3 numbers/);
  // eslint-disable-next-line no-sparse-arrays
  expectInvalid(() => validateEmbedding([1, , 3], 3), /missing/);
});

test('NeuralMemory entry points validate their inputs and leave the state untouched on failure', () => {
  const m = NeuralMemory.create({ inputDim: 8, keyDim: 4, valueDim: 8, hiddenDims: [8] }, 1);
  const before = m.serialize();
  const bad = [1, 2, 3, 4, 5, 6, 7, NaN];
  expectInvalid(() => m.update(bad), /embedding\[7\]/);
  expectInvalid(() => m.update([1, 2, 3]), /8 elements/);
  expectInvalid(() => m.retrieve(bad), /NaN/);
  expectInvalid(() => m.analyzeSurprise(bad), /NaN/);
  expectInvalid(() => m.calculateGates([Infinity, 0, 0, 0, 0, 0, 0, 0]), /Infinity/);
  expectInvalid(() => m.write(bad, new Float32Array(8)), /key embedding/);
  assert.equal(m.step, 0);
  assert.deepEqual(m.serialize(), before, 'state unchanged');
});
