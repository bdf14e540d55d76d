import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SentenceSplitter, splitSentences } from './sentences.ts';

function streamed(text: string, step: number, options = {}): string[] {
  const s = new SentenceSplitter(options);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += step) out.push(...s.push(text.slice(i, i + step)));
  out.push(...s.flush());
  return out;
}

test('splits on . ! ? and keeps abbreviations, decimals, times and initials inside', () => {
  const text =
    'Hello there, how are you today? Dr. Smith arrived at 10:30 with 3.5 kg of apples, e.g. Granny Smith. ' +
    'J. R. R. Tolkien wrote many books! Visit example.com for more.';
  assert.deepEqual(splitSentences(text), [
    'Hello there, how are you today?',
    'Dr. Smith arrived at 10:30 with 3.5 kg of apples, e.g. Granny Smith.',
    'J. R. R. Tolkien wrote many books!',
    'Visit example.com for more.',
  ]);
});

test('splits on newlines and ellipses, keeps list numbers, merges tiny fragments', () => {
  const text =
    'Sure! Here is the plan.\n1. Buy milk at the store.\n2. Walk the dog.\nThat is all… for now. Well… Okay then.';
  assert.deepEqual(splitSentences(text), [
    'Sure! Here is the plan.',
    '1. Buy milk at the store.',
    '2. Walk the dog.',
    'That is all… for now.',
    'Well… Okay then.',
  ]);
  assert.deepEqual(splitSentences('Yes. Ok. That works for me.'), ['Yes. Ok. That works for me.']);
});

test('quotes and brackets after the punctuation stay with the sentence', () => {
  assert.deepEqual(
    splitSentences('"Really?" she asked slowly. (It was very late.) Version 2.0 is out now.'),
    ['"Really?" she asked slowly.', '(It was very late.)', 'Version 2.0 is out now.'],
  );
});

test('very long sentences are cut at commas or semicolons, none longer than the maximum', () => {
  const text =
    'This sentence goes on and on, with many clauses separated by commas, and it keeps going; it does not stop ' +
    'until it has exceeded the maximum length that we allow, which is quite long indeed, really.';
  const parts = splitSentences(text, { maxLength: 100 });
  assert.ok(parts.length >= 2, `expected several parts, got ${JSON.stringify(parts)}`);
  for (const p of parts) assert.ok(p.length <= 100, `part too long: ${p}`);
  assert.ok(
    parts.slice(0, -1).every((p) => /[,;]$/.test(p)),
    `cuts should follow punctuation: ${JSON.stringify(parts)}`,
  );
  assert.equal(parts.join(' '), text);
});

test('streaming gives the same sentences as the whole text, for any delta size', () => {
  const texts = [
    'Hello there, how are you today? Dr. Smith arrived at 10:30. He had 3.5 kg of apples, e.g. Granny Smith.',
    'Sure! Here is the plan.\n1. Buy milk at the store.\n2. Walk the dog.\nThat is all… for now. Bye now, friend.',
    'A long one, with commas, and more commas, and still more words that keep coming; until the end of time, ok.',
  ];
  for (const text of texts) {
    const whole = splitSentences(text, { maxLength: 60 });
    for (const step of [1, 2, 3, 7, 50])
      assert.deepEqual(streamed(text, step, { maxLength: 60 }), whole, `step ${step}`);
  }
});

test('streaming emits a sentence as soon as it is known to be complete', () => {
  const s = new SentenceSplitter();
  assert.deepEqual(s.push('The weather today is sunny'), []);
  assert.deepEqual(s.push(' and warm.'), [], 'needs the next character to rule out an abbreviation');
  assert.deepEqual(s.push(' Tomorrow'), ['The weather today is sunny and warm.']);
  assert.deepEqual(s.push(' it will rain? Maybe'), ['Tomorrow it will rain?']);
  assert.deepEqual(s.push(' not, says Dr.'), []);
  assert.deepEqual(s.push(' Jones'), []);
  assert.deepEqual(s.flush(), ['Maybe not, says Dr. Jones']);
  assert.deepEqual(s.flush(), [], 'flush leaves nothing behind');
});
