// The HTTP API of the two services: thin handlers over SessionStore (which validates again and owns the rules).
// Sessions and interactions are on both services; memories on the memory orchestrator; agent state and profiles on
// the session memory agent.
import { Type } from '@sinclair/typebox';
import { notFound, type App } from '@synthians/kit';
import type { Metadata, Role, SessionStatus, SessionStore, UpdateMemoryInput } from './store.ts';

const Id = Type.String({ minLength: 1, maxLength: 128, description: 'A session or memory id' });
const IdParams = Type.Object({ id: Id });
const Tags = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 });
const Meta = Type.Object({}, { additionalProperties: true, description: 'Any JSON object' });
const Limit = Type.Integer({ minimum: 1, maximum: 1000 });
const Ttl = Type.Integer({ minimum: 1, maximum: 315360000 });
const UserId = Type.String({ minLength: 1, maxLength: 128 });
const Status = Type.Union(['active', 'ended', 'expired', 'archived'].map((s) => Type.Literal(s)));
const Role_ = Type.Union(['user', 'assistant', 'system', 'tool'].map((s) => Type.Literal(s)));

export interface ApiOptions {
  store: SessionStore;
  /** MAX_CONTENT_BYTES (the schema's maxLength in characters; the store checks the bytes). */
  maxContent: number;
}

