// Resident memory of a process tree from /proc (Linux): `synthians up` runs its services in a child process.
import { readdirSync, readFileSync } from 'node:fs';

/** A process and all its descendants. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const children = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
    for (const c of children ? children.split(/\s+/) : []) out.push(...processTree(Number(c)));
  }
  return out;
}

/** RSS and its peak (VmHWM) of a process tree, in MB, summed over the processes. */
export function memoryOf(pid: number): { rss_mb: number; peak_mb: number; processes: number } {
  let rss = 0;
  let peak = 0;
  const pids = processTree(pid);
  for (const p of pids) {
    const status = readFileSync(`/proc/${p}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    rss += kb('VmRSS');
    peak += kb('VmHWM');
  }
  return { rss_mb: Math.round(rss / 1024), peak_mb: Math.round(peak / 1024), processes: pids.length };
}
