// The one port registry. Nothing else hard-codes a service's port.
import { ConfigError } from './errors.ts';

export const ports = {
  'memory-core': 5010,
  'memory-core-standby': 5020,
  'neural-memory': 8001,
  orchestrator: 8002,
  coordinator: 8080,
  'task-router': 5571,
  'health-monitor': 5584,
  'memory-orchestrator': 5576,
  'session-memory': 5574,
  'audio-preprocessor': 6581,
  vad: 6579,
  pc2: 5560,
  'memory-reasoning': 5596,
  dreamworld: 5599,
  'dreamworld-pub': 5598,
  wyoming: 10300,
} as const;

export type PortName = keyof typeof ports;

/** Refuses two services on one port (0 means "any free port" and never collides). */
export function assertNoPortCollisions(assignments: Record<string, number>): void {
  const byPort = new Map<number, string>();
  for (const [name, port] of Object.entries(assignments)) {
    if (port === 0) continue;
    const other = byPort.get(port);
    if (other !== undefined) {
      throw new ConfigError(
        `Port collision: ${other} and ${name} are both configured for port ${port}; give one of them another port`,
        [{ variable: name, message: `port ${port} is taken by ${other}` }],
      );
    }
    byPort.set(port, name);
  }
}

// Fail at import time if someone edits the registry into a collision.
assertNoPortCollisions(ports);

/** The variable that moves a service's port in `up` (`memory-core` → MEMORY_CORE_PORT). */
export const portVariable = (service: string) => `${service.toUpperCase().replaceAll('-', '_')}_PORT`;
