// Starts a real memory core as a child process (`synthians serve memory-core --port 0`) for the benchmarks.
// The data generator and the exact ground truth live in ./data.ts (re-exported here).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { loadMemoryCoreConfig } from '../../packages/memory-core/src/config.ts';
import { getJson } from './http.ts';
import { log, sleep } from './util.ts';

export * from './data.ts';

export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface StartOptions {
  /** The storage directory (MEMORY_STORAGE_PATH); a new temporary one when omitted. */
  dir?: string;
  /** Extra environment variables (override the defaults LOG_LEVEL=warn etc.). */
  env?: Record<string, string>;
  /** Extra node flags for the server process, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']. BENCH_SERVER_NODE_ARGS adds more. */
  nodeArgs?: string[];
  /** Give up waiting for /ready after this long. */
  timeoutMs?: number;
  /** Echo every server output line to stderr (default: only warnings and errors). */
  echo?: boolean;
}

export interface LogLine {
  /** ms since spawn when the line arrived. */
  at: number;
  line: string;
  json?: Record<string, unknown>;
}

export interface Server {
  url: string;
  pid: number;
  dir: string;
  env: Record<string, string>;
  /** ms from spawn to: the "listening on" line on stdout, and the first GET /ready answering 200. */
  timings: { urlLineMs: number; readyMs: number };
  lines: LogLine[];
  /** SIGTERM, then wait for the exit; returns the exit code and how long it took. */
  stop(): Promise<{ code: number | null; ms: number }>;
  /** SIGKILL, then wait for the exit. */
  kill9(): Promise<void>;
  /** VmRSS of the server process, bytes. */
  rssBytes(): number;
  /** VmHWM (peak resident set) of the server process, bytes. */
  peakRssBytes(): number;
  /** User + system CPU time the server has used so far, ms. */
  cpuMs(): number;
  exited: Promise<number | null>;
}

export function tempDir(prefix = 'synthians-bench-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export async function startServer(options: StartOptions = {}): Promise<Server> {
  const dir = options.dir ?? tempDir();
  const env: Record<string, string> = {
    MEMORY_STORAGE_PATH: dir,
    LOG_LEVEL: 'warn',
    ...options.env,
  };
  const extraNodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const args = [
    ...(options.nodeArgs ?? []),
    ...extraNodeArgs,
    join(repoRoot, 'packages/synthians/bin/synthians.js'),
    'serve',
    'memory-core',
    '--port',
    '0',
  ];
  const childEnv = { ...process.env, ...env };
  // The bench's own flags must not leak into the server.
  delete childEnv.NODE_OPTIONS;
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid!;
  const lines: LogLine[] = [];
  const exited = new Promise<number | null>((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit(code ?? (signal ? -1 : null))),
  );
  let urlResolve: (url: string) => void;
  let urlReject: (err: Error) => void;
  const urlPromise = new Promise<string>((res, rej) => {
    urlResolve = res;
    urlReject = rej;
  });
  let urlLineMs = NaN;
  const onLine = (stream: 'stdout' | 'stderr') => (line: string) => {
    const at = performance.now() - started;
    let json: Record<string, unknown> | undefined;
    if (line.startsWith('{')) {
      try {
        json = JSON.parse(line) as Record<string, unknown>;
      } catch {
        /* not JSON */
      }
    }
    lines.push({ at, line, json });
    const m = /memory-core listening on (http:\/\/\S+)/.exec(line);
    if (m) {
      urlLineMs = at;
      urlResolve(m[1]!);
    }
    const level = typeof json?.level === 'number' ? json.level : stream === 'stderr' ? 50 : 30;
    if (options.echo || level >= 40) process.stderr.write(`  [server ${pid}] ${line}\n`);
  };
  createInterface({ input: child.stdout! }).on('line', onLine('stdout'));
  createInterface({ input: child.stderr! }).on('line', onLine('stderr'));
  void exited.then((code) => urlReject(new Error(`the server exited (${code}) before listening`)));

  const timeoutMs = options.timeoutMs ?? 300_000;
  const timer = setTimeout(
    () => urlReject(new Error(`the server did not listen within ${timeoutMs} ms`)),
    timeoutMs,
  );
  let url: string;
  try {
    url = await urlPromise;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
  // Wait for GET /ready to answer 200.
  let readyMs = NaN;
  for (;;) {
    try {
      const r = await getJson(url, '/ready');
      if (r.status === 200) {
        readyMs = performance.now() - started;
        break;
      }
    } catch {
      /* not yet */
    }
    if (performance.now() - started > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error('the server did not become ready');
    }
    await sleep(5);
  }

  const procStatus = (field: string) => {
    try {
      const text = readFileSync(`/proc/${pid}/status`, 'utf8');
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
      return m ? Number(m[1]) * 1024 : NaN;
    } catch {
      return NaN;
    }
  };
  const server: Server = {
    url,
    pid,
    dir,
    env,
    timings: { urlLineMs, readyMs },
    lines,
    exited,
    async stop() {
      const t = performance.now();
      child.kill('SIGTERM');
      const code = await exited;
      return { code, ms: performance.now() - t };
    },
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    rssBytes: () => procStatus('VmRSS'),
    peakRssBytes: () => procStatus('VmHWM'),
    cpuMs() {
      try {
        // /proc/<pid>/stat: fields 14 and 15 are utime and stime in clock ticks (100 per second on Linux).
        const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
        return (Number(fields[11]) + Number(fields[12])) * 10;
      } catch {
        return NaN;
      }
    },
  };
  log(`server ${pid} ready at ${url} in ${Math.round(readyMs)} ms (dir ${dir})`);
  return server;
}

/** The JSON log lines with this msg. */
export function logLines(server: Server, msg: string): LogLine[] {
  return server.lines.filter((l) => l.json?.msg === msg);
}

export const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/** The settings that matter for performance, as the server resolved them (its env over the defaults). */
export function serverSettings(server: Pick<Server, 'env'>): Record<string, unknown> {
  const c = loadMemoryCoreConfig({ ...process.env, ...server.env });
  return {
    MEMORY_SYNC: c.MEMORY_SYNC,
    INDEX_QUANTIZATION: c.INDEX_QUANTIZATION,
    INDEX_CONNECTIVITY: c.INDEX_CONNECTIVITY,
    INDEX_EXPANSION_ADD: c.INDEX_EXPANSION_ADD,
    INDEX_EXPANSION_SEARCH: c.INDEX_EXPANSION_SEARCH,
    INDEX_SNAPSHOT_EVERY: c.INDEX_SNAPSHOT_EVERY,
    EMBEDDING_DIM: c.EMBEDDING_DIM,
    EMBEDDING_PROVIDER: c.EMBEDDING_PROVIDER,
    LOG_LEVEL: c.LOG_LEVEL,
    overrides: Object.fromEntries(Object.entries(server.env).filter(([k]) => k !== 'MEMORY_STORAGE_PATH')),
  };
}

/** Environment overrides for every server a benchmark starts: `--server-env K=V,K2=V2` or BENCH_SERVER_ENV. */
export function serverEnvFromFlags(value: string | undefined): Record<string, string> {
  if (!value) return {};
  return Object.fromEntries(
    value
      .split(',')
      .map((kv) => kv.trim())
      .filter(Boolean)
      .map((kv) => {
        const i = kv.indexOf('=');
        if (i <= 0) throw new Error(`--server-env takes K=V pairs separated by commas, got ${kv}`);
        return [kv.slice(0, i), kv.slice(i + 1)];
      }),
  );
}
