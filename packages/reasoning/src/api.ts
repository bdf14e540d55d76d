// The reasoning agent's HTTP API under /v1: session summaries, contradictions, error patterns, the user profile and
// context assembly. Thin: validation by schema, data from the memory core and session memory, logic in the pure
// modules.
import { Type } from '@sinclair/typebox';
import { badRequest, notFound, type App } from '@synthians/kit';
import type { SessionStore } from '@synthians/session-memory';
import { Histogram } from 'prom-client';
import { assembleContext } from './context.ts';
import { findContradictions, type MemoryText } from './contradictions.ts';
import type { CoreMemory, MemoryCoreClient } from './core-client.ts';
import { MAX_PATTERN_CHARS, type ErrorPatternStore } from './error-patterns.ts';
import { extractFacts, FACT_KEY_PATTERN, profileView } from './profile.ts';
import type { ProfileStore } from './profile-store.ts';
import { summarise } from './summary.ts';

export interface ApiContext {
  core: MemoryCoreClient;
  sessions: SessionStore;
  patterns: ErrorPatternStore;
  profiles: ProfileStore;
  maxScanMemories: number;
  contextMemories: number;
  contextTurns: number;
}

const ID = '^[A-Za-z0-9_.:@-]{1,128}$';
const UserId = Type.String({
  pattern: ID,
  description: 'A user id (letters, digits, _ . : @ -; at most 128)',
});
const MemoryId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:\\-]+$' });
const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Any()) }),
});
const errors = { 400: ErrorBody, 404: ErrorBody, 503: ErrorBody };

