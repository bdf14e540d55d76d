// The v1 API: clean REST over memories, search, export/import, the change feed and assemblies.
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import {
  AppError,
  badRequest,
  notFound,
  parseJsonOrThrow,
  rejectMalformedText,
  type App,
} from '@synthians/kit';
import type { MemoryCore, MemoryPatch, SearchMode, WireMemory } from '../memory-core.ts';
import { parseEmbedding, readEmbedding, vectorFromBase64 } from '../embeddings.ts';
import { compileFilter } from '../filter.ts';
import {
  assemblyView,
  hitView,
  memoryView,
  parseTime,
  parseUserEmotion,
  toNewMemory,
  type MemoryInputBody,
} from './views.ts';

const Id = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:\\-]+$' });
const Metadata = Type.Object({}, { additionalProperties: true });
const Tags = Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 64 });
const Time = Type.Union([Type.String({ maxLength: 64 }), Type.Number()]);
const Embedding = Type.Array(Type.Any(), { description: 'EMBEDDING_DIM finite numbers' });
// No maxLength: the body limit bounds it, and ajv's length check walks the whole string.
const EmbeddingB64 = Type.String({
  description: 'the embedding as base64 of little-endian float32 values (compact alternative to `embedding`)',
});

export const MemoryInput = Type.Object(
  {
    id: Type.Optional(Id),
    content: Type.Optional(Type.String({ maxLength: 200_000 })),
    embedding: Type.Optional(Embedding),
    embedding_b64: Type.Optional(EmbeddingB64),
    metadata: Type.Optional(Metadata),
    tags: Type.Optional(Tags),
    user_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    session_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    event_time: Type.Optional(Time),
    importance: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  },
  { additionalProperties: false },
);

const ListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
    order: Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'desc' }),
    user_id: Type.Optional(Type.String()),
    session_id: Type.Optional(Type.String()),
    tag: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
    since: Type.Optional(Type.String()),
    until: Type.Optional(Type.String()),
    filter: Type.Optional(Type.String({ description: 'A JSON filter (see the README)' })),
    include_embedding: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

const SearchBody = Type.Object(
  {
    query: Type.Optional(Type.String({ maxLength: 20_000 })),
    embedding: Type.Optional(Embedding),
    embedding_b64: Type.Optional(EmbeddingB64),
    mode: Type.Union([Type.Literal('vector'), Type.Literal('lexical'), Type.Literal('hybrid')], {
      default: 'hybrid',
    }),
    top_k: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
    threshold: Type.Optional(Type.Number({ minimum: -1, maximum: 1 })),
    filter: Type.Optional(Type.Object({}, { additionalProperties: true })),
    user_id: Type.Optional(Type.String()),
    session_id: Type.Optional(Type.String()),
    tags: Type.Optional(Tags),
    since: Type.Optional(Time),
    until: Type.Optional(Time),
    user_emotion: Type.Optional(Type.Any()),
    explain: Type.Boolean({ default: false }),
    rank_by: Type.Union([Type.Literal('relevance'), Type.Literal('similarity')], {
      default: 'relevance',
      description:
        'relevance (similarity fused with QuickRecal, recency, assemblies, emotion) or raw similarity',
    }),
    include_embedding: Type.Boolean({ default: false }),
    track_access: Type.Boolean({ default: true }),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });

