// The PC2 worker over HTTP with its real engines: the builtin embedder (the memory core's vectors, exactly), the
// word-vector ONNX model run by onnxruntime-node (built into a temporary models folder), batching of concurrent
// callers, the bounded queue, the OpenAI-compatible endpoint used by a real memory core, emotion, and speech
// (pocketsphinx, espeak-ng, Silero VAD, openWakeWord) on audio spoken by espeak-ng; and every bad-input case.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startTestService, type TestService } from '@synthians/kit';
import { analyzeEmotion, createBuiltinEmbedder } from '@synthians/memory-core';
import { POCKETSPHINX_BINARY, POCKETSPHINX_DICT, POCKETSPHINX_HMM } from '@synthians/voice';
import { startCore } from '../../memory-core/src/test-support.ts';
import { concat, espeak, hasEspeak, silence, wavBytes } from '../../voice/src/testing/signals.ts';
import { pc2Service } from './service.ts';

const hasPocketsphinx =
  spawnSync(POCKETSPHINX_BINARY, [], { stdio: 'ignore' }).error === undefined &&
  existsSync(POCKETSPHINX_DICT) &&
  existsSync(POCKETSPHINX_HMM);
const noEspeak = hasEspeak ? false : 'espeak-ng is not installed (CI installs it)';

const b64wav = (samples: Float32Array) => Buffer.from(wavBytes(samples)).toString('base64');
const spoken = (text: string, voice = 'en-us', speed = 150) =>
  concat(silence(0.6), espeak(text, { voice, speed }).samples, silence(0.8));
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** Sum and count of a histogram in the Prometheus text format. */
async function histogram(
  svc: TestService,
  name: string,
  label: string,
): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${svc.url}/metrics`)).text();
  const value = (suffix: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}_${suffix}{`) && l.includes(label));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  return { sum: value('sum'), count: value('count') };
}

