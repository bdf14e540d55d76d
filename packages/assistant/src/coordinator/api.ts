// The coordinator's HTTP API: text turns (JSON, or Server-Sent Events sentence by sentence), sessions, timers and a
// live event stream (timer notices) for clients.
import type { App } from '@synthians/kit';
import { notFound } from '@synthians/kit';
import type { ServerResponse } from 'node:http';
import type { TimerService } from '../skills/timers.ts';
import type { SessionPort } from './sessions.ts';
import { USER_ID_PATTERN, type TurnEngine, type TurnResult } from './turn-engine.ts';

const id = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:@-]+$' } as const;

const turnBody = {
  type: 'object',
  required: ['text'],
  properties: {
    text: { type: 'string', description: 'What the user said (1 to MAX_TURN_CHARS characters)' },
    session_id: { ...id, description: 'An active session; omitted: a new session is created' },
    user_id: { ...id, description: 'The user (default: the session’s, else DEFAULT_USER_ID)' },
  },
  additionalProperties: false,
} as const;

const sessionBody = {
  type: 'object',
  properties: {
    session_id: id,
    user_id: id,
    metadata: { type: 'object', additionalProperties: true },
    ttl_seconds: { type: 'integer', minimum: 1, maximum: 315360000 },
  },
  additionalProperties: false,
} as const;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

export interface ApiContext {
  engine: TurnEngine;
  sessions: SessionPort;
  timers: TimerService;
  defaultUserId: string;
  historyTurns: number;
}

