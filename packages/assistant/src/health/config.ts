// Configuration of the health monitor (port 5584): every variable, its default and its meaning.
import { z } from 'zod';
import {
  ConfigError,
  env,
  loadConfig,
  ports,
  type Env,
  type PortName,
  serviceVariables,
} from '@synthians/kit';

export interface HealthTarget {
  name: string;
  url: string;
}

/** The services of this build the monitor watches by default (the runner may pass its own list). */
export const DEFAULT_TARGET_SERVICES = [
  'memory-core',
  'neural-memory',
  'orchestrator',
  'vad',
  'audio-preprocessor',
  'wyoming',
  'coordinator',
  'task-router',
  'memory-orchestrator',
  'session-memory',
] as const satisfies readonly PortName[];

/** `http://<host>:<registry port>` for each named service (the default HEALTH_TARGETS). */
export function registryTargets(
  names: readonly PortName[] = DEFAULT_TARGET_SERVICES,
  host = '127.0.0.1',
  portOf: (name: PortName) => number = (name) => ports[name],
): HealthTarget[] {
  const h = host.includes(':') ? `[${host}]` : host;
  return names.map((name) => ({ name, url: `http://${h}:${portOf(name)}` }));
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Why `name` cannot name a monitored service, or undefined when it can. */
export function invalidName(name: string): string | undefined {
  return NAME.test(name)
    ? undefined
    : `invalid service name ${JSON.stringify(name)}: 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit`;
}

/** The base URL with trailing slashes dropped, or an error message when it is not an http(s) URL. */
export function normalizeUrl(url: string): { ok: true; url: string } | { ok: false; error: string } {
  const trimmed = url.trim().replace(/\/+$/, '');
  if (!URL.canParse(trimmed)) return { ok: false, error: `not a URL: ${JSON.stringify(url)}` };
  const parsed = new URL(trimmed);
  if (!/^https?:$/.test(parsed.protocol))
    return { ok: false, error: `not an http(s) URL: ${JSON.stringify(url)}` };
  if (parsed.search || parsed.hash)
    return { ok: false, error: `a base URL has no query or fragment: ${JSON.stringify(url)}` };
  return { ok: true, url: trimmed };
}

/** Parses `name=url,name=url` (whitespace around items ignored). Throws Error with a readable message. */
export function parseTargets(value: string): HealthTarget[] {
  const out: HealthTarget[] = [];
  const seen = new Set<string>();
  for (const item of value.split(',').map((s) => s.trim())) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`expected name=url, got ${JSON.stringify(item)}`);
    const name = item.slice(0, eq).trim();
    const nameError = invalidName(name);
    if (nameError) throw new Error(nameError);
    if (seen.has(name)) throw new Error(`service ${JSON.stringify(name)} is listed twice`);
    const url = normalizeUrl(item.slice(eq + 1));
    if (!url.ok) throw new Error(`${name}: ${url.error}`);
    seen.add(name);
    out.push({ name, url: url.url });
  }
  return out;
}

const list = (def: string) =>
  z
    .string()
    .min(1)
    .default(def)
    .transform((v) =>
      v.trim().toLowerCase() === 'none'
        ? []
        : v
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== ''),
    );

export const healthMonitorSchema = z.object({
  ...serviceVariables('health-monitor', ports['health-monitor'], 64 * 1024, '; also sent to every target'),
  HEALTH_TARGETS: z
    .string()
    .min(1)
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      try {
        return parseTargets(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    })
    .describe(
      `Services to watch, comma-separated name=url pairs (GET <url>/health); unset: ${DEFAULT_TARGET_SERVICES.join(', ')} on 127.0.0.1 at their registry ports (in \`up\`: the services it runs)`,
    ),
  HEALTH_POLL_INTERVAL_MS: env
    .int(5000, 50, 3_600_000)
    .describe('Time between two checks of a service; a stopped service is reported within two intervals'),
  HEALTH_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(3_600_000)
    .optional()
    .describe(
      'Timeout of one check (a timed-out service is down); must be shorter than HEALTH_POLL_INTERVAL_MS. Unset: 2000 or 80% of the interval, whichever is smaller',
    ),
  HEALTH_CRITICAL: list('memory-core,coordinator').describe(
    'Services whose being down makes the overall status unhealthy (others make it degraded); "none" for none',
  ),
  HEALTH_HISTORY_SIZE: env
    .int(100, 1, 100_000)
    .describe('Checks kept per service (history and uptime ratio)'),
  NATS_URL: env
    .optionalString()
    .describe(
      'NATS server(s) for the message bus (comma-separated); unset: the in-process bus of `synthians up`',
    ),
});

export type HealthMonitorConfig = z.infer<typeof healthMonitorSchema>;

/** The effective per-check timeout: HEALTH_TIMEOUT_MS, or min(2000, 80 % of the interval). */
export function effectiveTimeout(
  config: Pick<HealthMonitorConfig, 'HEALTH_POLL_INTERVAL_MS' | 'HEALTH_TIMEOUT_MS'>,
) {
  return (
    config.HEALTH_TIMEOUT_MS ?? Math.max(10, Math.min(2000, Math.floor(config.HEALTH_POLL_INTERVAL_MS * 0.8)))
  );
}

export function loadHealthMonitorConfig(source: Env = process.env): HealthMonitorConfig {
  const config = loadConfig(healthMonitorSchema, source);
  if (config.HEALTH_TIMEOUT_MS !== undefined && config.HEALTH_TIMEOUT_MS >= config.HEALTH_POLL_INTERVAL_MS) {
    const message = `must be shorter than HEALTH_POLL_INTERVAL_MS (${config.HEALTH_POLL_INTERVAL_MS}) so that one slow service cannot hold up the next poll (got ${config.HEALTH_TIMEOUT_MS})`;
    throw new ConfigError(`Invalid configuration: HEALTH_TIMEOUT_MS: ${message}`, [
      { variable: 'HEALTH_TIMEOUT_MS', message },
    ]);
  }
  return config;
}
