// Test helpers: a real neural memory service on a free loopback port with its own temporary data directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLogger,
  jsonClient,
  listen,
  stop,
  unitVector,
  type JsonResponse,
  type ServiceInstance,
} from '@synthians/kit';
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
  request(method: string, path: string, body?: unknown): Promise<JsonResponse>;
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
    request: jsonClient(url),
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

/** A deterministic pseudo-random unit vector of the test size. */
export const vec = (seed: number, dim = DIM): number[] => unitVector(seed, dim);
