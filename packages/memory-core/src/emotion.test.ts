import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeEmotion, emotionLabels } from './emotion.ts';
import type { EmotionResult } from './emotion.ts';

const GOEMOTIONS = [
  'admiration',
  'amusement',
  'anger',
  'annoyance',
  'approval',
  'caring',
  'confusion',
  'curiosity',
  'desire',
  'disappointment',
  'disapproval',
  'disgust',
  'embarrassment',
  'excitement',
  'fear',
  'gratitude',
  'grief',
  'joy',
  'love',
  'nervousness',
  'optimism',
  'pride',
  'realization',
  'relief',
  'remorse',
  'sadness',
  'surprise',
  'neutral',
];

const SAMPLES = [
  'I am so happy and grateful, thank you!',
  "I'm furious, this is outrageous",
  "I'm not happy about this",
  'The meeting is at 3pm in room 4.',
  'my grandmother passed away, I miss her so much',
  "I'm scared and anxious about the surgery",
  'I wonder how that works?',
  'hahaha that was SO funny 😂😂 :D',
  "ugh, I can't believe they cancelled it again :( what a waste of time!!!",
  'Well done, I am proud of you ❤️',
  '',
  '   \n\t ',
  '!!! ??? ...',
];

function score(r: EmotionResult, label: string): number {
  const s = r.scores[label];
  assert.equal(typeof s, 'number', `score for ${label}`);
  return s as number;
}

function assertWellFormed(r: EmotionResult, text: string): void {
  assert.deepEqual(
    Object.keys(r.scores).sort(),
    [...GOEMOTIONS].sort(),
    `labels for ${JSON.stringify(text)}`,
  );
  let sum = 0;
  for (const [label, s] of Object.entries(r.scores)) {
    assert.ok(Number.isFinite(s) && s >= 0 && s <= 1, `${label}=${s} for ${JSON.stringify(text)}`);
    sum += s;
  }
  assert.ok(Math.abs(sum - 1) <= 1e-9, `scores sum to ${sum} for ${JSON.stringify(text)}`);
  assert.ok(emotionLabels.includes(r.dominant), `dominant ${r.dominant}`);
  assert.ok(r.valence >= -1 && r.valence <= 1, `valence ${r.valence}`);
  assert.ok(r.intensity >= 0 && r.intensity <= 1, `intensity ${r.intensity}`);
  const best = Math.max(...Object.values(r.scores));
  assert.equal(r.scores[r.dominant], best, 'dominant is the argmax of scores');
}

test('emotionLabels are the 28 GoEmotions labels', () => {
  assert.deepEqual([...emotionLabels], GOEMOTIONS);
  assert.equal(new Set(emotionLabels).size, 28);
});

test('scores are a distribution over all 28 labels, values in range', () => {
  for (const text of SAMPLES) assertWellFormed(analyzeEmotion(text), text);
});

test('happy + grateful + thank you: joy or gratitude, positive valence', () => {
  const r = analyzeEmotion('I am so happy and grateful, thank you!');
  assert.ok(['joy', 'gratitude'].includes(r.dominant), r.dominant);
  assert.ok(r.valence > 0.3, `valence ${r.valence}`);
  assert.ok(r.intensity > 0.5, `intensity ${r.intensity}`);
});

test('anger', () => {
  const r = analyzeEmotion("I'm furious, this is outrageous");
  assert.equal(r.dominant, 'anger');
  assert.ok(r.valence < -0.5, `valence ${r.valence}`);
});

test('negation flips a positive cue to negative valence', () => {
  const plain = analyzeEmotion("I'm happy about this");
  const negated = analyzeEmotion("I'm not happy about this");
  assert.ok(plain.valence > 0, `plain valence ${plain.valence}`);
  assert.ok(negated.valence < 0, `valence ${negated.valence}`);
  assert.ok(score(negated, 'joy') < score(plain, 'joy'), 'joy drops under negation');
  assert.notEqual(negated.dominant, 'joy');
  // n't contractions and typographic apostrophes negate too
  assert.ok(analyzeEmotion('I don’t love it').valence < 0, 'don’t love');
  assert.ok(analyzeEmotion("I didn't enjoy the movie").valence < 0, "didn't enjoy");
});

test('negation dampens a negative cue', () => {
  const plain = analyzeEmotion('I am angry');
  const negated = analyzeEmotion('I am not angry');
  assert.equal(plain.dominant, 'anger');
  assert.ok(score(negated, 'anger') < score(plain, 'anger') / 2, 'anger dampened');
  assert.ok(negated.intensity < plain.intensity, `${negated.intensity} < ${plain.intensity}`);
  assert.equal(analyzeEmotion('not bad at all').dominant, 'approval');
});

test('negation is limited to the previous 3 tokens and to the clause', () => {
  const far = analyzeEmotion('I did not go to the park and I am happy');
  assert.equal(far.dominant, 'joy');
  const clause = analyzeEmotion("No, I'm happy");
  assert.equal(clause.dominant, 'joy');
});

