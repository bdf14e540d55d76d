// Configuration from environment variables: one typed zod schema per service, read once at start-up.
// A bad value stops start-up with a ConfigError naming the variable.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { portVariable } from './ports.ts';

export type Env = Record<string, string | undefined>;

/** Reads `schema` (an object whose keys are variable names) from `env`; empty strings count as unset. */
export function loadConfig<S extends z.ZodObject>(schema: S, env: Env = process.env): z.infer<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  // The token may come from a file (a mounted secret) instead of the environment.
  if ('SYNTHIANS_API_TOKEN' in schema.shape && !input.SYNTHIANS_API_TOKEN && env.SYNTHIANS_API_TOKEN_FILE) {
    input.SYNTHIANS_API_TOKEN = readTokenFile(env.SYNTHIANS_API_TOKEN_FILE);
  }
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => {
    const variable = String(issue.path[0] ?? '(config)');
    const given = input[variable];
    const shown = given === undefined ? 'unset' : isSecretName(variable) ? '<hidden>' : JSON.stringify(given);
    return { variable, message: `${issue.message} (got ${shown})` };
  });
  throw new ConfigError(
    `Invalid configuration: ${issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`,
    issues,
  );
}

const secretPattern = /TOKEN|SECRET|PASSWORD|API_KEY|PASSWD|CREDENTIAL/i;
export const isSecretName = (name: string) => secretPattern.test(name);

/** The configuration with secret values masked, for a debug log line. */
export function maskSecrets(config: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(config).map(([k, v]) => [k, isSecretName(k) && v !== undefined ? '***' : v]),
  );
}

/** Reusable field types for environment variables (strings in, typed values out). */
export const env = {
  port: (def: number) => z.coerce.number().int().min(0).max(65535).default(def),
  int: (def: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce.number().int().min(min).max(max).default(def),
  number: (def: number, min = -Infinity, max = Infinity) => z.coerce.number().min(min).max(max).default(def),
  string: (def: string) => z.string().min(1).default(def),
  optionalString: () => z.string().min(1).optional(),
  url: () => z.url().optional(),
  bool: (def: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
      .default(def ? 'true' : 'false')
      .transform((v) => ['true', '1', 'yes', 'on'].includes(v)),
  logLevel: () =>
    z
      .string()
      .transform((v) => v.toLowerCase())
      .pipe(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
      .default('info'),
  host: () => z.string().min(1).default('127.0.0.1'),
  /** A comma-separated list; items trimmed, empty ones dropped. */
  list: (def: string) =>
    z
      .string()
      .default(def)
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== ''),
      ),
  /** One http(s) URL or several, comma-separated (e.g. a primary then its standbys); trailing slashes dropped. */
  urlList: (def: string) =>
    z
      .string()
      .min(1)
      .default(def)
      .transform((v, ctx) => {
        const urls = v
          .split(',')
          .map((u) => u.trim().replace(/\/+$/, ''))
          .filter((u) => u !== '');
        for (const u of urls) {
          if (!URL.canParse(u) || !/^https?:$/.test(new URL(u).protocol)) {
            ctx.addIssue({ code: 'custom', message: `not an http(s) URL: ${u}` });
            return z.NEVER;
          }
        }
        if (urls.length === 0) {
          ctx.addIssue({ code: 'custom', message: 'no URL given' });
          return z.NEVER;
        }
        return urls;
      }),
};

export interface VariableDoc {
  variable: string;
  default: string;
  description: string;
}

/** Every variable of a schema with its default and description (for the README and `--help`). */
export function describeConfig(schema: z.ZodObject): VariableDoc[] {
  return Object.entries(schema.shape).map(([variable, type]) => {
    let t = type as z.ZodType;
    let def: unknown;
    for (let i = 0; i < 8; i++) {
      const d = (t as unknown as { def: Record<string, unknown> }).def;
      if (d.type === 'default') {
        def = typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue;
        break;
      }
      const inner = (d.in ?? d.innerType) as z.ZodType | undefined;
      if (!inner) break;
      t = inner;
    }
    return {
      variable,
      default: def === undefined ? '' : String(def),
      description: (type as z.ZodType).description ?? '',
    };
  });
}

/**
 * The variables every service has — PORT, HOST, LOG_LEVEL, SYNTHIANS_API_TOKEN, MAX_BODY_BYTES — to spread into its
 * schema: `z.object({ ...serviceVariables('orchestrator', 8002, 4 << 20), … })`.
 */
export function serviceVariables(name: string, port: number, maxBodyBytes: number, tokenNote = '') {
  const variable = portVariable(name);
  return {
    PORT: env
      .port(port)
      .describe(`Port for \`serve ${name}\` (in \`up\`, ${variable} overrides the registry port)`),
    HOST: env.host().describe('Address to bind; anything but loopback requires SYNTHIANS_API_TOKEN'),
    LOG_LEVEL: env.logLevel().describe('fatal, error, warn, info, debug, trace or silent'),
    SYNTHIANS_API_TOKEN: env
      .optionalString()
      .describe(`Bearer token required on every route but /health and /ready${tokenNote}`),
    SYNTHIANS_API_TOKEN_FILE: env
      .optionalString()
      .describe('A file holding the token (e.g. a mounted secret), read when SYNTHIANS_API_TOKEN is unset'),
    MAX_BODY_BYTES: env.int(maxBodyBytes, 1024).describe('Largest accepted JSON body in bytes (413 above)'),
    CORS_ORIGINS: env
      .optionalString()
      .describe(
        'Browser origins allowed to call this service cross-origin, comma-separated (e.g. the console at http://127.0.0.1:8080); unset: none',
      ),
    ALLOWED_HOSTS: env
      .optionalString()
      .describe(
        "Host names this service answers to besides IP addresses and localhost, comma-separated (a reverse proxy's name, a compose service name); requests naming another host get 403 (DNS rebinding). Off loopback this machine's hostname is added",
      ),
    RATE_LIMIT_PER_MINUTE: env
      .int(1200, 0, 1_000_000)
      .describe(
        'Requests per minute per client address (429 rate_limited above); loopback clients are not limited; 0 = off',
      ),
  };
}

function readTokenFile(file: string): string {
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`Cannot read SYNTHIANS_API_TOKEN_FILE ${file}: ${(err as Error).message}`, [
      { variable: 'SYNTHIANS_API_TOKEN_FILE', message: 'unreadable' },
    ]);
  }
  if (token === '')
    throw new ConfigError(`SYNTHIANS_API_TOKEN_FILE ${file} is empty`, [
      { variable: 'SYNTHIANS_API_TOKEN_FILE', message: 'empty' },
    ]);
  return token;
}
