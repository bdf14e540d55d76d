// `synthians up --split`: every service in its own process on loopback, wired like the containers of compose.yaml —
// service URLs from the port registry (or <SERVICE>_PORT), NATS as the bus (NATS_URL, or a nats-server started here)
// and PostgreSQL at DATABASE_URL for the session database (processes cannot share the in-process PGlite one).
// Services start in dependency order; each must answer /health before the next starts. Stopping stops them in
// reverse order (SIGTERM, then SIGKILL after a grace period), and the nats-server this started.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ConfigError, assertNoPortCollisions, type Env, type Listening, type Logger } from '@synthians/kit';
import { portFor, services } from './services.ts';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));

export interface SplitOptions {
  env?: Env;
  dataDir: string;
  logger: Logger;
  /** How long a service may take to answer /health (ms). */
  startTimeoutMs?: number;
  /** Child output: inherited (the CLI) or dropped (tests). */
  stdio?: 'inherit' | 'ignore';
}

export interface SplitRun {
  listening: Listening[];
  /** Service name → its process. */
  processes: Map<string, ChildProcess>;
  env: Env;
  natsUrl: string;
  /** Stops every service (reverse order) and the nats-server this started. */
  stop(): Promise<void>;
}

/** The environment every service process gets (what compose.yaml gives the containers). */
export function splitEnvironment(env: Env, natsUrl: string, dataDir: string): Env {
  const url = (name: string) => {
    const def = services.find((s) => s.name === name);
    return def ? `http://127.0.0.1:${portFor(def, env)}` : undefined;
  };
  const targets = services
    .filter((s) => s.name !== 'health-monitor')
    .map((s) => `${s.name}=${url(s.name)}`)
    .join(',');
  return {
    ...env,
    NATS_URL: natsUrl,
    SYNTHIANS_DATA_DIR: dataDir,
    MEMORY_CORE_URL: env.MEMORY_CORE_URL ?? url('memory-core'),
    NEURAL_MEMORY_URL: env.NEURAL_MEMORY_URL ?? url('neural-memory'),
    ORCHESTRATOR_URL: env.ORCHESTRATOR_URL ?? url('orchestrator'),
    HEALTH_MONITOR_URL: env.HEALTH_MONITOR_URL ?? url('health-monitor'),
    // Speech on the PC2 worker (the coordinator falls back to its own engines while it is down).
    PC2_URL: env.PC2_URL ?? url('pc2'),
    HEALTH_TARGETS: env.HEALTH_TARGETS ?? targets,
  };
}

export async function upSplit(options: SplitOptions): Promise<SplitRun> {
  const env = options.env ?? process.env;
  const { logger } = options;
  if (!env.DATABASE_URL) {
    throw new ConfigError(
      'Split mode needs PostgreSQL: set DATABASE_URL (separate processes cannot share the in-process PGlite database)',
      [{ variable: 'DATABASE_URL', message: 'required with --split' }],
    );
  }
  const assignments = Object.fromEntries(services.map((s) => [s.name, portFor(s, env)]));
  assertNoPortCollisions(assignments);
  const processes = new Map<string, ChildProcess>();
  const listening: Listening[] = [];
  let nats: ChildProcess | undefined;
  let natsUrl = env.NATS_URL ?? '';
  const stdio = options.stdio ?? 'inherit';

  const stop = async () => {
    for (const [name, child] of [...processes.entries()].reverse()) {
      await stopChild(child, 10_000);
      processes.delete(name);
    }
    if (nats) await stopChild(nats, 5000);
  };

  try {
    if (!natsUrl) {
      const port = await freePort();
      nats = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
      await new Promise<void>((resolve, reject) => {
        nats!.once('error', (err: NodeJS.ErrnoException) =>
          reject(
            err.code === 'ENOENT'
              ? new ConfigError(
                  'Split mode needs NATS: set NATS_URL or install nats-server (Debian package nats-server)',
                  [{ variable: 'NATS_URL', message: 'unset and nats-server not found' }],
                )
              : err,
          ),
        );
        nats!.once('spawn', () => resolve());
      });
      natsUrl = `nats://127.0.0.1:${port}`;
      await waitForPort(port, 10_000, () => nats?.exitCode !== null);
      logger.info({ url: natsUrl }, 'nats-server started');
    }
    const childEnv = splitEnvironment(env, natsUrl, options.dataDir);
    for (const def of services) {
      const port = assignments[def.name] as number;
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', CLI, 'serve', def.name, '--port', String(port), '--data-dir', options.dataDir],
        { env: { ...childEnv, PORT: String(port) }, stdio: ['ignore', stdio, stdio] },
      );
      processes.set(def.name, child);
      const url = `http://127.0.0.1:${port}`;
      await waitForHealth(url, options.startTimeoutMs ?? 60_000, child, def.name);
      listening.push({ name: def.name, url });
      logger.info({ service: def.name, url, pid: child.pid }, 'service started');
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { listening, processes, env: splitEnvironment(env, natsUrl, options.dataDir), natsUrl, stop };
}

async function waitForHealth(url: string, timeoutMs: number, child: ChildProcess, name: string) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `${name} exited (${child.exitCode ?? child.signalCode}) before it answered ${url}/health`,
      );
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} did not answer ${url}/health within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitForPort(port: number, timeoutMs: number, exited: () => boolean) {
  const deadline = Date.now() + timeoutMs;
  const { connect } = await import('node:net');
  for (;;) {
    if (exited()) throw new Error('nats-server exited at start');
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
