// The services this build implements, in start order. `up` runs all of them; `serve` runs one.
import type { ServiceDefinition } from '@synthians/kit';
import { memoryCoreService } from '@synthians/memory-core';
import { neuralMemoryService } from '@synthians/neural-memory';
import { orchestratorService } from '@synthians/orchestrator';

export const services: ServiceDefinition[] = [memoryCoreService, neuralMemoryService, orchestratorService];

export function findService(name: string): ServiceDefinition | undefined {
  return services.find((s) => s.name === name || s.port === name);
}
