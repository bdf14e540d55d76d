// Pulling and verifying models: resumable, checksum-verified downloads (`<file>.part`, HTTP Range), extraction of
// one member from a downloaded npm tarball, locally built models, and the pins recorded on first use.
//
// A file lands in place only after its size and checksum were checked, by fsync + rename + fsync of the folder, so a
// crash leaves either the old file or none, never a torn one. A network failure keeps the `.part` for the next pull.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { safeParseJson } from '@synthians/kit';
import { z } from 'zod';
import {
  archivePath,
  DOWNLOADS_DIR,
  filePinned,
  ModelError,
  PINS_FILE,
  urlPinned,
  type ModelEntry,
  type ModelFile,
  sizeOf,
} from './registry.ts';

// ---------------------------------------------------------------------------------------------------------------
// Pins recorded locally.

/**
 * Where the checksum a file is verified against comes from: the registry; the registry-pinned archive it was
 * extracted from (member hash recorded at extraction); the first download (`--trust-on-first-use`); the local build.
 */
export type PinSource = 'registry' | 'archive' | 'first-use' | 'build' | 'none';

const PinSchema = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  source: z.enum(['archive', 'first-use', 'build']),
  recordedAt: z.string(),
});
export type Pin = z.infer<typeof PinSchema>;
const PinsFileSchema = z.object({ version: z.literal(1), files: z.record(z.string(), PinSchema) });
export type Pins = Record<string, Pin>;

