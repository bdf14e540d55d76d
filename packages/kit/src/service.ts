// The contract between a service and the runner (`synthians up` / `synthians serve`).
import type { App } from './http.ts';
import type { z } from 'zod';
import type { Env } from './config.ts';
import type { Logger } from './logger.ts';
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
}

export interface ServiceInstance {
  name: string;
  app: App;
  host: string;
  port: number;
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
