import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { STOPWORDS, ftsQuery, ftsTokens } from './lexical.ts';

function memoryDb(contents: string[]) {
  const db = new Database(':memory:');
  db.exec(`CREATE TABLE memories(rowid INTEGER PRIMARY KEY, content TEXT NOT NULL);
    CREATE VIRTUAL TABLE memories_fts USING fts5(content, content='memories', content_rowid='rowid',
      tokenize='porter unicode61 remove_diacritics 2');`);
  const ins = db.prepare('INSERT INTO memories(rowid, content) VALUES (?, ?)');
  const insFts = db.prepare('INSERT INTO memories_fts(rowid, content) VALUES (?, ?)');
  contents.forEach((c, i) => {
    ins.run(i + 1, c);
    insFts.run(i + 1, c);
  });
  const search = db.prepare(
    'SELECT rowid AS id, -bm25(memories_fts) AS score FROM memories_fts WHERE memories_fts MATCH ? ORDER BY bm25(memories_fts)',
  );
  return { db, search: (q: string) => search.all(q) as { id: number; score: number }[] };
}

const DOCS = [
  'Caroline: I went to a LGBTQ support group yesterday and it was so powerful.',
  'Melanie: We love painting together lately, especially nature-inspired ones.',
  'Jon: I ordered a café crème at the new place downtown.',
  'Gina: AND OR NOT are operators; NEAR(a b) too. "quoted" text* ^start col:umn',
  'Maria: I joined a gym last week and the people are awesome.',
];

test('quotes and OR-joins content terms, dropping stopwords and duplicates', () => {
  assert.equal(
    ftsQuery('When did Caroline go to the LGBTQ support group?'),
    '"caroline" OR "go" OR "lgbtq" OR "support" OR "group"',
  );
  assert.equal(ftsQuery('Paint paint PAINT painting'), '"paint" OR "painting"');
  assert.equal(ftsQuery('What kind of art does Melanie make?'), '"art" OR "melanie" OR "make"');
});

test('null when nothing is left', () => {
  for (const t of ['', '   ', '!!!', '😀', 'the and of', 'What is it?', '"*():^', "don't"]) {
    assert.equal(ftsQuery(t), null, JSON.stringify(t));
  }
});

test('tokenises like unicode61 with remove_diacritics', () => {
  assert.deepEqual(ftsTokens("Café DÉJÀ-vu, don't 2023 naïve_x"), [
    'cafe',
    'deja',
    'vu',
    'don',
    't',
    '2023',
    'naive',
    'x',
  ]);
  assert.ok(STOPWORDS.has('the') && !STOPWORDS.has('may'), 'stopwords');
});

test('caps the number of terms', () => {
  const words = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
  const q = ftsQuery(words)!;
  assert.equal(q.split(' OR ').length, 64);
});

test('queries find the right memories through FTS5 (porter stemming, diacritics)', () => {
  const { db, search } = memoryDb(DOCS);
  try {
    assert.equal(search(ftsQuery('When did Caroline go to the LGBTQ support group?')!)[0]!.id, 1);
    assert.equal(search(ftsQuery('Who paints?')!)[0]!.id, 2);
    assert.equal(search(ftsQuery('cafe creme')!)[0]!.id, 3);
    assert.equal(search(ftsQuery('CAFÉ')!)[0]!.id, 3);
    assert.equal(search(ftsQuery('joining gyms')!)[0]!.id, 5);
    for (const r of search(ftsQuery('gym people')!)) assert.ok(r.score > 0, 'negated bm25 is positive');
  } finally {
    db.close();
  }
});

test('FTS5-hostile input never throws in a real FTS5 query', () => {
  const { db, search } = memoryDb(DOCS);
  const hostile = [
    '"AND OR NOT * ( ) : ^',
    'AND',
    'OR OR OR',
    'NOT near',
    'NEAR(a b, 3)',
    'col:umn',
    'content:painting',
    '"unterminated',
    'it\'s Jon\'s "café"',
    '*',
    'a*',
    '^start',
    '(((',
    ')',
    '{a b}',
    '-minus +plus',
    'a AND b OR NOT c',
    '\u0000\u0001\u0002',
    '\\"\\\\',
    'ＡＮＤ ｏｒ', // full-width letters
    'éÉèÈ ß ﬁ',
    '漢字 かな カナ 한국어',
    'مرحبا بالعالم',
    '🙂 AND 🙃',
    'x'.repeat(5000),
    'Ω≈ç√∫',
    '[image: a photo] {x} <tag> & | ~ ` @ # $ % =',
  ];
  // deterministic fuzz over an FTS5-syntax-heavy alphabet
  const alphabet = [
    '"',
    "'",
    '*',
    '(',
    ')',
    ':',
    '^',
    '-',
    '+',
    ' ',
    'AND',
    'OR',
    'NOT',
    'NEAR',
    'a',
    'é',
    '1',
    ',',
    '{',
    '}',
    '\u0000',
    '😀',
  ];
  let s = 42;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < 500; i++) {
    let t = '';
    const len = 1 + Math.floor(rnd() * 12);
    for (let j = 0; j < len; j++) t += alphabet[Math.floor(rnd() * alphabet.length)];
    hostile.push(t);
  }
  try {
    for (const text of hostile) {
      const q = ftsQuery(text);
      if (q === null) continue;
      assert.doesNotThrow(() => search(q), `query ${JSON.stringify(q)} from ${JSON.stringify(text)}`);
    }
    // the operators are searched as plain words
    assert.equal(search(ftsQuery('NEAR operators')!)[0]!.id, 4);
  } finally {
    db.close();
  }
});