function sse(raw: ServerResponse, event: string, data: unknown): void {
  if (!raw.writableEnded) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Registers the routes; `closeStreams` ends the open event streams (at shutdown). */
export function registerApi(app: App, ctx: ApiContext): { closeStreams(): void } {
  const tags = ['coordinator'];
  const streams = new Set<ServerResponse>();

  app.post(
    '/v1/turns',
    {
      schema: {
        tags,
        summary: 'One text turn',
        description:
          'Answers with a built-in skill or the language model, with recalled long-term memories and the session context. ' +
          'A missing session_id creates a session. With "Accept: text/event-stream" the reply streams as Server-Sent ' +
          'Events: `sentence` {index, text} as each sentence completes, `token` {delta}, then `done` (the JSON answer) or `error`.',
        body: turnBody,
      },
    },
    async (req, reply) => {
      const body = req.body as { text: string; session_id?: string; user_id?: string };
      const turn = { ...body, channel: 'text' };
      if (!(req.headers.accept ?? '').includes('text/event-stream')) return ctx.engine.run(turn);
      // Overload is an HTTP answer (503 + Retry-After), not an event in a 200 stream.
      ctx.engine.admit();
      const abort = new AbortController();
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'x-request-id': String(req.id),
      });
      raw.on('close', () => {
        if (!raw.writableFinished) abort.abort();
      });
      try {
        const result: TurnResult = await ctx.engine.run(turn, {
          signal: abort.signal,
          onToken: (delta) => sse(raw, 'token', { delta }),
          onSentence: (text, index) => sse(raw, 'sentence', { index, text }),
        });
        sse(raw, 'done', result);
      } catch (err) {
        const e = err as { statusCode?: number; code?: string; message?: string };
        sse(raw, 'error', {
          status: e.statusCode ?? 500,
          error: {
            code: e.code ?? 'internal_error',
            message: e.statusCode ? e.message : 'Internal server error',
          },
        });
      }
      raw.end();
    },
  );

  app.post(
    '/v1/sessions',
    { schema: { tags, summary: 'Create a session', body: sessionBody } },
    async (req, reply) => {
      const b = (req.body ?? {}) as {
        session_id?: string;
        user_id?: string;
        metadata?: Record<string, unknown>;
        ttl_seconds?: number;
      };
      const session = await ctx.sessions.createSession({ ...b, user_id: b.user_id ?? ctx.defaultUserId });
      reply.code(201);
      return session;
    },
  );

  app.get(
    '/v1/sessions',
    {
      schema: {
        tags,
        summary: 'List sessions, newest first',
        querystring: {
          type: 'object',
          properties: {
            user_id: id,
            status: { type: 'string', enum: ['active', 'ended', 'expired', 'archived'] },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
            cursor: { type: 'string', maxLength: 1024 },
          },
          additionalProperties: false,
        },
      },
    },
    async (req) => ctx.sessions.listSessions(req.query as Parameters<SessionPort['listSessions']>[0]),
  );

  app.get(
    '/v1/sessions/:id',
    { schema: { tags, summary: 'A session with its recent turns', params: idParams } },
    async (req) => {
      const sid = (req.params as { id: string }).id;
      const session = await ctx.sessions.getSession(sid);
      if (!session) throw notFound(`Unknown session ${sid}`, { session_id: sid });
      const { interactions } = await ctx.sessions.listInteractions(sid, { limit: ctx.historyTurns * 2 });
      return { ...session, turns: interactions };
    },
  );

  app.post(
    '/v1/sessions/:id/end',
    {
      schema: {
        tags,
        summary: 'End a session (409 when it is not active)',
        params: idParams,
        body: {
          type: ['object', 'null'],
          properties: { summary: { type: 'string', minLength: 1, maxLength: 20000 } },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const sid = (req.params as { id: string }).id;
      const summary = (req.body as { summary?: string } | null | undefined)?.summary;
      return ctx.sessions.endSession(sid, summary ? { summary } : {});
    },
  );

  app.delete(
    '/v1/sessions/:id',
    { schema: { tags, summary: 'Delete a session and its turns', params: idParams } },
    async (req, reply) => {
      const sid = (req.params as { id: string }).id;
      if (!(await ctx.sessions.deleteSession(sid)))
        throw notFound(`Unknown session ${sid}`, { session_id: sid });
      reply.code(204);
    },
  );

  const userQuery = {
    type: 'object',
    properties: { user_id: id },
    additionalProperties: false,
  } as const;

  app.get(
    '/v1/timers',
    { schema: { tags, summary: "A user's pending timers and reminders", querystring: userQuery } },
    async (req) => {
      const userId = (req.query as { user_id?: string }).user_id ?? ctx.defaultUserId;
      return { timers: await ctx.timers.list(userId) };
    },
  );

  app.delete(
    '/v1/timers/:id',
    { schema: { tags, summary: 'Cancel a timer or reminder', params: idParams, querystring: userQuery } },
    async (req, reply) => {
      const userId = (req.query as { user_id?: string }).user_id ?? ctx.defaultUserId;
      const tid = (req.params as { id: string }).id;
      if (!(await ctx.timers.cancel(userId, tid))) throw notFound(`Unknown timer ${tid}`);
      reply.code(204);
    },
  );

  app.get(
    '/v1/events',
    {
      schema: {
        tags,
        summary: 'Live events (Server-Sent Events): `notice` when a timer or reminder fires',
        querystring: {
          type: 'object',
          properties: { session_id: id, user_id: id },
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      const q = req.query as { session_id?: string; user_id?: string };
      if (q.user_id !== undefined && !USER_ID_PATTERN.test(q.user_id)) throw notFound('Unknown user');
      reply.hijack();
      const raw = reply.raw;
      streams.add(raw);
      raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      raw.write(': connected\n\n');
      const listener = (n: { session_id: string; user_id: string }) => {
        if (q.session_id && n.session_id !== q.session_id) return;
        if (q.user_id && n.user_id !== q.user_id) return;
        sse(raw, 'notice', n);
      };
      ctx.engine.events.on('notice', listener);
      const ping = setInterval(() => raw.write(': ping\n\n'), 15000);
      ping.unref();
      raw.on('close', () => {
        clearInterval(ping);
        streams.delete(raw);
        ctx.engine.events.off('notice', listener);
      });
    },
  );

  return {
    closeStreams() {
      for (const raw of streams) raw.end();
      streams.clear();
    },
  };
}
