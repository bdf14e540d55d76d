// The memory-core service: configuration, storage, the HTTP API and (as a standby) the follower.
import { resolve } from 'node:path';
import { Gauge } from 'prom-client';
import {
  ConfigError,
  createApp,
  type ServiceContext,
  serviceSetup,
  type ServiceDefinition,
  type ServiceInstance,
} from '@synthians/kit';
import { loadMemoryCoreConfig, memoryCoreSchema, type MemoryCoreConfig } from './config.ts';
import { MemoryCore } from './memory-core.ts';
import { createBuiltinEmbedder } from './embedding/builtin.ts';
import { OpenAIEmbedder } from './embedding/openai.ts';
import { createOnnxEncoder } from './embedding/onnx.ts';
import type { EmbeddingProvider } from './embedding/provider.ts';
import { registerV1 } from './api/v1.ts';
import { registerCompat } from './api/compat.ts';
import { Follower } from './follower.ts';

export async function createEmbedder(config: MemoryCoreConfig): Promise<EmbeddingProvider> {
  if (config.EMBEDDING_PROVIDER === 'builtin') return createBuiltinEmbedder(config.EMBEDDING_DIM);
  if (config.EMBEDDING_PROVIDER === 'onnx') {
    if (!config.EMBEDDING_MODEL_PATH) {
      throw new ConfigError(
        'EMBEDDING_PROVIDER=onnx needs EMBEDDING_MODEL_PATH (a folder with model.onnx and tokenizer.json)',
      );
    }
    const encoder = await createOnnxEncoder({
      modelPath: config.EMBEDDING_MODEL_PATH,
      maxTokens: config.EMBEDDING_MAX_TOKENS,
      executionProvider: config.EMBEDDING_EXECUTION_PROVIDER,
    });
    if (encoder.dim !== config.EMBEDDING_DIM) {
      await encoder.close?.();
      throw new ConfigError(
        `the ONNX model at ${config.EMBEDDING_MODEL_PATH} gives ${encoder.dim}-d vectors but EMBEDDING_DIM is ${config.EMBEDDING_DIM}`,
      );
    }
    return encoder;
  }
  if (!config.EMBEDDING_BASE_URL || !config.EMBEDDING_MODEL) {
    throw new ConfigError('EMBEDDING_PROVIDER=openai needs EMBEDDING_BASE_URL and EMBEDDING_MODEL');
  }
  const embedder = new OpenAIEmbedder({
    baseUrl: config.EMBEDDING_BASE_URL,
    model: config.EMBEDDING_MODEL,
    apiKey: config.EMBEDDING_API_KEY,
    dim: config.EMBEDDING_DIM,
    timeoutMs: config.EMBEDDING_TIMEOUT_MS,
    retries: config.EMBEDDING_RETRIES,
  });
  await embedder.checkDimension();
  return embedder;
}

export function coreOptions(config: MemoryCoreConfig, dir: string, readOnly: boolean) {
  return {
    dir,
    dim: config.EMBEDDING_DIM,
    sync: config.MEMORY_SYNC,
    readOnly,
    snapshotEvery: config.INDEX_SNAPSHOT_EVERY,
    index: {
      connectivity: config.INDEX_CONNECTIVITY,
      expansionAdd: config.INDEX_EXPANSION_ADD,
      expansionSearch: 32,
      queryBeam: config.INDEX_EXPANSION_SEARCH,
      quantization: config.INDEX_QUANTIZATION,
      threads: 2,
    },
    quickrecal: {
      weights: {
        recency: config.QR_W_RECENCY,
        importance: config.QR_W_IMPORTANCE,
        emotion: config.QR_W_EMOTION,
        novelty: config.QR_W_NOVELTY,
        personal: config.QR_W_PERSONAL,
        information: config.QR_W_INFORMATION,
      },
      overlapPenalty: config.QR_OVERLAP_PENALTY,
      halfLifeDays: config.QR_DECAY_HALF_LIFE_DAYS,
      decayFloor: config.QR_DECAY_FLOOR,
    },
    relevance: {
      similarity: config.REL_W_SIMILARITY,
      quickrecal: config.REL_W_QUICKRECAL,
      recency: config.REL_W_RECENCY,
      assembly: config.REL_W_ASSEMBLY,
      emotion: config.REL_W_EMOTION,
    },
    fusion: { vector: config.FUSION_W_VECTOR, lexical: config.FUSION_W_LEXICAL },
    assemblies: {
      join: config.ASSEMBLY_JOIN_THRESHOLD,
      seed: config.ASSEMBLY_SEED_THRESHOLD,
      merge: config.ASSEMBLY_MERGE_THRESHOLD,
      maxMembers: config.ASSEMBLY_MAX_MEMBERS,
    },
  };
}

