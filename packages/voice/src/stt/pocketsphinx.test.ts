import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { AppError } from '@synthians/kit';
import { concat, espeak, hasEspeak, silence, whiteNoise } from '../testing/signals.ts';
import { normalizePhrase } from './commands.ts';
import {
  buildJsgf,
  loadDictionary,
  POCKETSPHINX_BINARY,
  POCKETSPHINX_DICT,
  POCKETSPHINX_HMM,
  PocketsphinxStt,
  reducedDictionary,
  unknownWords,
} from './pocketsphinx.ts';

const hasPocketsphinx =
  spawnSync(POCKETSPHINX_BINARY, [], { stdio: 'ignore' }).error === undefined &&
  existsSync(POCKETSPHINX_DICT) &&
  existsSync(POCKETSPHINX_HMM);
const noDecoder = hasPocketsphinx
  ? false
  : 'pocketsphinx_continuous or the en-us model is not installed (Debian packages pocketsphinx, pocketsphinx-en-us)';
const noSpeech = noDecoder || (hasEspeak ? false : 'espeak-ng is not installed');

const isAppError =
  (code: string, status = 400) =>
  (err: unknown) =>
    AppError.isInstance(err) && err.code === code && err.statusCode === status;

test('normalizePhrase and the JSGF grammar', () => {
  assert.equal(normalizePhrase('  What time is it?  '), 'what time is it', 'punctuation and case');
  assert.equal(
    normalizePhrase("What's the   weather, Bob!"),
    "what's the weather bob",
    'in-word apostrophe kept',
  );
  assert.equal(normalizePhrase("'quoted' - words"), 'quoted words', 'stray quotes and dashes dropped');
  assert.equal(
    buildJsgf(['What time is it?', 'stop', 'STOP', 'set a timer for five minutes']),
    [
      '#JSGF V1.0;',
      'grammar synthians;',
      'public <command> = ( what time is it )',
      '  | ( stop )',
      '  | ( set a timer for five minutes )',
      ';',
      '',
    ].join('\n'),
    'grammar text (normalised, de-duplicated)',
  );
  assert.throws(() => buildJsgf(['?!', '']), isAppError('invalid_stt_config'), 'no phrases');
});

test(
  'dictionary checks: unknown words reported with their phrases; reduced dictionary keeps variants',
  { skip: noDecoder },
  () => {
    const dict = loadDictionary(POCKETSPHINX_DICT);
    assert.ok(dict.size > 100_000, `CMU dictionary loaded (${dict.size} words)`);
    assert.deepEqual(
      unknownWords(['hello zorblax', 'stop', 'zorblax frobnicate now'], dict),
      [
        { word: 'zorblax', phrases: ['hello zorblax', 'zorblax frobnicate now'] },
        { word: 'frobnicate', phrases: ['zorblax frobnicate now'] },
      ],
      'unknown words',
    );
    const lines = reducedDictionary(['remember this'], dict).trim().split('\n');
    assert.ok(
      lines.includes('remember R IH M EH M B ER') && lines.includes('remember(2) R IY M EH M B ER'),
      `variants kept: ${lines}`,
    );
    assert.ok(
      lines.every((l) => /^(remember|this)(\(\d\))? /.test(l)),
      'only grammar words',
    );
    assert.throws(
      () => new PocketsphinxStt({ commands: ['stop', 'call synthians now', 'blorp'] }),
      (err: unknown) => {
        assert.ok(isAppError('unknown_words')(err), `unknown_words AppError, got ${String(err)}`);
        const e = err as AppError;
        assert.match(e.message, /"synthians" \(in "call synthians now"\)/, 'message names word and phrase');
        assert.deepEqual(
          (e.details as { words: string[] }).words,
          ['synthians', 'blorp'],
          'details list the words',
        );
        return true;
      },
      'unknown words rejected at construction',
    );
    const custom = new PocketsphinxStt({
      commands: ['hey synthians', 'stop'],
      pronunciations: { Synthians: 's ih n th iy ah n z' },
    });
    assert.deepEqual(custom.commands, ['hey synthians', 'stop'], 'custom word accepted');
    assert.throws(
      () => new PocketsphinxStt({ commands: ['hey synthians'], pronunciations: { synthians: 'S XX N' } }),
      isAppError('invalid_pronunciation'),
      'unknown phone rejected',
    );
  },
);

