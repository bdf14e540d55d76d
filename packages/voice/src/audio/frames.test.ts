import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Framer, frames } from './frames.ts';

const ramp = (from: number, n: number) => Float32Array.from({ length: n }, (_, i) => from + i);

test('frames splits into fixed-size frames and returns the remainder', () => {
  const r = frames(ramp(0, 1300), 512);
  assert.equal(r.frames.length, 2, 'two whole 512-sample frames in 1300 samples');
  assert.deepEqual(r.frames[0], ramp(0, 512), 'first frame');
  assert.deepEqual(r.frames[1], ramp(512, 512), 'second frame');
  assert.deepEqual(r.remainder, ramp(1024, 276), 'remainder');
  const next = frames(ramp(1300, 300), 512, r.remainder);
  assert.equal(next.frames.length, 1, 'remainder + 300 samples makes one frame');
  assert.deepEqual(next.frames[0], ramp(1024, 512), 'frame spans the previous remainder');
  assert.deepEqual(next.remainder, ramp(1536, 64), 'new remainder');
  assert.equal(frames(new Float32Array(0)).frames.length, 0, 'empty input, no frames');
  assert.throws(() => frames(ramp(0, 4), 0), RangeError, 'frame size 0 rejected');
});

test('Framer yields the same frames whatever the push sizes', () => {
  const x = ramp(0, 5000);
  const f = new Framer(512);
  const got: Float32Array[] = [];
  let at = 0;
  for (const n of [1, 3, 700, 511, 2000, 17]) {
    got.push(...f.push(x.subarray(at, at + n)));
    at += n;
  }
  got.push(...f.push(x.subarray(at)));
  assert.equal(got.length, Math.floor(5000 / 512), 'frame count');
  got.forEach((fr, i) => assert.deepEqual(fr, ramp(i * 512, 512), `frame ${i}`));
  assert.equal(f.pending, 5000 % 512, 'pending samples');
  const tail = f.flush(true);
  assert.equal(tail.length, 512, 'padded tail is one frame');
  assert.deepEqual(tail.subarray(0, 5000 % 512), ramp(9 * 512, 5000 % 512), 'tail samples');
  assert.ok(
    tail.subarray(5000 % 512).every((v) => v === 0),
    'tail padded with zeros',
  );
  assert.equal(f.flush().length, 0, 'flush resets');
});
