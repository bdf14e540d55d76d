// Per-namespace neural memories: lazy restore from disk, atomic snapshots, autosave, and one promise chain per
// namespace so that requests for a namespace run one at a time while different namespaces proceed independently.
// There is no global lock: every operation on a namespace is queued on that namespace's chain only.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AppError, badRequest, notFound, unavailable, type Logger } from '@synthians/kit';
import { NeuralMemory } from './memory.ts';
import type { NeuralMemoryConfig, Variant } from './config.ts';

export const NAMESPACE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const SUFFIX = '.nm';

export function checkNamespace(value: unknown): string {
  if (value === undefined || value === null) return 'default';
  if (typeof value !== 'string' || !NAMESPACE_PATTERN.test(value))
    throw badRequest(
      'invalid_namespace',
      'namespace must be 1–64 characters of letters, digits, underscore, dot and dash',
      { pattern: NAMESPACE_PATTERN.source },
    );
  return value;
}

export interface Entry {
  name: string;
  memory: NeuralMemory;
  /** Changed since the last save (or load). */
  dirty: boolean;
  lastSavedAt: number | null;
  lastUsedAt: number;
}

interface Slot {
  tail: Promise<void>;
  /** Operations queued or running on this namespace. */
  pending: number;
}

export interface NamespaceStoreOptions {
  dir: string;
  logger: Logger;
  /** Configuration and seed of namespaces created on first use. */
  defaultConfig: Partial<NeuralMemoryConfig>;
  seed: number;
  maxLoaded: number;
}

export class NamespaceStore {
  readonly dir: string;
  private readonly logger: Logger;
  private readonly entries = new Map<string, Entry>();
  private readonly slots = new Map<string, Slot>();
  private timer: NodeJS.Timeout | undefined;
  private intervalMs = 0;
  private closed = false;
  /** A variant chosen at run time for every namespace (POST /config without a namespace). */
  variantOverride: Variant | undefined;
  defaultConfig: Partial<NeuralMemoryConfig>;
  seed: number;
  maxLoaded: number;

  constructor(options: NamespaceStoreOptions) {
    this.dir = options.dir;
    this.logger = options.logger;
    this.defaultConfig = options.defaultConfig;
    this.seed = options.seed;
    this.maxLoaded = options.maxLoaded;
    mkdirSync(this.dir, { recursive: true });
  }

  fileOf(name: string): string {
    return join(this.dir, name + SUFFIX);
  }

  /** Namespaces in memory. */
  loaded(): Entry[] {
    return [...this.entries.values()];
  }

  /** The namespace's entry when it is in memory. */
  get(name: string): Entry | undefined {
    return this.entries.get(name);
  }

