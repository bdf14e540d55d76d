// Acknowledged means durable for a turn's long-term memories, written as the attacks of issue 13: a burst of turns
// larger than the queue while the orchestrator is down (the API says 503 + Retry-After instead of dropping work,
// and every acknowledged write arrives once it is back), a coordinator killed with SIGKILL with writes pending
// (they are written after the restart), and a retried batch (no duplicates). Real memory core, neural memory and
// orchestrator; PGlite session databases; the LLM double for conversational turns.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { createLogger, listen, stop, type ServiceInstance } from '@synthians/kit';
import { orchestratorService } from '../../../orchestrator/src/service.ts';
import { startStack, type Stack } from '../../../orchestrator/src/test-support.ts';
import { startLlmDouble, type LlmDouble } from '../llm/test-double.ts';
import { startCoordinator, tempDir } from './test-support.ts';

let stack: Stack;
let double: LlmDouble;
const dirs: string[] = [];

before(async () => {
  stack = await startStack();
  double = await startLlmDouble();
});
after(async () => {
  await double.close();
  await stack.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A real orchestrator (in front of the stack's memory core and neural memory) on a chosen port. */
async function orchestratorOn(port: number): Promise<ServiceInstance> {
  const instance = await orchestratorService.create({
    env: { MEMORY_CORE_URL: stack.core.url, NEURAL_MEMORY_URL: stack.nm.url },
    dataDir: '/nonexistent',
    host: '127.0.0.1',
    port,
    logger: createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent'),
  });
  await listen(instance);
  return instance;
}

async function inCore(id: string): Promise<boolean> {
  const r = await stack.core.request('GET', `/v1/memories/${encodeURIComponent(id)}`);
  return r.status === 200;
}

async function waitFor(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a burst of turns larger than the queue, the orchestrator down: 503 + Retry-After past the limit, every acknowledged write arrives later', async (t) => {
  const port = await freePort();
  const dir = tempDir();
  dirs.push(dir);
  const c = await startCoordinator(
    {
      MEMORY_CORE_URL: stack.core.url,
      ORCHESTRATOR_URL: `http://127.0.0.1:${port}`,
      LLM_BASE_URL: double.url,
      MEMORY_QUEUE_MAX: '10',
      MEMORY_TIMEOUT_MS: '500',
    },
    { dir },
  );
  t.after(() => c.stop());
  const acknowledged: string[] = [];
  const refused: { status: number; retryAfter: string | null; code: string }[] = [];
  for (let i = 0; i < 12; i++) {
    const res = await fetch(`${c.url}/v1/turns`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'burst', text: `Tell me something about the number ${i}.` }),
    });
    const body = (await res.json()) as {
      turn_id: string;
      long_term_memory: string;
      error?: { code: string };
    };
    if (res.status === 200) {
      assert.equal(body.long_term_memory, 'queued');
      acknowledged.push(body.turn_id);
    } else {
      refused.push({
        status: res.status,
        retryAfter: res.headers.get('retry-after'),
        code: body.error!.code,
      });
    }
  }
  assert.equal(acknowledged.length, 5, 'five turns (two writes each) fill a queue of 10');
  assert.equal(refused.length, 7);
  for (const r of refused) {
    assert.equal(r.status, 503);
    assert.equal(r.code, 'memory_backlog');
    assert.match(r.retryAfter ?? '', /^\d+$/, 'Retry-After says when to come back');
  }
  const health = await c.request('GET', '/health');
  assert.equal(health.body.memory_outbox.backlog, 10, 'the backlog is visible in /health');
  assert.equal(await inCore(`turn.${acknowledged[0]}.user`), false, 'nothing reached the memory core yet');

  // The orchestrator comes back: the writer retries and writes every acknowledged memory.
  const orch = await orchestratorOn(port);
  t.after(() => stop(orch));
  await waitFor(async () => c.coordinator.engine.writer!.size === 0, 30_000, 'the outbox to drain');
  for (const id of acknowledged) {
    assert.ok(await inCore(`turn.${id}.user`), `user memory of turn ${id}`);
    assert.ok(await inCore(`turn.${id}.assistant`), `assistant memory of turn ${id}`);
  }
  const again = await c.request('POST', '/v1/turns', { user_id: 'burst', text: 'And now?' });
  assert.equal(again.status, 200, 'turns are taken again once the backlog is written');
});