test('plain factual text is neutral with near-zero intensity', () => {
  for (const text of ['The meeting is at 3pm in room 4.', 'NASA launched the rocket on Tuesday.']) {
    const r = analyzeEmotion(text);
    assert.equal(r.dominant, 'neutral', text);
    assert.ok(r.intensity < 0.2, `intensity ${r.intensity}`);
    assert.equal(r.valence, 0);
  }
});

test('empty or whitespace text is neutral with zero intensity', () => {
  for (const text of ['', '   ', '\n\t']) {
    const r = analyzeEmotion(text);
    assert.equal(r.dominant, 'neutral');
    assert.equal(r.intensity, 0);
    assert.equal(r.valence, 0);
    assert.equal(r.scores.neutral, 1);
  }
});

test('intensifiers raise intensity, diminishers lower it', () => {
  const plain = analyzeEmotion('I am happy.');
  const very = analyzeEmotion('I am very happy.');
  const extremely = analyzeEmotion('I am extremely happy.');
  const bit = analyzeEmotion('I am a bit happy.');
  assert.ok(very.intensity > plain.intensity, `${very.intensity} > ${plain.intensity}`);
  assert.ok(extremely.intensity > very.intensity, `${extremely.intensity} > ${very.intensity}`);
  assert.ok(bit.intensity < plain.intensity, `${bit.intensity} < ${plain.intensity}`);
  for (const r of [plain, very, extremely, bit]) assert.equal(r.dominant, 'joy');
});

test('exclamation marks and ALL-CAPS raise intensity', () => {
  const plain = analyzeEmotion('I am sad');
  const bang = analyzeEmotion('I am sad!!');
  const caps = analyzeEmotion('I am SAD');
  assert.ok(bang.intensity > plain.intensity, `${bang.intensity} > ${plain.intensity}`);
  assert.ok(caps.intensity > plain.intensity, `${caps.intensity} > ${plain.intensity}`);
  // but they create no emotion out of nothing
  assert.equal(analyzeEmotion('THE BUS LEAVES AT NOON!').dominant, 'neutral');
});

test('grief / sadness', () => {
  const r = analyzeEmotion('my grandmother passed away, I miss her so much');
  assert.ok(['grief', 'sadness'].includes(r.dominant), r.dominant);
  assert.ok(r.valence < -0.5, `valence ${r.valence}`);
});

test('fear / nervousness', () => {
  const r = analyzeEmotion("I'm scared and anxious about the surgery");
  assert.ok(['fear', 'nervousness'].includes(r.dominant), r.dominant);
  assert.ok(score(r, 'fear') + score(r, 'nervousness') > 0.5, 'fear + nervousness mass');
});

test('curiosity', () => {
  const r = analyzeEmotion('I wonder how that works?');
  assert.equal(r.dominant, 'curiosity');
});

test('multi-word phrases', () => {
  assert.equal(analyzeEmotion("I can't wait to see you").dominant, 'excitement');
  assert.ok(analyzeEmotion("I can't wait to see you").valence > 0, "can't in a phrase is not a negator");
  assert.equal(analyzeEmotion('thank you').dominant, 'gratitude');
  assert.equal(analyzeEmotion("I'm not sure what you mean").dominant, 'confusion');
  assert.equal(analyzeEmotion('I miss you').dominant, 'sadness');
});

test('emoticons and emoji are cues', () => {
  assert.equal(analyzeEmotion('😂').dominant, 'amusement');
  assert.equal(analyzeEmotion('see you tomorrow ❤️').dominant, 'love');
  assert.equal(analyzeEmotion('see you tomorrow :)').dominant, 'joy');
  assert.ok(analyzeEmotion('see you tomorrow :(').valence < 0, ':( is negative');
  assert.equal(analyzeEmotion('hahaha').dominant, 'amusement');
  // URLs are not emoticons
  assert.equal(analyzeEmotion('see http://example.com/docs').dominant, 'neutral');
});

test('inflections and elongations resolve through the lexicon', () => {
  assert.equal(analyzeEmotion('she was worried').dominant, 'nervousness');
  assert.equal(analyzeEmotion('he angrily left').dominant, 'anger');
  assert.equal(analyzeEmotion('sooo happyyy').dominant, 'joy');
});

test('"but" shifts weight to the later clause', () => {
  assert.equal(analyzeEmotion('I hoped it would work but it failed').dominant, 'disappointment');
});

test('deterministic: same input gives deep-equal output', () => {
  for (const text of SAMPLES) assert.deepEqual(analyzeEmotion(text), analyzeEmotion(text));
});

test('fast on a 200-word text', () => {
  const sentence =
    'Yesterday I finally met the team and honestly it was a bit overwhelming but also really exciting, ' +
    "I'm not sure we can deliver by March which makes me a little nervous, thank you all! ";
  const words = sentence.trim().split(/\s+/).length;
  const text = sentence.repeat(Math.ceil(200 / words));
  for (let i = 0; i < 200; i++) analyzeEmotion(text); // warm up
  const runs = 1000;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) analyzeEmotion(text);
  const perCall = (performance.now() - t0) / runs;
  assert.ok(perCall < 1, `${perCall.toFixed(3)} ms per call`);
});
