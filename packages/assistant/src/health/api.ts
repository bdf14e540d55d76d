// The health monitor's HTTP API: the overall status, every service, one service with its history, and
// registration at run time.
import { Type } from '@sinclair/typebox';
import { notFound, type App } from '@synthians/kit';
import type { HealthMonitor } from './monitor.ts';

const tags = ['health-monitor'];
const nameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) });
const registerBody = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'Unique name (letters, digits, ".", "_", "-")',
    }),
    url: Type.String({
      minLength: 1,
      maxLength: 2048,
      description: 'Base URL; the monitor polls <url>/health',
    }),
  },
  { additionalProperties: false },
);

export function registerHealthApi(app: App, monitor: HealthMonitor): void {
  app.get(
    '/v1/health',
    {
      schema: {
        tags,
        summary: 'Overall status of the monitored services',
        description:
          'unhealthy when a critical service is down; degraded when a service is degraded or a non-critical one is down; healthy otherwise. Always 200: this route reports on others.',
      },
    },
    async () => {
      const snap = monitor.snapshot();
      const by = (s: string) => snap.services.filter((v) => v.status === s).map((v) => v.name);
      return {
        status: snap.status,
        at: snap.at,
        running: snap.running,
        interval_ms: snap.interval_ms,
        critical: snap.critical,
        services: snap.services.length,
        healthy: by('healthy'),
        degraded: by('degraded'),
        unhealthy: by('unhealthy'),
        unknown: by('unknown'),
      };
    },
  );

  app.get(
    '/v1/health/services',
    { schema: { tags, summary: 'Every monitored service with its last check and uptime ratio' } },
    async () => {
      const snap = monitor.snapshot();
      return { status: snap.status, services: snap.services };
    },
  );

  app.get(
    '/v1/health/services/:name',
    {
      schema: { tags, summary: 'One monitored service with its history (oldest first)', params: nameParams },
    },
    async (request) => {
      const { name } = request.params as { name: string };
      const detail = monitor.service(name);
      if (!detail) throw notFound(`No monitored service ${JSON.stringify(name)}`);
      return detail;
    },
  );

  app.post(
    '/v1/health/services',
    {
      schema: {
        tags,
        summary: 'Monitor a service (checked at once)',
        description: '400 invalid_name / invalid_url, 409 service_exists.',
        body: registerBody,
      },
    },
    async (request, reply) => {
      const { name, url } = request.body as { name: string; url: string };
      const view = monitor.add(name, url);
      reply.code(201);
      return view;
    },
  );

  app.delete(
    '/v1/health/services/:name',
    { schema: { tags, summary: 'Stop monitoring a service', params: nameParams } },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      if (!monitor.remove(name)) throw notFound(`No monitored service ${JSON.stringify(name)}`);
      reply.code(204);
      return reply.send();
    },
  );
}
