// The pure decision functions: the surprise → boost mapping and the deterministic variant policy.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { boostReason, selectVariant, surpriseBoost, surpriseTrend } from './policy.ts';
import { resolveNamespace } from './engine.ts';

const P = { threshold: 0.5, gain: 0.4, max: 0.2 };

describe('surpriseBoost', () => {
  test('is 0 up to the threshold, linear above it, capped at max', () => {
    assert.equal(surpriseBoost(0, P), 0);
    assert.equal(surpriseBoost(0.5, P), 0);
    assert.equal(surpriseBoost(0.75, P), 0.1);
    assert.equal(surpriseBoost(1, P), 0.2);
    assert.equal(surpriseBoost(0.6, P), 0.04);
    assert.equal(surpriseBoost(1, { threshold: 0, gain: 1, max: 0.3 }), 0.3, 'capped');
  });
  test('never negative, 0 for non-finite input', () => {
    assert.equal(surpriseBoost(-5, P), 0);
    assert.equal(surpriseBoost(NaN, P), 0);
    assert.equal(surpriseBoost(Infinity, P), 0);
  });
  test('the reason names the surprise, the loss and the variant', () => {
    assert.equal(boostReason(0.834, 1.2345, 'MAG'), 'surprise:0.83 (loss 1.23, variant MAG)');
  });
});

describe('surpriseTrend', () => {
  test('needs 4 samples; compares the last 3 with the earlier ones', () => {
    assert.equal(surpriseTrend([0.1, 0.9, 0.9]).direction, 'unknown');
    assert.equal(surpriseTrend([0.1, 0.1, 0.9, 0.9, 0.9]).direction, 'rising');
    assert.equal(surpriseTrend([0.9, 0.9, 0.2, 0.2, 0.2]).direction, 'falling');
    assert.equal(surpriseTrend([0.5, 0.5, 0.5, 0.5]).direction, 'flat');
    const t = surpriseTrend([0.2, 0.8, 0.8, 0.8]);
    assert.ok(Math.abs(t.slope - 0.6) < 1e-12, 'slope = recent − earlier');
  });
});

describe('selectVariant', () => {
  const base = { content: 'hello', surprises: [] as number[], defaultVariant: 'MAG' as const };
  test('task_type wins over everything', () => {
    const c = selectVariant({
      ...base,
      content: 'remember this',
      taskType: 'Planning',
      surprises: [0, 0, 1, 1, 1],
    });
    assert.deepEqual(c, { variant: 'MAL', reason: 'task_type planning', rule: 'task_type' });
    assert.equal(selectVariant({ ...base, taskType: 'recall' }).variant, 'MAC');
    assert.equal(selectVariant({ ...base, taskType: 'chat' }).variant, 'MAG');
    assert.equal(selectVariant({ ...base, taskType: 'note' }).variant, 'NONE');
  });
  test('an unknown or non-string task_type falls through', () => {
    assert.equal(selectVariant({ ...base, taskType: 'gardening' }).rule, 'default');
    assert.equal(selectVariant({ ...base, taskType: 42 }).rule, 'default');
  });
  test('keywords: most hits, whole words, case-insensitive; ties go MAC, MAG, MAL', () => {
    assert.deepEqual(selectVariant({ ...base, content: 'Do you REMEMBER what I said earlier?' }), {
      variant: 'MAC',
      reason: 'keywords: remember, earlier',
      rule: 'keywords',
    });
    assert.equal(selectVariant({ ...base, content: 'the next step of the plan' }).variant, 'MAL');
    assert.equal(selectVariant({ ...base, content: 'an unexpected, urgent change' }).variant, 'MAG');
    assert.equal(selectVariant({ ...base, content: 'remember the next' }).variant, 'MAC', 'tie → MAC');
    assert.equal(selectVariant({ ...base, content: 'nextdoor planet' }).rule, 'default', 'whole words only');
    assert.equal(selectVariant({ ...base, content: 'last   time we met' }).variant, 'MAC', 'phrases');
  });
  test('trend: rising → MAG; falling to a low level → MAL; otherwise keep', () => {
    assert.equal(
      selectVariant({ ...base, current: 'NONE', surprises: [0.1, 0.1, 0.8, 0.9, 0.9] }).variant,
      'MAG',
    );
    const falling = selectVariant({ ...base, current: 'MAG', surprises: [0.9, 0.9, 0.2, 0.2, 0.2] });
    assert.equal(falling.variant, 'MAL');
    assert.equal(falling.rule, 'trend');
    const high = selectVariant({ ...base, current: 'MAC', surprises: [1, 1, 0.7, 0.7, 0.7] });
    assert.deepEqual([high.variant, high.rule], ['MAC', 'keep'], 'falling but still high: keep');
  });
  test('keep the current variant, else the default', () => {
    assert.deepEqual(selectVariant({ ...base, current: 'MAL' }), {
      variant: 'MAL',
      reason: 'no rule applies: keep',
      rule: 'keep',
    });
    assert.deepEqual(selectVariant(base), { variant: 'MAG', reason: 'default variant', rule: 'default' });
  });
  test('is deterministic', () => {
    const input = { ...base, content: 'next step', surprises: [0.3, 0.2, 0.9, 0.1] };
    assert.deepEqual(selectVariant(input), selectVariant(input));
  });
});

describe('resolveNamespace', () => {
  test('given, else metadata.user_id (sanitised), else default', () => {
    assert.equal(resolveNamespace('abc', { user_id: 'u' }), 'abc');
    assert.equal(resolveNamespace(undefined, { user_id: 'ann@example.com' }), 'ann_example.com');
    assert.equal(resolveNamespace(undefined, {}), 'default');
    assert.throws(() => resolveNamespace('a b', {}), /namespace/);
  });
});
