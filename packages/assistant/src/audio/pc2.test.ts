// The coordinator with a real PC2 worker: spoken turns recognised and voiced by the worker; the worker stopped →
// the same turn answered by the local engines, /health "degraded"; the worker started again on its port → back to
// the worker, "healthy". Real memory core + orchestrator, espeak-ng speech, pocketsphinx and espeak-ng TTS on
// both sides.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createLogger, listen, stop, type ServiceInstance } from '@synthians/kit';
import { concat, espeak, hasEspeak, silence, wavBytes } from '../../../voice/src/testing/signals.ts';
import { startStack, type Stack } from '../../../orchestrator/src/test-support.ts';
import { pc2Service } from '../../../pc2/src/service.ts';
import { startCoordinator, tempDir, type TestCoordinator } from '../coordinator/test-support.ts';
import { talk } from './client.ts';
import { Pc2Link, pc2Stt } from './pc2.ts';

const hasSphinx = spawnSync('pocketsphinx_continuous', ['-h'], { stdio: 'ignore' }).error === undefined;
const skip = !hasEspeak ? 'espeak-ng is not installed' : !hasSphinx ? 'pocketsphinx is not installed' : false;

let stack: Stack;
let c: TestCoordinator;
let worker: ServiceInstance | undefined;
let workerPort = 0;
const dirs: string[] = [];
const RETRY_MS = 400;

async function startWorker(port: number): Promise<number> {
  const dir = tempDir();
  dirs.push(dir);
  worker = await pc2Service.create({
    env: {},
    dataDir: dir,
    host: '127.0.0.1',
    port,
    logger: createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent'),
  });
  const { url } = await listen(worker);
  return Number(new URL(url).port);
}

async function workerTasks(type: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${workerPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`pc2_tasks_total{type="${type}",outcome="ok"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function fallbacks(task: string): Promise<number> {
  const text = await (await fetch(`${c.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`coordinator_pc2_fallbacks_total{task="${task}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

const wav = (text: string) => wavBytes(concat(silence(0.3), espeak(text).samples, silence(0.4)));

before(async () => {
  if (skip) return;
  stack = await startStack();
  workerPort = await startWorker(0);
  const dir = tempDir();
  dirs.push(dir);
  c = await startCoordinator(
    {
      MEMORY_CORE_URL: stack.core.url,
      ORCHESTRATOR_URL: stack.orch.url,
      PC2_URL: `http://127.0.0.1:${workerPort}`,
      PC2_RETRY_MS: String(RETRY_MS),
      PC2_TIMEOUT_MS: '5000',
    },
    { dir },
  );
});
after(async () => {
  await c?.destroy();
  if (worker) await stop(worker);
  await stack?.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test(
  'the coordinator speaks through the PC2 worker, degrades to local engines when it stops, and recovers',
  { skip },
  async () => {
    // 1. The worker is up: it recognises and synthesises.
    const first = await talk({ url: c.url, wav: wav('what time is it'), userId: 'pia' });
    assert.equal(first.transcript, 'what time is it');
    assert.match(first.reply, /^It's \d/);
    assert.ok(first.audio.length > 44 + 16000, 'reply audio');
    assert.ok((await workerTasks('stt')) >= 1, 'the worker recognised the speech');
    assert.ok((await workerTasks('tts')) >= 1, 'the worker voiced the reply');
    const healthy = await c.request('GET', '/health');
    assert.equal(healthy.body.checks.pc2.status, 'healthy');
    assert.equal(healthy.body.status, 'healthy', JSON.stringify(healthy.body.checks));

    // 2. The worker stops: the same turn is answered locally; health is degraded.
    await stop(worker!);
    worker = undefined;
    const second = await talk({ url: c.url, wav: wav('what time is it'), userId: 'pia' });
    assert.equal(second.transcript, 'what time is it', 'recognised by the local pocketsphinx');
    assert.match(second.reply, /^It's \d/);
    assert.ok(second.audio.length > 44 + 16000, 'voiced by the local espeak-ng');
    assert.ok((await fallbacks('stt')) >= 1, 'an STT fallback was counted');
    const degraded = await c.request('GET', '/health');
    assert.equal(degraded.status, 200, 'degraded is still serving');
    assert.equal(degraded.body.status, 'degraded');
    assert.equal(degraded.body.checks.pc2.status, 'unhealthy');

    // 3. The worker comes back on its port: after the retry pause the coordinator uses it again.
    await startWorker(workerPort);
    await new Promise((r) => setTimeout(r, RETRY_MS + 100));
    const third = await talk({ url: c.url, wav: wav('what time is it'), userId: 'pia' });
    assert.equal(third.transcript, 'what time is it');
    assert.ok((await workerTasks('stt')) >= 1, 'the restarted worker recognised the speech');
    assert.ok((await workerTasks('tts')) >= 1, 'and voiced the reply');
    const recovered = await c.request('GET', '/health');
    assert.equal(recovered.body.status, 'healthy');
    assert.equal(recovered.body.checks.pc2.status, 'healthy');
  },
);

test(
  'a request the worker refuses (4xx) is answered locally without marking the worker down',
  { skip },
  async () => {
    // A grammar over the worker's limit of 1000 phrases: it answers 400; the local pocketsphinx answers instead.
    const words = [
      'red',
      'green',
      'blue',
      'light',
      'music',
      'door',
      'window',
      'kitchen',
      'garden',
      'open',
      'close',
    ];
    const phrases = Array.from(
      { length: 1001 },
      (_, i) => `${words[i % 11]} ${words[Math.floor(i / 11) % 11]} ${words[Math.floor(i / 121)]}`,
    );
    const { createSttProvider } = await import('@synthians/voice');
    const local = createSttProvider({
      provider: 'pocketsphinx',
      timeoutMs: 10000,
      commands: ['what time is it', ...phrases],
    });
    const link = new Pc2Link({ url: `http://127.0.0.1:${workerPort}`, timeoutMs: 5000, retryMs: 60000 });
    const stt = pc2Stt(local, link, ['what time is it', ...phrases]);
    try {
      const t = await stt.transcribe(concat(silence(0.3), espeak('what time is it').samples, silence(0.4)));
      assert.equal(t.text, 'what time is it');
      assert.equal(t.provider, 'pocketsphinx', 'answered by the local engine');
      assert.equal(link.usable(), true, 'a refused request does not mark the worker down');
      assert.notEqual(link.status().state, 'down');
      // The worker is still used for the next request that it accepts.
      const ok = await pc2Stt(local, link, ['what time is it', 'play music']).transcribe(
        concat(silence(0.3), espeak('what time is it').samples, silence(0.4)),
      );
      assert.equal(ok.provider, 'pc2:pocketsphinx');
      assert.equal(link.status().state, 'up');
    } finally {
      await local.close();
    }
  },
);
