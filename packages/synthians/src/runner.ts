// Runs services in this process: `up` (all, registry ports, one data directory) and `serve` (one).
import { resolve } from 'node:path';
import {
  assertNoPortCollisions,
  createBus,
  createLogger,
  listen,
  stopOnSignals,
  type Env,
  type Listening,
  type Logger,
  type ServiceDefinition,
  type ServiceInstance,
} from '@synthians/kit';
import { portFor, services } from './services.ts';
import { knownVariables, misspelledVariables } from './variables.ts';

export { portFor };

export interface RunOptions {
  env?: Env;
  host?: string;
  dataDir?: string;
  logger?: Logger;
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
  warnMisspelled(env, logger);
  const assignments = Object.fromEntries(services.map((s) => [s.name, portFor(s, env)]));
  assertNoPortCollisions(assignments);
  // In one process every service reads the same environment; PORT/HOST are per service, so they are not passed.
  const { PORT: _port, ...shared } = env;
  // One bus for every service of this process: in-process, or NATS when NATS_URL is set.
  const bus = await createBus({
    natsUrl: env.NATS_URL || undefined,
    name: 'synthians',
    token: env.SYNTHIANS_API_TOKEN,
    logger,
  });
  const instances: ServiceInstance[] = [];
  const listening: Listening[] = [];
  try {
    for (const def of services) {
      const instance = await def.create({
        env: shared,
        dataDir,
        host,
        port: assignments[def.name],
        logger,
        bus,
      });
      listening.push(await listen(instance));
      instances.push(instance);
    }
  } catch (err) {
    for (const i of instances.reverse()) await i.app.close().then(() => i.close());
    throw err;
  }
  return { instances, listening };
}

function warnMisspelled(env: Env, logger: Logger): void {
  for (const { variable, meant } of misspelledVariables(env, knownVariables(services)))
    logger.warn(
      `${variable} is not a Synthians variable and is ignored: did you mean ${meant.join(' or ')}?`,
    );
}

export async function serve(
  def: ServiceDefinition,
  options: RunOptions & { port?: number; follow?: string },
): Promise<{ instance: ServiceInstance; listening: Listening }> {
  const env = options.env ?? process.env;
  warnMisspelled(env, options.logger ?? createLogger(def.name, env.LOG_LEVEL ?? 'info'));
  // With NATS_URL (containers, split mode) the service talks to the others over NATS.
  const bus = env.NATS_URL
    ? await createBus({
        natsUrl: env.NATS_URL,
        name: def.name,
        token: env.SYNTHIANS_API_TOKEN,
        logger: options.logger ?? createLogger(def.name, env.LOG_LEVEL ?? 'info'),
      })
    : undefined;
  const instance = await def.create({
    env,
    dataDir: dataDirFrom(env, options.dataDir),
    host: options.host,
    port: options.port,
    options: { follow: options.follow },
    logger: options.logger,
    ...(bus ? { bus } : {}),
  });
  return { instance, listening: await listen(instance) };
}

export { stopOnSignals };
