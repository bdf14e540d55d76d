// Variables that look like ours but are not (DREAMWORLD_PUB_PORT for DREAM_PUB_PORT): a port or URL override that is
// silently ignored sends a service somewhere else than its user thinks, so each one gets a warning naming the
// variable meant.
import { portVariable, type Env } from '@synthians/kit';
import type { ServiceDefinition } from '@synthians/kit';

/** Variables the runner itself reads (the services' own come from their schemas). */
const RUNNER_VARIABLES = [
  'SYNTHIANS_DATA_DIR',
  'NATS_URL',
  'LOG_LEVEL',
  'COORDINATOR_URL',
  'SYNTHIANS_PARENT_PID',
];

/** Every variable this build reads: the services' schemas, their `<SERVICE>_PORT` and the runner's. */
export function knownVariables(services: ServiceDefinition[]): Set<string> {
  const known = new Set(RUNNER_VARIABLES);
  for (const s of services) {
    known.add(portVariable(s.name));
    for (const key of Object.keys(s.config.shape)) known.add(key);
  }
  return known;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/**
 * `*_PORT`, `*_URL` and `*_HOST` variables set in `env` that no service reads but that are close to ones that do:
 * `[{variable, meant}]`, `meant` the closest names first (at most three).
 */
export function misspelledVariables(env: Env, known: Set<string>): { variable: string; meant: string[] }[] {
  const out: { variable: string; meant: string[] }[] = [];
  for (const variable of Object.keys(env)) {
    if (!/^[A-Z][A-Z0-9_]*_(PORT|URL|URLS|HOST)$/.test(variable) || known.has(variable)) continue;
    const suffix = variable.slice(variable.lastIndexOf('_'));
    const limit = Math.max(2, Math.floor(variable.length * 0.4));
    const close = [...known]
      .filter((name) => name.endsWith(suffix))
      .map((name) => ({ name, d: distance(variable, name) }))
      .filter((c) => c.d <= limit)
      .sort((a, b) => a.d - b.d || a.name.localeCompare(b.name))
      .slice(0, 3);
    if (close.length) out.push({ variable, meant: close.map((c) => c.name) });
  }
  return out;
}
