import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '@synthians/kit';
import {
  createSttProvider,
  DEFAULT_COMMANDS,
  OpenAiStt,
  PocketsphinxStt,
  WyomingStt,
  wordErrorRate,
  wordErrors,
  type SttConfig,
} from './index.ts';

function configError(config: unknown, ...fields: string[]): AppError {
  try {
    createSttProvider(config as SttConfig);
  } catch (err) {
    assert.ok(AppError.isInstance(err), `AppError expected, got ${String(err)}`);
    assert.equal(err.code, 'invalid_stt_config', `code (${err.message})`);
    assert.equal(err.statusCode, 400, 'status');
    for (const f of fields)
      assert.match(err.message, new RegExp(`\\b${f}\\b`), `message names ${f}: ${err.message}`);
    return err;
  }
  assert.fail(`expected invalid_stt_config for ${JSON.stringify(config)}`);
}

test('createSttProvider builds each provider', () => {
  const o = createSttProvider({
    provider: 'openai',
    baseUrl: 'http://127.0.0.1:9',
    apiKey: 'k',
    streaming: true,
  });
  assert.ok(o instanceof OpenAiStt, 'openai provider');
  assert.equal(o.streamingPartials, true, 'streaming passed through');
  assert.equal((o as OpenAiStt).endpoint, 'http://127.0.0.1:9/v1/audio/transcriptions', 'endpoint');
  const w = createSttProvider({ provider: 'wyoming', host: 'localhost', port: 10300, model: 'tiny-int8' });
  assert.ok(w instanceof WyomingStt, 'wyoming provider');
  assert.equal(w.name, 'wyoming', 'name');
  const p = createSttProvider({ provider: 'pocketsphinx', commands: ['Stop!', 'what time is it'] });
  assert.ok(p instanceof PocketsphinxStt, 'pocketsphinx provider');
  assert.deepEqual((p as PocketsphinxStt).commands, ['stop', 'what time is it'], 'commands normalised');
  assert.ok(DEFAULT_COMMANDS.includes('what time is it'), 'default commands exported');
});

test('createSttProvider names every missing or invalid field', () => {
  configError(null);
  configError({ provider: 'whisper' }, 'provider');
  configError({ provider: 'openai' }, 'baseUrl');
  configError({ provider: 'openai', baseUrl: 'not a url', timeoutMs: -1 }, 'baseUrl', 'timeoutMs');
  configError({ provider: 'openai', baseUrl: 'http://x', host: 'h' }, 'host');
  const e = configError({ provider: 'wyoming' }, 'host', 'port');
  assert.deepEqual(
    (e.details as { issues: { field: string }[] }).issues.map((i) => i.field),
    ['host', 'port'],
    'issues list',
  );
  configError({ provider: 'wyoming', host: 'h', port: 0 }, 'port');
  configError({ provider: 'wyoming', host: 'h', port: 10300, streaming: 'yes' }, 'streaming');
  configError({ provider: 'pocketsphinx', commands: [] }, 'commands');
  configError({ provider: 'pocketsphinx', language: 'de' }, 'language');
});

test('word error rate by edit distance', () => {
  assert.deepEqual(
    wordErrors('set a timer for five minutes', 'set the timer for five'),
    { substitutions: 1, deletions: 1, insertions: 0, referenceWords: 6 },
    'one substitution, one deletion',
  );
  assert.deepEqual(
    wordErrors('stop', 'please stop now'),
    { substitutions: 0, deletions: 0, insertions: 2, referenceWords: 1 },
    'insertions',
  );
  assert.deepEqual(
    wordErrors('What time is it?', 'what time is it'),
    {
      substitutions: 0,
      deletions: 0,
      insertions: 0,
      referenceWords: 4,
    },
    'normalised before comparing',
  );
  assert.equal(wordErrors('volume down', '').deletions, 2, 'empty hypothesis');
  assert.equal(
    wordErrorRate([
      { reference: 'a b c d', hypothesis: 'a x c d' },
      { reference: 'stop', hypothesis: '' },
    ]),
    2 / 5,
    'corpus WER',
  );
  assert.ok(Number.isNaN(wordErrorRate([])), 'no words → NaN');
});
