import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlmError, OpenAiChatClient, SseParser, buildPrompt, estimateTokens } from './index.ts';
import { startLlmDouble } from './test-double.ts';

test('SSE parser: events split anywhere, CRLF, comments, multi-line data', () => {
  const text = ': hi\r\ndata: {"a":1}\r\n\r\nevent: x\ndata: one\ndata: two\n\ndata: [DONE]\n\n';
  for (const size of [1, 3, 7, text.length]) {
    const p = new SseParser();
    const events = [];
    for (let i = 0; i < text.length; i += size) events.push(...p.push(text.slice(i, i + size)));
    events.push(...p.end());
    assert.deepEqual(
      events,
      [{ data: '{"a":1}' }, { event: 'x', data: 'one\ntwo' }, { data: '[DONE]' }],
      `chunk size ${size}`,
    );
  }
});

test('chat client: streams tokens over SSE, sends model, messages, stream and the key', async (t) => {
  const double = await startLlmDouble();
  t.after(() => double.close());
  const client = new OpenAiChatClient({
    baseUrl: double.url,
    model: 'm1',
    apiKey: 'sk-test',
    timeoutMs: 5000,
    firstTokenTimeoutMs: 2000,
  });
  const tokens: string[] = [];
  const r = await client.stream([{ role: 'user', content: 'hi' }], { onToken: (d) => tokens.push(d) });
  assert.equal(r.text, 'Hello there. How can I help you today?');
  assert.deepEqual(tokens, ['Hello', ' there', '.', ' How can I', ' help you', ' today?']);
  assert.equal(r.finish_reason, 'stop');
  const req = double.requests[0];
  assert.ok(req, 'the double received the request');
  assert.equal(req.body.model, 'm1');
  assert.equal(req.body.stream, true);
  assert.equal(req.headers.authorization, 'Bearer sk-test');
  assert.deepEqual(req.body.messages, [{ role: 'user', content: 'hi' }]);

  double.behave({ kind: 'json', content: 'Plain JSON answer.' });
  const j = await client.stream([{ role: 'user', content: 'hi' }]);
  assert.equal(j.text, 'Plain JSON answer.');
});

test('chat client: timeouts, garbage, HTTP errors, a stream without [DONE], abort', async (t) => {
  const double = await startLlmDouble();
  t.after(() => double.close());
  const client = new OpenAiChatClient({
    baseUrl: double.url,
    model: 'm',
    timeoutMs: 1500,
    firstTokenTimeoutMs: 200,
  });
  const kind = async (messages = [{ role: 'user' as const, content: 'x' }], signal?: AbortSignal) => {
    try {
      await client.stream(messages, { signal });
      return 'ok';
    } catch (err) {
      assert.ok(err instanceof LlmError, `an LlmError, not ${String(err)}`);
      return err.kind;
    }
  };
  double.behave({ kind: 'hang' });
  const started = performance.now();
  assert.equal(await kind(), 'timeout');
  assert.ok(performance.now() - started < 1000, 'the first-token timeout fired, not the total one');

  double.behave({ kind: 'stream', tokens: ['a', 'b', 'c', 'd', 'e', 'f'], delayMs: 400 });
  assert.equal(await kind(), 'timeout', 'total timeout while tokens trickle');

  double.behave({ kind: 'garbage' });
  assert.equal(await kind(), 'protocol');
  double.behave({ kind: 'garbage', body: '<html>502 Bad Gateway</html>' });
  assert.equal(await kind(), 'protocol');
  double.behave({ kind: 'status', status: 503 });
  assert.equal(await kind(), 'http');
  double.behave({ kind: 'no-done', tokens: ['Half a sent'] });
  assert.equal(await kind(), 'protocol');
  double.behave({ kind: 'stream', tokens: [''] });
  assert.equal(await kind(), 'empty');

  double.behave({ kind: 'stream', tokens: ['a', 'b', 'c'], delayMs: 300 });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  assert.equal(await kind(undefined, ac.signal), 'aborted');

  const down = new OpenAiChatClient({
    baseUrl: 'http://127.0.0.1:9/v1',
    model: 'm',
    timeoutMs: 1000,
    firstTokenTimeoutMs: 500,
  });
  await assert.rejects(
    down.stream([{ role: 'user', content: 'x' }]),
    (e: unknown) => e instanceof LlmError && e.kind === 'network',
  );
});

test('prompt: system, memories, newest history within the budget, user last', () => {
  const history = Array.from({ length: 40 }, (_, i) => ({
    role: i % 2 === 0 ? 'user' : 'assistant',
    content: `message number ${i} `.repeat(10),
  }));
  const p = buildPrompt({
    system: 'You are a test.',
    memories: [{ content: 'my sister is called Ana' }, { content: 'I live in Oslo' }],
    history,
    user: 'who is my sister?',
    maxTokens: 600,
  });
  assert.equal(p.messages[0]?.role, 'system');
  assert.ok(p.messages[0]?.content.includes('my sister is called Ana'), 'memories are in the system prompt');
  assert.deepEqual(p.messages.at(-1), { role: 'user', content: 'who is my sister?' });
  assert.ok(p.tokens <= 600, `within the budget (${p.tokens})`);
  assert.ok(p.truncated, 'old history was dropped');
  assert.ok(p.history_used > 0 && p.history_used < 40, 'some history kept');
  assert.equal(p.messages[1]?.role, 'user', 'history starts with a user message');
  assert.ok(p.messages.at(-2)?.content.startsWith('message number 39'), 'the newest history is kept');
  assert.equal(estimateTokens('abcd'), 1);
});
