// The Synthians-compatible API: the original Python service's paths and request fields, so its clients keep
// working. Successes keep the original `success: true` shape; failures use real status codes and the error envelope.
import { Type } from '@sinclair/typebox';
import { badRequest, notFound, type App } from '@synthians/kit';
import type { MemoryCore } from '../memory-core.ts';
import { analyzeEmotion } from '../emotion.ts';
import { parseEmbedding } from '../embeddings.ts';
import { quickRecal } from '../quickrecal.ts';
import { assemblyView, compatView, parseTime, parseUserEmotion, toNewMemory } from './views.ts';

const Open = { additionalProperties: true } as const;

export function registerCompat(app: App, core: MemoryCore): void {
  const dim = core.options.dim;
  const tags = ['synthians-compatible'];

  app.post(
    '/process_memory',
    {
      schema: {
        tags,
        summary: 'Store a memory (original API)',
        body: Type.Object(
          {
            content: Type.Optional(Type.String({ maxLength: 200_000 })),
            embedding: Type.Optional(Type.Union([Type.Array(Type.Any()), Type.Null()])),
            metadata: Type.Optional(Type.Union([Type.Object({}, Open), Type.Null()])),
          },
          Open,
        ),
      },
    },
    async (req) => {
      const b = req.body as {
        content?: string;
        embedding?: unknown[] | null;
        metadata?: Record<string, unknown> | null;
      };
      const input = toNewMemory(
        { content: b.content, embedding: b.embedding ?? undefined, metadata: b.metadata ?? {} },
        dim,
      );
      const [r] = await core.create([input]);
      return {
        success: true,
        memory_id: r!.id,
        quickrecal_score: r!.quickrecal,
        embedding: Array.from(r!.embedding),
        metadata: r!.metadata,
      };
    },
  );

  app.post(
    '/retrieve_memories',
    {
      schema: {
        tags,
        summary: 'Hybrid retrieval (original API)',
        body: Type.Object(
          {
            query: Type.Optional(Type.String({ maxLength: 20_000 })),
            query_embedding: Type.Optional(Type.Union([Type.Array(Type.Any()), Type.Null()])),
            top_k: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
            threshold: Type.Optional(Type.Union([Type.Number({ minimum: -1, maximum: 1 }), Type.Null()])),
            metadata_filter: Type.Optional(Type.Union([Type.Object({}, Open), Type.Null()])),
            user_emotion: Type.Optional(Type.Any()),
          },
          Open,
        ),
      },
    },
    async (req) => {
      const b = req.body as {
        query?: string;
        query_embedding?: unknown[] | null;
        top_k: number;
        threshold?: number | null;
        metadata_filter?: Record<string, unknown> | null;
        user_emotion?: unknown;
      };
      const embedding = b.query_embedding
        ? parseEmbedding(b.query_embedding, dim, 'query_embedding')
        : undefined;
      const hasText = typeof b.query === 'string' && b.query.trim() !== '';
      const hits = await core.search({
        query: b.query,
        embedding,
        mode: hasText ? 'hybrid' : 'vector',
        topK: b.top_k,
        threshold: b.threshold ?? undefined,
        filter: b.metadata_filter ?? undefined,
        userEmotion: parseUserEmotion(b.user_emotion),
      });
      return {
        success: true,
        memories: hits.map((h) => ({
          ...compatView(core, h.memory, false),
          similarity: h.similarity,
          relevance_score: h.relevance,
        })),
      };
    },
  );

  app.get(
    '/api/memories/:id',
    {
      schema: {
        tags,
        summary: 'Get a memory (original API)',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) }),
      },
    },
    async (req) => {
      const record = core.get((req.params as { id: string }).id);
      return { success: true, memory: compatView(core, record, true) };
    },
  );

  app.post(
    '/api/memories/update_quickrecal_score',
    {
      schema: {
        tags,
        summary: 'Boost (or lower) a QuickRecal score with an audit trail',
        body: Type.Object(
          {
            memory_id: Type.String({ minLength: 1, maxLength: 256 }),
            delta: Type.Number({ minimum: -1, maximum: 1 }),
            reason: Type.Optional(Type.String({ maxLength: 500 })),
          },
          Open,
        ),
      },
    },
    async (req) => {
      const b = req.body as { memory_id: string; delta: number; reason?: string };
      const { previous, next } = await core.boost(b.memory_id, b.delta, b.reason ?? 'unspecified');
      return { status: 'success', memory_id: b.memory_id, previous_score: previous, new_score: next };
    },
  );

  app.post(
    '/generate_embedding',
    {
      schema: {
        tags,
        summary: 'Embed a text with the configured provider',
        body: Type.Object({ text: Type.String({ minLength: 1, maxLength: 200_000 }) }, Open),
      },
    },
    async (req) => {
      const [v] = await core.embedder.embed([(req.body as { text: string }).text]);
      return { success: true, embedding: Array.from(v!), dimension: v!.length, model: core.embedder.model };
    },
  );

  app.post(
    '/calculate_quickrecal',
    {
      schema: {
        tags,
        summary: 'Score a text or embedding without storing it',
        body: Type.Object(
          {
            text: Type.Optional(Type.String({ maxLength: 200_000 })),
            embedding: Type.Optional(Type.Union([Type.Array(Type.Any()), Type.Null()])),
            context: Type.Optional(Type.Union([Type.Object({}, Open), Type.Null()])),
            metadata: Type.Optional(Type.Union([Type.Object({}, Open), Type.Null()])),
          },
          Open,
        ),
      },
    },
    async (req) => {
      const b = req.body as {
        text?: string;
        embedding?: unknown[] | null;
        context?: Record<string, unknown> | null;
        metadata?: Record<string, unknown> | null;
      };
      const text = b.text ?? '';
      if (text.trim() === '' && !b.embedding) {
        throw badRequest('missing_content', 'Give a text or an embedding to score');
      }
      const embedding = b.embedding
        ? parseEmbedding(b.embedding, dim)
        : (await core.embedder.embed([text]))[0]!;
      const ctx = { ...(b.context ?? {}), ...(b.metadata ?? {}) };
      const importance =
        typeof ctx.importance === 'number' && ctx.importance >= 0 && ctx.importance <= 1
          ? ctx.importance
          : null;
      const eventTime = parseTime(ctx.timestamp ?? ctx.event_time, 'context.timestamp');
      const nearest = (await core.index.neighbours(embedding, 1)).similarities[0];
      const emotion = analyzeEmotion(text);
      const qr = quickRecal(
        {
          content: text,
          importance,
          emotionIntensity: emotion.intensity,
          nearestSimilarity: nearest,
          ageMs: eventTime === null ? 0 : Date.now() - eventTime,
        },
        core.options.quickrecal,
      );
      return { success: true, quickrecal_score: qr.score, factors: qr.factors };
    },
  );

  app.post(
    '/analyze_emotion',
    {
      schema: {
        tags,
        summary: 'Emotion of a text (offline lexicon analyser)',
        body: Type.Object({ text: Type.String({ maxLength: 200_000 }) }, Open),
      },
    },
    async (req) => {
      const e = analyzeEmotion((req.body as { text: string }).text);
      return {
        success: true,
        emotions: e.scores,
        dominant_emotion: e.dominant,
        valence: e.valence,
        intensity: e.intensity,
      };
    },
  );

  app.get('/assemblies', { schema: { tags, summary: 'List assemblies (original API)' } }, async () => {
    const assemblies = core.assemblies.all().map((a) => assemblyView(core, a, false));
    return { success: true, assemblies, count: assemblies.length };
  });

  app.get(
    '/assemblies/:id',
    {
      schema: {
        tags,
        summary: 'One assembly with its memories',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) }),
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const a = core.store.assemblyById(id);
      if (!a) throw notFound(`No assembly with id ${id}`, { id });
      const view = assemblyView(core, core.assemblies.get(a.key) ?? a, false);
      const members = core.store.getManyByKeys(core.store.membersOf(a.key));
      view.memories = [...members.values()].map((m) => ({
        id: m.id,
        content: m.content,
        quickrecal_score: core.effectiveScore(m),
      }));
      return { success: true, assembly: view };
    },
  );

  app.get('/stats', { schema: { tags, summary: 'Statistics (original API)' } }, async () => ({
    success: true,
    ...core.stats(),
  }));
}
