// `synthians models list | pull <name> | verify [name]`: the PC2 model registry on the command line. Models live
// in <modelsDir>/<name>/ ($SYNTHIANS_MODELS_DIR, else <data dir>/models); extra registry entries come from
// --registry <file> or $SYNTHIANS_MODELS_REGISTRY.
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import {
  installedSize,
  loadRegistry,
  ModelError,
  modelDir,
  modelsDir,
  modelStatus,
  pinSource,
  pullModel,
  readPins,
  verifyModel,
  type ModelEntry,
  type PinSource,
  type Pins,
  type Progress,
} from '@synthians/pc2/models';

interface CommonOptions {
  dir?: string;
  registry?: string;
}

interface ListRow {
  name: string;
  kind: string;
  size: number | undefined;
  status: string;
  pins: string;
  description: string;
  license: string;
  dim: number | undefined;
  dir: string;
  use: string;
  files: { path: string; url: string | undefined; pin: PinSource }[];
}

/** Exit code for a model name the registry does not know. */
export const EXIT_UNKNOWN_MODEL = 2;

const out = (line = '') => process.stdout.write(`${line}\n`);

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '?';
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

const rootOf = (opts: CommonOptions) =>
  opts.dir ? modelsDir({ SYNTHIANS_MODELS_DIR: opts.dir }) : modelsDir(process.env);

const registryOf = (opts: CommonOptions) =>
  loadRegistry(opts.registry ?? (process.env.SYNTHIANS_MODELS_REGISTRY || undefined));

/** Finds `name` or reports it and sets exit code 2. */
function lookup(registry: ModelEntry[], name: string): ModelEntry | undefined {
  const entry = registry.find((m) => m.name === name);
  if (!entry) {
    process.stderr.write(`synthians: unknown model "${name}"; run synthians models list\n`);
    process.exitCode = EXIT_UNKNOWN_MODEL;
  }
  return entry;
}

async function pinsOf(dir: string): Promise<Pins | undefined> {
  try {
    return await readPins(dir);
  } catch {
    return undefined;
  }
}

/** One word for how a model's files are pinned: registry, first-use, build, archive, none or a mix. */
function pinSummary(entry: ModelEntry, pins: Pins | undefined): string {
  if (!pins) return 'bad .pins.json';
  const sources = entry.files.map((f) => pinSource(f, pins));
  const counts = new Map<PinSource, number>();
  for (const s of sources) counts.set(s, (counts.get(s) ?? 0) + 1);
  const label = (s: PinSource) =>
    s === 'archive' ? 'registry' : s === 'none' && entry.builder ? 'build' : s;
  const labels = new Set(sources.map(label));
  if (labels.size === 1 && labels.has('none')) return 'unpinned';
  if (labels.size === 1) return [...labels][0]!;
  return [...counts].map(([s, n]) => `${n} ${s === 'none' ? 'unpinned' : label(s)}`).join(', ');
}

