import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { MemoryBus } from '@synthians/kit';
import { startStack, type Stack } from '../../../orchestrator/src/test-support.ts';
import { startLlmDouble, type LlmDouble } from '../llm/test-double.ts';
import { startCoordinator, tempDir, type TestCoordinator } from './test-support.ts';

let stack: Stack;
let double: LlmDouble;
const dirs: string[] = [];
const memoryEnv = () => ({ MEMORY_CORE_URL: stack.core.url, ORCHESTRATOR_URL: stack.orch.url });

before(async () => {
  stack = await startStack();
  double = await startLlmDouble();
});
after(async () => {
  await double.close();
  await stack.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function coordinator(
  env: Record<string, string> = {},
  opts: Parameters<typeof startCoordinator>[1] = {},
) {
  const dir = opts.dir ?? tempDir();
  if (!opts.dir) dirs.push(dir);
  return startCoordinator({ ...memoryEnv(), ...env }, { ...opts, dir });
}

async function turn(c: TestCoordinator, body: Record<string, unknown>) {
  const r = await c.request('POST', '/v1/turns', body);
  assert.equal(r.status, 200, `turn answered: ${JSON.stringify(r.body)}`);
  await c.coordinator.engine.idle();
  return r.body;
}

async function searchCore(userId: string, query: string) {
  const r = await stack.core.request('POST', '/v1/search', {
    query,
    mode: 'lexical',
    top_k: 10,
    filter: { 'metadata.user_id': userId },
  });
  assert.equal(r.status, 200, 'memory core search');
  return r.body.results as { id: string; content: string }[];
}

test('memory across sessions: remember, recall in a later session, forget with confirmation', async (t) => {
  const c = await coordinator();
  t.after(() => c.stop());
  const a = await turn(c, { user_id: 'alice', text: 'Remember that my sister is called Ana.' });
  assert.equal(a.skill, 'remember');
  assert.equal(a.reply, "Okay, I'll remember that your sister is called Ana.");
  assert.ok(a.session_id, 'a session was created');
  assert.deepEqual(a.degraded, []);
  assert.equal(
    (await searchCore('alice', 'sister')).length,
    1,
    'one memory about the sister in the memory core',
  );

  // Ordinary turns go to long-term memory in the background (user text and reply, marked).
  await turn(c, { session_id: a.session_id, text: 'Hello!' });
  const hello = await searchCore('alice', 'hello');
  assert.ok(
    hello.some((m) => m.content === 'Hello!'),
    'the user text was stored via the orchestrator',
  );

  // A later session of the same user finds it; another user does not.
  const b = await turn(c, { user_id: 'alice', text: 'What do you remember about my sister?' });
  assert.notEqual(b.session_id, a.session_id, 'a new session');
  assert.equal(b.skill, 'recall');
  assert.equal(b.reply, "Here's what I remember about your sister: your sister is called Ana.");
  assert.equal(b.memories.length, 1);
  assert.equal(b.memories[0].content, 'my sister is called Ana');
  assert.ok(typeof b.memories[0].id === 'string' && typeof b.memories[0].score === 'number', 'id and score');
  const other = await turn(c, { user_id: 'bob', text: 'what do you remember about my sister' });
  assert.equal(other.reply, "I don't remember anything about your sister.", 'scoped to the user');

  // Forget: asks first; "no" keeps; "forget" + "yes" deletes.
  const f1 = await turn(c, { session_id: b.session_id, text: 'Forget my sister' });
  assert.equal(f1.skill, 'forget');
  assert.match(
    f1.reply,
    /^I found one memory about your sister: "your sister is called Ana"\. Should I forget it\?/,
  );
  const no = await turn(c, { session_id: b.session_id, text: 'no' });
  assert.equal(no.skill, 'confirm');
  assert.equal((await searchCore('alice', 'sister')).length, 1, '"no" kept it');
  await turn(c, { session_id: b.session_id, text: 'forget about my sister.' });
  const yes = await turn(c, { session_id: b.session_id, text: 'Yes.' });
  assert.equal(yes.skill, 'confirm');
  assert.equal(yes.reply, "Done. I've forgotten it.");
  assert.equal((await searchCore('alice', 'sister')).length, 0, 'search no longer finds it');
  const again = await turn(c, { user_id: 'alice', text: 'what do you remember about my sister?' });
  assert.equal(again.reply, "I don't remember anything about your sister.");
  // A stray "yes" with nothing pending is not a confirmation.
  const stray = await turn(c, { session_id: b.session_id, text: 'yes' });
  assert.notEqual(stray.skill, 'confirm');
});

test('timers fire on the bus and into the session, and survive a restart on the same data dir', async () => {
  const dir = tempDir();
  dirs.push(dir);
  const bus = new MemoryBus();
  const events: { message: string; timer: { session_id: string } }[] = [];
  bus.subscribe('assistant.timers', (m) => void events.push(m.json()));
  let c = await coordinator({}, { dir, bus });
  const t1 = await turn(c, { user_id: 'carol', text: 'Set a timer for one second.' });
  assert.equal(t1.reply, 'Timer set for 1 second.');
  assert.equal(t1.skill, 'timers');
  await new Promise((r) => setTimeout(r, 1400));
  await c.coordinator.timers.idle();
  await bus.flush();
  assert.equal(events.length, 1, 'one timer event on the bus');
  assert.equal(events[0]?.message, 'Your 1 second timer is done.');
  assert.equal(events[0]?.timer.session_id, t1.session_id);
  const next = await turn(c, { session_id: t1.session_id, text: 'what time is it' });
  assert.equal(next.notices.length, 1, 'the pending notice comes with the next turn');
  assert.match(next.reply, /^Your 1 second timer is done\. It's \d/);
  const after1 = await turn(c, { session_id: t1.session_id, text: 'thanks' });
  assert.equal(after1.notices.length, 0, 'a notice is delivered once');

  await turn(c, { session_id: t1.session_id, text: 'set a timer for 2 seconds' });
  await turn(c, { session_id: t1.session_id, text: 'Remind me to call Ana in ten minutes' });
  await c.stop();

  c = await coordinator({}, { dir, bus });
  try {
    const listed = await turn(c, { session_id: t1.session_id, text: 'What timers and reminders do I have?' });
    assert.match(listed.reply, /^You have 2: a 2 second timer with .* and a reminder to call Ana/);
    await new Promise((r) => setTimeout(r, 2200));
    await c.coordinator.timers.idle();
    await bus.flush();
    assert.equal(events.length, 2, 'the restored timer fired after the restart');
    assert.equal(events[1]?.message, 'Your 2 second timer is done.');
    const cancel = await turn(c, { session_id: t1.session_id, text: 'cancel the reminder' });
    assert.match(cancel.reply, /^Your 2 second timer is done\. Cancelled a reminder to call Ana/);
    const http = await c.request('GET', '/v1/timers?user_id=carol');
    assert.deepEqual(http.body.timers, [], 'nothing pending');
  } finally {
    await c.stop();
    await bus.close();
  }
});

test('LLM path: streamed sentences, memories and context in the prompt; timeout and garbage apologise', async (t) => {
  const c = await coordinator({
    LLM_BASE_URL: double.url,
    LLM_MODEL: 'double-model',
    LLM_FIRST_TOKEN_TIMEOUT_MS: '300',
    LLM_TIMEOUT_MS: '2000',
    LLM_CONTEXT_TOKENS: '2000',
  });
  t.after(() => c.stop());
  await turn(c, { user_id: 'dave', text: 'Remember that my dog is called Rex.' });
  double.behave({ kind: 'stream', tokens: ['Nice to', ' meet you', ', Dave.', ' I am', ' Synthians.'] });
  const first = await turn(c, { user_id: 'dave', text: 'My name is Dave and I like dogs.' });
  assert.equal(first.skill, 'llm');
  assert.equal(first.reply, 'Nice to meet you, Dave. I am Synthians.');
  assert.ok(
    first.timings.llm >= 0 && first.timings.recall >= 0 && first.timings.store >= 0,
    'timings per stage',
  );

  // Streamed over SSE: sentences as they complete.
  double.behave({
    kind: 'stream',
    tokens: ['Your dog', ' is called', ' Rex.', ' He sounds', ' lovely!'],
    delayMs: 20,
  });
  const res = await fetch(`${c.url}/v1/turns`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ session_id: first.session_id, text: "What's my dog's name?" }),
  });
  const text = await res.text();
  await c.coordinator.engine.idle();
  const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n\n/g)].map((m) => ({
    event: m[1],
    data: JSON.parse(m[2] as string),
  }));
  assert.deepEqual(
    events.filter((e) => e.event === 'sentence').map((e) => e.data.text),
    ['Your dog is called Rex.', 'He sounds lovely!'],
  );
  const done = events.find((e) => e.event === 'done')?.data;
  assert.ok(done, 'a done event');
  assert.equal(done.reply, 'Your dog is called Rex. He sounds lovely!');
  assert.ok(
    done.memories.some((m: { content: string }) => m.content === 'my dog is called Rex'),
    'memory used',
  );

  const req = double.requests.at(-1)?.body;
  assert.ok(req, 'the double got the request');
  assert.equal(req.model, 'double-model');
  assert.equal(req.stream, true);
  assert.ok(
    req.messages[0]?.content.includes('my dog is called Rex'),
    'recalled memory in the system prompt',
  );
  assert.deepEqual(
    req.messages.slice(1).map((m) => m.content),
    ['My name is Dave and I like dogs.', 'Nice to meet you, Dave. I am Synthians.', "What's my dog's name?"],
    'session context then the user text',
  );

  // Timeout: apology, nothing stored, session usable.
  const before = (await c.request('GET', `/v1/sessions/${first.session_id}`)).body.turns.length;
  double.behave({ kind: 'hang' });
  const slow = await turn(c, { session_id: first.session_id, text: 'Tell me a long story.' });
  assert.equal(slow.reply, "Sorry, I'm taking too long to think of an answer. Please try again.");
  assert.equal(slow.stored, false);
  assert.deepEqual(slow.degraded, ['llm']);
  assert.equal(slow.error.code, 'llm_timeout');
  double.behave({ kind: 'garbage' });
  const bad = await turn(c, { session_id: first.session_id, text: 'And another one?' });
  assert.equal(bad.reply, "Sorry, I couldn't come up with an answer just now. Please try again.");
  assert.equal(bad.error.code, 'llm_protocol');
  const afterTurns = (await c.request('GET', `/v1/sessions/${first.session_id}`)).body.turns;
  assert.equal(afterTurns.length, before, 'nothing half-written');
  double.behave({ kind: 'stream', tokens: ['Still here.'] });
  const ok = await turn(c, { session_id: first.session_id, text: 'Are you there?' });
  assert.equal(ok.reply, 'Still here.');
  assert.equal(ok.stored, true);

  // Skills take precedence over the LLM.
  const n = double.requests.length;
  const time = await turn(c, { session_id: first.session_id, text: 'what time is it?' });
  assert.equal(time.skill, 'time');
  assert.equal(double.requests.length, n, 'the model was not asked');
});

