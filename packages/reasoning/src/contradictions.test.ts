// The contradiction rules on their own (the service test covers them over HTTP on a hand-written set).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findContradictions } from './contradictions.ts';

const at = (h: number) => new Date(Date.UTC(2025, 0, 1, h)).toISOString();

test('a name of several words is one subject: where they live changed', () => {
  const pairs = findContradictions([
    { id: 'a', content: 'Ana Lopez lives in Oslo.', created_at: at(1) },
    { id: 'b', content: 'Tom lives in Rome.', created_at: at(2) },
    { id: 'c', content: 'Ana Lopez lives in Lyon now.', created_at: at(3) },
  ]);
  assert.equal(pairs.length, 1, JSON.stringify(pairs));
  assert.deepEqual([pairs[0]!.a.id, pairs[0]!.b.id], ['a', 'c']);
  assert.equal(pairs[0]!.reason, 'conflicting_value');
});

test('the same price of another subject is no conflict; a changed price of the same subject is', () => {
  const pairs = findContradictions([
    { id: 'a', content: 'The flight alder ticket costs 26 euros.', created_at: at(1) },
    { id: 'b', content: 'The flight birch ticket costs 26 euros.', created_at: at(2) },
    { id: 'c', content: 'The flight alder ticket costs 36 euros.', created_at: at(3) },
  ]);
  assert.deepEqual(
    pairs.map((p) => [p.a.id, p.b.id, p.reason]),
    [['a', 'c', 'changed_number']],
  );
});
