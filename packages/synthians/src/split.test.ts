// Split mode end to end: every service in its own process (`synthians serve`), NATS as the bus (a nats-server the
// runner starts), PostgreSQL at DATABASE_URL (a fresh schema). A spoken turn over the coordinator's WebSocket, a
// memory round trip across sessions, then one service killed: the health monitor reports it and the assistant
// degrades as documented (the coordinator's /health says degraded, skills still answer).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { createLogger } from '@synthians/kit';
import { openDb } from '@synthians/session-memory';
import { AudioClient, Mic } from '../../assistant/src/audio/test-support.ts';
import { postgresSkip, TEST_DATABASE_URL, newSchema } from '../../session-memory/src/test-support.ts';
import { concat, espeak, hasEspeak, silence } from '../../voice/src/testing/signals.ts';
import { services } from './services.ts';
import { upSplit, type SplitRun } from './split.ts';

const hasNats = spawnSync('nats-server', ['--version'], { stdio: 'ignore' }).error === undefined;
const hasSphinx = spawnSync('pocketsphinx_continuous', ['-h'], { stdio: 'ignore' }).error === undefined;
const pgSkip = await postgresSkip();
const skip = pgSkip
  ? pgSkip
  : !hasNats
    ? 'nats-server is not installed (Debian package nats-server)'
    : !hasEspeak || !hasSphinx
      ? 'espeak-ng and pocketsphinx are needed for the spoken turn'
      : false;

let run: SplitRun | undefined;
let dir: string;
const schema = newSchema();
const url = (name: string) => run!.listening.find((l) => l.name === name)!.url;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(path.join(tmpdir(), 'synthians-split-'));
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.NATS_URL; // the runner starts its own nats-server
  for (const s of services)
    env[`${s.name.toUpperCase().replaceAll('-', '_')}_PORT`] = String(await freePort());
  Object.assign(env, {
    DREAM_PUB_PORT: String(await freePort()),
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: schema,
    HEALTH_POLL_INTERVAL_MS: '500',
    HEALTH_TIMEOUT_MS: '400',
    LOG_LEVEL: 'warn',
    CONSOLE_ENABLED: 'false',
    TZ: 'UTC',
  });
  run = await upSplit({
    env,
    dataDir: dir,
    logger: createLogger('split-test', 'warn'),
    stdio: process.env.SPLIT_DEBUG ? 'inherit' : 'ignore',
  });
});

after(async () => {
  await run?.stop();
  if (!skip) {
    const db = await openDb({ databaseUrl: TEST_DATABASE_URL, poolSize: 1 });
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function turn(body: Record<string, unknown>) {
  const res = await fetch(`${url('coordinator')}/v1/turns`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, `turn answered (${res.status})`);
  return (await res.json()) as { session_id: string; reply: string; skill: string };
}

async function waitFor<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('split mode: every service is its own process, on NATS and PostgreSQL', { skip }, async () => {
  assert.equal(run!.processes.size, services.length, 'one process per service');
  const pids = new Set([...run!.processes.values()].map((p) => p.pid));
  assert.equal(pids.size, services.length, 'distinct processes');
  assert.ok(!pids.has(process.pid));
  assert.match(run!.natsUrl, /^nats:\/\/127\.0\.0\.1:\d+$/);
  const health = await waitFor('every service healthy', 20000, async () => {
    const res = await fetch(`${url('health-monitor')}/v1/health/services`);
    const body = (await res.json()) as { services: { name: string; status: string }[] };
    const down = body.services.filter((s) => s.status !== 'healthy' && s.status !== 'degraded');
    return down.length === 0 && body.services.length === services.length - 1 ? body : undefined;
  });
  assert.equal(health.services.length, services.length - 1, 'the monitor watches every other service');
});

test('split mode: a spoken turn over the WebSocket', { skip }, async () => {
  const client = await AudioClient.connect(url('coordinator'));
  const ready = await client.start({ options: { wake_word: false, tts: { pace: false } } });
  assert.equal(ready.event?.type, 'ready', JSON.stringify(ready.event));
  const mic = new Mic(client);
  try {
    mic.say(concat(silence(0.5), espeak('what time is it').samples, silence(1)));
    const done = await client.waitFor((e) => e.type === 'turn', 30000);
    assert.equal(done.event?.text, 'what time is it');
    assert.match(String(done.event?.reply), /^It's \d{1,2}:\d\d [AP]M\.$/);
    assert.ok(
      client.log.some((r) => r.audio),
      'the reply was spoken',
    );
  } finally {
    await mic.stop();
    client.close();
  }
});

test(
  'split mode: memory across sessions (store through the orchestrator, recall from the memory core)',
  { skip },
  async () => {
    const first = await turn({ user_id: 'split', text: 'Remember that my brother is called Tom.' });
    assert.equal(first.skill, 'remember');
    const second = await waitFor('the memory to be recalled', 20000, async () => {
      const t = await turn({ user_id: 'split', text: 'What do you remember about my brother?' });
      return /Tom/.test(t.reply) ? t : undefined;
    });
    assert.notEqual(second.session_id, first.session_id, 'a new session');
    const stored = await fetch(`${url('memory-core')}/v1/memories?user_id=split&limit=10`);
    assert.match(JSON.stringify(await stored.json()), /brother is called Tom/);
  },
);

test(
  'split mode: a killed service is reported by the health monitor; the assistant degrades',
  { skip },
  async () => {
    const victim = run!.processes.get('orchestrator')!;
    victim.kill('SIGKILL');
    await new Promise((r) => victim.once('exit', r));
    const seen = await waitFor('the orchestrator reported down', 5000, async () => {
      const res = await fetch(`${url('health-monitor')}/v1/health/services`);
      const body = (await res.json()) as { services: { name: string; status: string }[] };
      const o = body.services.find((s) => s.name === 'orchestrator');
      return o?.status === 'unhealthy' ? o : undefined;
    });
    assert.equal(seen.status, 'unhealthy');
    const coord = (await (await fetch(`${url('coordinator')}/health`)).json()) as {
      status: string;
      checks: Record<string, { status: string }>;
    };
    assert.equal(coord.status, 'degraded', 'the coordinator says degraded');
    assert.equal(coord.checks.orchestrator?.status, 'unhealthy');
    const t = await turn({ user_id: 'split', text: 'what time is it' });
    assert.match(t.reply, /^It's /, 'skills still answer');
  },
);
