// The services this build implements, in start order. `up` runs all of them; `serve` runs one.
import { ports, portVariable, type Env, type ServiceDefinition } from '@synthians/kit';
import { coordinatorService, createHealthMonitorService, taskRouterService } from '@synthians/assistant';
import { memoryOrchestratorService, sessionMemoryService } from '@synthians/session-memory';
import { memoryCoreService } from '@synthians/memory-core';
import { neuralMemoryService } from '@synthians/neural-memory';
import { orchestratorService } from '@synthians/orchestrator';
import { preprocessorService, vadService, wyomingService } from '@synthians/voice';
import { memoryReasoningService } from '@synthians/reasoning';
import { dreamworldService } from '@synthians/dreamworld';
import { pc2Service } from '@synthians/pc2';

/** The services the health monitor watches by default: every other service of this build, at the port `up` gives it. */
const healthMonitorService = createHealthMonitorService({
  defaultTargets: () =>
    services
      .filter((s) => s.name !== 'health-monitor')
      .map((s) => ({ name: s.name, url: `http://127.0.0.1:${portFor(s, process.env)}` })),
});

export const services: ServiceDefinition[] = [
  memoryCoreService,
  neuralMemoryService,
  orchestratorService,
  vadService,
  preprocessorService,
  wyomingService,
  sessionMemoryService,
  memoryOrchestratorService,
  coordinatorService,
  taskRouterService,
  memoryReasoningService,
  dreamworldService,
  pc2Service,
  healthMonitorService,
];

export function findService(name: string): ServiceDefinition | undefined {
  return services.find((s) => s.name === name || s.port === name);
}

/** `<SERVICE>_PORT` (e.g. MEMORY_CORE_PORT) overrides a registry port in `up`. */
export function portFor(def: ServiceDefinition, env: Env): number {
  const variable = portVariable(def.name);
  const value = env[variable];
  if (value === undefined || value === '') return ports[def.port];
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${variable} must be a port number (0–65535), got ${JSON.stringify(value)}`);
  }
  return port;
}
