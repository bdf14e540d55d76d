// The task router service (port 5571, registry name 'task-router'): typed tasks → their services or in-process
// handlers, with queues, timeouts, retries and circuit breakers (see router.ts and config.ts).
import {
  createApp,
  type HealthReport,
  type HealthStatus,
  type ServiceContext,
  serviceSetup,
  type ServiceDefinition,
  type ServiceInstance,
} from '@synthians/kit';
import { buildRouteTable, loadTaskRouterConfig, taskRouterSchema, type TaskRouterConfig } from './config.ts';
import { TaskRouter, type TaskRouterOptions } from './router.ts';
import { registerTaskRouterApi } from './api.ts';

/** The router options a configuration gives (the service's, or a coordinator's in one-process mode). */
export function routerOptions(config: TaskRouterConfig): TaskRouterOptions {
  return {
    routes: buildRouteTable(config),
    retries: config.ROUTER_RETRIES,
    backoffMs: config.ROUTER_BACKOFF_MS,
    backoffMaxMs: config.ROUTER_BACKOFF_MAX_MS,
    breakerFailures: config.ROUTER_BREAKER_FAILURES,
    breakerCooldownMs: config.ROUTER_BREAKER_COOLDOWN_MS,
    queueSize: config.ROUTER_QUEUE_SIZE,
    concurrency: config.ROUTER_CONCURRENCY,
    queueWaitMs: config.ROUTER_QUEUE_WAIT_MS,
    idempotencyTtlMs: config.ROUTER_IDEMPOTENCY_TTL_MS,
  };
}

/** /health: degraded while any breaker is open or half-open (the routes concerned are listed). */
export function routerHealth(router: TaskRouter): HealthReport {
  const routes = router.routes();
  const checks: HealthReport['checks'] = {};
  for (const r of routes) {
    if (r.breaker.state === 'closed') continue;
    checks[r.pattern] = {
      status: 'degraded' as HealthStatus,
      breaker: r.breaker.state,
      retry_after_ms: r.breaker.retry_after_ms,
      last_error: r.breaker.last_error,
    };
  }
  return {
    status: Object.keys(checks).length > 0 ? 'degraded' : 'healthy',
    checks,
    routes: routes.length,
    queued: routes.reduce((n, r) => n + r.queue.depth, 0),
  };
}

export const taskRouterService: ServiceDefinition = {
  name: 'task-router',
  port: 'task-router',
  description:
    'Task router: typed tasks (stt, tts, llm, embed, skill, memory.*, pc2.*) to their services or handlers, with priority queues, timeouts, retries and circuit breakers',
  config: taskRouterSchema,
  async create(context: ServiceContext): Promise<ServiceInstance> {
    const config = loadTaskRouterConfig(context.env);
    const name = 'task-router';
    const { logger, host, port, http } = serviceSetup(context, name, config);
    const holder: { router?: TaskRouter } = {};
    const app = await createApp({
      ...http,
      service: name,
      logger,
      bodyLimit: config.MAX_BODY_BYTES,
      token: config.SYNTHIANS_API_TOKEN,
      description:
        'Synthians task router: POST /v1/tasks routes a typed task to its service or in-process handler through a priority queue, a circuit breaker, timeouts and retries (idempotent routes only); GET /v1/routes shows the table.',
      health: () => (holder.router ? routerHealth(holder.router) : { status: 'healthy', checks: {} }),
    });
    const router = new TaskRouter({ ...routerOptions(config), registry: app.metricsRegistry, logger });
    holder.router = router;
    registerTaskRouterApi(app, router);
    return {
      name,
      app,
      host,
      port,
      async close() {
        await router.close();
      },
    };
  },
};