describe('PC2 worker over HTTP', () => {
  let svc: TestService;

  before(async () => {
    svc = await startTestService(pc2Service, {
      env: { BATCH_MAX_WAIT_MS: '5', WAKE_WORD_MODELS: 'hey_jarvis' },
    });
  });
  after(async () => {
    await svc?.destroy();
  });

  test('health and the task list; no model is loaded before it is used', async () => {
    const h = await svc.request('GET', '/health');
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'healthy');
    const t = await svc.request('GET', '/v1/tasks');
    assert.equal(t.status, 200);
    assert.deepEqual(Object.keys(t.body.tasks).sort(), ['embed', 'emotion', 'stt', 'tts', 'vad', 'wakeword']);
    const models = t.body.tasks.embed.models as { id: string; loaded: boolean }[];
    assert.deepEqual(
      models.map((m) => [m.id, m.loaded]),
      [
        ['builtin', false],
        ['glove-sif-100d', false],
      ],
    );
  });

  test("embed with builtin gives exactly the memory core's builtin vectors", async () => {
    const texts = ['I walked the dog in the park', 'Quarterly revenue grew by 12%', '😀'];
    const r = await svc.request('POST', '/v1/tasks/embed', { texts });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.model, 'builtin');
    assert.equal(r.body.dim, 768);
    const local = await createBuiltinEmbedder(768).embed(texts);
    (r.body.vectors as number[][]).forEach((v, i) => {
      assert.equal(v.length, 768);
      assert.ok(Math.abs(dot(v, local[i]!) - 1) < 1e-6, `text ${i} matches the memory core's vector`);
    });
    // base64 transport decodes to the same numbers.
    const b = await svc.request('POST', '/v1/tasks/embed', { texts, encoding: 'base64' });
    const first = new Float32Array(Buffer.from(b.body.vectors[0] as string, 'base64').buffer.slice(0));
    assert.deepEqual(Array.from(first), r.body.vectors[0]);
  });

  test('the word-vector ONNX model: built on first use, semantically sensible, batch-invariant', async () => {
    const texts = ['I love my dog', 'my puppy is adorable', 'the stock market crashed'];
    const r = await svc.request('POST', '/v1/tasks/pc2.embed', { texts, model: 'glove-sif-100d' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.dim, 100);
    assert.ok(
      existsSync(join(svc.dir, 'models', 'glove-sif-100d', 'model.onnx')),
      'built into the models folder',
    );
    const [dog, puppy, market] = r.body.vectors as number[][];
    assert.ok(dot(dog!, puppy!) > dot(dog!, market!) + 0.2, 'dog is nearer puppy than the stock market');
    const alone = await svc.request('POST', '/v1/tasks/embed', {
      texts: [texts[2]],
      model: 'glove-sif-100d',
    });
    assert.ok(Math.abs(dot(alone.body.vectors[0], market!) - 1) < 1e-5, 'padding in a batch changes nothing');
    const t = await svc.request('GET', '/v1/tasks');
    const glove = (
      t.body.tasks.embed.models as { id: string; loaded: boolean; execution_provider?: string }[]
    ).find((m) => m.id === 'glove-sif-100d');
    assert.equal(glove?.loaded, true);
    assert.equal(glove?.execution_provider, 'cpu');
  });

  test('OpenAI-compatible embeddings, used by a real memory core as its embedding provider', async () => {
    const r = await svc.request('POST', '/v1/embeddings', { input: 'hello there', model: 'glove-sif-100d' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.object, 'list');
    assert.equal(r.body.data[0].object, 'embedding');
    assert.equal(r.body.data[0].embedding.length, 100);
    assert.ok(r.body.usage.prompt_tokens >= 2);
    const models = await svc.request('GET', '/v1/models');
    assert.ok((models.body.data as { id: string }[]).some((m) => m.id === 'glove-sif-100d'));

    const core = await startCore({
      EMBEDDING_DIM: '100',
      EMBEDDING_PROVIDER: 'openai',
      EMBEDDING_BASE_URL: `${svc.url}/v1`,
      EMBEDDING_MODEL: 'glove-sif-100d',
    });
    try {
      const req = (await import('@synthians/kit')).jsonClient(core.url);
      for (const content of ['My sister adopted a puppy', 'The bank raised interest rates', 'We baked bread'])
        assert.equal((await req('POST', '/v1/memories', { content })).status, 201);
      const s = await req('POST', '/v1/search', { query: 'a young dog', mode: 'vector', top_k: 1 });
      assert.equal(s.status, 200, JSON.stringify(s.body));
      assert.match(s.body.results[0].content, /puppy/, JSON.stringify(s.body.results[0]));
    } finally {
      await core.destroy();
    }
  });

  test("emotion (lexicon) matches the memory core's analyser", async () => {
    const texts = ['I am so happy and grateful today!', 'This is terrifying, I am scared'];
    const r = await svc.request('POST', '/v1/tasks/emotion', { texts });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.model, 'lexicon');
    texts.forEach((t, i) => assert.equal(r.body.results[i].dominant, analyzeEmotion(t).dominant));
    assert.notEqual(r.body.results[0].dominant, 'neutral');
  });

  test(
    'tts then stt round trip (espeak-ng, pocketsphinx with a phrase grammar)',
    { skip: noEspeak || (hasPocketsphinx ? false : 'pocketsphinx is not installed (CI installs it)') },
    async () => {
      const tts = await svc.request('POST', '/v1/tasks/tts', {
        text: 'Turn on the lights. Then play music.',
        sample_rate: 22050,
      });
      assert.equal(tts.status, 200, JSON.stringify(tts.body));
      assert.equal(tts.body.sentences.length, 2);
      assert.equal(tts.body.sentences[0].sample_rate, 22050);
      assert.ok(
        Buffer.from(tts.body.sentences[0].audio_b64, 'base64').length > 22050,
        'over half a second of audio',
      );

      const phrases = ['turn on the lights', 'play music', 'what time is it', 'set a timer'];
      const stt = await svc.request('POST', '/v1/tasks/stt', {
        audio_b64: b64wav(spoken('what time is it')),
        phrases,
      });
      assert.equal(stt.status, 200, JSON.stringify(stt.body));
      assert.equal(stt.body.text, 'what time is it');
      assert.equal(stt.body.provider, 'pocketsphinx');
    },
  );

  test('vad segments and wake word on espeak-ng speech', { skip: noEspeak }, async () => {
    const vad = await svc.request('POST', '/v1/tasks/vad', {
      audio_b64: b64wav(spoken('what a lovely morning it is')),
    });
    assert.equal(vad.status, 200, JSON.stringify(vad.body));
    assert.equal(vad.body.segments.length, 1);
    assert.ok(vad.body.segments[0].start_ms > 300 && vad.body.segments[0].start_ms < 900);

    const hit = await svc.request('POST', '/v1/tasks/wakeword', {
      audio_b64: b64wav(
        concat(silence(1.5), espeak('hey jarvis', { voice: 'en-us', speed: 140 }).samples, silence(1)),
      ),
    });
    assert.equal(hit.status, 200, JSON.stringify(hit.body));
    assert.equal(hit.body.detections.length, 1);
    assert.equal(hit.body.detections[0].name, 'hey_jarvis');
    const miss = await svc.request('POST', '/v1/tasks/wakeword', {
      audio_b64: b64wav(
        concat(silence(1.5), espeak('good morning everyone', { voice: 'en-us' }).samples, silence(1)),
      ),
    });
    assert.deepEqual(miss.body.detections, []);
  });

  test('bad input: 4xx with an error envelope, never a result', async () => {
    const raw = await fetch(`${svc.url}/v1/tasks/embed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"texts": [',
    });
    assert.equal(raw.status, 400);
    assert.ok(((await raw.json()) as { error: { code: string } }).error.code);
    const cases: [string, unknown, number, string?][] = [
      ['/v1/tasks/embed', { texts: 'one' }, 400],
      ['/v1/tasks/embed', { texts: [] }, 400],
      ['/v1/tasks/embed', { texts: [1, 2] }, 400],
      ['/v1/tasks/embed', { texts: ['x'], extra: true }, 400],
      ['/v1/tasks/embed', { texts: ['x'], model: 'no-such-model' }, 404, 'unknown_model'],
      ['/v1/tasks/embed', { texts: ['x'.repeat(20_001)] }, 400, 'text_too_long'],
      ['/v1/tasks/embed', { texts: Array.from({ length: 1025 }, () => 'x') }, 400, 'too_many_texts'],
      ['/v1/tasks/stt', { audio_b64: 'not base64!' }, 400, 'invalid_audio'],
      ['/v1/tasks/stt', { audio_b64: Buffer.from('RIFF....WAVEjunk').toString('base64') }, 400],
      ['/v1/tasks/tts', { text: '' }, 400],
      ['/v1/tasks/tts', { text: 'hi', sample_rate: 1000 }, 400],
      [
        '/v1/tasks/wakeword',
        { audio_b64: b64wav(silence(0.5)), models: ['alexa'] },
        400,
        'unknown_wake_word',
      ],
      ['/v1/tasks/vad', { audio_b64: b64wav(silence(0.5)), threshold: 2 }, 400],
      ['/v1/tasks/reflect', { anything: 1 }, 404, 'unknown_task'],
      ['/v1/embeddings', { input: 'x', model: 'glove-sif-100d', dimensions: 7 }, 400, 'invalid_dimensions'],
      ['/v1/embeddings', { input: [] }, 400],
    ];
    for (const [path, body, status, code] of cases) {
      const r = await svc.request('POST', path, body);
      assert.equal(
        r.status,
        status,
        `${path} ${JSON.stringify(body).slice(0, 80)} → ${JSON.stringify(r.body)}`,
      );
      assert.equal(typeof r.body.error?.code, 'string');
      if (code) assert.equal(r.body.error.code, code);
    }
  });
});

describe('PC2 worker batching and queue bound', () => {
  test('concurrent callers share model runs (batching), and every caller gets its own vector', async () => {
    // A long wait so that requests arriving over ~100 ms (HTTP set-up on a loaded CI machine) meet in one run.
    const svc = await startTestService(pc2Service, {
      env: { BATCH_MAX_WAIT_MS: '250', EMBED_MODELS: 'glove-sif-100d' },
    });
    try {
      const texts = Array.from({ length: 40 }, (_, i) => `note number ${i} about the garden and the roses`);
      const results = await Promise.all(
        texts.map((t) => svc.request('POST', '/v1/tasks/embed', { texts: [t] })),
      );
      for (const r of results) assert.equal(r.status, 200);
      const runs = await histogram(svc, 'pc2_batch_size', 'model="glove-sif-100d"');
      assert.equal(runs.sum, 40, 'every text ran once');
      assert.ok(runs.count <= 10, `40 concurrent requests ran in ${runs.count} model runs`);
      // Each answer is its own text's vector: compare with one request of all 40.
      const all = await svc.request('POST', '/v1/tasks/embed', { texts });
      results.forEach((r, i) => assert.ok(Math.abs(dot(r.body.vectors[0], all.body.vectors[i]) - 1) < 1e-5));
    } finally {
      await svc.destroy();
    }
  });

  test('a request that would overflow the queue gets 503 queue_full with Retry-After; smaller ones still pass', async () => {
    const svc = await startTestService(pc2Service, {
      env: { QUEUE_MAX_ITEMS: '4', EMBED_MODELS: 'builtin' },
    });
    try {
      const res = await fetch(`${svc.url}/v1/tasks/embed`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ texts: ['a', 'b', 'c', 'd', 'e'] }),
      });
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '1');
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'queue_full');
      const ok = await svc.request('POST', '/v1/tasks/embed', { texts: ['a', 'b', 'c', 'd'] });
      assert.equal(ok.status, 200);
      const metrics = await (await fetch(`${svc.url}/metrics`)).text();
      assert.match(metrics, /pc2_tasks_total\{type="embed",outcome="error"[^}]*\} 1\n/);
      assert.match(metrics, /pc2_tasks_total\{type="embed",outcome="ok"[^}]*\} 1\n/);
    } finally {
      await svc.destroy();
    }
  });

  test('a model that is not installed is a start-up error naming the pull command', async () => {
    await assert.rejects(
      startTestService(pc2Service, { env: { EMBED_MODELS: 'all-mpnet-base-v2' } }),
      /synthians models pull all-mpnet-base-v2/,
    );
  });
});
