// Starting services, and stopping them gracefully: stop accepting, finish in-flight requests, flush storage.
import type { Logger } from './logger.ts';
import { portVariable } from './ports.ts';
import type { ServiceInstance } from './service.ts';

export interface Listening {
  name: string;
  url: string;
}

/** A listener could not bind: the message names the service, the address and what to change. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  readonly code = 'EADDRINUSE';
  constructor(
    readonly service: string,
    readonly address: string,
    readonly variable: string,
    hint = ` (or \`synthians serve ${service} --port <n>\`)`,
  ) {
    super(
      `${service} cannot listen on ${address}: another program uses that port. Set ${variable} to another port${hint}`,
    );
  }
}

export async function listen(service: ServiceInstance): Promise<Listening> {
  let port: number;
  try {
    if (service.bind) {
      port = await service.bind();
    } else {
      await service.app.listen({ host: service.host, port: service.port });
      const address = service.app.server.address();
      port = typeof address === 'object' && address ? address.port : service.port;
    }
  } catch (err) {
    if ((err as { code?: string }).code !== 'EADDRINUSE' || err instanceof PortInUseError) throw err;
    throw new PortInUseError(service.name, `${service.host}:${service.port}`, portVariable(service.name));
  }
  service.port = port;
  const host = service.host.includes(':') ? `[${service.host}]` : service.host;
  await service.start?.();
  return { name: service.name, url: `http://${host}:${port}` };
}

/**
 * Stops taking requests, lets the ones in flight finish for up to `graceMs`, then ends every connection still open
 * (WebSockets, event streams, long polls) and flushes storage (`close`), which therefore always runs.
 */
export async function stop(service: ServiceInstance, graceMs = 3000): Promise<void> {
  const app = service.app;
  const timer = setTimeout(() => {
    app.server.closeAllConnections();
    for (const socket of app.openSockets ?? []) socket.destroy();
  }, graceMs);
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
    await service.close();
  }
}

/** How long SIGTERM may take in all: past it the process exits even if a service has not stopped. */
export const STOP_DEADLINE_MS = 9000;

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
    const started = Date.now();
    setTimeout(() => {
      logger.error({ ms: STOP_DEADLINE_MS }, 'services did not stop in time: exiting');
      logger.flush?.();
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    void (async () => {
      let code = 0;
      const list = [...services].reverse();
      for (const [i, service] of list.entries()) {
        // Each service gets a fair share of what is left of the deadline, keeping a second for storage.
        const left = STOP_DEADLINE_MS - 1000 - (Date.now() - started);
        const graceMs = Math.max(100, Math.min(3000, left / (list.length - i)));
        try {
          await stop(service, graceMs);
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
