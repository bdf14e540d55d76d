// Test helpers: a real neural memory service on a free loopback port with its own temporary data directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, listen, stop, type ServiceInstance } from '@synthians/kit';
import { neuralMemoryService } from './service.ts';

/** Small model sizes so that tests are fast. */
export const SMALL = {
  NM_INPUT_DIM: '32',
  NM_KEY_DIM: '16',
  NM_VALUE_DIM: '32',
  NM_HIDDEN_DIMS: '64',
  NM_AUTOSAVE_INTERVAL_MS: '0',
};
export const DIM = 32;

export interface TestNm {
  url: string;
  dir: string;
  instance: ServiceInstance;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

export function tempDir(prefix = 'synthians-nm-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startNm(
  env: Record<string, string> = {},
  options: { dir?: string } = {},
): Promise<TestNm> {
  const dir = options.dir ?? tempDir();
  const instance = await neuralMemoryService.create({
    env: { ...SMALL, ...env },
    dataDir: dir,
    host: '127.0.0.1',
    port: 0,
    logger: createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent'),
  });
  const { url } = await listen(instance);
  let stopped = false;
  const nm: TestNm = {
    url,
    dir,
    instance,
    async request(method, path, body) {
      const init: RequestInit = { method, headers: {} };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] = 'application/json';
      }
      const res = await fetch(url + path, init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await stop(instance);
    },
    async destroy() {
      await nm.stop();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return nm;
}

/** A deterministic pseudo-random unit vector. */
export function vec(seed: number, dim = DIM): number[] {
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
