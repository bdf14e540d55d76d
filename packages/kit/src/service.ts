// The contract between a service and the runner (`synthians up` / `synthians serve`).
import type { App } from './http.ts';
import type { z } from 'zod';
import { maskSecrets, type Env } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { assertSafeBinding } from './net.ts';
import { allowedHostNames } from './browser.ts';
import type { Bus } from './bus.ts';
import type { PortName } from './ports.ts';

export interface ServiceContext {
  env: Env;
  /** The root data directory (`SYNTHIANS_DATA_DIR`, default ./data); a service keeps its files in a subfolder. */
  dataDir: string;
  /** Set by the runner: `up` assigns registry ports, `serve --port` overrides. Undefined → the service's own PORT. */
  port?: number;
  host?: string;
  /** Extra options from the command line (for example `--follow`). */
  options?: Record<string, string | undefined>;
  logger?: Logger;
  /** The message bus shared by the services of one process (`up`); a service alone creates its own. */
  bus?: Bus;
}

export interface ServiceInstance {
  name: string;
  app: App;
  host: string;
  port: number;
  /**
   * For a service whose port speaks more than HTTP (the Wyoming server): binds `host:port` itself and hands
   * HTTP connections to `app.server`. Returns the bound port. When absent, the runner calls `app.listen`.
   */
  bind?(): Promise<number>;
  /** Runs after the server listens (background loops, followers). */
  start?(): Promise<void>;
  /** Flushes and closes storage; called after the HTTP server stopped taking requests. */
  close(): Promise<void>;
}

export interface ServiceDefinition {
  name: string;
  port: PortName;
  description: string;
  /** The service's configuration schema (documented in the README). */
  config: z.ZodObject;
  create(context: ServiceContext): Promise<ServiceInstance>;
}

/** The variables every service has (see `serviceVariables`). */
export interface BaseServiceConfig {
  HOST: string;
  PORT: number;
  LOG_LEVEL: string;
  SYNTHIANS_API_TOKEN?: string | undefined;
  CORS_ORIGINS?: string | undefined;
  RATE_LIMIT_PER_MINUTE?: number | undefined;
  ALLOWED_HOSTS?: string | undefined;
}

/** The HTTP protections of `serviceVariables`, to spread into `createApp`. */
export interface HttpProtection {
  corsOrigins: string[];
  rateLimitPerMinute: number;
  /** Host names served besides IP literals and localhost (ALLOWED_HOSTS, and this machine's off loopback). */
  allowedHosts: string[];
}

/**
 * What every service does first: its logger (a child of the runner's), the address to bind (the runner's
 * choice over the service's own HOST/PORT), the refusal to listen off loopback without a token, and the
 * configuration at debug level with secrets masked.
 */
export function serviceSetup(
  context: ServiceContext,
  name: string,
  config: BaseServiceConfig,
  port: number = context.port ?? config.PORT,
): { logger: Logger; host: string; port: number; http: HttpProtection } {
  const logger = context.logger?.child({ service: name }) ?? createLogger(name, config.LOG_LEVEL);
  const host = context.host ?? config.HOST;
  assertSafeBinding(host, config.SYNTHIANS_API_TOKEN);
  logger.debug({ config: maskSecrets(config as unknown as Record<string, unknown>) }, 'configuration');
  const http: HttpProtection = {
    corsOrigins: (config.CORS_ORIGINS ?? '')
      .split(',')
      .map((o) => o.trim().replace(/\/+$/, ''))
      .filter((o) => o !== ''),
    rateLimitPerMinute: config.RATE_LIMIT_PER_MINUTE ?? 0,
    allowedHosts: allowedHostNames(host, config.ALLOWED_HOSTS),
  };
  return { logger, host, port, http };
}
