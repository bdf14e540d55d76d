// The neural memory service ("trainer-server"): per-namespace Titans neural memories behind the original Synthians
// trainer-server's HTTP API, durable (an update log synced before each reply, snapshots on a schedule that survives
// restarts), with outer-loop training from the memory core.
import { resolve } from 'node:path';
import {
  createApp,
  type ServiceContext,
  serviceSetup,
  type ServiceDefinition,
  type ServiceInstance,
} from '@synthians/kit';
import {
  effectiveBodyLimit,
  loadNeuralMemoryConfig,
  modelConfig,
  neuralMemorySchema,
} from './service-config.ts';
import { NamespaceStore } from './namespaces.ts';
import { registerApi } from './api.ts';

export const neuralMemoryService: ServiceDefinition = {
  name: 'neural-memory',
  port: 'neural-memory',
  description:
    'Titans neural memory (trainer-server): test-time-learned associative memory per namespace, surprise, MAC/MAG/MAL variants, outer-loop training',
  config: neuralMemorySchema,
  async create(context: ServiceContext): Promise<ServiceInstance> {
    const config = loadNeuralMemoryConfig(context.env);
    const name = 'neural-memory';
    const { logger, host, port, http } = serviceSetup(context, name, config);
    const dir = resolve(config.NEURAL_MEMORY_STORAGE_PATH ?? resolve(context.dataDir, 'neural-memory'));
    const store = new NamespaceStore({
      dir,
      logger,
      defaultConfig: modelConfig(config),
      seed: config.NM_SEED,
      maxLoaded: config.NM_MAX_NAMESPACES,
      snapshotEveryUpdates: config.NM_SNAPSHOT_EVERY_UPDATES,
    });
    const startedAt = Date.now();
    const app = await createApp({
      ...http,
      service: name,
      logger,
      bodyLimit: effectiveBodyLimit(config, context.env),
      token: config.SYNTHIANS_API_TOKEN,
      description:
        'Synthians neural memory: Titans-style test-time-learned memory per namespace (the trainer-server API).',
      health: () => {
        const loaded = store.loaded();
        return {
          status: 'healthy',
          checks: { storage: { status: 'healthy', path: dir } },
          namespaces_loaded: loaded.length,
          dirty: loaded.filter((e) => e.dirty).length,
          uptime_s: Math.round((Date.now() - startedAt) / 1000),
        };
      },
    });
    registerApi(app, { store, config, logger });
    return {
      name,
      app,
      host,
      port,
      async start() {
        // replay what a crash left in the update logs (and snapshot it) before the schedule starts
        const replayed = await store.recover();
        if (replayed > 0) logger.info({ namespaces: replayed }, 'namespaces restored from their update logs');
        store.setAutosave(config.NM_AUTOSAVE_INTERVAL_MS);
      },
      async close() {
        await store.close();
      },
    };
  },
};
