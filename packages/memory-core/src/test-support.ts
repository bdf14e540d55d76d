// Test helpers: a real memory core on a free loopback port with its own temporary data directory.
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
import { memoryCoreService } from './service.ts';

export interface TestCore {
  url: string;
  dir: string;
  instance: ServiceInstance;
  /** JSON request helper: returns status and parsed body. */
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<JsonResponse>;
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
    request: jsonClient(url),
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

export { unitVector };