const Fact = Type.Object(
  {
    id: Type.String(),
    key: Type.String(),
    value: Type.String(),
    memory_ids: Type.Array(Type.String()),
    source: Type.String({ description: '"memory" (extracted) or "user" (edited by hand)' }),
    note: Type.String({ description: 'Provenance note' }),
    confidence: Type.Number(),
    extracted_at: Type.Union([Type.String(), Type.Null()]),
    updated_at: Type.String(),
    observed_at: Type.Union([Type.String(), Type.Null()]),
    history: Type.Array(Type.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: true },
);
const Profile = Type.Object({
  user_id: Type.String(),
  facts: Type.Array(Fact),
  created_at: Type.String(),
  updated_at: Type.String(),
});
const Pattern = Type.Object({
  id: Type.String(),
  pattern: Type.String(),
  flags: Type.String(),
  solution: Type.String(),
  tags: Type.Array(Type.String()),
  occurrences: Type.Integer(),
  last_seen: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
});

export const asText = (m: CoreMemory): MemoryText => ({
  id: m.id,
  content: m.content,
  created_at: m.created_at,
  event_time: m.event_time,
});

/** A latency histogram per operation, on the app's registry. */
export function operationHistogram(app: App): Histogram<'operation'> {
  return new Histogram({
    name: 'memory_reasoning_operation_duration_seconds',
    help: 'Duration of each reasoning operation (summary, contradictions, profile_extract, context, error_lookup)',
    labelNames: ['operation'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [app.metricsRegistry],
  });
}

export function registerApi(app: App, ctx: ApiContext): void {
  const histogram = operationHistogram(app);
  const timed = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    const end = histogram.startTimer({ operation });
    try {
      return await fn();
    } finally {
      end();
    }
  };

  // ---- Session summaries -------------------------------------------------------------------------------------
  app.post(
    '/v1/sessions/:id/summary',
    {
      schema: {
        tags: ['summaries'],
        summary: "Extractive summary of a session's turns, citing memory ids and interaction ids",
        params: Type.Object({ id: Type.String({ pattern: ID }) }),
        body: Type.Optional(
          Type.Object(
            { max_chars: Type.Integer({ minimum: 20, maximum: 20000, default: 600 }) },
            { additionalProperties: false },
          ),
        ),
        response: {
          200: Type.Object({
            session_id: Type.String(),
            summary: Type.String(),
            sentences: Type.Array(
              Type.Object({
                text: Type.String(),
                memory_ids: Type.Array(Type.String()),
                interaction_ids: Type.Array(Type.String()),
                score: Type.Number(),
              }),
            ),
            cited_memory_ids: Type.Array(Type.String()),
            max_chars: Type.Integer(),
            turns: Type.Integer(),
            memories: Type.Integer(),
          }),
          ...errors,
        },
      },
    },
    (req) =>
      timed('summary', async () => {
        const { id } = req.params as { id: string };
        const maxChars = (req.body as { max_chars?: number } | undefined)?.max_chars ?? 600;
        const session = await ctx.sessions.getSession(id);
        const [turns, memories] = await Promise.all([
          session ? allTurns(ctx.sessions, id) : Promise.resolve([]),
          ctx.core.list({ session_id: id }, ctx.maxScanMemories),
        ]);
        if (!session && memories.length === 0) throw notFound(`Unknown session ${id}`, { session_id: id });
        const result = summarise(
          {
            turns: turns.map((t) => ({ id: `${id}:${t.seq}`, role: t.role, content: t.content })),
            memories: memories.map((m) => ({ id: m.id, content: m.content })),
          },
          maxChars,
        );
        return {
          session_id: id,
          ...result,
          max_chars: maxChars,
          turns: turns.length,
          memories: memories.length,
        };
      }),
  );

  // ---- Contradictions ----------------------------------------------------------------------------------------
  const Side = Type.Object({
    id: Type.String(),
    content: Type.String(),
    at: Type.Union([Type.String(), Type.Null()]),
  });
  app.post(
    '/v1/contradictions',
    {
      schema: {
        tags: ['contradictions'],
        summary: "Pairs of memories that contradict each other (a user's memories, or the given ones)",
        description:
          'Reasons: conflicting_value (one-valued relation, two values), negation, changed_number, changed_date. `a` is the older memory, `b` the newer (taken to win). Without user_id and memory_ids, scans all memories (newest MAX_SCAN_MEMORIES).',
        body: Type.Object(
          {
            user_id: Type.Optional(UserId),
            memory_ids: Type.Optional(
              Type.Array(MemoryId, { minItems: 2, maxItems: 1000, uniqueItems: true }),
            ),
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            pairs: Type.Array(
              Type.Object({
                a: Side,
                b: Side,
                newer_id: Type.String(),
                subject: Type.String(),
                reason: Type.String(),
                confidence: Type.Number(),
                explanation: Type.String(),
              }),
            ),
            scanned: Type.Integer(),
          }),
          ...errors,
        },
      },
    },
    (req) =>
      timed('contradictions', async () => {
        const b = req.body as { user_id?: string; memory_ids?: string[]; limit: number };
        let memories: CoreMemory[];
        if (b.memory_ids) {
          memories = await fetchAll(ctx.core, b.memory_ids);
          if (b.user_id !== undefined) memories = memories.filter((m) => m.user_id === b.user_id);
        } else {
          memories = await ctx.core.list(
            b.user_id === undefined ? {} : { user_id: b.user_id },
            ctx.maxScanMemories,
          );
        }
        return {
          pairs: findContradictions(memories.map(asText), { limit: b.limit }),
          scanned: memories.length,
        };
      }),
  );

  // ---- Error patterns ----------------------------------------------------------------------------------------
  const ptags = ['error-patterns'];
  app.post(
    '/v1/error-patterns',
    {
      schema: {
        tags: ptags,
        summary: 'Remember an error pattern (a regular expression) and its solution',
        description: `The pattern must compile, be at most ${MAX_PATTERN_CHARS} characters and have no catastrophic-backtracking shape (nested quantifiers, overlapping quantified alternatives, back-references): else 400 invalid_pattern.`,
        body: Type.Object(
          {
            pattern: Type.String({ minLength: 1, maxLength: 2000 }),
            flags: Type.Optional(
              Type.String({ pattern: '^[imsu]{0,4}$', description: 'RegExp flags; default "i"' }),
            ),
            solution: Type.String({ minLength: 1, maxLength: 10000 }),
            tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Pattern, ...errors, 409: ErrorBody },
      },
    },
    async (req, reply) => {
      const created = await ctx.patterns.create(
        req.body as { pattern: string; flags?: string; solution: string; tags?: string[] },
      );
      reply.code(201);
      return created;
    },
  );
  app.get(
    '/v1/error-patterns',
    {
      schema: {
        tags: ptags,
        summary: 'Every stored error pattern, oldest first',
        response: { 200: Type.Object({ patterns: Type.Array(Pattern) }) },
      },
    },
    async () => ({ patterns: await ctx.patterns.list() }),
  );
  app.get(
    '/v1/error-patterns/:id',
    {
      schema: {
        tags: ptags,
        summary: 'One error pattern',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }),
        response: { 200: Pattern, ...errors },
      },
    },
    async (req) => ctx.patterns.get((req.params as { id: string }).id),
  );
  app.delete(
    '/v1/error-patterns/:id',
    {
      schema: {
        tags: ptags,
        summary: 'Forget an error pattern',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }),
      },
    },
    async (req, reply) => {
      await ctx.patterns.delete((req.params as { id: string }).id);
      reply.code(204);
    },
  );
  app.post(
    '/v1/error-patterns/lookup',
    {
      schema: {
        tags: ptags,
        summary: 'The patterns matching an error message (each match counted durably)',
        body: Type.Object(
          { message: Type.String({ minLength: 1, maxLength: 100_000 }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            matches: Type.Array(
              Type.Object({
                id: Type.String(),
                pattern: Type.String(),
                solution: Type.String(),
                tags: Type.Array(Type.String()),
                occurrences: Type.Integer(),
                last_seen: Type.Union([Type.String(), Type.Null()]),
              }),
            ),
          }),
          ...errors,
        },
      },
    },
    (req) =>
      timed('error_lookup', async () => ({
        matches: await ctx.patterns.lookup((req.body as { message: string }).message),
      })),
  );

  // ---- Profile -----------------------------------------------------------------------------------------------
  const ftags = ['profile'];
  const UserParams = Type.Object({ user_id: UserId });
  const FactParams = Type.Object({ user_id: UserId, key: Type.String({ pattern: FACT_KEY_PATTERN }) });
  app.post(
    '/v1/profile/:user_id/extract',
    {
      schema: {
        tags: ftags,
        summary: "Scan the user's memories and update their profile facts",
        params: UserParams,
        response: {
          200: Type.Object({
            user_id: Type.String(),
            scanned: Type.Integer(),
            added: Type.Array(Type.String()),
            updated: Type.Array(Type.String()),
            unchanged: Type.Array(Type.String()),
            facts: Type.Array(Fact),
            created_at: Type.String(),
            updated_at: Type.String(),
          }),
          ...errors,
        },
      },
    },
    (req) =>
      timed('profile_extract', async () => {
        const { user_id } = req.params as { user_id: string };
        const memories = await ctx.core.list({ user_id }, ctx.maxScanMemories);
        const { profile, added, updated, unchanged } = await ctx.profiles.merge(
          user_id,
          extractFacts(memories.map(asText)),
        );
        return { ...profileView(profile), scanned: memories.length, added, updated, unchanged };
      }),
  );
  app.get(
    '/v1/profile/:user_id',
    {
      schema: {
        tags: ftags,
        summary: "The user's profile facts with provenance and history",
        params: UserParams,
        response: { 200: Profile, ...errors },
      },
    },
    async (req) => {
      const { user_id } = req.params as { user_id: string };
      const profile = await ctx.profiles.get(user_id);
      if (!profile) throw notFound(`No profile for user ${user_id}`, { user_id });
      return profileView(profile);
    },
  );
  app.put(
    '/v1/profile/:user_id/facts/:key',
    {
      schema: {
        tags: ftags,
        summary: 'Set a fact by hand (provenance "user"; the previous value goes to the history)',
        params: FactParams,
        body: Type.Object(
          { value: Type.String({ minLength: 1, maxLength: 1000 }) },
          { additionalProperties: false },
        ),
        response: { 200: Fact, ...errors },
      },
    },
    async (req) => {
      const { user_id, key } = req.params as { user_id: string; key: string };
      const value = (req.body as { value: string }).value.trim();
      if (value === '') throw badRequest('invalid_value', 'value must not be blank');
      return ctx.profiles.set(user_id, key, value);
    },
  );
  app.delete(
    '/v1/profile/:user_id/facts/:key',
    {
      schema: {
        tags: ftags,
        summary: 'Delete a fact (it comes back only from a memory newer than the deletion)',
        params: FactParams,
      },
    },
    async (req, reply) => {
      const { user_id, key } = req.params as { user_id: string; key: string };
      await ctx.profiles.delete(user_id, key);
      reply.code(204);
    },
  );

  // ---- Context -----------------------------------------------------------------------------------------------
  app.post(
    '/v1/context',
    {
      schema: {
        tags: ['context'],
        summary: 'Recent turns, recalled memories and profile facts within a token budget',
        description:
          'Tokens per part: ceil(code points / 4) + 4 (session memory’s estimate); section headings are charged too, so tokens_used ≤ max_tokens bounds the whole context.',
        body: Type.Object(
          {
            query: Type.String({ minLength: 1, maxLength: 20_000 }),
            user_id: Type.Optional(UserId),
            session_id: Type.Optional(Type.String({ pattern: ID })),
            max_tokens: Type.Integer({ minimum: 16, maximum: 1_000_000 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            context: Type.String(),
            parts: Type.Array(
              Type.Object({
                kind: Type.String(),
                text: Type.String(),
                id: Type.String(),
                tokens: Type.Integer(),
              }),
            ),
            tokens_used: Type.Integer(),
            max_tokens: Type.Integer(),
            dropped: Type.Object({ turn: Type.Integer(), memory: Type.Integer(), fact: Type.Integer() }),
          }),
          ...errors,
        },
      },
    },
    (req) =>
      timed('context', async () => {
        const b = req.body as { query: string; user_id?: string; session_id?: string; max_tokens: number };
        let turns: { id: string; role: string; content: string }[] = [];
        let userId = b.user_id;
        if (b.session_id !== undefined) {
          const session = await ctx.sessions.getSession(b.session_id);
          if (!session) throw notFound(`Unknown session ${b.session_id}`, { session_id: b.session_id });
          userId ??= session.user_id ?? undefined;
          if (ctx.contextTurns > 0) {
            const page = await ctx.sessions.listInteractions(b.session_id, { limit: ctx.contextTurns });
            turns = page.interactions
              .filter((i) => i.role !== 'system')
              .reverse()
              .map((i) => ({ id: `${b.session_id}:${i.seq}`, role: i.role, content: i.content }));
          }
        }
        const [memories, profile] = await Promise.all([
          ctx.contextMemories > 0
            ? ctx.core.search(b.query, {
                top_k: ctx.contextMemories,
                ...(userId === undefined ? {} : { user_id: userId }),
              })
            : Promise.resolve([]),
          userId === undefined ? Promise.resolve(undefined) : ctx.profiles.get(userId),
        ]);
        return assembleContext({
          query: b.query,
          maxTokens: b.max_tokens,
          turns,
          memories: memories.map((m) => ({ id: m.id, content: m.content, at: m.event_time ?? m.created_at })),
          facts: profile ? Object.values(profile.facts) : [],
        });
      }),
  );
}

/** Every turn of a session, oldest first (paged backwards through the store). */
async function allTurns(sessions: SessionStore, sessionId: string) {
  const out = [];
  let before: number | undefined;
  for (let pages = 0; pages < 20; pages++) {
    const page = await sessions.listInteractions(sessionId, { limit: 1000, ...(before ? { before } : {}) });
    out.unshift(...page.interactions);
    if (page.next_before === null) break;
    before = page.next_before;
  }
  return out;
}

/** The given memories (404 naming the unknown ones), eight requests at a time. */
async function fetchAll(core: MemoryCoreClient, ids: string[]): Promise<CoreMemory[]> {
  const out: (CoreMemory | undefined)[] = new Array(ids.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(8, ids.length) }, async () => {
      while (next < ids.length) {
        const i = next++;
        out[i] = await core.get(ids[i]!);
      }
    }),
  );
  const missing = ids.filter((_, i) => out[i] === undefined);
  if (missing.length > 0) throw notFound(`Unknown memories: ${missing.join(', ')}`, { missing });
  return out as CoreMemory[];
}
