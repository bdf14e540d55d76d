#!/usr/bin/env node
// The `synthians` command. The sources are TypeScript, loaded through tsx's ESM hooks.
//
// `synthians up` on Linux runs in a child process with MALLOC_ARENA_MAX=2 (unless the variable is set): glibc gives
// every thread that allocates its own malloc arena, and with onnxruntime, SQLite, PGlite and the vector index working
// from several threads the idle process kept ~80 MB of arenas it no longer used (bench:idle-memory: 522 → 445 MB).
// The variable only takes effect at process start, hence the child. It runs in its own process group; this process
// forwards SIGINT, SIGTERM and SIGHUP to it once and exits with its exit code; the child stops by itself when this
// process dies without forwarding (SIGKILL).
import { spawn } from 'node:child_process';

if (process.platform === 'linux' && process.env.MALLOC_ARENA_MAX === undefined && process.argv[2] === 'up') {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, MALLOC_ARENA_MAX: '2', SYNTHIANS_PARENT_PID: String(process.pid) },
    detached: true,
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'])
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
