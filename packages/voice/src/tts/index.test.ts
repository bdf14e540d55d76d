import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '@synthians/kit';
import { createTtsProvider, type TtsConfig } from './index.ts';
import type { SynthesizeOptions } from './types.ts';

const isCode = (code: string) => (e: unknown) => {
  assert.ok(AppError.isInstance(e), `an AppError, got ${String(e)}`);
  assert.equal(e.code, code);
  assert.equal(e.statusCode, 400);
  return true;
};

test('bad synthesize options -> invalid_tts_request, before any engine work', async () => {
  // Port 9 (discard) is never contacted: validation happens first.
  const providers = [
    createTtsProvider({ provider: 'espeak' }),
    createTtsProvider({ provider: 'wyoming', host: '127.0.0.1', port: 9 }),
    createTtsProvider({ provider: 'openai', baseUrl: 'http://127.0.0.1:9', apiKey: 'k' }),
  ];
  const bad: [string, SynthesizeOptions][] = [
    ['', {}],
    ['   ', {}],
    ['x'.repeat(10_001), {}],
    ['Hello.', { sampleRate: 7999 }],
    ['Hello.', { sampleRate: 48001 }],
    ['Hello.', { sampleRate: 16000.5 }],
    ['Hello.', { encoding: 'mp3' as never }],
    ['Hello.', { speed: 0.25 }],
    ['Hello.', { speed: 4.01 }],
    ['Hello.', { speed: Number.NaN }],
    ['Hello.', { voice: '' }],
  ];
  for (const p of providers) {
    for (const [text, options] of bad) {
      await assert.rejects(
        (async () => {
          for await (const _ of p.synthesize(text, options)) assert.fail('no audio expected');
        })(),
        isCode('invalid_tts_request'),
        `${p.name} ${JSON.stringify(options)} text length ${text.length}`,
      );
    }
    await p.close();
  }
});

test('createTtsProvider names the missing or bad field', () => {
  const cases: [TtsConfig, RegExp][] = [
    [{ provider: 'wyoming', port: 10200 }, /"host"/],
    [{ provider: 'wyoming', host: 'localhost' }, /"port"/],
    [{ provider: 'wyoming', host: 'localhost', port: 70000 }, /port/],
    [{ provider: 'openai' }, /"baseUrl"/],
    [{ provider: 'openai', baseUrl: 'not a url' }, /baseUrl/],
    [{ provider: 'openai', baseUrl: 'ftp://x' }, /http/],
    [{ provider: 'espeak', timeoutMs: -1 }, /timeoutMs/],
    [{ provider: 'festival' as never }, /Unknown TTS provider "festival"/],
  ];
  for (const [config, message] of cases) {
    assert.throws(
      () => createTtsProvider(config),
      (e) => isCode('invalid_tts_config')(e) && message.test((e as Error).message),
      JSON.stringify(config),
    );
  }
  assert.equal(createTtsProvider({ provider: 'espeak', voice: 'en-gb' }).name, 'espeak');
  assert.throws(
    () => createTtsProvider({ provider: 'espeak', voice: '-v evil' }),
    isCode('invalid_tts_request'),
  );
});
