// QuickRecal and relevance: bounded in [0,1], deterministic, monotone where the documentation says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  effectiveQuickRecal,
  normaliseWeights,
  quickRecal,
  recencyFactor,
  type QuickRecalConfig,
} from './quickrecal.ts';
import { emotionalResonance, relevance } from './relevance.ts';
import { analyzeEmotion } from './emotion.ts';

const config: QuickRecalConfig = {
  weights: normaliseWeights({
    recency: 0.1,
    importance: 0.25,
    emotion: 0.15,
    novelty: 0.2,
    personal: 0.15,
    information: 0.15,
  }),
  overlapPenalty: 0.2,
  halfLifeDays: 30,
  decayFloor: 0.5,
};
const day = 86_400_000;
const base = {
  content: 'We planned the trip to Lisbon for the second week of June.',
  emotionIntensity: 0.3,
  nearestSimilarity: 0.4,
  ageMs: 0,
  importance: null,
};

test('scores stay in [0,1] over extreme inputs', () => {
  const contents = [
    '',
    '!!!',
    'x'.repeat(10_000),
    'my name is Ana, email ana@example.com, phone +34 600 000 000',
    base.content,
  ];
  for (const content of contents) {
    for (const importance of [null, 0, 1]) {
      for (const nearestSimilarity of [undefined, -1, 0, 0.95, 1]) {
        for (const emotionIntensity of [0, 1]) {
          for (const ageMs of [0, 365 * day, -day]) {
            const r = quickRecal({ content, importance, nearestSimilarity, emotionIntensity, ageMs }, config);
            assert.ok(r.score >= 0 && r.score <= 1, `score ${r.score} out of range`);
            for (const [k, v] of Object.entries(r.factors))
              assert.ok(Number.isFinite(v) && v >= 0, `${k}=${v}`);
          }
        }
      }
    }
  }
});

test('deterministic: the same input gives the same score', () => {
  assert.deepEqual(quickRecal(base, config), quickRecal({ ...base }, config));
});

test('monotone in importance, emotional intensity, novelty and recency', () => {
  const s = (over: Partial<typeof base> & { nearestSimilarity?: number }) =>
    quickRecal({ ...base, ...over }, config).score;
  assert.ok(s({ importance: 0.9 } as never) > s({ importance: 0.1 } as never), 'importance');
  assert.ok(s({ emotionIntensity: 0.9 }) > s({ emotionIntensity: 0.1 }), 'emotion');
  assert.ok(s({ nearestSimilarity: 0.1 }) > s({ nearestSimilarity: 0.8 }), 'novelty');
  assert.ok(s({ ageMs: 0 }) > s({ ageMs: 90 * day }), 'recency');
  assert.ok(
    s({ nearestSimilarity: 0.99 }) < s({ nearestSimilarity: 0.9 }),
    'overlap penalty for near-duplicates',
  );
});

test('importance and personal cues are detected', () => {
  const plain = quickRecal({ ...base, content: 'The bus was late.' }, config);
  const important = quickRecal(
    { ...base, content: "Important: don't forget the deadline for the visa on Friday!" },
    config,
  );
  const personal = quickRecal(
    { ...base, content: 'My name is Ana and I live in Porto with my husband.' },
    config,
  );
  assert.ok(important.factors.importance > plain.factors.importance, 'importance cues');
  assert.ok(personal.factors.personal > plain.factors.personal, 'personal cues');
});

test('read-time decay never raises the score and falls with time to the floor', () => {
  const now = Date.now();
  let previous = 1;
  for (const days of [0, 1, 10, 30, 100, 1000]) {
    const eff = effectiveQuickRecal(0.8, now - days * day, now, config);
    assert.ok(eff <= 0.8 && eff <= previous + 1e-12, `day ${days}: ${eff}`);
    assert.ok(eff >= 0.8 * config.decayFloor - 1e-9, `floor at day ${days}`);
    previous = eff;
  }
  assert.equal(effectiveQuickRecal(0.8, now, now, config), 0.8);
  assert.ok(Math.abs(recencyFactor(30 * day, 30) - 0.5) < 1e-12, 'half-life');
});

test('relevance is a convex combination and rises with each component', () => {
  const w = normaliseWeights({
    similarity: 0.8,
    quickrecal: 0.1,
    recency: 0.04,
    assembly: 0.03,
    emotion: 0.03,
  });
  const c = { similarity: 0.5, quickrecal: 0.5, recency: 0.5, assembly: 0.5, emotion: 0.5 };
  assert.ok(Math.abs(relevance(c, w) - 0.5) < 1e-12);
  for (const key of Object.keys(c) as (keyof typeof c)[]) {
    assert.ok(relevance({ ...c, [key]: 0.9 }, w) > relevance(c, w), key);
  }
  assert.equal(relevance({ similarity: 1, quickrecal: 1, recency: 1, assembly: 1, emotion: 1 }, w), 1);
});

test('emotional resonance favours memories that match the user emotion', () => {
  const happy = analyzeEmotion('I am so happy and excited about the party!');
  const sad = analyzeEmotion('I feel so sad and lonely since she left.');
  const user = { dominant: happy.dominant, valence: 0.8 };
  assert.ok(
    emotionalResonance(happy, user) > emotionalResonance(sad, user),
    'matching emotion resonates more',
  );
  assert.equal(emotionalResonance(happy, undefined), 0);
});