test('SIGKILL with writes pending: after the restart they are written, once each', async (t) => {
  const dir = tempDir();
  dirs.push(dir);
  const port = await freePort();
  const cli = new URL('../../../synthians/bin/synthians.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [cli, 'serve', 'coordinator', '--port', '0'], {
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      SYNTHIANS_DATA_DIR: dir,
      MEMORY_CORE_URL: stack.core.url,
      ORCHESTRATOR_URL: `http://127.0.0.1:${port}`,
      LLM_BASE_URL: double.url,
      CONSOLE_ENABLED: 'false',
      AUDIO_ENABLED: 'false',
      MEMORY_TIMEOUT_MS: '300',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`coordinator exited early (${code})`)));
  });
  const turns: string[] = [];
  for (let i = 0; i < 4; i++) {
    const res = await fetch(`${url}/v1/turns`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'crash', text: `My lucky number today is ${i}.` }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { turn_id: string; long_term_memory: string };
    assert.equal(body.long_term_memory, 'queued');
    turns.push(body.turn_id);
  }
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;

  // The orchestrator is up now; a new coordinator on the same data directory writes what the dead one left.
  const orch = await orchestratorOn(port);
  t.after(() => stop(orch));
  const c = await startCoordinator(
    {
      MEMORY_CORE_URL: stack.core.url,
      ORCHESTRATOR_URL: `http://127.0.0.1:${port}`,
      LLM_BASE_URL: double.url,
    },
    { dir },
  );
  t.after(() => c.stop());
  await c.coordinator.engine.idle();
  for (const id of turns) {
    assert.ok(await inCore(`turn.${id}.user`), `turn ${id} survived the kill`);
    assert.ok(await inCore(`turn.${id}.assistant`));
  }
  const listed = await stack.core.request(
    'GET',
    `/v1/memories?limit=100&filter=${encodeURIComponent(JSON.stringify({ 'metadata.user_id': 'crash' }))}`,
  );
  assert.equal(listed.status, 200);
  const items = (listed.body.items ?? listed.body.memories) as { id: string }[];
  assert.equal(items.length, 8, 'each memory once');
});

test('a retried batch is idempotent: stored ids come back as duplicates, nothing is stored twice', async () => {
  const items = [
    { id: 'retry.test.1', content: 'The train to Basel leaves at nine.', metadata: { user_id: 'retry' } },
    { id: 'retry.test.2', content: 'Ana likes green tea.', metadata: { user_id: 'retry' } },
  ];
  const first = await stack.orch.request('POST', '/process_memories', { items });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.count, 2);
  assert.ok(first.body.items.every((i: { surprise: number | null }) => typeof i.surprise === 'number'));
  const retried = await stack.orch.request('POST', '/process_memories', {
    items: [...items, { id: 'retry.test.3', content: 'Ben moved to Lyon.', metadata: { user_id: 'retry' } }],
  });
  assert.equal(retried.status, 200);
  assert.deepEqual(
    retried.body.items.map((i: { memory_id: string; duplicate?: boolean }) => [
      i.memory_id,
      i.duplicate ?? false,
    ]),
    [
      ['retry.test.1', true],
      ['retry.test.2', true],
      ['retry.test.3', false],
    ],
  );
  const bad = await stack.orch.request('POST', '/process_memories', { items: [{ id: 'x', content: '  ' }] });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'missing_content');
});

test('more turns at once than slots and queue: 503 busy with Retry-After at once, not a timeout', async (t) => {
  const dir = tempDir();
  dirs.push(dir);
  const c = await startCoordinator(
    {
      MEMORY_CORE_URL: stack.core.url,
      ORCHESTRATOR_URL: stack.orch.url,
      LLM_BASE_URL: double.url,
      TURN_CONCURRENCY: '1',
      TURN_QUEUE: '1',
      TURN_QUEUE_TIMEOUT_MS: '5000',
    },
    { dir },
  );
  t.after(() => c.stop());
  double.behave({ kind: 'stream', tokens: ['Slowly', ' said.'], delayMs: 400 });
  t.after(() => double.behave({ kind: 'stream', tokens: ['Hello there.'] }));
  const started = Date.now();
  const answers = await Promise.all(
    [1, 2, 3].map((i) =>
      fetch(`${c.url}/v1/turns`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user_id: 'busy', text: `Tell me a slow story number ${i}.` }),
      }).then(async (r) => ({
        status: r.status,
        retryAfter: r.headers.get('retry-after'),
        code: ((await r.json()) as { error?: { code: string } }).error?.code,
        ms: Date.now() - started,
      })),
    ),
  );
  const refused = answers.filter((a) => a.status === 503);
  assert.equal(answers.filter((a) => a.status === 200).length, 2, 'one runs, one waits for its slot');
  assert.equal(refused.length, 1);
  assert.equal(refused[0]!.code, 'busy');
  assert.equal(refused[0]!.retryAfter, '1');
  assert.ok(refused[0]!.ms < 300, `refused at once (${refused[0]!.ms} ms)`);
});