test('barge-in: an aborted turn keeps the sentences already said, marked interrupted', async (t) => {
  const c = await coordinator({ LLM_BASE_URL: double.url, LLM_FIRST_TOKEN_TIMEOUT_MS: '2000' });
  t.after(() => c.stop());
  double.behave({
    kind: 'stream',
    tokens: ['First sentence here.', ' Second one', ' never ends', ' ...'],
    delayMs: 150,
  });
  const ac = new AbortController();
  const sentences: string[] = [];
  const result = await c.coordinator.engine.run(
    { user_id: 'erin', text: 'Talk to me.' },
    {
      signal: ac.signal,
      onSentence: (s) => {
        sentences.push(s);
        ac.abort();
      },
    },
  );
  assert.equal(result.interrupted, true);
  assert.deepEqual(sentences, ['First sentence here.']);
  assert.equal(result.reply, 'First sentence here.');
  const s = await c.request('GET', `/v1/sessions/${result.session_id}`);
  assert.deepEqual(
    s.body.turns.map((i: { role: string; metadata: Record<string, unknown> }) => [
      i.role,
      i.metadata.interrupted ?? false,
    ]),
    [
      ['user', false],
      ['assistant', true],
    ],
  );
});

test('HTTP API: sessions and errors; memory services down still answer', async (t) => {
  const c = await coordinator({ MAX_TURN_CHARS: '100' });
  t.after(() => c.stop());
  const created = await c.request('POST', '/v1/sessions', {
    user_id: 'frank',
    metadata: { room: 'kitchen' },
  });
  assert.equal(created.status, 201);
  const sid = created.body.session_id;
  await turn(c, { session_id: sid, text: 'hi' });
  const got = await c.request('GET', `/v1/sessions/${sid}`);
  assert.equal(got.status, 200);
  assert.deepEqual(
    got.body.turns.map((i: { role: string; content: string }) => [i.role, i.content]),
    [
      ['user', 'hi'],
      ['assistant', 'Hello! How can I help?'],
    ],
  );
  const list = await c.request('GET', '/v1/sessions?user_id=frank');
  assert.deepEqual(
    list.body.sessions.map((s: { session_id: string }) => s.session_id),
    [sid],
  );

  const bad = async (body: unknown, status: number, code: string) => {
    const r = await c.request('POST', '/v1/turns', body);
    assert.equal(r.status, status, `${JSON.stringify(body)?.slice(0, 60)} → ${status}`);
    assert.equal(r.body.error.code, code);
  };
  await bad({ text: '   ' }, 400, 'empty_text');
  await bad({ text: 'x'.repeat(101) }, 400, 'text_too_long');
  await bad({ text: 42 }, 400, 'validation_error');
  await bad({}, 400, 'validation_error');
  await bad({ text: 'hi', session_id: ['x'] }, 400, 'validation_error');
  await bad({ text: 'hi', user_id: 'bad user!' }, 400, 'validation_error');
  await bad('{"text": ', 400, 'invalid_json');
  await bad({ text: 'hi', session_id: 'nope' }, 404, 'not_found');
  await bad({ text: 'hi', session_id: sid, user_id: 'mallory' }, 409, 'session_user_mismatch');

  assert.equal((await c.request('POST', `/v1/sessions/${sid}/end`, { summary: 'said hi' })).status, 200);
  await bad({ text: 'hi', session_id: sid }, 409, 'session_not_active');
  assert.equal((await c.request('POST', `/v1/sessions/${sid}/end`, {})).status, 409);
  assert.equal((await c.request('GET', '/v1/sessions/nope')).status, 404);
  assert.equal((await c.request('DELETE', `/v1/sessions/${sid}`)).status, 204);
  assert.equal((await c.request('DELETE', `/v1/sessions/${sid}`)).status, 404);
  assert.equal((await c.request('GET', '/v1/sessions?status=bogus')).status, 400);

  // Without a language model, an unmatched turn says what the assistant can do.
  const plain = await turn(c, { text: 'Why is the sky blue?' });
  assert.equal(plain.skill, 'fallback');
  assert.match(plain.reply, /I can tell you the time and the date, set timers and reminders/);

  // Memory services down: the turn still answers, degraded.
  const down = await coordinator({
    MEMORY_CORE_URL: 'http://127.0.0.1:9',
    ORCHESTRATOR_URL: 'http://127.0.0.1:9',
    MEMORY_TIMEOUT_MS: '500',
    LLM_BASE_URL: double.url,
  });
  try {
    double.behave({ kind: 'stream', tokens: ['I can still talk.'] });
    const r = await turn(down, { text: 'Tell me something.' });
    assert.equal(r.reply, 'I can still talk.');
    assert.deepEqual(r.degraded, ['long_term_memory']);
    const rem = await turn(down, { text: 'remember that I like tea' });
    assert.match(rem.reply, /can't save that right now/);
    assert.deepEqual(rem.degraded, ['long_term_memory']);
    const health = await down.request('GET', '/health');
    assert.equal(health.body.status, 'degraded');
  } finally {
    await down.stop();
  }
});
