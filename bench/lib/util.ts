// Small helpers shared by the benchmarks: flags, machine description, percentiles, logging to stderr.
import { readFileSync } from 'node:fs';
import { cpus, totalmem, loadavg } from 'node:os';

/** `--name value`, `--name=value` or the environment variable BENCH_<NAME> (dashes become underscores). */
export function flag(name: string): string | undefined {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${name}`) return argv[i + 1];
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return process.env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`];
}

export function intFlag(name: string, def: number): number {
  const v = flag(name);
  if (v === undefined || v === '') return def;
  const n = Number(v.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
  return n;
}

export function listFlag(name: string, def: number[]): number[] {
  const v = flag(name);
  if (v === undefined || v === '') return def;
  return v.split(',').map((x) => {
    const n = Number(x.trim().replaceAll('_', ''));
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`--${name} takes integers separated by commas, got ${v}`);
    return n;
  });
}

export function boolFlag(name: string): boolean {
  if (process.argv.slice(2).includes(`--${name}`)) return true;
  const v = process.env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`];
  return v === '1' || v === 'true';
}

export function machine(): Record<string, unknown> {
  const c = cpus();
  return {
    cpus: c.length,
    cpu_model: c[0]?.model ?? 'unknown',
    total_memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadavg_1m_at_start: Math.round(loadavg()[0]! * 100) / 100,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

export function log(...parts: unknown[]): void {
  process.stderr.write(
    `[bench ${new Date().toISOString().slice(11, 23)}] ${parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(' ')}\n`,
  );
}

export const round = (x: number, digits = 2) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** Nearest-rank percentile of already-collected samples. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface LatencySummary {
  count: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
}

export function latencySummary(samplesMs: number[]): LatencySummary {
  const s = [...samplesMs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  return {
    count: s.length,
    p50_ms: round(percentile(s, 50)),
    p90_ms: round(percentile(s, 90)),
    p99_ms: round(percentile(s, 99)),
    max_ms: round(s[s.length - 1] ?? NaN),
    mean_ms: round(mean),
  };
}

/** Prints the one JSON object on stdout. */
export function emit(result: unknown): void {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function target(value: number, op: '>=' | '<=', goal: number, unit: string): Record<string, unknown> {
  const met = op === '>=' ? value >= goal : value <= goal;
  return { value, target: `${op} ${goal} ${unit}`, met };
}

/** CPU time (ms) all processes on the machine have used so far (from /proc/stat; NaN elsewhere). */
export function machineBusyMs(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
    return busy * 10;
  } catch {
    return NaN;
  }
}

/**
 * Measures CPU use during a phase: this process, the server, and everything else on the machine (other work
 * running concurrently distorts the figures; this makes it visible).
 */
export function cpuMeter(
  serverCpuMs: () => number,
): () => { wall_s: number; server_cpu_s: number; client_cpu_s: number; other_cpu_s: number } {
  const wall0 = performance.now();
  const machine0 = machineBusyMs();
  const server0 = serverCpuMs();
  const client0 = process.cpuUsage();
  return () => {
    const wall = performance.now() - wall0;
    const client = process.cpuUsage(client0);
    const clientMs = (client.user + client.system) / 1000;
    const serverMs = serverCpuMs() - server0;
    const machineMs = machineBusyMs() - machine0;
    return {
      wall_s: round(wall / 1000, 3),
      server_cpu_s: round(serverMs / 1000, 2),
      client_cpu_s: round(clientMs / 1000, 2),
      other_cpu_s: round(Math.max(0, machineMs - serverMs - clientMs) / 1000, 2),
    };
  };
}

/**
 * Waits (up to maxWaitS) until processes outside the benchmark use less than `threshold` of one core over a
 * one-second window, so that timed phases are less disturbed by other work on a shared machine. Returns what
 * it saw: the other processes' CPU use (cores) in the last window, and how long it waited.
 */
export async function waitForQuiet(
  ownCpuMs: () => number,
  maxWaitS = Number(process.env.BENCH_QUIET_WAIT_S ?? 15),
  threshold = 0.25,
): Promise<{ other_cores_before: number; waited_s: number }> {
  const t0 = performance.now();
  let other = NaN;
  for (;;) {
    const m0 = machineBusyMs();
    const o0 = ownCpuMs();
    await sleep(1000);
    other = Math.max(0, machineBusyMs() - m0 - (ownCpuMs() - o0)) / 1000;
    if (!(other >= threshold) || (performance.now() - t0) / 1000 >= maxWaitS) break;
  }
  const waited = (performance.now() - t0) / 1000;
  if (waited > 2)
    log(
      `waited ${round(waited, 1)} s for other work on the machine to calm down (other processes: ${round(other, 2)} cores)`,
    );
  return { other_cores_before: round(other, 2), waited_s: round(waited, 1) };
}

/** CPU ms used so far by this process and the given server. */
export function ownCpu(server?: { cpuMs(): number }): () => number {
  return () => {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1000 + (server ? server.cpuMs() : 0);
  };
}
