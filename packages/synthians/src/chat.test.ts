// `synthians chat` against a real coordinator (skills answer offline; memory services unreachable → degraded
// but answering): lines in, streamed replies out, one session across lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import { startCoordinator } from '../../assistant/src/coordinator/test-support.ts';
import { chat } from './chat.ts';

test('chat: each line is a turn in one session; errors are shown and the loop goes on', async () => {
  const c = await startCoordinator({
    MEMORY_CORE_URL: 'http://127.0.0.1:9',
    ORCHESTRATOR_URL: 'http://127.0.0.1:9',
  });
  try {
    const input = new PassThrough();
    const output = new PassThrough();
    let text = '';
    output.on('data', (d: Buffer) => (text += d.toString()));
    const done = chat({ url: c.url, input, output });
    input.write('what time is it\n');
    input.write(`${'x'.repeat(5000)}\n`);
    input.write('help\n');
    input.end('/quit\n');
    await done;
    const lines = text.trim().split('\n');
    assert.equal(lines.length, 3, `three answers (${JSON.stringify(lines)})`);
    assert.match(lines[0]!, /\d{1,2}:\d{2}/, 'the time skill answered');
    assert.match(lines[1]!, /^\(error: .+\)$/, 'a too-long line gets an error, not a crash');
    assert.ok(lines[2]!.length > 20, 'help answered after the error');
    const sessions = (await (await fetch(`${c.url}/v1/sessions`)).json()) as { sessions: unknown[] };
    assert.equal(sessions.sessions.length, 1, 'all lines went to one session');
  } finally {
    await c.destroy();
  }
});

test('chat: a coordinator that does not answer is one clear error, not an answer per line', async () => {
  const input = new PassThrough();
  const output = new PassThrough();
  input.end('hello\nwhat time is it\n');
  // A port nothing listens on (taken, then freed).
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await assert.rejects(
    chat({ url: `http://127.0.0.1:${port}`, input, output }),
    new RegExp(`cannot reach the coordinator at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`),
  );
});
