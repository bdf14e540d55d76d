// Test helpers: a real memory core on a free loopback port with its own temporary data directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, listen, stop, type ServiceInstance } from '@synthians/kit';
import { memoryCoreService } from './service.ts';

export interface TestCore {
  url: string;
  dir: string;
  instance: ServiceInstance;
  /** JSON request helper: returns status and parsed body (loosely typed: tests read many shapes). */
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
  ): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
  /** Stops and removes the data directory. */
  destroy(): Promise<void>;
}

export function tempDir(prefix = 'synthians-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startCore(
  env: Record<string, string> = {},
  options: { dir?: string; follow?: string } = {},
): Promise<TestCore> {
  const dir = options.dir ?? tempDir();
  const instance = await memoryCoreService.create({
    env: {
      EMBEDDING_DIM: '768',
      MEMORY_SYNC: 'normal',
      ...env,
      MEMORY_STORAGE_PATH: join(dir, 'memory-core'),
    },
    dataDir: dir,
    host: '127.0.0.1',
    port: 0,
    options: { follow: options.follow },
    logger: createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent'),
  });
  const { url } = await listen(instance);
  let stopped = false;
  const core: TestCore = {
    url,
    dir,
    instance,
    async request(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
      }
      const res = await fetch(url + path, init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON (NDJSON, metrics, HTML) */
      }
      return { status: res.status, body: parsed };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await stop(instance);
    },
    async destroy() {
      await core.stop();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return core;
}

/** A deterministic pseudo-random unit vector (for tests that supply embeddings). */
export function unitVector(seed: number, dim = 768): number[] {
  let s = (seed * 2654435761) >>> 0 || 1;
  const v: number[] = [];
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const x = s / 4294967296 - 0.5;
    v.push(x);
    norm += x * x;
  }
  return v.map((x) => x / Math.sqrt(norm));
}
