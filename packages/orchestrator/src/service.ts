// The orchestrator service ("context cascade engine") on the kit: the cascade over the memory core and the neural
// memory, with memory-core failover, degraded answers when the neural memory is down, and per-step metrics.
import { Counter, Histogram } from 'prom-client';
import {
  createApp,
  type HealthReport,
  type ServiceContext,
  serviceSetup,
  type ServiceDefinition,
  type ServiceInstance,
} from '@synthians/kit';
import { loadOrchestratorConfig, orchestratorSchema } from './config.ts';
import { MemoryCoreClient, NeuralMemoryClient } from './clients.ts';
import { CascadeEngine } from './engine.ts';
import { registerApi, stepHistogram, upstreams } from './api.ts';

export const orchestratorService: ServiceDefinition = {
  name: 'orchestrator',
  port: 'orchestrator',
  description:
    'Context cascade engine: store → neural-memory update → surprise-driven QuickRecal boost → retrieve/predict → related memories',
  config: orchestratorSchema,
  async create(context: ServiceContext): Promise<ServiceInstance> {
    const config = loadOrchestratorConfig(context.env);
    const name = 'orchestrator';
    const { logger, host, port, http } = serviceSetup(context, name, config);
    const token = config.SYNTHIANS_API_TOKEN;
    const core = new MemoryCoreClient(config.MEMORY_CORE_URL, {
      token,
      timeoutMs: config.MEMORY_CORE_TIMEOUT_MS,
      logger,
    });
    const nm = new NeuralMemoryClient(config.NEURAL_MEMORY_URL, {
      token,
      timeoutMs: config.NEURAL_MEMORY_TIMEOUT_MS,
    });
    const startedAt = Date.now();
    const checks = { core, nm, healthTimeoutMs: config.HEALTH_TIMEOUT_MS, token };
    const app = await createApp({
      ...http,
      service: name,
      logger,
      bodyLimit: config.MAX_BODY_BYTES,
      token,
      description:
        'Synthians orchestrator (context cascade engine): one call stores a memory, lets the neural memory learn it, boosts surprising memories and recalls related ones.',
      health: async (): Promise<HealthReport> => {
        const ups = await upstreams(checks);
        const down = Object.values(ups).some((u) => u.status !== 'healthy');
        return {
          status: down ? 'degraded' : 'healthy',
          checks: ups,
          uptime_s: Math.round((Date.now() - startedAt) / 1000),
        };
      },
    });
    const histogram = stepHistogram(app);
    const surprise = new Histogram({
      name: 'orchestrator_surprise',
      help: "The neural memory's surprise for each memory that went through the cascade",
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5],
      registers: [app.metricsRegistry],
    });
    const boosts = new Counter({
      name: 'orchestrator_quickrecal_boosts_total',
      help: 'QuickRecal boosts the cascade applied from surprise',
      registers: [app.metricsRegistry],
    });
    const engine = new CascadeEngine({
      core,
      nm,
      config,
      logger,
      observe: (step, ms) => histogram.observe({ step }, ms / 1000),
      observeSurprise: (s, boost) => {
        surprise.observe(s);
        if (boost > 0) boosts.inc();
      },
    });
    registerApi(app, { engine, core, nm, healthTimeoutMs: config.HEALTH_TIMEOUT_MS, token, startedAt });
    return {
      name,
      app,
      host,
      port,
      async close() {
        await engine.idle();
      },
    };
  },
};
