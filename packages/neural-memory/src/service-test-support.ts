// Test helpers: a real neural memory service on a free loopback port with its own temporary data directory.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestService, unitVector, type TestService } from '@synthians/kit';
import { neuralMemoryService } from './service.ts';

/** Small model sizes so that tests are fast. */
export const SMALL = {
  NM_INPUT_DIM: '32',
  NM_KEY_DIM: '16',
  NM_VALUE_DIM: '32',
  NM_HIDDEN_DIMS: '64',
  NM_AUTOSAVE_INTERVAL_MS: '0',
  // The contract tests exercise the original trainer-server's associative behaviour; sequence mode via /init.
  NM_MODE: 'associative',
};
export const DIM = 32;

export type TestNm = TestService;

export function tempDir(prefix = 'synthians-nm-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function startNm(env: Record<string, string> = {}, options: { dir?: string } = {}): Promise<TestNm> {
  return startTestService(neuralMemoryService, { env: { ...SMALL, ...env }, dir: options.dir });
}

/** A deterministic pseudo-random unit vector of the test size. */
export const vec = (seed: number, dim = DIM): number[] => unitVector(seed, dim);
