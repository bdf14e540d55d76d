// Runs services in this process: `up` (all, registry ports, one data directory) and `serve` (one).
import { resolve } from 'node:path';
import {
  assertNoPortCollisions,
  createLogger,
  listen,
  ports,
  stopOnSignals,
  type Env,
  type Listening,
  type Logger,
  type ServiceDefinition,
  type ServiceInstance,
} from '@synthians/kit';
import { services } from './services.ts';

export interface RunOptions {
  env?: Env;
  host?: string;
  dataDir?: string;
  logger?: Logger;
}

/** `<SERVICE>_PORT` (e.g. MEMORY_CORE_PORT) overrides a registry port in `up`. */
export function portFor(def: ServiceDefinition, env: Env): number {
  const variable = `${def.name.toUpperCase().replaceAll('-', '_')}_PORT`;
  const value = env[variable];
  if (value === undefined || value === '') return ports[def.port];
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${variable} must be a port number (0–65535), got ${JSON.stringify(value)}`);
  }
  return port;
}

export function dataDirFrom(env: Env, given?: string): string {
  return resolve(given ?? env.SYNTHIANS_DATA_DIR ?? './data');
}

export async function up(
  options: RunOptions = {},
): Promise<{ instances: ServiceInstance[]; listening: Listening[] }> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? createLogger(undefined, env.LOG_LEVEL ?? 'info');
  const dataDir = dataDirFrom(env, options.dataDir);
  const host = options.host ?? env.HOST ?? '127.0.0.1';
  const assignments = Object.fromEntries(services.map((s) => [s.name, portFor(s, env)]));
  assertNoPortCollisions(assignments);
  // In one process every service reads the same environment; PORT/HOST are per service, so they are not passed.
  const { PORT: _port, ...shared } = env;
  const instances: ServiceInstance[] = [];
  const listening: Listening[] = [];
  try {
    for (const def of services) {
      const instance = await def.create({ env: shared, dataDir, host, port: assignments[def.name], logger });
      listening.push(await listen(instance));
      instances.push(instance);
    }
  } catch (err) {
    for (const i of instances.reverse()) await i.app.close().then(() => i.close());
    throw err;
  }
  return { instances, listening };
}

export async function serve(
  def: ServiceDefinition,
  options: RunOptions & { port?: number; follow?: string },
): Promise<{ instance: ServiceInstance; listening: Listening }> {
  const env = options.env ?? process.env;
  const instance = await def.create({
    env,
    dataDir: dataDirFrom(env, options.dataDir),
    host: options.host,
    port: options.port,
    options: { follow: options.follow },
    logger: options.logger,
  });
  return { instance, listening: await listen(instance) };
}

export { stopOnSignals };
