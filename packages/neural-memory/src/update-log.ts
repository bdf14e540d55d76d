// The write-ahead log of one namespace: every change to its memory since its last snapshot, appended and synced to
// disk before the request that made it is answered. Concurrent appends share one synced write (group commit):
// whatever is appended while a write is in flight goes out together in the next one.
//
// File `<namespace>.wal`, a sequence of records (little-endian):
//   u32 magic "NMWL" | u32 payload length P | u32 CRC-32 of the next 24 + P bytes
//   | f64 sequence number | f64 wall time (ms since the epoch) | u8 op | 7 bytes zero | P bytes of payload
// Sequence numbers increase by one per record and continue across snapshots (a snapshot stores the last one it
// contains), so replay applies exactly the records after the snapshot. A record cut short by a crash, or whose
// checksum does not match, ends the log: it and anything after it are dropped (and cut off the file) at recovery.
import { closeSync, constants, fdatasyncSync, ftruncateSync, openSync, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { AppError } from '@synthians/kit';

export const RecordOp = {
  /** A namespace created on first use: JSON {config, seed, gen} (the resolved config, so env changes don't matter). */
  create: 1,
  /** update_memory: the input as float32 (what the memory writes, bit for bit). */
  update: 2,
  /** reset: no payload. */
  reset: 3,
  /** A variant switch: JSON {variant, gen?} (gen: the runtime-wide switch it applies). */
  variant: 4,
} as const;
export type RecordOp = (typeof RecordOp)[keyof typeof RecordOp];

export interface LogRecord {
  seq: number;
  timeMs: number;
  op: RecordOp;
  payload: Uint8Array;
}

const MAGIC = 0x4c574d4e; // "NMWL" read as a little-endian u32
/**
 * Where the platform has O_DSYNC the log is opened with it: each write returns once its data is on disk, one call
 * (one thread-pool round trip) instead of write + fdatasync. Elsewhere an fdatasync follows each write.
 */
const DSYNC = constants.O_DSYNC;
const OPEN_FLAGS =
  constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (DSYNC === undefined ? 0 : DSYNC);
const HEADER = 36;
/** Larger payloads are taken as corruption (an update is 4·d_in bytes, at most 256 KiB). */
const MAX_PAYLOAD = 16 * 1024 * 1024;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One record's bytes. */
export function encodeRecord(seq: number, timeMs: number, op: RecordOp, payload: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(HEADER + payload.byteLength);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(payload.byteLength, 4);
  buf.writeDoubleLE(seq, 12);
  buf.writeDoubleLE(timeMs, 20);
  buf.fill(0, 28, HEADER);
  buf[28] = op;
  buf.set(payload, HEADER);
  buf.writeUInt32LE(crc32(buf, 12), 8);
  return buf;
}

/** The valid records of a log's bytes, and how many bytes they span (the rest is a torn or corrupt tail). */
export function decodeRecords(bytes: Uint8Array): { records: LogRecord[]; validBytes: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: LogRecord[] = [];
  let pos = 0;
  let last = -Infinity;
  while (pos + HEADER <= bytes.length) {
    if (dv.getUint32(pos, true) !== MAGIC) break;
    const len = dv.getUint32(pos + 4, true);
    if (len > MAX_PAYLOAD || pos + HEADER + len > bytes.length) break;
    if (crc32(bytes, pos + 12, pos + HEADER + len) !== dv.getUint32(pos + 8, true)) break;
    const seq = dv.getFloat64(pos + 12, true);
    if (!Number.isSafeInteger(seq) || seq <= last) break;
    const op = bytes[pos + 28]! as RecordOp;
    records.push({
      seq,
      timeMs: dv.getFloat64(pos + 20, true),
      op,
      payload: bytes.subarray(pos + HEADER, pos + HEADER + len),
    });
    last = seq;
    pos += HEADER + len;
  }
  return { records, validBytes: pos };
}

/** A write or sync of the update log failed (503 log_failed): the change it carried was not acknowledged. */
export class LogFailedError extends AppError {
  override readonly name = 'LogFailedError';
  constructor(message: string) {
    super(503, 'log_failed', message);
  }
}

interface Waiter {
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Read at recovery: the valid records and what was cut off. */
export interface Recovered {
  records: LogRecord[];
  /** Bytes of a torn or corrupt tail that were removed from the file. */
  droppedBytes: number;
}

export class UpdateLog {
  readonly path: string;
  /** The last sequence number given out (or found at recovery, or covered by the snapshot). */
  lastSeq: number;
  /** Every record up to this sequence number is on disk (or covered by a snapshot on disk). */
  private durableSeq: number;
  private fh: FileHandle | undefined;
  private pending: Buffer[] = [];
  private pendingLast = 0;
  private waiters: Waiter[] = [];
  private truncateRequested = false;
  private pumping: Promise<void> | undefined;
  private failure: Error | undefined;
  private closed = false;
  /** Whether the file exists (it is created by the first write, so reads never make empty logs). */
  private onDisk: boolean;
  /** Records on disk or pending, not yet covered by a snapshot. */
  count = 0;
  /** Syncs of appended records so far (fewer than appends when group commit batches them). */
  syncs = 0;
  /** Wall time of the oldest record not covered by a snapshot (null when there is none). */
  oldestMs: number | null = null;

  private constructor(path: string, lastSeq: number, onDisk: boolean) {
    this.path = path;
    this.lastSeq = lastSeq;
    this.durableSeq = lastSeq;
    this.onDisk = onDisk;
  }

  /**
   * Opens (or creates) the log at `path`: reads its valid records, cuts a torn or corrupt tail off the file, and
   * continues numbering after max(`baseSeq`, the last record's sequence number).
   */
  static open(path: string, baseSeq: number): { log: UpdateLog; recovered: Recovered } {
    let bytes: Buffer;
    let onDisk = true;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      bytes = Buffer.alloc(0);
      onDisk = false;
    }
    const { records, validBytes } = decodeRecords(bytes);
    const droppedBytes = bytes.length - validBytes;
    if (droppedBytes > 0) {
      const fd = openSync(path, 'r+');
      try {
        ftruncateSync(fd, validBytes);
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    const last = records.length > 0 ? records[records.length - 1]!.seq : 0;
    const log = new UpdateLog(path, Math.max(baseSeq, last), onDisk);
    const live = records.filter((r) => r.seq > baseSeq);
    log.count = live.length;
    log.oldestMs = live[0]?.timeMs ?? null;
    return { log, recovered: { records, droppedBytes } };
  }

  /** Whether nothing is pending, being written or waiting to be truncated. */
  get idle(): boolean {
    return this.pumping === undefined && this.pending.length === 0 && !this.truncateRequested;
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /**
   * Appends a record (written and synced in the background, with whatever else arrives meanwhile) and returns its
   * sequence number; `durable(seq)` says when it is on disk. Throws LogFailedError once a write or sync has failed.
   */
  append(op: RecordOp, payload: Uint8Array, timeMs = Date.now()): number {
    if (this.failure) throw new LogFailedError(`The update log ${this.path} failed: ${this.failure.message}`);
    if (this.closed) throw new LogFailedError(`The update log ${this.path} is closed`);
    const seq = ++this.lastSeq;
    this.pending.push(encodeRecord(seq, timeMs, op, payload));
    this.pendingLast = seq;
    this.count++;
    this.oldestMs ??= timeMs;
    this.pump();
    return seq;
  }

  /** Resolves once every record up to `seq` is durable; undefined when it already is (no promise allocated). */
  durable(seq: number): Promise<void> | undefined {
    if (seq <= this.durableSeq) return undefined;
    if (this.failure)
      return Promise.reject(
        new LogFailedError(`The update log ${this.path} failed: ${this.failure.message}`),
      );
    return new Promise((resolve, reject) => this.waiters.push({ seq, resolve, reject }));
  }

  /**
   * A snapshot holding every record up to `seq` (= lastSeq: call it inside the namespace's chain) is on disk: those
   * records are durable, the ones not yet written are dropped, and the file is emptied after any write in flight.
   */
  checkpoint(seq: number): void {
    if (seq !== this.lastSeq)
      throw new Error(`checkpoint(${seq}) must cover every record (last ${this.lastSeq})`);
    this.pending = [];
    this.count = 0;
    this.oldestMs = null;
    this.markDurable(seq);
    if (this.failure || !this.onDisk) return;
    this.truncateRequested = true;
    this.pump();
  }

  /** Waits for the writes in flight and closes the file. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.pumping) await this.pumping;
    await this.fh?.close();
    this.fh = undefined;
    this.rejectWaiters(new LogFailedError(`The update log ${this.path} was closed`));
  }

  /** Closes the file now when nothing is in flight (for unloading a namespace); false when it could not. */
  closeIfIdle(): boolean {
    if (!this.idle) return false;
    this.closed = true;
    const fh = this.fh;
    this.fh = undefined;
    if (fh) void fh.close().catch(() => undefined);
    return true;
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = this.drain().finally(() => {
      this.pumping = undefined;
      // something may have arrived after the loop's last look
      if (!this.failure && (this.pending.length > 0 || this.truncateRequested)) this.pump();
    });
  }

  private async drain(): Promise<void> {
    try {
      while (!this.failure) {
        this.fh ??= await open(this.path, OPEN_FLAGS, 0o644);
        this.onDisk = true;
        if (this.truncateRequested) {
          this.truncateRequested = false;
          await this.fh.truncate(0);
          await this.fh.datasync();
          continue;
        }
        if (this.pending.length === 0) return;
        const batch = this.pending;
        const last = this.pendingLast;
        this.pending = [];
        await writeAll(this.fh, batch.length === 1 ? batch[0]! : Buffer.concat(batch));
        if (DSYNC === undefined) await this.fh.datasync();
        this.syncs++;
        this.markDurable(last);
      }
    } catch (err) {
      this.failure = err as Error;
      this.rejectWaiters(new LogFailedError(`The update log ${this.path} failed: ${(err as Error).message}`));
    }
  }

  private markDurable(seq: number): void {
    if (seq > this.durableSeq) this.durableSeq = seq;
    let n = 0;
    while (n < this.waiters.length && this.waiters[n]!.seq <= this.durableSeq) this.waiters[n++]!.resolve();
    if (n > 0) this.waiters.splice(0, n);
  }

  private rejectWaiters(err: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }
}

async function writeAll(fh: FileHandle, bytes: Buffer): Promise<void> {
  let pos = 0;
  while (pos < bytes.length) pos += (await fh.write(bytes, pos, bytes.length - pos)).bytesWritten;
}
