// Test helpers: a real coordinator (own PGlite session database under its data directory) in front of a real memory
// core + neural memory + orchestrator (`startStack`), and optionally the LLM double.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestService, type Bus, type TestService } from '@synthians/kit';
import { createCoordinatorService, type CoordinatorInstance, type CoordinatorOptions } from './service.ts';

export const tempDir = () => mkdtempSync(join(tmpdir(), 'synthians-coordinator-'));

export interface TestCoordinator extends TestService {
  coordinator: CoordinatorInstance;
}

export async function startCoordinator(
  env: Record<string, string>,
  opts: { dir?: string; bus?: Bus; options?: CoordinatorOptions } = {},
): Promise<TestCoordinator> {
  const service = await startTestService(createCoordinatorService(opts.options), {
    env: { MEMORY_TIMEOUT_MS: '3000', TZ: 'UTC', ...env },
    dir: opts.dir,
    bus: opts.bus,
  });
  return { ...service, coordinator: service.instance as CoordinatorInstance };
}
