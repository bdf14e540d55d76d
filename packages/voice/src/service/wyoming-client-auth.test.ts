// Our own Wyoming clients (STT_PROVIDER=wyoming, TTS_PROVIDER=wyoming) against a real Synthians Wyoming server
// that listens beyond loopback (bound to 0.0.0.0 for the few seconds of this file, reached through 127.0.0.1;
// the server decides by its bound address, so these clients are as anonymous as one from the LAN). With
// STT_WYOMING_TOKEN / TTS_WYOMING_TOKEN they send the `auth` event first and are served; without one, or with a
// wrong one, they fail fast with an error that names the variable, instead of hanging.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { AppError, type Env, stop, type ServiceInstance } from '@synthians/kit';
import { concat, espeak, hasEspeak, silence } from '../testing/signals.ts';
import { createSttProvider } from '../stt/index.ts';
import type { SttProvider } from '../stt/types.ts';
import type { TtsProvider } from '../tts/types.ts';
import { sttVariables, ttsVariables } from './config.ts';
import { sttFromSettings, ttsFromSettings } from './engines.ts';
import { startWyoming } from './wyoming-test-support.ts';

const API_TOKEN = 'api-token-for-http-0123456789';
const WYOMING_TOKEN = 'wyoming-token-for-satellites-42';
const hasPocketsphinx = spawnSync('pocketsphinx_continuous', ['-h'], { stdio: 'ignore' }).error === undefined;
const speechTest = {
  skip: !hasEspeak
    ? 'espeak-ng is not installed'
    : !hasPocketsphinx
      ? 'pocketsphinx is not installed'
      : false,
};

const dir = mkdtempSync(join(tmpdir(), 'synthians-wyoming-client-auth-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const start = (host: string, env: Env): ReturnType<typeof startWyoming> => startWyoming(dir, host, env);

/** The clients as the services build them: from environment variables through the shared schemas. */
const stt = (port: number, token?: string): SttProvider =>
  sttFromSettings(
    z.object(sttVariables).parse({
      STT_PROVIDER: 'wyoming',
      STT_URL: `tcp://127.0.0.1:${port}`,
      STT_LANGUAGE: 'en',
      STT_TIMEOUT_MS: '10000',
      ...(token === undefined ? {} : { STT_WYOMING_TOKEN: token }),
    }),
  );
const tts = (port: number, token?: string): TtsProvider =>
  ttsFromSettings(
    z.object(ttsVariables).parse({
      TTS_PROVIDER: 'wyoming',
      TTS_URL: `tcp://127.0.0.1:${port}`,
      TTS_VOICE: 'en-us',
      TTS_TIMEOUT_MS: '10000',
      ...(token === undefined ? {} : { TTS_WYOMING_TOKEN: token }),
    }),
  );

async function speak(provider: TtsProvider, text: string): Promise<number> {
  let bytes = 0;
  for await (const chunk of provider.synthesize(text)) bytes += chunk.audio.length;
  return bytes;
}

/** Rejects within `ms` (the refusal must not wait for a client timeout), returning the error. */
async function failsFast(p: Promise<unknown>, ms = 3000): Promise<Error> {
  const t0 = Date.now();
  const err = await p.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e as Error,
  );
  assert.ok(Date.now() - t0 < ms, `refused within ${ms} ms (took ${Date.now() - t0} ms)`);
  return err;
}

describe('Wyoming clients against a Synthians Wyoming server bound to 0.0.0.0', () => {
  let server: { instance: ServiceInstance; port: number };
  before(async () => {
    server = await start('0.0.0.0', { SYNTHIANS_API_TOKEN: API_TOKEN, WYOMING_TOKEN });
  });
  after(async () => {
    await stop(server.instance);
  });

  test('TTS: with TTS_WYOMING_TOKEN synthesis works; without or with a wrong token, a clear tts_failed', async () => {
    const ok = tts(server.port, WYOMING_TOKEN);
    try {
      assert.ok((await speak(ok, 'Hello there.')) > 1000, 'speech audio');
      const check = await ok.check();
      assert.ok(check.ok, `check passes with the token (${check.detail})`);
    } finally {
      await ok.close();
    }

    const anon = tts(server.port);
    const err = await failsFast(speak(anon, 'Hello there.'));
    assert.ok(AppError.isInstance(err) && err.code === 'tts_failed', `tts_failed (${err.message})`);
    assert.equal(((err as AppError).details as { code?: string } | undefined)?.code, 'unauthorized');
    assert.match(err.message, /requires authentication: set TTS_WYOMING_TOKEN/);
    const check = await anon.check();
    assert.ok(!check.ok && /TTS_WYOMING_TOKEN/.test(check.detail ?? ''), `check names it (${check.detail})`);
    await anon.close();

    const wrong = tts(server.port, API_TOKEN); // the API token is not the Wyoming token once WYOMING_TOKEN is set
    const e2 = await failsFast(speak(wrong, 'Hello there.'));
    assert.match(e2.message, /refused the token in TTS_WYOMING_TOKEN/);
    await wrong.close();
  });

  test(
    'STT: with STT_WYOMING_TOKEN transcription works; without or with a wrong token, a clear stt_failed',
    speechTest,
    async () => {
      const audio = concat(silence(0.3), espeak('what time is it').samples, silence(0.7));
      const ok = stt(server.port, WYOMING_TOKEN);
      try {
        const t = await ok.transcribe(audio);
        assert.equal(t.text, 'what time is it');
        const check = await ok.check();
        assert.ok(check.ok, `check passes with the token (${check.detail})`);
      } finally {
        await ok.close();
      }

      const anon = stt(server.port);
      const err = await failsFast(anon.transcribe(audio));
      assert.ok(AppError.isInstance(err) && err.code === 'stt_failed', `stt_failed (${err.message})`);
      assert.equal(
        ((err as AppError).details as { upstreamCode?: string } | undefined)?.upstreamCode,
        'unauthorized',
      );
      assert.match(err.message, /requires authentication: set STT_WYOMING_TOKEN/);
      const check = await anon.check();
      assert.ok(
        !check.ok && /STT_WYOMING_TOKEN/.test(check.detail ?? ''),
        `check names it (${check.detail})`,
      );
      await anon.close();

      const wrong = stt(server.port, 'not-the-token');
      const e2 = await failsFast(wrong.transcribe(audio));
      assert.match(e2.message, /refused the token in STT_WYOMING_TOKEN/);
      await wrong.close();
    },
  );
});

test('a server on loopback ignores the auth event: a client with a token works against it too', async () => {
  const server = await start('127.0.0.1', {});
  const client = tts(server.port, WYOMING_TOKEN);
  try {
    assert.ok((await speak(client, 'Hello.')) > 1000, 'speech audio');
  } finally {
    await client.close();
    await stop(server.instance);
  }
});

test('the token is a wyoming setting: STT_WYOMING_TOKEN is not sent to an openai server', () => {
  const c = z.object(sttVariables).parse({
    STT_PROVIDER: 'openai',
    STT_URL: 'http://127.0.0.1:9',
    STT_WYOMING_TOKEN: WYOMING_TOKEN,
  });
  assert.equal(sttFromSettings(c).name, 'openai'); // built: a token passed on would be refused as unused
  assert.throws(
    () => createSttProvider({ provider: 'openai', baseUrl: 'http://127.0.0.1:9', token: 'x' }),
    (err: Error) => AppError.isInstance(err) && /token is not used by the openai provider/.test(err.message),
  );
});