  /** Namespaces with a snapshot on disk. */
  saved(): string[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith(SUFFIX))
      .map((f) => f.slice(0, -SUFFIX.length))
      .filter((n) => NAMESPACE_PATTERN.test(n))
      .sort();
  }

  snapshotInfo(name: string): { bytes: number; modifiedAt: number } | null {
    try {
      const s = statSync(this.fileOf(name));
      return { bytes: s.size, modifiedAt: s.mtimeMs };
    } catch {
      return null;
    }
  }

  /**
   * Runs `fn` on the namespace's memory (restored from disk or created on first use) after every earlier operation
   * on that namespace has finished. Operations on other namespaces are not waited for.
   */
  run<T>(name: string, fn: (entry: Entry) => T | Promise<T>): Promise<T> {
    return this.queue(name, async () => fn(await this.ensure(name)));
  }

  /** Like `run`, without loading the namespace first (for /init and /load, which replace its memory). */
  queue<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(unavailable('shutting_down', 'The service is shutting down'));
    let slot = this.slots.get(name);
    if (!slot) {
      slot = { tail: Promise.resolve(), pending: 0 };
      this.slots.set(name, slot);
    }
    const s = slot;
    s.pending++;
    const result = s.tail.then(fn);
    s.tail = result.then(
      () => this.settle(name, s),
      () => this.settle(name, s),
    );
    return result;
  }

  private settle(name: string, slot: Slot): void {
    slot.pending--;
    if (slot.pending === 0 && !this.entries.has(name) && this.slots.get(name) === slot)
      this.slots.delete(name);
  }

  /** The namespace's entry: in memory, else restored from its snapshot, else newly created. Call inside its chain. */
  private async ensure(name: string): Promise<Entry> {
    const existing = this.entries.get(name);
    if (existing) {
      existing.lastUsedAt = Date.now();
      return existing;
    }
    const memory = (await this.readSnapshot(name)) ?? this.create();
    const restored = existsSync(this.fileOf(name));
    if (this.variantOverride !== undefined) memory.setVariant(this.variantOverride);
    return this.install(name, memory, false, restored ? (this.snapshotInfo(name)?.modifiedAt ?? null) : null);
  }

  private create(config?: Partial<NeuralMemoryConfig>, seed?: number): NeuralMemory {
    const merged: Partial<NeuralMemoryConfig> = { ...this.defaultConfig, ...config };
    if (this.variantOverride !== undefined && config?.variant === undefined)
      merged.variant = this.variantOverride;
    if (
      merged.valueDim !== undefined &&
      merged.inputDim !== undefined &&
      merged.valueDim !== merged.inputDim &&
      config?.valueInit === undefined
    )
      merged.valueInit = 'random';
    checkSize(merged);
    return NeuralMemory.create(merged, seed ?? this.seed);
  }

  private install(name: string, memory: NeuralMemory, dirty: boolean, lastSavedAt: number | null): Entry {
    this.evictIfFull(name);
    const entry: Entry = { name, memory, dirty, lastSavedAt, lastUsedAt: Date.now() };
    this.entries.set(name, entry);
    return entry;
  }

  /** Unloads least recently used namespaces that are saved and idle, to stay within maxLoaded. */
  private evictIfFull(incoming: string): void {
    if (this.entries.has(incoming) || this.entries.size < this.maxLoaded) return;
    const candidates = [...this.entries.values()]
      .filter((e) => !e.dirty && (this.slots.get(e.name)?.pending ?? 0) === 0)
      .sort((a, b) => a.lastUsedAt - b.lastUsedAt);
    while (this.entries.size >= this.maxLoaded) {
      const victim = candidates.shift();
      if (!victim)
        throw unavailable(
          'too_many_namespaces',
          `${this.entries.size} namespaces are loaded with unsaved changes or requests in flight (NM_MAX_NAMESPACES=${this.maxLoaded}); save some or retry later`,
        );
      this.entries.delete(victim.name);
      this.slots.delete(victim.name);
      this.logger.debug({ namespace: victim.name }, 'namespace unloaded');
    }
  }

  private async readSnapshot(name: string): Promise<NeuralMemory | null> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.fileOf(name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      return NeuralMemory.deserialize(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (err) {
      const message = AppError.isInstance(err) ? err.message : String(err);
      throw new AppError(
        500,
        'snapshot_corrupt',
        `The snapshot of namespace ${name} cannot be read (${message}); POST /init re-creates the namespace`,
      );
    }
  }

  // ---- operations (call inside the namespace's chain) ----------------------------------------------------------
  /** Writes the namespace's snapshot atomically: temporary file, fsync, rename, fsync of the folder. */
  async save(entry: Entry): Promise<{ bytes: number; path: string }> {
    const bytes = entry.memory.serialize();
    const path = this.fileOf(entry.name);
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    syncDir(this.dir);
    entry.dirty = false;
    entry.lastSavedAt = Date.now();
    return { bytes: bytes.byteLength, path };
  }

  /** Replaces the namespace's memory with its snapshot (404 when there is none). */
  async load(name: string): Promise<Entry> {
    const memory = await this.readSnapshot(name);
    if (!memory) throw notFound(`Namespace ${name} has no saved snapshot`, { namespace: name });
    this.entries.delete(name);
    return this.install(name, memory, false, this.snapshotInfo(name)?.modifiedAt ?? Date.now());
  }

  /** Replaces the namespace's memory with a new one (config over the service defaults). */
  init(name: string, config: Partial<NeuralMemoryConfig> = {}, seed?: number): Entry {
    const memory = this.create(config, seed);
    const previous = this.entries.get(name);
    this.entries.delete(name);
    return this.install(name, memory, true, previous?.lastSavedAt ?? null);
  }

  // ---- autosave and shutdown ------------------------------------------------------------------------------------
  setAutosave(intervalMs: number): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.intervalMs = intervalMs;
    if (intervalMs > 0 && !this.closed) {
      this.timer = setInterval(() => void this.saveDirty(), intervalMs);
      this.timer.unref();
    }
  }

  get autosaveIntervalMs(): number {
    return this.intervalMs;
  }

  /** Queues a save of every namespace with unsaved changes; resolves when they are written. */
  async saveDirty(): Promise<number> {
    let count = 0;
    await Promise.all(
      [...this.entries.values()]
        .filter((e) => e.dirty)
        .map((e) =>
          this.queue(e.name, async () => {
            const current = this.entries.get(e.name);
            if (!current?.dirty) return;
            await this.save(current);
            count++;
          }).catch((err: unknown) =>
            this.logger.error({ err, namespace: e.name }, 'autosave of a namespace failed'),
          ),
        ),
    );
    return count;
  }

  /** Stops the autosave timer, waits for queued work and saves what changed. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const saved = await this.saveDirty();
    this.closed = true;
    await Promise.all([...this.slots.values()].map((s) => s.tail));
    this.logger.info({ saved }, 'neural memory namespaces saved');
  }
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some platforms cannot fsync a directory; the rename itself is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Largest number of float parameters a namespace may have (about 1 GiB of float32 state). */
export const MAX_MODEL_FLOATS = 256 * 1024 * 1024;

/** Rejects configurations whose state would not fit in memory, before allocating it. */
export function checkSize(config: Partial<NeuralMemoryConfig>): void {
  const din = config.inputDim ?? 768;
  const dk = config.keyDim ?? 128;
  const dv = config.valueDim ?? 768;
  const hidden = config.hiddenDims ?? [512];
  if (![din, dk, dv].every((d) => typeof d === 'number' && Number.isFinite(d))) return;
  if (!Array.isArray(hidden) || !hidden.every((h) => typeof h === 'number' && Number.isFinite(h))) return;
  const widths = [dk, ...hidden, dv];
  let mlp = 0;
  for (let l = 1; l < widths.length; l++) mlp += widths[l]! * (widths[l - 1]! + 1);
  const total = 2 * dk * din + dv * din + 3 * mlp;
  if (total > MAX_MODEL_FLOATS)
    throw badRequest(
      'config_too_large',
      `The model would have ${total} parameters (limit ${MAX_MODEL_FLOATS})`,
    );
}
