// The `synthians` command line: `up`, `serve <service>`, `services`.
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, createLogger } from '@synthians/kit';
import { findService, services } from './services.ts';
import { serve, stopOnSignals, up } from './runner.ts';

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

program
  .command('up')
  .description('run every implemented service in this process on 127.0.0.1, data under ./data')
  .option('--data-dir <dir>', 'data directory (default: $SYNTHIANS_DATA_DIR or ./data)')
  .option('--host <host>', 'address to bind (default 127.0.0.1; others need SYNTHIANS_API_TOKEN)')
  .action(async (opts: { dataDir?: string; host?: string }) => {
    const logger = createLogger(undefined, process.env.LOG_LEVEL ?? 'info');
    const { instances, listening } = await up({ dataDir: opts.dataDir, host: opts.host, logger });
    stopOnSignals(instances, logger);
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
    const { instance, listening } = await serve(def, { ...opts, logger });
    stopOnSignals([instance], logger);
    process.stdout.write(`${listening.name} listening on ${listening.url}\n`);
  });

program
  .command('services')
  .description('list the services this build implements and their ports')
  .action(async () => {
    const { ports } = await import('@synthians/kit');
    for (const s of services)
      process.stdout.write(`${s.name.padEnd(22)} ${String(ports[s.port]).padEnd(6)} ${s.description}\n`);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const e = err as Error & { code?: string };
  if (err instanceof ConfigError || e.name === 'ConfigError') {
    process.stderr.write(`synthians: ${e.message}\n`);
  } else if (e.code === 'EADDRINUSE') {
    process.stderr.write(
      `synthians: ${e.message} — another program uses that port; pick another with --port or <SERVICE>_PORT\n`,
    );
  } else {
    process.stderr.write(`synthians: ${e.stack ?? e.message}\n`);
  }
  process.exit(1);
}