export function registerSessionRoutes(app: App, { store, maxContent }: ApiOptions): void {
  const tags = ['sessions'];
  const Content = Type.String({ minLength: 1, maxLength: maxContent });

  app.post(
    '/v1/sessions',
    {
      schema: {
        tags,
        summary: 'Create a session',
        body: Type.Object(
          {
            session_id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.:@-]{1,128}$' })),
            user_id: Type.Optional(UserId),
            metadata: Type.Optional(Meta),
            ttl_seconds: Type.Optional(Ttl),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      reply.code(201);
      return store.createSession(req.body as Parameters<SessionStore['createSession']>[0]);
    },
  );

  app.get(
    '/v1/sessions',
    {
      schema: {
        tags,
        summary: 'List sessions, newest first',
        querystring: Type.Object(
          {
            user_id: Type.Optional(UserId),
            status: Type.Optional(Status),
            limit: Type.Optional(Limit),
            cursor: Type.Optional(Type.String({ maxLength: 1024 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const q = req.query as { user_id?: string; status?: SessionStatus; limit?: number; cursor?: string };
      return store.listSessions(q);
    },
  );

  app.get('/v1/sessions/:id', { schema: { tags, summary: 'A session', params: IdParams } }, async (req) => {
    const { id } = req.params as { id: string };
    const session = await store.getSession(id);
    if (!session) throw notFound(`Unknown session ${id}`, { session_id: id });
    return session;
  });

  app.delete(
    '/v1/sessions/:id',
    { schema: { tags, summary: 'Delete a session with its interactions and memories', params: IdParams } },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      if (!(await store.deleteSession(id))) throw notFound(`Unknown session ${id}`, { session_id: id });
      reply.code(204);
    },
  );

  app.post(
    '/v1/sessions/:id/end',
    {
      schema: {
        tags,
        summary: 'End an active session, with a summary (given, or extractive with summarize: true)',
        params: IdParams,
        body: Type.Optional(
          Type.Object(
            {
              summary: Type.Optional(Content),
              summarize: Type.Optional(Type.Boolean()),
              max_chars: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536 })),
            },
            { additionalProperties: false },
          ),
        ),
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      return store.endSession(
        id,
        (req.body ?? {}) as { summary?: string; summarize?: boolean; max_chars?: number },
      );
    },
  );

  app.post(
    '/v1/sessions/:id/archive',
    { schema: { tags, summary: 'Archive a session (any state)', params: IdParams } },
    async (req) => store.archiveSession((req.params as { id: string }).id),
  );

  app.post(
    '/v1/sessions/:id/touch',
    { schema: { tags, summary: 'Restart the idle expiry of an active session', params: IdParams } },
    async (req) => store.touchSession((req.params as { id: string }).id),
  );

  app.post(
    '/v1/sessions/:id/summarize',
    {
      schema: {
        tags,
        summary: 'Extractive summary of the session (store: true saves it on the session)',
        params: IdParams,
        body: Type.Optional(
          Type.Object(
            {
              max_chars: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536 })),
              store: Type.Optional(Type.Boolean()),
            },
            { additionalProperties: false },
          ),
        ),
      },
    },
    async (req) =>
      store.summarize(
        (req.params as { id: string }).id,
        (req.body ?? {}) as { max_chars?: number; store?: boolean },
      ),
  );

  app.post(
    '/v1/sessions/:id/interactions',
    {
      schema: {
        tags,
        summary: 'Add an interaction to an active session (409 when ended, expired or archived)',
        params: IdParams,
        body: Type.Object(
          { role: Role_, content: Content, metadata: Type.Optional(Meta), tags: Type.Optional(Tags) },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const body = req.body as { role: Role; content: string; metadata?: Metadata; tags?: string[] };
      const interaction = await store.addInteraction((req.params as { id: string }).id, body);
      reply.code(201);
      return interaction;
    },
  );

  app.get(
    '/v1/sessions/:id/interactions',
    {
      schema: {
        tags,
        summary: 'Interactions, a page at a time (oldest first within the page; next_before pages back)',
        params: IdParams,
        querystring: Type.Object(
          { limit: Type.Optional(Limit), before: Type.Optional(Type.Integer({ minimum: 1 })) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) =>
      store.listInteractions(
        (req.params as { id: string }).id,
        req.query as { limit?: number; before?: number },
      ),
  );

  app.get(
    '/v1/sessions/:id/context',
    {
      schema: {
        tags,
        summary: 'The most recent interactions within a token budget, oldest first',
        description:
          'Token estimate per interaction: ceil(code points / 4) + 4. Stops at the first interaction that does not fit; truncated: true when older ones were left out.',
        params: IdParams,
        querystring: Type.Object(
          { max_tokens: Type.Integer({ minimum: 1, maximum: 1_000_000 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) =>
      store.getContext((req.params as { id: string }).id, {
        max_tokens: (req.query as { max_tokens: number }).max_tokens,
      }),
  );
}

export function registerMemoryRoutes(app: App, { store, maxContent }: ApiOptions): void {
  const tags = ['memories'];
  const Content = Type.String({ minLength: 1, maxLength: maxContent });
  const NullableTtl = Type.Union([Ttl, Type.Null()]);

  app.post(
    '/v1/memories',
    {
      schema: {
        tags,
        summary: 'Create a short-term memory',
        body: Type.Object(
          {
            content: Content,
            session_id: Type.Optional(Id),
            user_id: Type.Optional(UserId),
            type: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            metadata: Type.Optional(Meta),
            tags: Type.Optional(Tags),
            ttl_seconds: Type.Optional(NullableTtl),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const memory = await store.createMemory(req.body as Parameters<SessionStore['createMemory']>[0]);
      reply.code(201);
      return memory;
    },
  );

  app.get(
    '/v1/memories/search',
    {
      schema: {
        tags,
        summary: 'Full-text search (websearch syntax: words, "phrases", OR, -word), best first',
        querystring: Type.Object(
          {
            q: Type.String({ minLength: 1, maxLength: 1000 }),
            user_id: Type.Optional(UserId),
            session_id: Type.Optional(Id),
            type: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            tags: Type.Optional(
              Type.String({ maxLength: 2200, description: 'Comma-separated; all must match' }),
            ),
            limit: Type.Optional(Limit),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const q = req.query as {
        q: string;
        user_id?: string;
        session_id?: string;
        type?: string;
        tags?: string;
        limit?: number;
      };
      const tagList = q.tags
        ?.split(',')
        .map((t) => t.trim())
        .filter((t) => t !== '');
      const results = await store.searchMemories({
        query: q.q,
        user_id: q.user_id,
        session_id: q.session_id,
        type: q.type,
        tags: tagList,
        limit: q.limit,
      });
      return { query: q.q, results };
    },
  );

  app.post(
    '/v1/memories/batch-get',
    {
      schema: {
        tags,
        summary: 'Read many memories at once (unknown or expired ids listed in missing)',
        body: Type.Object(
          { ids: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 1000 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { ids } = req.body as { ids: string[] };
      const memories = await store.getMemories(ids);
      const found = new Set(memories.map((m) => m.id));
      return { memories, missing: [...new Set(ids)].filter((id) => !found.has(id)) };
    },
  );

  app.post(
    '/v1/memories/bulk-delete',
    {
      schema: {
        tags,
        summary: 'Delete the memories matching every given criterion (an empty filter is refused)',
        body: Type.Object(
          {
            user_id: Type.Optional(UserId),
            session_id: Type.Optional(Id),
            tags: Type.Optional(Tags),
            type: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            older_than: Type.Optional(Type.String({ format: 'date-time' })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => ({
      deleted: await store.bulkDelete(req.body as Parameters<SessionStore['bulkDelete']>[0]),
    }),
  );

  app.get('/v1/memories/:id', { schema: { tags, summary: 'A memory', params: IdParams } }, async (req) => {
    const { id } = req.params as { id: string };
    const memory = await store.getMemory(id);
    if (!memory) throw notFound(`Unknown memory ${id}`, { id });
    return memory;
  });

  app.patch(
    '/v1/memories/:id',
    {
      schema: {
        tags,
        summary: 'Update a memory (metadata and tags are replaced; ttl_seconds counts from now, null: never)',
        params: IdParams,
        body: Type.Object(
          {
            content: Type.Optional(Content),
            user_id: Type.Optional(Type.Union([UserId, Type.Null()])),
            type: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            metadata: Type.Optional(Meta),
            tags: Type.Optional(Tags),
            ttl_seconds: Type.Optional(NullableTtl),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => store.updateMemory((req.params as { id: string }).id, req.body as UpdateMemoryInput),
  );

  app.delete(
    '/v1/memories/:id',
    { schema: { tags, summary: 'Delete a memory', params: IdParams } },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      if (!(await store.deleteMemory(id))) throw notFound(`Unknown memory ${id}`, { id });
      reply.code(204);
    },
  );

  app.post(
    '/v1/memories/:id/relationships',
    {
      schema: {
        tags,
        summary: 'Relate this memory to another (upsert)',
        params: IdParams,
        body: Type.Object(
          {
            target_id: Id,
            type: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            strength: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const body = req.body as { target_id: string; type?: string; strength?: number };
      const rel = await store.relate(
        (req.params as { id: string }).id,
        body.target_id,
        body.type,
        body.strength,
      );
      reply.code(201);
      return rel;
    },
  );

  app.get(
    '/v1/memories/:id/related',
    {
      schema: {
        tags,
        summary: 'Memories related to this one, either direction, strongest first',
        params: IdParams,
        querystring: Type.Object({ limit: Type.Optional(Limit) }, { additionalProperties: false }),
      },
    },
    async (req) => ({
      related: await store.related((req.params as { id: string }).id, req.query as { limit?: number }),
    }),
  );

  app.post(
    '/v1/expire',
    { schema: { tags: ['maintenance'], summary: 'Run the expiry sweep now' } },
    async () => store.sweep(),
  );
}

export function registerAgentRoutes(app: App, { store }: ApiOptions): void {
  const tags = ['agent-state'];
  const Params = Type.Object({
    agent: Type.String({ minLength: 1, maxLength: 128 }),
    key: Type.String({ minLength: 1, maxLength: 512 }),
  });
  app.get(
    '/v1/agents/:agent/state',
    {
      schema: {
        tags,
        summary: "An agent's live state entries, by key",
        params: Type.Object({ agent: Type.String({ minLength: 1, maxLength: 128 }) }),
        querystring: Type.Object(
          { prefix: Type.Optional(Type.String({ maxLength: 512 })), limit: Type.Optional(Limit) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => ({
      entries: await store.listAgentState(
        (req.params as { agent: string }).agent,
        req.query as { prefix?: string; limit?: number },
      ),
    }),
  );
  app.get('/v1/agents/:agent/state/:key', { schema: { tags, params: Params } }, async (req) => {
    const { agent, key } = req.params as { agent: string; key: string };
    const entry = await store.getAgentState(agent, key);
    if (!entry) throw notFound(`No state ${key} for agent ${agent}`);
    return entry;
  });
  app.put(
    '/v1/agents/:agent/state/:key',
    {
      schema: {
        tags,
        params: Params,
        body: Type.Object(
          { value: Type.Unknown(), expires_at: Type.Optional(Type.String({ format: 'date-time' })) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { agent, key } = req.params as { agent: string; key: string };
      const body = req.body as { value: never; expires_at?: string };
      return store.setAgentState(agent, key, body.value, { expires_at: body.expires_at });
    },
  );
  app.delete('/v1/agents/:agent/state/:key', { schema: { tags, params: Params } }, async (req, reply) => {
    const { agent, key } = req.params as { agent: string; key: string };
    if (!(await store.deleteAgentState(agent, key))) throw notFound(`No state ${key} for agent ${agent}`);
    reply.code(204);
  });

  const ProfileParams = Type.Object({ user_id: UserId });
  app.get('/v1/profiles/:user_id', { schema: { tags: ['profiles'], params: ProfileParams } }, async (req) => {
    const { user_id } = req.params as { user_id: string };
    const profile = await store.getProfile(user_id);
    if (!profile) throw notFound(`No profile for user ${user_id}`);
    return profile;
  });
  app.patch(
    '/v1/profiles/:user_id',
    {
      schema: {
        tags: ['profiles'],
        summary: 'Merge into the profile (created when missing); null removes a key',
        params: ProfileParams,
        body: Meta,
      },
    },
    async (req) => store.upsertProfile((req.params as { user_id: string }).user_id, req.body as Metadata),
  );
}
