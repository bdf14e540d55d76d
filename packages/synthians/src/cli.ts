// The `synthians` command line: `up`, `serve <service>`, `services`.
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, createLogger, type Logger } from '@synthians/kit';
import { ensureConsoleBuilt } from '@synthians/console';
import { findService, services } from './services.ts';
import { dataDirFrom, serve, stopOnSignals, up } from './runner.ts';
import { upSplit } from './split.ts';
import { registerModelsCommand } from './models-cli.ts';

const program = new Command()
  .name('synthians')
  .description('Synthians: a local-first voice assistant with a cognitive long-term memory')
  .version('0.1.0');

const portOption = (value: string) => {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError('a port is 0–65535');
  return port;
};

/** The coordinator serves the web console's production build: build it first when it is missing or stale. */
async function buildConsoleIfNeeded(logger: Logger): Promise<void> {
  if (/^(0|false|no|off)$/i.test(process.env.CONSOLE_ENABLED ?? '')) return;
  const started = performance.now();
  try {
    const did = await ensureConsoleBuilt();
    if (did === 'built') logger.info({ ms: Math.round(performance.now() - started) }, 'web console built');
  } catch (err) {
    // The assistant still runs; / then answers 503 console_not_built.
    logger.error({ err: String(err) }, 'building the web console failed');
  }
}

program
  .command('up')
  .description('run every implemented service in this process on 127.0.0.1, data under ./data')
  .option('--data-dir <dir>', 'data directory (default: $SYNTHIANS_DATA_DIR or ./data)')
  .option('--host <host>', 'address to bind (default 127.0.0.1; others need SYNTHIANS_API_TOKEN)')
  .option(
    '--split',
    'every service in its own process on 127.0.0.1, NATS as the bus (NATS_URL or a nats-server started here), PostgreSQL at DATABASE_URL',
  )
  .action(async (opts: { dataDir?: string; host?: string; split?: boolean }) => {
    const logger = createLogger(undefined, process.env.LOG_LEVEL ?? 'info');
    await buildConsoleIfNeeded(logger);
    if (opts.split) {
      const run = await upSplit({ dataDir: dataDirFrom(process.env, opts.dataDir), logger });
      let stopping = false;
      for (const signal of ['SIGINT', 'SIGTERM'] as const)
        process.on(signal, () => {
          if (stopping) process.exit(1);
          stopping = true;
          void run.stop().then(() => process.exit(0));
        });
      process.stdout.write(`\nSynthians is running (split mode, bus ${run.natsUrl}):\n`);
      for (const l of run.listening) process.stdout.write(`  ${l.name.padEnd(22)} ${l.url}\n`);
      process.stdout.write('\nPress Ctrl+C to stop.\n');
      return;
    }
    const { instances, listening } = await up({ dataDir: opts.dataDir, host: opts.host, logger });
    stopOnSignals(instances, logger);
    // Started by bin/synthians.js (see there): stop gracefully when that parent is gone.
    const parent = Number(process.env.SYNTHIANS_PARENT_PID);
    if (parent > 0)
      setInterval(() => {
        if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
      }, 1000).unref();
    process.stdout.write('\nSynthians is running:\n');
    for (const l of listening)
      process.stdout.write(`  ${l.name.padEnd(22)} ${l.url}  (docs: ${l.url}/docs)\n`);
    process.stdout.write('\nPress Ctrl+C to stop.\n');
  });

program
  .command('serve')
  .description('run one service (what a container runs)')
  .argument('<service>', `one of: ${services.map((s) => s.name).join(', ')}`)
  .option(
    '--port <n>',
    'port to listen on (default: its PORT variable or registry port; 0 = any free port)',
    portOption,
  )
  .option('--host <host>', 'address to bind (default: its HOST variable or 127.0.0.1)')
  .option('--data-dir <dir>', 'data directory (default: $SYNTHIANS_DATA_DIR or ./data)')
  .option('--follow <url>', 'memory-core only: run as a read-only standby of the primary at <url>')
  .action(async (name: string, opts: { port?: number; host?: string; dataDir?: string; follow?: string }) => {
    const def = findService(name);
    if (!def) {
      throw new ConfigError(
        `Unknown service "${name}". Implemented: ${services.map((s) => s.name).join(', ')}`,
      );
    }
    const logger = createLogger(undefined, process.env.LOG_LEVEL ?? 'info');
    if (def.name === 'coordinator') await buildConsoleIfNeeded(logger);
    const { instance, listening } = await serve(def, { ...opts, logger });
    stopOnSignals([instance], logger);
    process.stdout.write(`${listening.name} listening on ${listening.url}\n`);
  });