/** Bars per file on a terminal; a line per 10% otherwise. */
function progressRenderer(): { onProgress: (p: Progress) => void; stop: () => void } {
  if (process.stdout.isTTY) {
    const multi = new cliProgress.MultiBar(
      {
        format: ' {file} [{bar}] {percentage}% {done} of {size}',
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    const bars = new Map<string, cliProgress.SingleBar>();
    return {
      onProgress: (p) => {
        const payload = { file: p.file, done: formatBytes(p.received), size: formatBytes(p.total) };
        const total = p.total ?? Math.max(p.received, 1);
        let bar = bars.get(p.file);
        if (!bar) {
          bar = multi.create(total, p.received, payload);
          bars.set(p.file, bar);
        }
        bar.setTotal(total);
        bar.update(p.received, payload);
      },
      stop: () => multi.stop(),
    };
  }
  const printed = new Map<string, number>();
  return {
    onProgress: (p) => {
      // Without a known total: a line per 10 MB.
      const step = p.total ? Math.floor((p.received / p.total) * 10) : Math.floor(p.received / 10_000_000);
      if (step === printed.get(p.file)) return;
      const first = !printed.has(p.file);
      printed.set(p.file, step);
      if (first && step === 0 && p.received === 0) return;
      out(
        p.total
          ? `  ${p.file} ${step * 10}% (${formatBytes(p.received)} of ${formatBytes(p.total)})`
          : `  ${p.file} ${formatBytes(p.received)}`,
      );
    },
    stop: () => {},
  };
}

const pinWords: Record<PinSource, string> = {
  registry: 'pinned by the registry',
  archive: 'pinned by the registry (via its archive; member hash recorded in .pins.json)',
  'first-use': 'pinned on first use (recorded in .pins.json)',
  build: 'pinned at build time (recorded in .pins.json)',
  none: 'not pinned',
};

/** ModelErrors print as one line with exit 1; anything else goes to the program's handler. */
async function reporting(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    if (!ModelError.isInstance(err)) throw err;
    process.stderr.write(`synthians: ${err.message}\n`);
    process.exitCode = 1;
  }
}

export function registerModelsCommand(program: Command): void {
  const models = program
    .command('models')
    .description(
      'the PC2 model registry: list, pull (resumable, checksum-verified) and verify models under $SYNTHIANS_MODELS_DIR (default <data dir>/models)',
    );
  const common = (c: Command) =>
    c
      .option(
        '--dir <dir>',
        'models directory (default: $SYNTHIANS_MODELS_DIR or <$SYNTHIANS_DATA_DIR or ./data>/models)',
      )
      .option('--registry <file>', 'extra registry entries, JSON (default: $SYNTHIANS_MODELS_REGISTRY)');

  common(models.command('list'))
    .description('every model in the registry: kind, size, status, how its files are pinned')
    .option('--json', 'machine-readable output')
    .action((opts: CommonOptions & { json?: boolean }) =>
      reporting(async () => {
        const root = rootOf(opts);
        const rows: ListRow[] = [];
        for (const entry of await registryOf(opts)) {
          const dir = modelDir(root, entry);
          const pins = await pinsOf(dir);
          rows.push({
            name: entry.name,
            kind: entry.kind,
            size: installedSize(entry),
            status: await modelStatus(entry, dir),
            pins: pinSummary(entry, pins),
            description: entry.description,
            license: entry.license,
            dim: entry.dim,
            dir,
            use: entry.use.replaceAll('<dir>', dir),
            files: entry.files.map((f) => ({
              path: f.path,
              url: f.url,
              pin: pins ? pinSource(f, pins) : 'none',
            })),
          });
        }
        if (opts.json) {
          out(JSON.stringify(rows, null, 2));
          return;
        }
        const w = (k: 'name' | 'kind' | 'status' | 'pins') =>
          Math.max(k.length, ...rows.map((r) => r[k].length));
        const widths = { name: w('name'), kind: w('kind'), status: w('status'), pins: w('pins') };
        out(
          `${'NAME'.padEnd(widths.name)}  ${'KIND'.padEnd(widths.kind)}  ${'SIZE'.padStart(7)}  ${'STATUS'.padEnd(widths.status)}  ${'PINS'.padEnd(widths.pins)}  DESCRIPTION`,
        );
        for (const r of rows)
          out(
            `${r.name.padEnd(widths.name)}  ${r.kind.padEnd(widths.kind)}  ${formatBytes(r.size).padStart(7)}  ${r.status.padEnd(widths.status)}  ${r.pins.padEnd(widths.pins)}  ${r.description}`,
          );
        out();
        out(`models directory: ${root}`);
        out(
          'pins: registry = checksums in the registry; build = recorded when built here; first-use = recorded',
        );
        out('at the first pull; unpinned = pull needs --trust-on-first-use, which records them');
      }),
    );

  common(models.command('pull'))
    .description(
      'download (or build) a model, resuming an interrupted download; verifies sizes and checksums',
    )
    .argument('<name>', 'a model name from synthians models list')
    .option(
      '--trust-on-first-use',
      'download files the registry has no checksum for, and record the sha256 they arrive with',
    )
    .action((name: string, opts: CommonOptions & { trustOnFirstUse?: boolean }) =>
      reporting(async () => {
        const entry = lookup(await registryOf(opts), name);
        if (!entry) return;
        const dir = modelDir(rootOf(opts), entry);
        out(`${entry.builder ? 'building' : 'pulling'} ${entry.name} into ${dir}`);
        const progress = progressRenderer();
        const controller = new AbortController();
        const onSignal = () => controller.abort();
        process.once('SIGINT', onSignal);
        let pulled;
        try {
          pulled = await pullModel(entry, dir, {
            trustOnFirstUse: opts.trustOnFirstUse ?? false,
            onProgress: progress.onProgress,
            signal: controller.signal,
            builders: {
              // Loaded only when needed: the worker's package pulls in onnxruntime.
              'word-vectors': async (target) => {
                const { buildWordVectorModel } = await import('@synthians/pc2');
                await buildWordVectorModel(target);
              },
            },
          });
        } finally {
          progress.stop();
          process.off('SIGINT', onSignal);
        }
        const width = Math.max(...pulled.map((f) => f.path.length));
        for (const f of pulled)
          out(
            `  ${f.path.padEnd(width)}  ${f.action.padEnd(10)}  ${formatBytes(f.size).padStart(7)}  sha256 ${f.sha256.slice(0, 16)}…  ${pinWords[f.pin]}`,
          );
        out(`use: ${entry.use.replaceAll('<dir>', dir)}`);
        out(`license: ${entry.license}`);
      }),
    );

  common(models.command('verify'))
    .description('hash installed models against their pins; exit 1 if any file fails')
    .argument('[name]', 'one model (default: every installed or partly installed model)')
    .option('--json', 'machine-readable output')
    .action((name: string | undefined, opts: CommonOptions & { json?: boolean }) =>
      reporting(async () => {
        const registry = await registryOf(opts);
        const root = rootOf(opts);
        let entries: ModelEntry[];
        if (name !== undefined) {
          const entry = lookup(registry, name);
          if (!entry) return;
          entries = [entry];
        } else {
          entries = [];
          for (const e of registry)
            if ((await modelStatus(e, modelDir(root, e))) !== 'missing') entries.push(e);
        }
        const results = [];
        for (const e of entries) {
          try {
            results.push(await verifyModel(e, modelDir(root, e)));
          } catch (err) {
            if (!ModelError.isInstance(err)) throw err;
            results.push({ name: e.name, ok: false, error: err.message, files: [] });
          }
        }
        if (results.some((r) => !r.ok)) process.exitCode = 1;
        if (opts.json) {
          out(JSON.stringify(results, null, 2));
          return;
        }
        if (results.length === 0) out(`no models installed under ${root}`);
        for (const r of results) {
          out(`${r.name}: ${r.ok ? 'ok' : 'FAILED'}`);
          if ('error' in r) out(`  ${r.error}`);
          for (const f of r.files)
            out(`  ${f.path}: ${f.ok ? 'ok' : `FAILED — ${f.reason}`} (${pinWords[f.pin]})`);
        }
      }),
    );
}
