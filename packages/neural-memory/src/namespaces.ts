// Per-namespace neural memories: lazy restore from disk, one promise chain per namespace so that requests for a
// namespace run one at a time while different namespaces proceed independently (no global lock), and durability:
// every change is appended to the namespace's update log (update-log.ts) and synced before it is acknowledged, and
// a snapshot (atomic: temporary file, fsync, rename, fsync of the folder) replaces the log from time to time.
//
//   <name>.nm     the snapshot: the complete state, annotated {seq, savedAt, gen} — the last log record it holds,
//                 when it was written, and the runtime-wide variant switch the namespace has taken.
//   <name>.wal    the records after the snapshot: create (a namespace made on first use), update, reset, variant.
//   runtime.json  the runtime-wide variant (POST /config without a namespace) and its generation `gen`.
// Restoring a namespace = its snapshot + the log records after `seq`, replayed in order (the memory's update is
// deterministic: same state and input, same bits), then the runtime variant if the namespace has not taken it yet.
// Changes that replace the whole state (/init, /load, /train_outer) write a snapshot before they answer instead.
// A namespace's snapshot is due after NM_SNAPSHOT_EVERY_UPDATES logged changes, or once it is NM_AUTOSAVE_INTERVAL_MS
// old by its own timestamp (so a process restarted often still snapshots), at start-up after a replay, and at
// shutdown. A change is applied in the chain and its record appended there; the reply waits for the sync outside the
// chain, so the next request runs meanwhile and shares the next sync (group commit). Replies that read state wait
// until the records they saw are durable too, so no reply shows a state a crash could take back.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AppError, badRequest, notFound, unavailable, type Logger } from '@synthians/kit';
import { NeuralMemory, type UpdateResult } from './memory.ts';
import { VARIANTS, type NeuralMemoryConfig, type ResolvedConfig, type Variant } from './config.ts';
import type { OuterOptions, OuterResult } from './outer.ts';
import { RecordOp, UpdateLog, type LogRecord } from './update-log.ts';
import { toFloat32 } from './validate.ts';

export const NAMESPACE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const SUFFIX = '.nm';
const LOG_SUFFIX = '.wal';
const RUNTIME_FILE = 'runtime.json';

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
  /** Changed since the last snapshot (the changes are in the update log). */
  dirty: boolean;
  /** The time stored in the namespace's snapshot (null: none yet). */
  lastSavedAt: number | null;
  lastUsedAt: number;
  /** The generation of the runtime-wide variant switch this namespace has taken (0: none). */
  gen: number;
  /** Created on first use and in neither the log nor a snapshot: logged (config and seed) before its first change. */
  unlogged: { config: ResolvedConfig; seed: number } | null;
  log: UpdateLog;
  snapshotQueued: boolean;
}

interface Slot {
  tail: Promise<void>;
  /** Operations queued or running on this namespace. */
  pending: number;
}

interface Snapshot {
  memory: NeuralMemory;
  /** The last log record the snapshot holds. */
  seq: number;
  savedAt: number;
  gen: number;
}

export interface NamespaceStoreOptions {
  dir: string;
  logger: Logger;
  /** Configuration and seed of namespaces created on first use. */
  defaultConfig: Partial<NeuralMemoryConfig>;
  seed: number;
  maxLoaded: number;
  /** Snapshot a namespace after this many logged changes (0: by time only). */
  snapshotEveryUpdates?: number;
}

export class NamespaceStore {
  readonly dir: string;
  private readonly logger: Logger;
  private readonly entries = new Map<string, Entry>();
  private readonly slots = new Map<string, Slot>();
  /**
   * Open update logs, by namespace. A log outlives its entry while it finishes a write or truncation (one object
   * per file, so a namespace restored meanwhile cannot interleave with it).
   */
  private readonly logs = new Map<string, UpdateLog>();
  /** Runtime-wide variant switches, one at a time in arrival order. */
  private runtimeChain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private intervalMs = 0;
  private closed = false;
  /** A variant chosen at run time for every namespace (POST /config without a namespace); kept in runtime.json. */
  variantOverride: Variant | undefined;
  /** Generation of variantOverride: each runtime-wide switch increments it. */
  private gen = 0;
  defaultConfig: Partial<NeuralMemoryConfig>;
  seed: number;
  maxLoaded: number;
  snapshotEveryUpdates: number;

