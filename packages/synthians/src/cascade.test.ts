// The memory cycle across separate processes, as containers run it: memory core, neural memory and orchestrator
// each started with `synthians serve`, talking HTTP on loopback.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { jsonClient, unitVector } from '@synthians/kit';

const cli = new URL('../bin/synthians.js', import.meta.url).pathname;

interface Proc {
  child: ChildProcess;
  url: string;
}

async function serve(service: string, env: Record<string, string>): Promise<Proc> {
  const child = spawn(process.execPath, [cli, 'serve', service, '--port', '0'], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`${service} exited early with ${code}`)));
  });
  return { child, url };
}

const exited = (p: Proc) => p.child.exitCode !== null || p.child.signalCode !== null;
const stopped = (p: Proc) => new Promise((r) => (exited(p) ? r(null) : p.child.once('exit', r)));

describe('the cascade across processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'synthians-cascade-'));
  let core: Proc;
  let nm: Proc;
  let orch: Proc;
  before(async () => {
    core = await serve('memory-core', { MEMORY_STORAGE_PATH: join(dir, 'core'), MEMORY_SYNC: 'normal' });
    nm = await serve('neural-memory', { NEURAL_MEMORY_STORAGE_PATH: join(dir, 'nm') });
    orch = await serve('orchestrator', { MEMORY_CORE_URL: core.url, NEURAL_MEMORY_URL: nm.url });
  });
  after(async () => {
    for (const p of [orch, nm, core]) {
      if (p && !exited(p)) {
        p.child.kill('SIGTERM');
        await stopped(p);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('a cycle stores, learns, boosts by the documented amount and recalls', async () => {
    const send = jsonClient(orch.url);
    const coreApi = jsonClient(core.url);
    const first = await send('POST', '/process_memory', {
      content: 'We moved the team offsite to Lisbon in May',
      metadata: { user_id: 'ana' },
    });
    assert.equal(first.status, 200);
    assert.equal(first.body.status, 'success');
    const surprise = first.body.neural_memory_update.surprise as number;
    const expected = Math.round(Math.min(0.2, 0.4 * Math.max(0, surprise - 0.5)) * 1e6) / 1e6;
    assert.equal(first.body.quickrecal.boost_applied, expected);
    const stored = await coreApi('GET', `/v1/memories/${first.body.memory_id}`);
    assert.equal(stored.status, 200);
    if (expected > 0) {
      assert.equal(stored.body.surprise_events.length, 1);
      assert.equal(stored.body.surprise_events[0].delta, expected);
      assert.match(stored.body.surprise_events[0].reason, /^surprise:/);
      assert.ok(
        Math.abs(stored.body.quickrecal_stored - first.body.quickrecal.score_after) < 1e-9,
        'the core holds the boosted score',
      );
    }
    const second = await send('POST', '/process_memory', {
      content: 'The Lisbon offsite in May was great for the team',
      metadata: { user_id: 'ana' },
    });
    assert.equal(second.status, 200);
    const related = (second.body.related_memories as { id: string }[]).map((m) => m.id);
    assert.ok(related.includes(first.body.memory_id), 'the first memory is recalled as related');
    assert.equal(second.body.neural_memory_retrieval.retrieved_embedding.length, 768);
  });

  test("related memories stay within the user's own", async () => {
    const send = jsonClient(orch.url);
    const bob = await send('POST', '/process_memory', {
      content: 'Our team offsite in Lisbon happens in May',
      metadata: { user_id: 'bob' },
    });
    assert.equal(bob.status, 200);
    const ana = await send('POST', '/process_memory', {
      content: 'Remember the Lisbon team offsite in May',
      metadata: { user_id: 'ana' },
    });
    const related = (ana.body.related_memories as { id: string }[]).map((m) => m.id);
    assert.ok(related.length > 0, 'ana has related memories');
    assert.ok(!related.includes(bob.body.memory_id), "bob's memory is not recalled for ana");
  });

  test('bad input gets a 400 and stores nothing', async () => {
    const before = (await jsonClient(core.url)('GET', '/v1/stats')).body.memory_count;
    const bad = await jsonClient(orch.url)('POST', '/process_memory', {
      content: 'x',
      embedding: unitVector(1, 12),
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'invalid_embedding');
    assert.equal((await jsonClient(core.url)('GET', '/v1/stats')).body.memory_count, before);
  });

  test('with the neural memory killed, the memory is still stored and the answer is degraded', async () => {
    nm.child.kill('SIGKILL');
    await stopped(nm);
    const res = await jsonClient(orch.url)('POST', '/process_memory', {
      content: 'Still remembered without the trainer',
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'degraded');
    assert.ok((res.body.failed_steps as string[]).length > 0, 'failed steps are named');
    const stored = await jsonClient(core.url)('GET', `/v1/memories/${res.body.memory_id}`);
    assert.equal(stored.status, 200);
  });

  test('with the memory core killed, the orchestrator answers 503', async () => {
    core.child.kill('SIGKILL');
    await stopped(core);
    const res = await jsonClient(orch.url)('POST', '/process_memory', { content: 'nowhere to go' });
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'memory_core_unavailable');
  });
});
