// Starting services, and stopping them gracefully: stop accepting, finish in-flight requests, flush storage.
import type { Logger } from './logger.ts';
import type { ServiceInstance } from './service.ts';

export interface Listening {
  name: string;
  url: string;
}

export async function listen(service: ServiceInstance): Promise<Listening> {
  let port: number;
  if (service.bind) {
    port = await service.bind();
  } else {
    await service.app.listen({ host: service.host, port: service.port });
    const address = service.app.server.address();
    port = typeof address === 'object' && address ? address.port : service.port;
  }
  service.port = port;
  const host = service.host.includes(':') ? `[${service.host}]` : service.host;
  await service.start?.();
  return { name: service.name, url: `http://${host}:${port}` };
}

export async function stop(service: ServiceInstance): Promise<void> {
  await service.app.close();
  await service.close();
}

/** On SIGTERM/SIGINT stop every service (in reverse start order) and exit 0; a second signal exits at once. */
export function stopOnSignals(services: ServiceInstance[], logger: Logger): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    void (async () => {
      let code = 0;
      for (const service of [...services].reverse()) {
        try {
          await stop(service);
        } catch (err) {
          code = 1;
          logger.error({ err, service: service.name }, 'error while stopping');
        }
      }
      logger.info('stopped');
      logger.flush?.();
      process.exit(code);
    })();
  };
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}
