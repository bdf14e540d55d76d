// Resident memory of `npm start` (`synthians up`, every service in one process) when idle: on a fresh data
// directory (first start: migrations, empty stores) and after a restart on the same directory. The health monitor
// polls every service meanwhile, as it does for a user.
//
//   node --import tsx bench/idle-memory.ts [--settle-s 20]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryOf } from './lib/proc.ts';
import { repoRoot } from './lib/server.ts';
import { emit, intFlag, log, machine, sleep } from './lib/util.ts';

const settleS = intFlag('settle-s', 20);

async function run(dataDir: string): Promise<Record<string, unknown>> {
  const started = Date.now();
  const child = spawn(process.execPath, [join(repoRoot, 'packages/synthians/bin/synthians.js'), 'up'], {
    env: { ...process.env, SYNTHIANS_DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  while (!out.includes('Press Ctrl+C')) {
    if (child.exitCode !== null) throw new Error(`synthians up exited with ${child.exitCode}`);
    if (Date.now() - started > 180_000) throw new Error('synthians up did not start within 180 s');
    await sleep(100);
  }
  const readyS = (Date.now() - started) / 1000;
  const services = out.split('\n').filter((l) => /^\s{2}\S+\s+http/.test(l)).length;
  log(`up after ${readyS.toFixed(1)} s with ${services} services; idling ${settleS} s`);
  await sleep(settleS * 1000);
  const mem = memoryOf(child.pid!);
  child.kill('SIGTERM');
  const code = await exited;
  return { ready_s: Math.round(readyS * 10) / 10, services, ...mem, exit_code: code };
}

const dir = mkdtempSync(join(tmpdir(), 'synthians-idle-'));
try {
  const fresh = await run(dir);
  const restart = await run(dir);
  const worst = Math.max(fresh.rss_mb as number, restart.rss_mb as number);
  emit({
    benchmark: 'idle-memory',
    machine: machine(),
    settle_s: settleS,
    fresh,
    restart,
    target: { rss_mb_max: 500 },
    target_met: worst <= 500,
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
