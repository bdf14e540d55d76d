// `synthians chat`: a text conversation with a running coordinator. Each line is a turn (POST /v1/turns, the reply
// streamed sentence by sentence as Server-Sent Events); the session carries over between lines.
import { createInterface } from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';

export interface ChatOptions {
  url: string;
  token?: string;
  userId?: string;
  sessionId?: string;
  input: Readable;
  output: Writable;
  /** Prompt shown before each line (none when the input is not a terminal). */
  prompt?: string;
}

interface TurnDone {
  session_id: string;
  reply: string;
  skill: string;
  degraded?: string[];
}

/** The coordinator did not answer at all (wrong URL, not running). */
/** The system error code under fetch's "fetch failed" (ECONNREFUSED, ENOTFOUND, …), else its message. */
function why(err: unknown): string {
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown[]; message?: string } | undefined;
  if (typeof e?.code === 'string') return e.code;
  const inner = e?.cause ?? e?.errors?.[0];
  return inner ? why(inner) : (e?.message ?? String(err));
}

export class Unreachable extends Error {
  override readonly name = 'Unreachable';
  constructor(url: string, cause: unknown) {
    super(`cannot reach the coordinator at ${url} (${why(cause)}): is it running? (--url, COORDINATOR_URL)`);
  }
}

/** One turn; `onSentence` gets the reply as it streams. Throws with the server's error message. */
export async function chatTurn(
  opts: { url: string; token?: string; userId?: string; sessionId?: string },
  text: string,
  onSentence: (text: string) => void,
): Promise<TurnDone> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const body: Record<string, string> = { text };
  if (opts.sessionId) body.session_id = opts.sessionId;
  if (opts.userId) body.user_id = opts.userId;
  let res: Response;
  try {
    res = await fetch(`${opts.url}/v1/turns`, { method: 'POST', headers, body: JSON.stringify(body) });
  } catch (err) {
    throw new Unreachable(opts.url, err);
  }
  if (!res.ok || !res.body) {
    const err = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    throw new Error(err.error?.message ?? `the coordinator answered HTTP ${res.status}`);
  }
  const decoder = new TextDecoder();
  let buf = '';
  let done: TurnDone | undefined;
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk as Uint8Array, { stream: true });
    let sep: number;
    while ((sep = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, sep);
      buf = buf.slice(sep + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (!event || data === undefined) continue;
      const parsed = JSON.parse(data) as Record<string, unknown>;
      if (event === 'sentence') onSentence(String(parsed.text));
      else if (event === 'done') done = parsed as unknown as TurnDone;
      else if (event === 'error') {
        const e = parsed.error as { message?: string } | undefined;
        throw new Error(e?.message ?? 'the turn failed');
      }
    }
  }
  if (!done) throw new Error('the coordinator closed the stream before the end of the turn');
  return done;
}

/**
 * The read–eval loop; resolves at end of input or on "/quit" with the number of turns that failed. A coordinator
 * that does not answer ends it at once (Unreachable): every further line would fail the same way.
 */
export async function chat(opts: ChatOptions): Promise<{ failed: number }> {
  let failed = 0;
  const rl = createInterface({ input: opts.input, terminal: false });
  let sessionId = opts.sessionId;
  const write = (s: string) => opts.output.write(s);
  if (opts.prompt) write(opts.prompt);
  for await (const line of rl) {
    const text = line.trim();
    if (text === '/quit' || text === '/exit') break;
    if (text) {
      try {
        let said = false;
        const done = await chatTurn({ ...opts, sessionId }, text, (s) => {
          write(`${said ? ' ' : ''}${s}`);
          said = true;
        });
        if (!said) write(done.reply);
        write('\n');
        sessionId = done.session_id;
      } catch (err) {
        if (err instanceof Unreachable) {
          rl.close();
          throw err;
        }
        failed++;
        write(`(error: ${(err as Error).message})\n`);
      }
    }
    if (opts.prompt) write(opts.prompt);
  }
  rl.close();
  return { failed };
}
