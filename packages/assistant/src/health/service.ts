// The health monitor service (port 5584, `synthians serve health-monitor`): one health protocol for all services,
// polled concurrently, with history, overall status, bus announcements of transitions and a registration API.
import {
  createApp,
  createBus,
  type Bus,
  type HealthReport,
  type ServiceContext,
  serviceSetup,
  type ServiceDefinition,
  type ServiceInstance,
} from '@synthians/kit';
import {
  effectiveTimeout,
  healthMonitorSchema,
  loadHealthMonitorConfig,
  registryTargets,
  type HealthTarget,
} from './config.ts';
import { HealthMonitor } from './monitor.ts';
import { registerHealthApi } from './api.ts';

export interface HealthMonitorServiceOptions {
  /**
   * The services to watch when HEALTH_TARGETS is unset — the runner passes those it runs, at their real ports.
   * Default: `registryTargets()` (the services of this build on 127.0.0.1 at their registry ports).
   */
  defaultTargets?: HealthTarget[] | (() => HealthTarget[]);
}

/** The service definition, with the runner's default target list. */
export function createHealthMonitorService(options: HealthMonitorServiceOptions = {}): ServiceDefinition {
  return {
    name: 'health-monitor',
    port: 'health-monitor',
    description:
      'Health monitor: polls every service’s /health, keeps per-service history and uptime, computes the overall status and announces transitions on the bus',
    config: healthMonitorSchema,
    async create(context: ServiceContext): Promise<ServiceInstance> {
      const config = loadHealthMonitorConfig(context.env);
      const name = 'health-monitor';
      const { logger, host, port, http } = serviceSetup(context, name, config);
      const token = config.SYNTHIANS_API_TOKEN;
      const ownBus = !context.bus;
      const bus: Bus = context.bus ?? (await createBus({ natsUrl: config.NATS_URL, name, token, logger }));
      const defaults = options.defaultTargets;
      const targets =
        config.HEALTH_TARGETS ??
        (typeof defaults === 'function' ? defaults() : (defaults ?? registryTargets()));

      let monitor: HealthMonitor | undefined;
      const app = await createApp({
        ...http,
        service: name,
        logger,
        bodyLimit: config.MAX_BODY_BYTES,
        token,
        description:
          'Synthians health monitor: the health of every service (GET <url>/health), its history and the overall status.',
        health: (): HealthReport => {
          const running = monitor?.running ?? false;
          const last = monitor?.lastTickAt;
          // A poller whose last tick is more than two intervals old is stuck (event loop blocked): degraded.
          const late = last === undefined || Date.now() - last > 2 * config.HEALTH_POLL_INTERVAL_MS + 1000;
          const status = !running ? 'unhealthy' : late ? 'degraded' : 'healthy';
          return {
            status,
            checks: {
              poller: {
                status,
                running,
                last_tick: last === undefined ? null : new Date(last).toISOString(),
                interval_ms: config.HEALTH_POLL_INTERVAL_MS,
              },
              bus: { status: 'healthy', kind: bus.kind },
            },
            overall: monitor?.status ?? 'healthy',
            services: monitor?.snapshot().services.length ?? 0,
          };
        },
      });
      try {
        monitor = new HealthMonitor({
          targets,
          intervalMs: config.HEALTH_POLL_INTERVAL_MS,
          timeoutMs: effectiveTimeout(config),
          token,
          critical: config.HEALTH_CRITICAL,
          historySize: config.HEALTH_HISTORY_SIZE,
          bus,
          logger,
          registry: app.metricsRegistry,
        });
      } catch (err) {
        await app.close();
        if (ownBus) await bus.close();
        throw err;
      }
      const m = monitor;
      registerHealthApi(app, m);
      return {
        name,
        app,
        host,
        port,
        async start() {
          m.start();
          logger.info(
            { services: targets.map((t) => t.name), interval_ms: m.intervalMs, timeout_ms: m.timeoutMs },
            'health monitor polling',
          );
        },
        async close() {
          await m.stop();
          if (ownBus) await bus.close();
        },
      };
    },
  };
}

export const healthMonitorService: ServiceDefinition = createHealthMonitorService();
