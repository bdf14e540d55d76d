// The orchestrator's HTTP API: POST /process_memory (the cascade) and GET /status.
import type { App } from '@synthians/kit';
import { Histogram } from 'prom-client';
import {
  checkUpstream,
  type MemoryCoreClient,
  type NeuralMemoryClient,
  type UpstreamCheck,
} from './clients.ts';
import type { BatchItem, CascadeEngine, ProcessInput } from './engine.ts';

const processBody = {
  type: 'object',
  properties: {
    content: { type: 'string', maxLength: 200_000, description: 'The text to remember' },
    embedding: {
      type: ['array', 'null'],
      maxItems: 16384,
      description: "Optional embedding (its length must be the memory core's EMBEDDING_DIM)",
    },
    metadata: { type: ['object', 'null'], additionalProperties: true, description: 'Stored with the memory' },
    namespace: {
      type: 'string',
      pattern: '^[A-Za-z0-9_.-]{1,64}$',
      description: "Neural-memory namespace (default: metadata.user_id, else 'default')",
    },
  },
  additionalProperties: true,
} as const;

export interface ApiContext {
  engine: CascadeEngine;
  core: MemoryCoreClient;
  nm: NeuralMemoryClient;
  healthTimeoutMs: number;
  token?: string;
  startedAt: number;
}

/** The upstreams' /health, each checked in parallel. */
export async function upstreams(ctx: Pick<ApiContext, 'core' | 'nm' | 'healthTimeoutMs' | 'token'>) {
  const [cores, nm] = await Promise.all([
    Promise.all(ctx.core.urls.map((u) => checkUpstream(u, ctx.healthTimeoutMs, ctx.token))),
    checkUpstream(ctx.nm.url, ctx.healthTimeoutMs, ctx.token),
  ]);
  const named: Record<string, UpstreamCheck> = {};
  cores.forEach((c, i) => {
    named[i === 0 ? 'memory_core' : `memory_core_standby${cores.length > 2 ? `_${i}` : ''}`] = {
      ...c,
      role: i === 0 ? 'primary' : 'standby',
    };
  });
  named.neural_memory = nm;
  return named;
}

/** A per-step latency histogram registered on the app's metrics registry. */
export function stepHistogram(app: App): Histogram<'step'> {
  return new Histogram({
    name: 'orchestrator_step_duration_seconds',
    help: 'Duration of each cascade step (step="cycle": the whole cycle)',
    labelNames: ['step'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [app.metricsRegistry],
  });
}

export function registerApi(app: App, ctx: ApiContext): void {
  const tags = ['orchestrator'];
  app.post(
    '/process_memory',
    {
      schema: {
        tags,
        summary: 'Run the context cascade for one memory',
        description:
          'Stores the memory in the memory core, updates the neural memory with the chosen variant, turns its surprise into a QuickRecal boost, retrieves/predicts, and recalls related memories. status "degraded" names the failed steps; 503 memory_core_unavailable when no writable memory core answers.',
        body: processBody,
      },
    },
    async (req) => ctx.engine.process(req.body as ProcessInput),
  );

  app.post(
    '/process_memories',
    {
      schema: {
        tags,
        summary: 'Store and learn up to 1000 memories (background writes)',
        description:
          'Stores every memory in one memory-core transaction, then runs the learning part of the cycle for each (variant, neural-memory update, surprise boost) in order; no retrieval or recall. Ids make a retried batch idempotent (stored items come back with duplicate: true). 503 memory_core_unavailable when no writable memory core answers: nothing is stored.',
        body: {
          type: 'object',
          required: ['items'],
          properties: {
            items: {
              type: 'array',
              minItems: 1,
              maxItems: 1000,
              items: {
                type: 'object',
                required: ['content'],
                properties: {
                  id: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$' },
                  content: { type: 'string', minLength: 1, maxLength: 200_000 },
                  metadata: { type: 'object', additionalProperties: true },
                  namespace: processBody.properties.namespace,
                },
                additionalProperties: false,
              },
            },
          },
          additionalProperties: false,
        },
      },
    },
    async (req) => ctx.engine.processBatch((req.body as { items: BatchItem[] }).items),
  );

  app.get(
    '/status',
    { schema: { tags, summary: 'Counts, per-namespace variant and surprise trend, upstream health' } },
    async () => ({
      status: 'success',
      uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000),
      counts: ctx.engine.counts,
      namespaces: ctx.engine.namespaces(),
      upstreams: await upstreams(ctx),
    }),
  );
}