export const memoryCoreService: ServiceDefinition = {
  name: 'memory-core',
  port: 'memory-core',
  description: 'Long-term memory: storage, vector/lexical/hybrid search, QuickRecal, emotion, assemblies',
  config: memoryCoreSchema,
  async create(context: ServiceContext): Promise<ServiceInstance> {
    const config = loadMemoryCoreConfig(context.env);
    const follow = context.options?.follow ?? config.FOLLOW_URL;
    const name = follow ? 'memory-core-standby' : 'memory-core';
    const { logger, host, port, http } = serviceSetup(context, name, config);
    const dir = resolve(
      config.MEMORY_STORAGE_PATH ?? resolve(context.dataDir, follow ? 'memory-core-standby' : 'memory-core'),
    );
    const embedder = await createEmbedder(config);
    const core = await MemoryCore.open(coreOptions(config, dir, Boolean(follow)), embedder, logger);
    let follower: Follower | undefined;
    if (follow) {
      follower = new Follower(follow, core, logger, {
        waitMs: config.FOLLOW_POLL_WAIT_MS,
        token: config.SYNTHIANS_API_TOKEN,
      });
      core.replication = follower;
    }
    const app = await createApp({
      ...http,
      service: name,
      logger,
      bodyLimit: config.MAX_BODY_BYTES,
      token: config.SYNTHIANS_API_TOKEN,
      description: 'Synthians memory core: long-term memory with vector, lexical and hybrid search.',
      health: () => {
        const replication = follower?.report();
        const checks: Record<string, { status: 'healthy' | 'degraded' | 'unhealthy'; [k: string]: unknown }> =
          {
            storage: { status: core.store.db.open ? 'healthy' : 'unhealthy' },
            index: { status: 'healthy', size: core.index.size },
          };
        if (replication)
          checks.replication = { status: replication.connected ? 'healthy' : 'degraded', ...replication };
        const statuses = Object.values(checks).map((c) => c.status);
        const status = statuses.includes('unhealthy')
          ? 'unhealthy'
          : statuses.includes('degraded')
            ? 'degraded'
            : 'healthy';
        return {
          status,
          checks,
          memory_count: core.store.count(),
          role: follow ? 'standby' : 'primary',
          uptime_s: Math.round((Date.now() - core.startedAt) / 1000),
        };
      },
    });
    app.addHook('preClose', async () => core.stopWaiting());
    registerCompat(app, core);
    registerV1(app, core);
    // Gauges read at scrape time (the Grafana dashboard's memory counts).
    new Gauge({
      name: 'memory_core_memories',
      help: 'Memories stored',
      registers: [app.metricsRegistry],
      collect() {
        this.set(core.stats().memory_count as number);
      },
    });
    new Gauge({
      name: 'memory_core_assemblies',
      help: 'Assemblies',
      registers: [app.metricsRegistry],
      collect() {
        this.set(core.stats().assembly_count as number);
      },
    });
    return {
      name,
      app,
      host,
      port,
      async start() {
        follower?.start();
      },
      async close() {
        await follower?.stop();
        await core.close();
        await embedder.close?.();
      },
    };
  },
};
