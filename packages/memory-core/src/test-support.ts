// Test helpers: a real memory core on a free loopback port with its own temporary data directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestService, unitVector, type TestService } from '@synthians/kit';
import { memoryCoreService } from './service.ts';

export type TestCore = TestService;

export function tempDir(prefix = 'synthians-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function startCore(
  env: Record<string, string> = {},
  options: { dir?: string; follow?: string } = {},
): Promise<TestCore> {
  const dir = options.dir ?? tempDir();
  return startTestService(memoryCoreService, {
    env: {
      EMBEDDING_DIM: '768',
      MEMORY_SYNC: 'normal',
      ...env,
      MEMORY_STORAGE_PATH: join(dir, 'memory-core'),
    },
    dir,
    options: { follow: options.follow },
  }).then((service) => ({
    ...service,
    // The directory is ours to remove unless the caller gave it.
    destroy: async () => {
      await service.stop();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  }));
}

export { unitVector };
