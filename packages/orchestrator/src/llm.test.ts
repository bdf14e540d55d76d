// Variant advice from an OpenAI-compatible chat model: a small local server speaking the chat-completions wire
// format; parsing, timeout and fallback to the policy, directly and through the orchestrator.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adviseVariant, parseAdvice } from './llm.ts';
import { surpriseTrend } from './policy.ts';
import { startStack, type Stack } from './test-support.ts';

interface Fake {
  url: string;
  server: Server;
  requests: { path: string; auth?: string; body: any }[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  answer: { status?: number; content?: string; raw?: string; delayMs?: number };
}

function completion(content: string) {
  return JSON.stringify({
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: 'fake-model',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
  });
}

async function startFake(): Promise<Fake> {
  const fake = { requests: [], answer: {} } as unknown as Fake;
  fake.server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      fake.requests.push({ path: req.url ?? '', auth: req.headers.authorization, body: JSON.parse(data) });
      const a = fake.answer;
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(a.status ?? 200, { 'content-type': 'application/json' });
        res.end(a.raw ?? completion(a.content ?? '{"variant": "MAL", "reason": "a routine"}'));
      }, a.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => fake.server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}/v1`;
  return fake;
}

const policy = { variant: 'MAG' as const, reason: 'default variant', rule: 'default' as const };
const input = { content: 'water the plants', trend: surpriseTrend([]), policy };

describe('LLM variant advice', () => {
  let fake: Fake;
  before(async () => {
    fake = await startFake();
  });
  after(async () => {
    fake.server.closeAllConnections();
    await new Promise((r) => fake.server.close(r));
  });

  test('asks /chat/completions with the model, messages and key, and parses the answer', async () => {
    fake.answer = { content: '```json\n{"variant": "mal", "reason": "a routine"}\n```' };
    const a = await adviseVariant(input, { baseUrl: fake.url, model: 'm1', apiKey: 'k', timeoutMs: 2000 });
    assert.deepEqual(a, { ok: true, variant: 'MAL', reason: 'a routine' });
    const req = fake.requests.at(-1)!;
    assert.equal(req.path, '/v1/chat/completions');
    assert.equal(req.auth, 'Bearer k');
    assert.equal(req.body.model, 'm1');
    assert.equal(req.body.messages[0].role, 'system');
    assert.equal(JSON.parse(req.body.messages[1].content).content, 'water the plants');
  });

  test('any failure is an error, never an exception', async () => {
    const opts = { baseUrl: fake.url, model: 'm', timeoutMs: 2000 };
    fake.answer = { content: '{"variant": "XYZ"}' };
    assert.match(((await adviseVariant(input, opts)) as { error: string }).error, /unknown variant/);
    fake.answer = { content: 'I think MAC is best' };
    assert.equal((await adviseVariant(input, opts)).ok, false);
    fake.answer = { raw: 'not json' };
    assert.equal((await adviseVariant(input, opts)).ok, false);
    fake.answer = { status: 500, raw: '{"error": {"message": "boom"}}' };
    assert.deepEqual(await adviseVariant(input, opts), { ok: false, error: 'HTTP 500' });
    fake.answer = { delayMs: 500 };
    assert.deepEqual(await adviseVariant(input, { ...opts, timeoutMs: 100 }), {
      ok: false,
      error: 'timeout after 100 ms',
    });
    const refused = await adviseVariant(input, { ...opts, baseUrl: 'http://127.0.0.1:1/v1' });
    assert.equal(refused.ok, false);
    assert.equal(parseAdvice('{"choices": []}').ok, false);
    assert.equal(parseAdvice('{"choices": [{"message": {"content": "{\\"variant\\": 3}"}}]}').ok, false);
  });

  describe('through the orchestrator', () => {
    let s: Stack;
    before(async () => {
      s = await startStack({ env: { LLM_BASE_URL: fake.url, LLM_MODEL: 'fake', LLM_TIMEOUT_MS: '300' } });
    });
    after(async () => {
      await s?.destroy();
    });

    test('the advice chooses the variant', async () => {
      fake.answer = { content: '{"variant": "MAC", "reason": "recall-heavy"}' };
      const r = await s.orch.request('POST', '/process_memory', { content: 'plain words', namespace: 'llm' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.status, 'success', JSON.stringify(r.body.steps));
      assert.equal(r.body.variant.name, 'MAC');
      assert.equal(r.body.variant.source, 'llm');
      assert.equal(r.body.variant.reason, 'llm: recall-heavy');
      assert.match(r.body.quickrecal.reason, /variant MAC\)$/);
    });

    test('on timeout or a bad answer the policy decides and the cycle still succeeds', async () => {
      fake.answer = { delayMs: 1000 };
      const slow = await s.orch.request('POST', '/process_memory', {
        content: 'the next step',
        namespace: 'llm2',
      });
      assert.equal(slow.status, 200, JSON.stringify(slow.body));
      assert.equal(slow.body.status, 'success');
      assert.equal(slow.body.variant.source, 'policy');
      assert.equal(slow.body.variant.name, 'MAL');
      assert.equal(slow.body.variant.llm_error, 'timeout after 300 ms');
      fake.answer = { content: 'no idea' };
      const bad = await s.orch.request('POST', '/process_memory', { content: 'hello', namespace: 'llm3' });
      assert.equal(bad.body.variant.source, 'policy');
      assert.equal(bad.body.variant.name, 'MAG');
      assert.ok(typeof bad.body.variant.llm_error === 'string', 'the LLM error is reported');
    });
  });
});