export async function readPins(dir: string): Promise<Pins> {
  const file = join(dir, PINS_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  const json = safeParseJson(text);
  const parsed = json.ok ? PinsFileSchema.safeParse(json.value) : undefined;
  if (!parsed?.success)
    throw new ModelError(
      'bad_pins',
      `${file}: ${json.ok ? (parsed?.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') ?? '') : json.error}; delete it and pull again`,
      { file },
    );
  return parsed.data.files;
}

async function writePins(dir: string, pins: Pins): Promise<void> {
  const file = join(dir, PINS_FILE);
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ version: 1, files: pins }, null, 2)}\n`);
  await commit(tmp, file);
}

/** Where `f`'s expected checksum comes from, given the pins recorded in its folder. */
export function pinSource(f: ModelFile, pins: Pins): PinSource {
  if (filePinned(f)) return 'registry';
  return pins[f.path]?.source ?? 'none';
}

// ---------------------------------------------------------------------------------------------------------------
// Hashing and atomic placement.

export interface Digest {
  size: number;
  sha256: string;
  sha1: string;
}

interface Expected {
  size?: number | undefined;
  sha256?: string | undefined;
  sha1?: string | undefined;
}

class Hashes {
  sha256: Hash = createHash('sha256');
  sha1: Hash = createHash('sha1');
  size = 0;
  update(chunk: Uint8Array): void {
    this.sha256.update(chunk);
    this.sha1.update(chunk);
    this.size += chunk.length;
  }
  digest(): Digest {
    return { size: this.size, sha256: this.sha256.digest('hex'), sha1: this.sha1.digest('hex') };
  }
}

async function hashInto(file: string, hashes: Hashes): Promise<void> {
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }))
    hashes.update(chunk as Buffer);
}

export async function hashFile(file: string): Promise<Digest> {
  const hashes = new Hashes();
  await hashInto(file, hashes);
  return hashes.digest();
}

/** Why `got` does not match `want`, or undefined when it does. */
function mismatch(want: Expected, got: Digest): string | undefined {
  if (want.size !== undefined && got.size !== want.size)
    return `size mismatch: expected ${want.size} bytes, got ${got.size}`;
  if (want.sha256 !== undefined && got.sha256 !== want.sha256)
    return `checksum mismatch: expected sha256 ${want.sha256}, got ${got.sha256}`;
  if (want.sha1 !== undefined && got.sha1 !== want.sha1)
    return `checksum mismatch: expected sha1 ${want.sha1}, got ${got.sha1}`;
  return undefined;
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Not every platform can fsync a directory (Windows); the rename is still atomic there.
  }
}

/** fsync `from`, rename it onto `to`, fsync the folder. */
async function commit(from: string, to: string): Promise<void> {
  const handle = await open(from, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(from, to);
  await fsyncDir(dirname(to));
}

// ---------------------------------------------------------------------------------------------------------------
// Download.

export interface Progress {
  /** The model file (or archive) being transferred. */
  file: string;
  received: number;
  /** Undefined when neither the registry nor the server says. */
  total: number | undefined;
}

export interface TransferOptions {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Give up when no byte arrives for this long (also bounds waiting for the response headers). */
  idleTimeoutMs?: number;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

export interface DownloadTarget extends Expected {
  url: string;
  dest: string;
  /** The name progress and errors use. */
  label: string;
}

const contentRange = (header: string | null) => {
  const m = header ? /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(header.trim()) : null;
  if (!m) return undefined;
  return {
    start: m[1] !== undefined ? Number(m[1]) : undefined,
    total: m[3] !== undefined && m[3] !== '*' ? Number(m[3]) : undefined,
  };
};

/**
 * Downloads `url` into `dest` via `dest.part`, resuming a part left by an earlier attempt (Range), and checks size
 * and checksums before renaming into place. A mismatch deletes the part; a network error or abort keeps it.
 */
export async function download(target: DownloadTarget, options: TransferOptions = {}): Promise<Digest> {
  const { url, dest, label } = target;
  const part = `${dest}.part`;
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  await mkdir(dirname(dest), { recursive: true });
  let restarted = false;
  for (;;) {
    let offset = (await sizeOf(part)) ?? 0;
    if (target.size !== undefined && offset > target.size) {
      await rm(part, { force: true });
      offset = 0;
    }
    const hashes = new Hashes();
    if (offset > 0) await hashInto(part, hashes);

    const idle = new AbortController();
    let timer = setTimeout(() => idle.abort(), idleMs);
    const bump = () => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(), idleMs);
    };
    const signal = options.signal ? AbortSignal.any([options.signal, idle.signal]) : idle.signal;
    const interrupted = (err: unknown, received: number) => {
      const why = options.signal?.aborted
        ? 'aborted'
        : idle.signal.aborted
          ? `no data for ${idleMs} ms`
          : String((err as Error).cause ?? (err as Error).message ?? err);
      return new ModelError(
        'download_interrupted',
        `download of ${label} from ${url} interrupted after ${received} bytes (${why}); ` +
          (received > 0 ? `${part} is kept and the next pull resumes from there` : 'pull again to retry'),
        { url, received },
      );
    };

    try {
      let res: Response;
      try {
        res = await fetch(url, {
          headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
          signal,
          redirect: 'follow',
        });
      } catch (err) {
        throw interrupted(err, offset);
      }

      if (res.status === 416 && offset > 0) {
        await res.body?.cancel();
        const total = target.size ?? contentRange(res.headers.get('content-range'))?.total;
        if (total === offset) return await finish(target, part, hashes);
        await rm(part, { force: true });
        if (restarted) throw new ModelError('download_failed', `${url} refused the range request (416)`);
        restarted = true;
        continue;
      }
      if (res.status === 206) {
        if (offset === 0 || contentRange(res.headers.get('content-range'))?.start !== offset) {
          await res.body?.cancel();
          await rm(part, { force: true });
          if (restarted)
            throw new ModelError('download_failed', `${url} answered a range it was not asked for`);
          restarted = true;
          continue;
        }
      } else if (res.status === 200) {
        // No resume support (or a changed file): start over.
        if (offset > 0) {
          offset = 0;
          hashes.sha256 = createHash('sha256');
          hashes.sha1 = createHash('sha1');
          hashes.size = 0;
        }
      } else {
        await res.body?.cancel();
        throw new ModelError(
          'download_failed',
          `download of ${label} failed: ${url} answered HTTP ${res.status}`,
          {
            url,
            status: res.status,
          },
        );
      }
      if (!res.body) throw new ModelError('download_failed', `download of ${label} failed: empty response`);

      const length = Number(res.headers.get('content-length') ?? NaN);
      const total = target.size ?? (Number.isFinite(length) ? offset + length : undefined);
      const handle = await open(part, offset > 0 ? 'a' : 'w');
      try {
        options.onProgress?.({ file: label, received: hashes.size, total });
        try {
          for await (const chunk of res.body) {
            bump();
            await handle.write(chunk);
            hashes.update(chunk);
            options.onProgress?.({ file: label, received: hashes.size, total });
          }
        } catch (err) {
          throw interrupted(err, hashes.size);
        }
      } finally {
        await handle.close();
      }
      return await finish(target, part, hashes);
    } finally {
      clearTimeout(timer);
    }
  }
}

async function finish(target: DownloadTarget, part: string, hashes: Hashes): Promise<Digest> {
  const got = hashes.digest();
  const why = mismatch(target, got);
  if (why) {
    await rm(part, { force: true });
    throw new ModelError(
      why.startsWith('size') ? 'size_mismatch' : 'checksum_mismatch',
      `${target.label}: ${why} (downloaded from ${target.url}; the partial file was deleted)`,
      {
        url: target.url,
        expected: { size: target.size, sha256: target.sha256, sha1: target.sha1 },
        actual: got,
      },
    );
  }
  await commit(part, target.dest);
  return got;
}

// ---------------------------------------------------------------------------------------------------------------
// One member out of a .tgz (ustar/pax/GNU long names; npm tarballs are written by node-tar).

class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private done = false;
  constructor(private readonly source: AsyncIterator<Buffer>) {}

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.done) {
      const r = await this.source.next();
      if (r.done) this.done = true;
      else if (r.value.length > 0) {
        this.chunks.push(r.value);
        this.buffered += r.value.length;
      }
    }
  }

  /** Up to `max` bytes (fewer only at the end), without copying when one chunk suffices. */
  async some(max: number): Promise<Buffer> {
    await this.fill(1);
    const first = this.chunks[0];
    if (!first) return Buffer.alloc(0);
    const take = Math.min(max, first.length);
    if (take === first.length) this.chunks.shift();
    else this.chunks[0] = first.subarray(take);
    this.buffered -= take;
    return first.subarray(0, take);
  }

  /** Exactly `n` bytes, or fewer at the end. */
  async exactly(n: number): Promise<Buffer> {
    await this.fill(n);
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const b = await this.some(n - got);
      if (b.length === 0) break;
      parts.push(b);
      got += b.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}

const cString = (b: Buffer, start: number, length: number) => {
  const field = b.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.toString('utf8', 0, end === -1 ? length : end);
};

function tarNumber(b: Buffer, start: number, length: number): number {
  const field = b.subarray(start, start + length);
  if (field[0]! & 0x80) {
    // GNU base-256.
    let n = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function headerChecksumOk(block: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return sum === tarNumber(block, 148, 8);
}

const normaliseMember = (p: string) => p.replace(/^(\.\/)+/, '');

function paxPath(body: Buffer): string | undefined {
  let at = 0;
  let found: string | undefined;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    if (space === -1) break;
    const len = Number(body.toString('latin1', at, space));
    if (!Number.isInteger(len) || len <= 0) break;
    const record = body.toString('utf8', space + 1, at + len - 1);
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') found = record.slice(eq + 1);
    at += len;
  }
  return found;
}

/** Streams member `member` of the gzipped tar `archive` to `sink`; throws `extract_failed` when absent. */
async function readTgzMember(archive: string, member: string, sink: (chunk: Buffer) => Promise<void>) {
  const want = normaliseMember(member);
  const gunzip = createReadStream(archive).pipe(createGunzip());
  const reader = new ByteReader(gunzip[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
  const fail = (why: string) =>
    new ModelError('extract_failed', `cannot extract ${member} from ${archive}: ${why}`, { archive, member });
  let nextName: string | undefined;
  try {
    for (;;) {
      const block = await reader.exactly(512);
      if (block.length === 0) break;
      if (block.length < 512) throw fail('truncated archive');
      if (block.every((b) => b === 0)) break;
      if (!headerChecksumOk(block)) throw fail('corrupt tar header');
      const size = tarNumber(block, 124, 12);
      const type = String.fromCharCode(block[156]!);
      const ustar = block.toString('latin1', 257, 262) === 'ustar';
      const prefix = ustar ? cString(block, 345, 155) : '';
      const name = cString(block, 0, 100);
      const path = nextName ?? (prefix ? `${prefix}/${name}` : name);
      const padding = (512 - (size % 512)) % 512;

      if (type === 'x' || type === 'L') {
        const body = await reader.exactly(size);
        if (body.length < size) throw fail('truncated archive');
        await reader.exactly(padding);
        nextName = type === 'x' ? paxPath(body) : cString(body, 0, size);
        continue;
      }
      nextName = undefined;
      const regular = type === '0' || type === '\0' || type === '7';
      if (regular && normaliseMember(path) === want) {
        let remaining = size;
        while (remaining > 0) {
          const chunk = await reader.some(Math.min(remaining, 1 << 20));
          if (chunk.length === 0) throw fail('truncated archive');
          remaining -= chunk.length;
          await sink(chunk);
        }
        return;
      }
      let skip = size + padding;
      while (skip > 0) {
        const chunk = await reader.some(Math.min(skip, 1 << 20));
        if (chunk.length === 0) throw fail('truncated archive');
        skip -= chunk.length;
      }
    }
  } catch (err) {
    if (ModelError.isInstance(err)) throw err;
    throw fail((err as Error).message);
  } finally {
    gunzip.destroy();
  }
  throw fail('no such member');
}

/** Extracts `member` of `archive` into `dest` (via `dest.part`), checked against `want`. */
export async function extractMember(
  archive: string,
  member: string,
  dest: string,
  want: Expected,
  label = member,
): Promise<Digest> {
  const part = `${dest}.part`;
  await mkdir(dirname(dest), { recursive: true });
  const hashes = new Hashes();
  const handle = await open(part, 'w');
  try {
    await readTgzMember(archive, member, async (chunk) => {
      await handle.write(chunk);
      hashes.update(chunk);
    });
  } catch (err) {
    await handle.close();
    await rm(part, { force: true });
    throw err;
  }
  await handle.close();
  const got = hashes.digest();
  const why = mismatch(want, got);
  if (why) {
    await rm(part, { force: true });
    throw new ModelError(
      why.startsWith('size') ? 'size_mismatch' : 'checksum_mismatch',
      `${label} (from ${member}): ${why}`,
      { expected: want, actual: got },
    );
  }
  await commit(part, dest);
  return got;
}

// ---------------------------------------------------------------------------------------------------------------
// Pull and verify a model.

export type Builder = (dir: string) => Promise<void>;

export interface PullOptions extends TransferOptions {
  /** Download files the registry does not pin and record the sha256 they arrive with. */
  trustOnFirstUse?: boolean;
  /** Builders for entries with `builder`, by name. */
  builders?: Record<string, Builder>;
  /** Keep downloaded archives under `.downloads/` (default: delete them once extracted). */
  keepArchives?: boolean;
}

export interface PulledFile {
  path: string;
  action: 'skipped' | 'downloaded' | 'extracted' | 'built';
  pin: PinSource;
  sha256: string;
  size: number;
}

export interface VerifiedFile {
  path: string;
  ok: boolean;
  pin: PinSource;
  /** Why it failed. */
  reason?: string;
}

const declaredSize = (f: ModelFile) => (f.extract ? f.extract.size : f.size);

/** What the installed copy of `f` must match: the registry's pin, else the recorded one; undefined when unpinned. */
function expectedOf(f: ModelFile, pins: Pins): Expected | undefined {
  const size = declaredSize(f);
  if (f.extract?.sha256 !== undefined) return { size, sha256: f.extract.sha256 };
  if (!f.extract && urlPinned(f)) return { size, sha256: f.sha256, sha1: f.sha1 };
  const pin = pins[f.path];
  return pin ? { size: size ?? pin.size, sha256: pin.sha256 } : undefined;
}

async function verifyFile(
  dir: string,
  f: ModelFile,
  pins: Pins,
): Promise<VerifiedFile & { digest?: Digest }> {
  const pin = pinSource(f, pins);
  const target = join(dir, f.path);
  if ((await sizeOf(target)) === undefined) return { path: f.path, ok: false, pin, reason: 'missing' };
  const want = expectedOf(f, pins);
  if (!want)
    return {
      path: f.path,
      ok: false,
      pin,
      reason: `not pinned: the registry has no checksum and ${PINS_FILE} records none`,
    };
  const digest = await hashFile(target);
  const why = mismatch(want, digest);
  return why ? { path: f.path, ok: false, pin, reason: why } : { path: f.path, ok: true, pin, digest };
}

/** Hashes every file of an installed model against its pins. */
export async function verifyModel(
  entry: ModelEntry,
  dir: string,
): Promise<{ name: string; ok: boolean; files: VerifiedFile[] }> {
  const pins = await readPins(dir);
  const files: VerifiedFile[] = [];
  for (const f of entry.files) {
    const { digest: _digest, ...result } = await verifyFile(dir, f, pins);
    files.push(result);
  }
  return { name: entry.name, ok: files.every((f) => f.ok), files };
}

const pinFrom = (d: Digest, source: Pin['source']): Pin => ({
  sha256: d.sha256,
  size: d.size,
  source,
  recordedAt: new Date().toISOString(),
});

/**
 * Installs `entry` into `dir`: downloads (or builds) what is missing or fails verification, skips what verifies.
 * Refuses files without any pin unless `trustOnFirstUse`.
 */
export async function pullModel(
  entry: ModelEntry,
  dir: string,
  options: PullOptions = {},
): Promise<PulledFile[]> {
  await mkdir(dir, { recursive: true });
  const pins = await readPins(dir);
  if (entry.builder) return build(entry, dir, pins, options);

  const unpinned = entry.files.filter(
    (f) => !filePinned(f) && !(f.extract && urlPinned(f)) && pins[f.path] === undefined,
  );
  if (unpinned.length > 0 && !options.trustOnFirstUse)
    throw new ModelError(
      'unpinned',
      `model "${entry.name}": the registry has no checksum for ${unpinned.map((f) => f.path).join(', ')}. ` +
        `Pull with --trust-on-first-use to download anyway and record the sha256 it arrives with in ` +
        `${join(dir, PINS_FILE)}; later pulls and verify check against that.`,
      { model: entry.name, files: unpinned.map((f) => f.path) },
    );

  const results: PulledFile[] = [];
  const archives = new Map<string, string>();
  try {
    for (const f of entry.files) {
      const target = join(dir, f.path);
      const check = await verifyFile(dir, f, pins);
      if (check.ok && check.digest) {
        const { sha256, size } = check.digest;
        results.push({ path: f.path, action: 'skipped', pin: check.pin, sha256, size });
        continue;
      }
      const want = expectedOf(f, pins) ?? { size: declaredSize(f) };
      if (!f.extract) {
        const d = await download({ url: f.url!, dest: target, label: f.path, ...want }, options);
        if (pinSource(f, pins) === 'none') {
          pins[f.path] = pinFrom(d, 'first-use');
          await writePins(dir, pins);
        }
        results.push({ path: f.path, action: 'downloaded', pin: pinSource(f, pins), ...d });
        continue;
      }
      let archive = archives.get(f.url!);
      if (!archive) {
        archive = archivePath(dir, f);
        const archiveWant: Expected = { size: f.size, sha256: f.sha256, sha1: f.sha1 };
        const existing = urlPinned(f) && (await sizeOf(archive)) !== undefined;
        if (!existing || mismatch(archiveWant, await hashFile(archive)))
          await download(
            { url: f.url!, dest: archive, label: archive.slice(dir.length + 1), ...archiveWant },
            options,
          );
        archives.set(f.url!, archive);
      }
      const d = await extractMember(archive, f.extract.member, target, want, f.path);
      if (pinSource(f, pins) === 'none') {
        pins[f.path] = pinFrom(d, urlPinned(f) ? 'archive' : 'first-use');
        await writePins(dir, pins);
      }
      results.push({ path: f.path, action: 'extracted', pin: pinSource(f, pins), ...d });
    }
  } finally {
    if (!options.keepArchives && archives.size > 0) {
      const done = results.length === entry.files.length;
      // After a failure keep archives (and parts) so the next pull need not download them again.
      if (done) await rm(join(dir, DOWNLOADS_DIR), { recursive: true, force: true });
    }
  }
  return results;
}

async function build(
  entry: ModelEntry,
  dir: string,
  pins: Pins,
  options: PullOptions,
): Promise<PulledFile[]> {
  const checks = await Promise.all(entry.files.map((f) => verifyFile(dir, f, pins)));
  if (checks.every((c) => c.ok))
    return checks.map((c) => ({
      path: c.path,
      action: 'skipped',
      pin: c.pin,
      sha256: c.digest!.sha256,
      size: c.digest!.size,
    }));
  const builder = options.builders?.[entry.builder!];
  if (!builder)
    throw new ModelError(
      'no_builder',
      `model "${entry.name}" is built locally by "${entry.builder}", which this program does not provide`,
      { model: entry.name, builder: entry.builder },
    );
  try {
    await builder(dir);
  } catch (err) {
    throw new ModelError('build_failed', `building model "${entry.name}" failed: ${(err as Error).message}`, {
      model: entry.name,
    });
  }
  const out: PulledFile[] = [];
  for (const f of entry.files) {
    const target = join(dir, f.path);
    if ((await sizeOf(target)) === undefined)
      throw new ModelError('build_failed', `building model "${entry.name}" did not write ${f.path}`);
    const d = await hashFile(target);
    const want = expectedOf(f, {});
    const why = want && mismatch(want, d);
    if (why) throw new ModelError('checksum_mismatch', `built ${f.path} of "${entry.name}": ${why}`);
    if (!filePinned(f)) pins[f.path] = pinFrom(d, 'build');
    out.push({ path: f.path, action: 'built', pin: pinSource(f, pins), sha256: d.sha256, size: d.size });
  }
  await writePins(dir, pins);
  return out;
}