program
  .command('chat')
  .description('talk to the running assistant in text (each line is a turn; /quit ends)')
  .option('--url <url>', 'coordinator URL (default $COORDINATOR_URL or http://127.0.0.1:8080)')
  .option('--user <id>', 'user id (default: the coordinator’s DEFAULT_USER_ID)')
  .option('--session <id>', 'continue this session')
  .action(async (opts: { url?: string; user?: string; session?: string }) => {
    const { chat } = await import('./chat.ts');
    const { failed } = await chat({
      url: (opts.url ?? process.env.COORDINATOR_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''),
      token: process.env.SYNTHIANS_API_TOKEN || undefined,
      userId: opts.user,
      sessionId: opts.session,
      input: process.stdin,
      output: process.stdout,
      prompt: process.stdin.isTTY ? 'you> ' : undefined,
    });
    if (failed > 0) process.exitCode = 1;
  });

program
  .command('talk')
  .description(
    'one spoken turn: send a WAV file to the running assistant, write the spoken reply to a WAV file',
  )
  .argument('<file.wav>', 'what you say (any WAV: 8–48 kHz, mono/stereo, 16-bit or float)')
  .option('--out <file>', 'where to write the reply audio', 'reply.wav')
  .option('--url <url>', 'coordinator URL (default $COORDINATOR_URL or http://127.0.0.1:8080)')
  .option('--wake-word', 'the recording starts with the wake word (default: the recording is the command)')
  .option('--user <id>', 'user id')
  .option('--session <id>', 'continue this session')
  .action(
    async (
      file: string,
      opts: { out: string; url?: string; wakeWord?: boolean; user?: string; session?: string },
    ) => {
      const { readFile, writeFile } = await import('node:fs/promises');
      const { talk } = await import('@synthians/assistant');
      const result = await talk({
        url: opts.url ?? process.env.COORDINATOR_URL ?? 'http://127.0.0.1:8080',
        wav: new Uint8Array(await readFile(file)),
        token: process.env.SYNTHIANS_API_TOKEN || undefined,
        wakeWord: opts.wakeWord ?? false,
        userId: opts.user,
        sessionId: opts.session,
      });
      await writeFile(opts.out, result.audio);
      process.stdout.write(`you said: ${result.transcript || '(nothing recognised)'}\n`);
      process.stdout.write(`reply:    ${result.reply || '(no reply)'}\n`);
      process.stdout.write(`audio:    ${opts.out}\n`);
      const error = result.events.find((e) => e.type === 'error');
      if (error) process.stderr.write(`error: ${JSON.stringify(error)}\n`);
      if (!result.reply) process.exitCode = 1;
    },
  );

const db = program
  .command('db')
  .description('the session database (PostgreSQL at DATABASE_URL, else PGlite under the data directory)');
db.command('migrate')
  .description(
    'database setup: wait for PostgreSQL (with backoff), apply pending migrations; non-zero exit on failure',
  )
  .option(
    '--data-dir <dir>',
    'data directory for the in-process database (default: $SYNTHIANS_DATA_DIR or ./data)',
  )
  .option('--wait-ms <ms>', 'how long to wait for PostgreSQL (default $DATABASE_WAIT_MS or 30000)', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError('a non-negative number of milliseconds');
    return n;
  })
  .action(async (opts: { dataDir?: string; waitMs?: number }) => {
    const logger = createLogger(undefined, process.env.LOG_LEVEL ?? 'info');
    const { runDbMigrate } = await import('@synthians/session-memory');
    const waitEnv = process.env.DATABASE_WAIT_MS ? Number(process.env.DATABASE_WAIT_MS) : undefined;
    const result = await runDbMigrate({
      databaseUrl: process.env.DATABASE_URL || undefined,
      dataDir: dataDirFrom(process.env, opts.dataDir),
      waitMs: opts.waitMs ?? waitEnv,
      logger,
    });
    process.stdout.write(
      result.applied.length > 0
        ? `applied ${result.applied.join(', ')}; schema at ${result.current}\n`
        : `schema up to date at ${result.current}\n`,
    );
  });

program
  .command('services')
  .description('list the services this build implements and their ports')
  .action(async () => {
    const { ports } = await import('@synthians/kit');
    for (const s of services)
      process.stdout.write(`${s.name.padEnd(22)} ${String(ports[s.port]).padEnd(6)} ${s.description}\n`);
  });

registerModelsCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const e = err as Error & { code?: string };
  if (err instanceof ConfigError || e.name === 'ConfigError') {
    process.stderr.write(`synthians: ${e.message}\n`);
  } else if (e.name === 'PortInUseError') {
    process.stderr.write(`synthians: ${e.message}\n`);
  } else if (e.code === 'EADDRINUSE') {
    process.stderr.write(`synthians: ${e.message}: another program uses that port\n`);
  } else {
    // One clear line; the stack only when asked for (LOG_LEVEL=debug).
    const debug = /^(debug|trace)$/i.test(process.env.LOG_LEVEL ?? '');
    process.stderr.write(`synthians: ${debug ? (e.stack ?? e.message) : e.message}\n`);
  }
  process.exit(1);
}
