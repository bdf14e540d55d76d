// A local stand-in for a remote OpenAI-compatible chat server (tests, benchmarks): node:http speaking the real wire
// format — POST /chat/completions answered as SSE (`data: {choices:[{delta:{content}}]}` … `data: [DONE]`) or as one
// JSON completion, GET /models — with scripted behaviours (slow, hanging, garbage, HTTP errors). Every request body is
// kept for inspection.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type DoubleBehaviour =
  | { kind: 'stream'; tokens: string[]; delayMs?: number; firstDelayMs?: number }
  | { kind: 'json'; content: string }
  | { kind: 'hang' }
  | { kind: 'garbage'; body?: string }
  | { kind: 'status'; status: number; body?: string }
  | { kind: 'no-done'; tokens: string[] };

export interface ChatRequestBody {
  model: string;
  stream?: boolean;
  messages: { role: string; content: string }[];
  [key: string]: unknown;
}

export interface LlmDouble {
  /** Base URL to give as LLM_BASE_URL (…/v1). */
  url: string;
  requests: { body: ChatRequestBody; headers: IncomingMessage['headers'] }[];
  /** The behaviour of the next requests (default: stream "Hello there. How can I help you today?"). */
  behave(next: DoubleBehaviour | ((body: ChatRequestBody) => DoubleBehaviour)): void;
  close(): Promise<void>;
}

const chunk = (content: string) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', model: 'double', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startLlmDouble(): Promise<LlmDouble> {
  let behaviour: DoubleBehaviour | ((body: ChatRequestBody) => DoubleBehaviour) = {
    kind: 'stream',
    tokens: ['Hello', ' there', '.', ' How can I', ' help you', ' today?'],
  };
  const requests: LlmDouble['requests'] = [];
  const open = new Set<ServerResponse>();
  const server: Server = createServer(async (req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    if (req.method === 'GET' && req.url?.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'double', object: 'model' }] }));
      return;
    }
    let raw = '';
    for await (const c of req) raw += c;
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404).end();
      return;
    }
    const body = JSON.parse(raw) as ChatRequestBody;
    requests.push({ body, headers: req.headers });
    const b = typeof behaviour === 'function' ? behaviour(body) : behaviour;
    switch (b.kind) {
      case 'stream':
      case 'no-done': {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        if (b.kind === 'stream' && b.firstDelayMs) await sleep(b.firstDelayMs);
        res.write(': keep-alive\n\n');
        for (const t of b.tokens) {
          if (res.destroyed) return;
          res.write(chunk(t));
          if (b.kind === 'stream' && b.delayMs) await sleep(b.delayMs);
        }
        if (b.kind === 'stream') {
          res.write(
            `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`,
          );
        }
        res.end();
        return;
      }
      case 'json':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'chatcmpl-1',
            object: 'chat.completion',
            model: 'double',
            choices: [
              { index: 0, message: { role: 'assistant', content: b.content }, finish_reason: 'stop' },
            ],
          }),
        );
        return;
      case 'hang':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(': thinking\n\n');
        return; // never answers
      case 'garbage':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(b.body ?? 'data: {"choices": [{"delta": {"content": "Hal\n\ndata: <html>oops</html>\n\n');
        return;
      case 'status':
        res.writeHead(b.status, { 'content-type': 'application/json' });
        res.end(b.body ?? JSON.stringify({ error: { message: 'model overloaded', type: 'server_error' } }));
        return;
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    behave(next) {
      behaviour = next;
    },
    async close() {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