export function registerV1(app: App, core: MemoryCore): void {
  const dim = core.options.dim;

  app.post(
    '/v1/memories',
    { schema: { tags: ['memories'], summary: 'Store one memory', body: MemoryInput } },
    async (req, reply) => {
      const [record] = await core.create([toNewMemory(req.body as MemoryInputBody, dim)]);
      reply.code(201);
      return memoryView(core, record!);
    },
  );

  app.post(
    '/v1/memories/batch',
    {
      schema: {
        tags: ['memories'],
        summary: 'Store up to 1000 memories atomically',
        body: Type.Object(
          { memories: Type.Array(MemoryInput, { minItems: 1, maxItems: 1000 }) },
          { additionalProperties: false },
        ),
        querystring: Type.Object({
          include_embedding: Type.Boolean({
            default: false,
            description: 'Return each stored embedding (the orchestrator learns from them)',
          }),
          skip_existing: Type.Boolean({
            default: false,
            description:
              'Memories whose id is already stored are left as they are and listed with existing: true (a retried batch), instead of 409 duplicate_id',
          }),
        }),
      },
    },
    async (req, reply) => {
      const body = req.body as { memories: MemoryInputBody[] };
      const q = req.query as { include_embedding: boolean; skip_existing: boolean };
      const inputs = body.memories.map((m, i) => toNewMemory(m, dim, `memories[${i}]`));
      const ids = new Set<string>();
      for (const m of inputs) {
        if (m.id === undefined) continue;
        if (ids.has(m.id)) throw badRequest('duplicate_id', `id ${m.id} appears twice in the batch`);
        ids.add(m.id);
      }
      const existing = inputs.map(
        (m) => q.skip_existing && m.id !== undefined && core.store.keyOf(m.id) !== undefined,
      );
      const fresh = inputs.filter((_, i) => !existing[i]);
      const records = fresh.length ? await core.create(fresh) : [];
      let next = 0;
      reply.code(201);
      return {
        count: records.length,
        // In the order given; an existing memory is named, not stored again.
        items: inputs.map((m, i) => {
          if (existing[i]) return { id: m.id, existing: true };
          const r = records[next++]!;
          return {
            id: r.id,
            quickrecal_score: r.quickrecal,
            created_at: new Date(r.createdAt).toISOString(),
            ...(q.include_embedding ? { embedding: Array.from(r.embedding) } : {}),
          };
        }),
      };
    },
  );

  app.get(
    '/v1/memories/:id',
    {
      schema: {
        tags: ['memories'],
        summary: 'Get a memory with its surprise history',
        params: IdParams,
        querystring: Type.Object({ include_embedding: Type.Boolean({ default: false }) }),
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const q = req.query as { include_embedding: boolean };
      return memoryView(core, core.get(id), { surprises: true, embedding: q.include_embedding });
    },
  );

  app.get(
    '/v1/memories',
    {
      schema: {
        tags: ['memories'],
        summary: 'List memories (cursor pagination, filters)',
        querystring: ListQuery,
      },
    },
    async (req) => {
      const q = req.query as Record<string, unknown> & {
        limit: number;
        order: 'asc' | 'desc';
        include_embedding: boolean;
      };
      const page = core.list({
        filter: listFilter(q),
        cursor: q.cursor as string | undefined,
        limit: q.limit,
        order: q.order,
      });
      return {
        items: page.items.map((r) => memoryView(core, r, { embedding: q.include_embedding })),
        next_cursor: page.nextCursor,
      };
    },
  );

  app.patch(
    '/v1/memories/:id',
    {
      schema: {
        tags: ['memories'],
        summary: 'Update content (re-embeds), metadata, tags, event time or importance',
        params: IdParams,
        body: Type.Object(
          {
            content: Type.Optional(Type.String({ minLength: 1, maxLength: 200_000 })),
            embedding: Type.Optional(Embedding),
            embedding_b64: Type.Optional(EmbeddingB64),
            metadata: Type.Optional(Metadata),
            merge_metadata: Type.Boolean({ default: false }),
            tags: Type.Optional(Tags),
            event_time: Type.Optional(Type.Union([Time, Type.Null()])),
            importance: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()])),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const b = req.body as Record<string, unknown>;
      // minProperties alone cannot catch {}: Ajv fills in merge_metadata's default first.
      if (Object.keys(b).every((k) => k === 'merge_metadata')) {
        throw badRequest('validation_error', 'Give at least one field to update');
      }
      const patch: MemoryPatch = {
        content: b.content as string | undefined,
        embedding: readEmbedding(b, dim, 'body'),
        metadata: b.metadata as Record<string, unknown> | undefined,
        mergeMetadata: b.merge_metadata as boolean,
        tags: b.tags as string[] | undefined,
        eventTime: b.event_time === undefined ? undefined : parseTime(b.event_time, 'event_time'),
        importance: b.importance as number | null | undefined,
      };
      return memoryView(core, await core.update(id, patch), { surprises: true });
    },
  );

  app.delete(
    '/v1/memories/:id',
    { schema: { tags: ['memories'], summary: 'Delete a memory everywhere', params: IdParams } },
    async (req, reply) => {
      await core.delete((req.params as { id: string }).id);
      reply.code(204);
    },
  );

  app.post(
    '/v1/memories/:id/boost',
    {
      schema: {
        tags: ['memories'],
        summary: 'Add a delta to the QuickRecal score, with a reason (audit trail)',
        params: IdParams,
        body: Type.Object(
          {
            delta: Type.Number({ minimum: -1, maximum: 1 }),
            reason: Type.String({ minLength: 1, maxLength: 500, default: 'manual' }),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { delta, reason } = req.body as { delta: number; reason: string };
      const { previous, next, record } = await core.boost((req.params as { id: string }).id, delta, reason);
      return { id: record.id, previous_score: previous, new_score: next };
    },
  );

  app.post(
    '/v1/search',
    { schema: { tags: ['search'], summary: 'Vector, lexical (BM25) or hybrid search', body: SearchBody } },
    async (req) => {
      const b = req.body as Record<string, unknown> & {
        mode: SearchMode;
        top_k: number;
        explain: boolean;
        include_embedding: boolean;
        track_access: boolean;
      };
      const started = performance.now();
      const hits = await core.search({
        query: b.query as string | undefined,
        embedding: readEmbedding(b as { embedding?: unknown }, dim, 'body'),
        mode: b.mode,
        rankBy: b.rank_by as 'relevance' | 'similarity',
        topK: b.top_k,
        threshold: b.threshold as number | undefined,
        filter: b.filter,
        userId: b.user_id as string | undefined,
        sessionId: b.session_id as string | undefined,
        tags: b.tags as string[] | undefined,
        since: parseTime(b.since, 'since') ?? undefined,
        until: parseTime(b.until, 'until') ?? undefined,
        userEmotion: parseUserEmotion(b.user_emotion),
        explain: b.explain,
        trackAccess: b.track_access,
      });
      return {
        mode: b.mode,
        took_ms: Math.round((performance.now() - started) * 100) / 100,
        results: hits.map((h) => hitView(core, h, { embedding: b.include_embedding })),
      };
    },
  );

  app.get(
    '/v1/export',
    {
      schema: {
        tags: ['transfer'],
        summary: 'Export memories as JSON lines (streamed)',
        querystring: Type.Omit(ListQuery, ['limit', 'cursor', 'order', 'include_embedding']),
      },
    },
    async (req, reply) => {
      const filter = listFilter(req.query as Record<string, unknown>);
      const sql = compileFilter(filter);
      async function* lines() {
        let n = 0;
        for (const r of core.store.iterate(sql)) {
          const wire = core.toWire(r);
          const { embedding_b64: _b64, ...rest } = wire;
          yield `${JSON.stringify({ ...rest, embedding: Array.from(r.embedding) })}\n`;
          // Let other requests run during a long export.
          if (++n % 500 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      }
      reply.type('application/x-ndjson');
      reply.header('content-disposition', 'attachment; filename="memories.jsonl"');
      return reply.send(Readable.from(lines()));
    },
  );

  app.addContentTypeParser(['application/x-ndjson', 'application/jsonl'], (req, payload, done) => {
    // The parser is app-wide; JSON lines are only for the import.
    if (req.routeOptions.url !== '/v1/import') {
      return done(
        new AppError(415, 'unsupported_media_type', 'JSON lines are accepted by POST /v1/import only'),
        undefined,
      );
    }
    done(null, payload);
  });
  app.post(
    '/v1/import',
    {
      bodyLimit: 1024 * 1024 * 1024,
      schema: {
        tags: ['transfer'],
        summary: 'Import JSON lines (as exported); all or nothing',
        querystring: Type.Object({
          on_conflict: Type.Union([Type.Literal('skip'), Type.Literal('replace'), Type.Literal('error')], {
            default: 'skip',
          }),
        }),
      },
    },
    async (req) => {
      if (!(req.body instanceof Readable)) {
        throw badRequest('invalid_content_type', 'Send JSON lines with Content-Type: application/x-ndjson');
      }
      const onConflict = (req.query as { on_conflict: 'skip' | 'replace' | 'error' }).on_conflict;
      const parsed: { wire: WireMemory; embedding: Float32Array }[] = [];
      let line = 0;
      for await (const text of createInterface({ input: req.body, crlfDelay: Infinity })) {
        line++;
        if (text.trim() === '') continue;
        parsed.push(parseImportLine(text, line, dim));
      }
      // All lines were valid: now write them, in one transaction.
      const seen = new Set<string>();
      for (const { wire } of parsed) {
        if (seen.has(wire.id)) throw badRequest('duplicate_id', `id ${wire.id} appears twice in the import`);
        seen.add(wire.id);
      }
      const { imported, skipped } = await core.importMany(parsed, onConflict);
      return { imported, skipped, lines: line };
    },
  );

  app.get(
    '/v1/changes',
    {
      schema: {
        tags: ['replication'],
        summary: 'The change feed (long-poll): every change after `since`, latest state per item',
        querystring: Type.Object({
          since: Type.Integer({ minimum: 0, default: 0 }),
          limit: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }),
          wait_ms: Type.Integer({ minimum: 0, maximum: 60_000, default: 0 }),
        }),
      },
    },
    async (req) => {
      const q = req.query as { since: number; limit: number; wait_ms: number };
      const page = await core.changes(q.since, q.limit, q.wait_ms);
      return { changes: page.changes, last_seq: page.lastSeq, head_seq: page.headSeq };
    },
  );

  app.get('/v1/assemblies', { schema: { tags: ['assemblies'], summary: 'List assemblies' } }, async () => ({
    items: core.assemblies.all().map((a) => assemblyView(core, a, false)),
  }));

  app.get(
    '/v1/assemblies/:id',
    { schema: { tags: ['assemblies'], summary: 'An assembly with its members', params: IdParams } },
    async (req) => {
      const { id } = req.params as { id: string };
      const a = core.store.assemblyById(id);
      if (!a) throw notFound(`No assembly with id ${id}`, { id });
      return assemblyView(core, core.assemblies.get(a.key) ?? a, true);
    },
  );

  app.get(
    '/v1/stats',
    { schema: { tags: ['health'], summary: 'Counts, index, storage, replication lag' } },
    async () => core.stats(),
  );
}

function listFilter(q: Record<string, unknown>): unknown {
  const parts: unknown[] = [];
  if (typeof q.filter === 'string') parts.push(parseJsonOrThrow(q.filter, 'the filter parameter'));
  if (typeof q.user_id === 'string') parts.push({ user_id: q.user_id });
  if (typeof q.session_id === 'string') parts.push({ session_id: q.session_id });
  const tags =
    q.tag === undefined ? [] : (Array.isArray(q.tag) ? q.tag : [q.tag]).flatMap((t) => String(t).split(','));
  if (tags.length) parts.push({ tags: { $all: tags } });
  const since = parseTime(q.since, 'since');
  const until = parseTime(q.until, 'until');
  if (since !== null) parts.push({ created_at: { $gte: since } });
  if (until !== null) parts.push({ created_at: { $lt: until } });
  return parts.length === 0 ? {} : { $and: parts };
}

function parseImportLine(
  text: string,
  line: number,
  dim: number,
): { wire: WireMemory; embedding: Float32Array } {
  const v = parseJsonOrThrow<Record<string, unknown>>(text, `line ${line}`);
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw badRequest('invalid_import', `line ${line}: not an object`);
  const where = `line ${line}`;
  // JSON lines are not seen by the kit's check of JSON bodies: the same rules (no NUL, no lone surrogate, no deep
  // nesting) apply to every line, or an import would store what the API refuses (and U+FFFD for a surrogate).
  rejectMalformedText(v, where);
  if (typeof v.id !== 'string' || !/^[A-Za-z0-9_.:-]{1,128}$/.test(v.id))
    throw badRequest('invalid_import', `${where}: id must be a string of letters, digits, _ . : -`);
  if (typeof v.content !== 'string') throw badRequest('invalid_import', `${where}: content must be a string`);
  const embedding =
    typeof v.embedding_b64 === 'string'
      ? vectorFromBase64(v.embedding_b64, dim, `${where}.embedding_b64`)
      : parseEmbedding(v.embedding, dim, `${where}.embedding`);
  const num = (x: unknown, d: number) => (typeof x === 'number' && Number.isFinite(x) ? x : d);
  const now = Date.now();
  const wire: WireMemory = {
    id: v.id,
    content: v.content,
    embedding_b64: '',
    embedding_model: typeof v.embedding_model === 'string' ? v.embedding_model : 'import',
    metadata: isObject(v.metadata) ? (v.metadata as Record<string, unknown>) : {},
    tags: Array.isArray(v.tags) ? v.tags.filter((t): t is string => typeof t === 'string') : [],
    user_id: typeof v.user_id === 'string' ? v.user_id : null,
    session_id: typeof v.session_id === 'string' ? v.session_id : null,
    importance: typeof v.importance === 'number' ? v.importance : null,
    quickrecal_score: Math.min(1, Math.max(0, num(v.quickrecal_score, 0.5))),
    quickrecal_factors: isObject(v.quickrecal_factors)
      ? (v.quickrecal_factors as Record<string, number>)
      : {},
    emotion: isObject(v.emotion)
      ? (v.emotion as WireMemory['emotion'])
      : { dominant: 'neutral', valence: 0, intensity: 0, scores: {} },
    created_at: num(v.created_at, now),
    updated_at: num(v.updated_at, now),
    event_time: typeof v.event_time === 'number' ? v.event_time : null,
    access_count: num(v.access_count, 0),
    last_access: typeof v.last_access === 'number' ? v.last_access : null,
    surprise_events: Array.isArray(v.surprise_events)
      ? (v.surprise_events as WireMemory['surprise_events'])
      : [],
  };
  return { wire, embedding };
}

const isObject = (x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x);