  constructor(options: NamespaceStoreOptions) {
    this.dir = options.dir;
    this.logger = options.logger;
    this.defaultConfig = options.defaultConfig;
    this.seed = options.seed;
    this.maxLoaded = options.maxLoaded;
    this.snapshotEveryUpdates = options.snapshotEveryUpdates ?? 0;
    mkdirSync(this.dir, { recursive: true });
    this.readRuntime();
  }

  fileOf(name: string): string {
    return join(this.dir, name + SUFFIX);
  }

  logFileOf(name: string): string {
    return join(this.dir, name + LOG_SUFFIX);
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
    return this.filesEnding(SUFFIX);
  }

  private filesEnding(suffix: string): string[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith(suffix))
      .map((f) => f.slice(0, -suffix.length))
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
   * on that namespace has finished. Operations on other namespaces are not waited for. Resolves once every change
   * `fn` made or saw is durable; that wait is outside the chain, so later operations share the sync.
   */
  async run<T>(name: string, fn: (entry: Entry) => T | Promise<T>): Promise<T> {
    let seen: { entry: Entry; seq: number } | undefined;
    const result = await this.queue(name, async () => {
      const entry = await this.ensure(name);
      const value = await fn(entry);
      seen = { entry, seq: entry.log.lastSeq };
      return value;
    });
    if (seen) await this.durable(seen.entry, seen.seq);
    return result;
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

  private async durable(entry: Entry, seq: number): Promise<void> {
    const wait = entry.log.durable(seq);
    if (!wait) return;
    try {
      await wait;
    } catch (err) {
      this.drop(entry, err);
      throw err;
    }
  }

  /**
   * Forgets the in-memory state of a namespace whose change could not be made durable: its next use restores it
   * from disk, i.e. to what was acknowledged.
   */
  private drop(entry: Entry, err: unknown): void {
    if (this.entries.get(entry.name) !== entry) return;
    this.entries.delete(entry.name);
    this.logger.error(
      { err, namespace: entry.name },
      'namespace state dropped: a change could not be made durable',
    );
    if (this.logs.get(entry.name) === entry.log) this.logs.delete(entry.name);
    void entry.log.close().catch(() => undefined);
  }

  /**
   * The namespace's log: the open one (an unloaded namespace's, still finishing; everything in it is in the
   * snapshot), else the file read from disk with the records after `baseSeq`.
   */
  private openLog(name: string, baseSeq: number): { log: UpdateLog; records: LogRecord[] } {
    const current = this.logs.get(name);
    if (current && !current.failed) return { log: current, records: [] };
    const { log, recovered } = UpdateLog.open(this.logFileOf(name), baseSeq);
    this.logs.set(name, log);
    if (recovered.droppedBytes > 0)
      this.logger.warn(
        { namespace: name, bytes: recovered.droppedBytes, records: recovered.records.length },
        'update log: a torn or corrupt tail was cut off (changes that were never acknowledged)',
      );
    return { log, records: recovered.records.filter((r) => r.seq > baseSeq) };
  }

  /** Closes the logs of unloaded namespaces that have finished their work and have nothing queued. */
  private closeIdleLogs(): void {
    for (const [name, log] of this.logs)
      if (!this.entries.has(name) && (this.slots.get(name)?.pending ?? 0) === 0 && log.closeIfIdle())
        this.logs.delete(name);
  }

  // ---- restore ----------------------------------------------------------------------------------------------------
  /** The namespace's entry: in memory, else restored from its snapshot and log, else new. Call inside its chain. */
  private async ensure(name: string): Promise<Entry> {
    const existing = this.entries.get(name);
    if (existing) {
      existing.lastUsedAt = Date.now();
      return existing;
    }
    const snapshot = await this.readSnapshot(name);
    const { log, records } = this.openLog(name, snapshot?.seq ?? 0);
    let memory = snapshot?.memory ?? null;
    let gen = snapshot?.gen ?? 0;
    try {
      for (const r of records) {
        const next = this.replay(name, memory, r);
        memory = next.memory;
        if (next.gen !== undefined) gen = next.gen;
      }
    } catch (err) {
      this.logs.delete(name);
      void log.close();
      const message = AppError.isInstance(err) ? err.message : String(err);
      throw new AppError(
        500,
        'log_replay_failed',
        `The update log of namespace ${name} cannot be replayed (${message}); POST /init re-creates the namespace`,
      );
    }
    let unlogged: Entry['unlogged'] = null;
    if (!memory) {
      const created = this.create();
      memory = created.memory;
      unlogged = { config: memory.config, seed: created.seed };
      gen = this.gen;
    }
    if (records.length > 0)
      this.logger.info({ namespace: name, records: records.length }, 'update log replayed');
    const entry = this.install({
      name,
      memory,
      dirty: records.length > 0,
      lastSavedAt: snapshot?.savedAt ?? null,
      gen,
      unlogged,
      log,
    });
    if (entry.gen < this.gen) this.adopt(entry);
    return entry;
  }

  /** Applies one log record; returns the (possibly new) memory and the variant generation the record took. */
  private replay(
    name: string,
    memory: NeuralMemory | null,
    r: LogRecord,
  ): { memory: NeuralMemory; gen?: number } {
    const base = () => {
      if (memory) return memory;
      // a log without a snapshot starts with its create record; without one, start from the defaults
      this.logger.warn({ namespace: name }, 'update log without a base: replaying onto a new memory');
      return this.create().memory;
    };
    switch (r.op) {
      case RecordOp.create: {
        const c = parseJson(r.payload) as { config: NeuralMemoryConfig; seed: number; gen?: number };
        return { memory: NeuralMemory.create(c.config, c.seed), gen: c.gen ?? 0 };
      }
      case RecordOp.update: {
        const m = base();
        m.update(new Float32Array(new Uint8Array(r.payload).buffer)); // a copy: aligned, and not the read buffer
        return { memory: m };
      }
      case RecordOp.reset: {
        const m = base();
        m.reset();
        return { memory: m };
      }
      case RecordOp.variant: {
        const m = base();
        const v = parseJson(r.payload) as { variant: Variant; gen?: number };
        m.setVariant(v.variant);
        return v.gen === undefined ? { memory: m } : { memory: m, gen: v.gen };
      }
      default:
        throw new Error(`unknown record type ${String(r.op)} at sequence ${r.seq}`);
    }
  }

  private create(
    config?: Partial<NeuralMemoryConfig>,
    seed?: number,
  ): { memory: NeuralMemory; seed: number } {
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
    const s = seed ?? this.seed;
    return { memory: NeuralMemory.create(merged, s), seed: s };
  }

  private install(fields: Omit<Entry, 'lastUsedAt' | 'snapshotQueued'>): Entry {
    this.evictIfFull(fields.name);
    const entry: Entry = { ...fields, lastUsedAt: Date.now(), snapshotQueued: false };
    this.entries.set(entry.name, entry);
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
    this.closeIdleLogs();
  }

  private async readSnapshot(name: string): Promise<Snapshot | null> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.fileOf(name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      const { memory, annotations: a } = NeuralMemory.deserializeAnnotated(
        new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      );
      const count = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0);
      return {
        memory,
        seq: count(a.seq),
        gen: count(a.gen),
        // snapshots from before the update log carry no time: the file's
        savedAt:
          typeof a.savedAt === 'number' ? a.savedAt : (this.snapshotInfo(name)?.modifiedAt ?? Date.now()),
      };
    } catch (err) {
      const message = AppError.isInstance(err) ? err.message : String(err);
      throw new AppError(
        500,
        'snapshot_corrupt',
        `The snapshot of namespace ${name} cannot be read (${message}); POST /init re-creates the namespace`,
      );
    }
  }

  /**
   * Start-up: restores every namespace whose log has records and snapshots it, so a crash costs one replay however
   * often it happens. Returns the number of namespaces replayed.
   */
  async recover(): Promise<number> {
    for (const f of readdirSync(this.dir))
      if (f.includes(`${SUFFIX}.tmp-`) || f.startsWith(`${RUNTIME_FILE}.tmp-`))
        rmSync(join(this.dir, f), { force: true }); // a snapshot cut short by a crash
    let count = 0;
    for (const name of this.filesEnding(LOG_SUFFIX)) {
      if ((statSync(this.logFileOf(name), { throwIfNoEntry: false })?.size ?? 0) === 0) continue;
      try {
        await this.run(name, async (e) => {
          if (!e.dirty) return;
          await this.save(e);
          count++;
        });
      } catch (err) {
        this.logger.error({ err, namespace: name }, 'restoring a namespace at start-up failed');
      }
    }
    return count;
  }

  // ---- changes (call inside the namespace's chain, i.e. from `run`) -------------------------------------------
  /** Appends a change to the namespace's log (after its create record, the first time); may schedule a snapshot. */
  private append(entry: Entry, op: RecordOp, payload: Uint8Array): void {
    try {
      if (entry.unlogged) {
        const { config, seed } = entry.unlogged;
        entry.log.append(RecordOp.create, jsonBytes({ config, seed, gen: entry.gen }));
        entry.unlogged = null;
      }
      entry.log.append(op, payload);
    } catch (err) {
      this.drop(entry, err);
      throw err;
    }
    entry.dirty = true;
    if (this.snapshotEveryUpdates > 0 && entry.log.count >= this.snapshotEveryUpdates)
      this.scheduleSnapshot(entry);
  }

  /** One write of an embedding (update_memory), logged as the float32 input the memory wrote. */
  update(entry: Entry, x: unknown): UpdateResult {
    const input = toFloat32(x, entry.memory.config.inputDim, 'embedding');
    const r = entry.memory.update(input);
    this.append(entry, RecordOp.update, new Uint8Array(input.buffer));
    return r;
  }

  reset(entry: Entry): void {
    entry.memory.reset();
    this.append(entry, RecordOp.reset, new Uint8Array(0));
  }

  /** Switches one namespace's variant (logged when it changes). */
  setVariant(entry: Entry, variant: Variant): void {
    if (entry.memory.variant === variant) return;
    entry.memory.setVariant(variant);
    this.append(entry, RecordOp.variant, jsonBytes({ variant }));
  }

  /** Takes the runtime-wide variant, logged with its generation so that a replay takes it at the same point. */
  private adopt(entry: Entry): void {
    if (this.variantOverride === undefined) return;
    entry.memory.setVariant(this.variantOverride);
    entry.gen = this.gen;
    this.append(entry, RecordOp.variant, jsonBytes({ variant: this.variantOverride, gen: this.gen }));
  }

  /** Outer-loop training, then a snapshot (training replaces the projections; a replay of it would be slow). */
  async trainOuter(entry: Entry, sequences: ArrayLike<number>[][], opts: OuterOptions): Promise<OuterResult> {
    const r = entry.memory.trainOuter(sequences, opts);
    try {
      await this.save(entry);
    } catch (err) {
      this.drop(entry, err);
      throw err;
    }
    return r;
  }

  /** Writes the namespace's snapshot atomically, then empties its log (the snapshot holds every record). */
  async save(entry: Entry): Promise<{ bytes: number; path: string }> {
    const seq = entry.log.lastSeq;
    const savedAt = Date.now();
    const bytes = entry.memory.serialize({ seq, savedAt, gen: entry.gen });
    const path = this.fileOf(entry.name);
    await writeAtomic(path, bytes);
    syncDir(this.dir);
    entry.log.checkpoint(seq);
    entry.dirty = false;
    entry.unlogged = null;
    entry.lastSavedAt = savedAt;
    return { bytes: bytes.byteLength, path };
  }

  /** Replaces the namespace's memory with its snapshot (404 when there is none); later logged changes are dropped. */
  async load(name: string): Promise<Entry> {
    const snapshot = await this.readSnapshot(name);
    if (!snapshot) throw notFound(`Namespace ${name} has no saved snapshot`, { namespace: name });
    return this.replace(name, snapshot.memory, snapshot.gen);
  }

  /** Replaces the namespace's memory with a new one (config over the service defaults). */
  async init(name: string, config: Partial<NeuralMemoryConfig> = {}, seed?: number): Promise<Entry> {
    return this.replace(name, this.create(config, seed).memory, this.gen);
  }

  /**
   * Installs a whole new state: its snapshot first (numbered after every record of the log, so none of them is
   * replayed onto it; the log is emptied), then the entry. Call inside the namespace's chain.
   */
  private async replace(name: string, memory: NeuralMemory, gen: number): Promise<Entry> {
    const log = this.entries.get(name)?.log ?? this.openLog(name, 0).log;
    const entry: Entry = {
      name,
      memory,
      dirty: false,
      lastSavedAt: null,
      lastUsedAt: Date.now(),
      gen,
      unlogged: null,
      log,
      snapshotQueued: false,
    };
    if (gen < this.gen && this.variantOverride !== undefined) {
      memory.setVariant(this.variantOverride);
      entry.gen = this.gen;
    }
    await this.save(entry);
    this.entries.delete(name);
    return this.install(entry);
  }

  // ---- runtime-wide variant ---------------------------------------------------------------------------------------
  /**
   * Switches every namespace (loaded ones now, the others when they are next restored) and new ones to `variant`.
   * Durable when it resolves: the switch is in runtime.json and in the log of every loaded namespace.
   */
  setRuntimeVariant(variant: Variant): Promise<string[]> {
    const next = this.runtimeChain.then(() => this.switchRuntimeVariant(variant));
    this.runtimeChain = next.catch(() => undefined);
    return next;
  }

  private async switchRuntimeVariant(variant: Variant): Promise<string[]> {
    const gen = this.gen + 1;
    const bytes = new TextEncoder().encode(JSON.stringify({ variant, gen, savedAt: Date.now() }));
    await writeAtomic(join(this.dir, RUNTIME_FILE), bytes);
    syncDir(this.dir);
    this.gen = gen;
    this.variantOverride = variant;
    this.defaultConfig = { ...this.defaultConfig, variant };
    const names = this.loaded().map((e) => e.name);
    await Promise.all(
      names.map(async (n) => {
        let seen: Entry | undefined;
        await this.queue(n, () => {
          const e = this.entries.get(n);
          if (e && e.gen < gen) {
            this.adopt(e);
            seen = e;
          }
        });
        if (seen) await this.durable(seen, seen.log.lastSeq);
      }),
    );
    return names;
  }

  private readRuntime(): void {
    let text: string;
    try {
      text = readFileSync(join(this.dir, RUNTIME_FILE), 'utf8');
    } catch {
      return;
    }
    try {
      const r = JSON.parse(text) as { variant?: unknown; gen?: unknown };
      if (!VARIANTS.includes(r.variant as Variant) || !Number.isSafeInteger(r.gen))
        throw new Error('bad fields');
      this.variantOverride = r.variant as Variant;
      this.gen = r.gen as number;
      this.defaultConfig = { ...this.defaultConfig, variant: this.variantOverride };
    } catch (err) {
      this.logger.error({ err, file: RUNTIME_FILE }, 'the runtime variant file cannot be read; ignored');
    }
  }

  // ---- snapshot schedule and shutdown -----------------------------------------------------------------------------
  /** Time-based snapshots: `intervalMs` after each namespace's snapshot timestamp (0 disables). */
  setAutosave(intervalMs: number): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.intervalMs = intervalMs;
    if (intervalMs > 0 && !this.closed) {
      // this timer only checks; the schedule is the snapshots' own timestamps, which survive restarts
      this.timer = setInterval(() => this.snapshotDue(), Math.min(1000, Math.max(10, intervalMs / 4)));
      this.timer.unref();
      this.snapshotDue();
    }
  }

  get autosaveIntervalMs(): number {
    return this.intervalMs;
  }

  private isDue(e: Entry, now: number): boolean {
    if (!e.dirty) return false;
    if (this.snapshotEveryUpdates > 0 && e.log.count >= this.snapshotEveryUpdates) return true;
    const since = e.lastSavedAt ?? e.log.oldestMs;
    return this.intervalMs > 0 && since !== null && now - since >= this.intervalMs;
  }

  private snapshotDue(): void {
    const now = Date.now();
    for (const e of this.entries.values()) if (this.isDue(e, now)) this.scheduleSnapshot(e);
  }

  private scheduleSnapshot(entry: Entry): void {
    if (entry.snapshotQueued || this.closed) return;
    entry.snapshotQueued = true;
    this.queue(entry.name, async () => {
      entry.snapshotQueued = false;
      if (this.entries.get(entry.name) === entry && entry.dirty) await this.save(entry);
    }).catch((err: unknown) => {
      entry.snapshotQueued = false;
      this.logger.error({ err, namespace: entry.name }, 'snapshot of a namespace failed');
    });
  }

  /** Queues a snapshot of every namespace with changes since its last one; resolves when they are written. */
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
            this.logger.error({ err, namespace: e.name }, 'snapshot of a namespace failed'),
          ),
        ),
    );
    return count;
  }

  /** Stops the schedule, waits for queued work, snapshots what changed and closes the logs. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const saved = await this.saveDirty();
    this.closed = true;
    await Promise.all([...this.slots.values()].map((s) => s.tail));
    await Promise.all([...this.logs.values()].map((log) => log.close().catch(() => undefined)));
    this.logs.clear();
    this.logger.info({ saved }, 'neural memory namespaces saved');
  }
}

/** JSON bytes of a log record (±Infinity, which a config may hold, as strings). */
const jsonBytes = (value: unknown) =>
  new TextEncoder().encode(
    JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)),
  );

function parseJson(bytes: Uint8Array): unknown {
  return JSON.parse(new TextDecoder().decode(bytes), (_k, v: unknown) =>
    v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v,
  );
}

/** Writes a file atomically: temporary file, fsync, rename (the caller syncs the folder). */
async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
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