test('recognises command phrases spoken by espeak-ng', { skip: noSpeech }, async () => {
  const stt = new PocketsphinxStt();
  const phrases = [
    'what time is it',
    'set a timer for five minutes',
    'cancel the timer',
    'stop',
    'what do you remember about',
    'what is the weather like',
    'never mind',
    'go to sleep',
  ];
  const results = await Promise.all(
    phrases.map(async (p) => ({
      phrase: p,
      text: (await stt.transcribe(espeak(p, { voice: 'en-us' }).samples)).text,
    })),
  );
  const wrong = results.filter((r) => r.text !== r.phrase);
  for (const r of results) {
    assert.ok(
      r.text === '' || stt.commands.includes(r.text),
      `output is a command or nothing: ${JSON.stringify(r)}`,
    );
  }
  assert.ok(wrong.length <= 1, `at most one of ${phrases.length} misrecognised: ${JSON.stringify(wrong)}`);
  const t = await stt.transcribe(espeak('set a timer for ten minutes', { voice: 'en-gb' }).samples);
  assert.equal(t.provider, 'pocketsphinx', 'provider');
  assert.equal(t.language, 'en', 'language');
  assert.ok(t.durationMs > 1000 && t.durationMs < 4000, `duration ${t.durationMs} ms`);
  assert.equal(t.text, 'set a timer for ten minutes', 'en-gb voice');

  // streaming interface: written in pieces, recognised at end()
  const speech = espeak('what time is it', { voice: 'en-us' }).samples;
  const s = stt.stream();
  for (let at = 0; at < speech.length; at += 1600) s.write(speech.subarray(at, at + 1600));
  assert.equal((await s.end()).text, 'what time is it', 'stream() result');
  await stt.close();
});

test(
  'silence, empty audio and quiet noise give empty text; bad samples are rejected',
  { skip: noDecoder },
  async () => {
    const stt = new PocketsphinxStt({ commands: ['stop', 'what time is it'] });
    assert.deepEqual(
      await stt.transcribe(new Float32Array(0)),
      { text: '', durationMs: 0, provider: 'pocketsphinx', language: 'en' },
      'empty',
    );
    assert.equal((await stt.transcribe(silence(1))).text, '', 'one second of digital silence');
    assert.equal((await stt.transcribe(new Float32Array(10))).text, '', 'ten samples');
    assert.equal((await stt.transcribe(whiteNoise(1, 0.001))).text, '', 'very quiet noise');
    const bad = concat(silence(0.1), Float32Array.from([NaN]));
    await assert.rejects(stt.transcribe(bad), isAppError('non_finite_samples'), 'NaN rejected');
    assert.throws(
      () => stt.stream().write(Float32Array.from([Infinity])),
      isAppError('non_finite_samples'),
      'stream rejects Infinity',
    );
    assert.deepEqual(
      await stt.check(),
      { ok: true, detail: 'pocketsphinx_continuous with 2 command phrases' },
      'check ok',
    );
  },
);

test(
  'missing program is stt_unavailable; abort kills the decoder; timeout is stt_failed',
  { skip: noDecoder },
  async () => {
    const missing = new PocketsphinxStt({ commands: ['stop'], binary: 'pocketsphinx-does-not-exist' });
    await assert.rejects(
      missing.transcribe(silence(0.2)),
      isAppError('stt_unavailable', 503),
      'missing binary',
    );
    const health = await missing.check();
    assert.equal(health.ok, false, 'check fails');
    assert.match(health.detail ?? '', /install the Debian package pocketsphinx/, 'check explains');
    const noModel = new PocketsphinxStt({ commands: ['stop'], hmm: '/nonexistent/model' });
    await assert.rejects(
      noModel.transcribe(silence(0.2)),
      isAppError('stt_unavailable', 503),
      'missing model',
    );

    const stt = new PocketsphinxStt({ commands: ['stop'] });
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(
      stt.transcribe(silence(0.2), { signal: ac.signal }),
      (e: Error) => e.name === 'AbortError',
      'pre-aborted',
    );
    // a long input so the decoder is still running when aborted / timed out
    const long = whiteNoise(30, 0.3);
    const ac2 = new AbortController();
    const p = stt.transcribe(long, { signal: ac2.signal });
    setTimeout(() => ac2.abort(), 0); // lands while writing files or while the decoder runs
    await assert.rejects(p, (e: Error) => e.name === 'AbortError', 'abort mid-decode');
    const slow = new PocketsphinxStt({ commands: ['stop'], timeoutMs: 1 });
    await assert.rejects(slow.transcribe(long), isAppError('stt_failed', 502), 'timeout');
  },
);
