// Binary state format of a NeuralMemory (little-endian):
//   magic "SYNM" | u16 format version (1) | u16 flags (0) | u32 header length H | H bytes of UTF-8 JSON header
//   | zero padding to a multiple of 8 | u32 section count | per section: u8 kind (1 float32, 2 float64), 3 bytes
//   zero, u32 byte length, the raw little-endian values, zero padding to a multiple of 8
//   | 32-byte SHA-256 of everything before it.
// The JSON header holds the resolved config, the backend, the variant and the scalar state (step, window
// positions, RNG words and Box–Muller spare, and optional annotations of the owner); the sections hold every array,
// raw, so a restore is bit-exact.
import { createHash } from 'node:crypto';
import { badRequest } from '@synthians/kit';
import type { Backend } from './kernels.ts';
import type { Variant } from './config.ts';
import type { RngState } from './rng.ts';

export const STATE_FORMAT_VERSION = 1;
const MAGIC = [0x53, 0x59, 0x4e, 0x4d]; // "SYNM"
const DIGEST = 32;

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1)
  throw new Error('@synthians/neural-memory assumes a little-endian platform');

export interface SerializedHeader {
  config: unknown;
  backend: Backend;
  variant: Variant;
  step: number;
  hasPrev: boolean;
  winCount: number;
  winHead: number;
  surpCount: number;
  surpHead: number;
  rng: RngState;
  /** What the owner of the memory keeps with it (the service: the log position and time of the snapshot). */
  annotations?: Record<string, unknown>;
}

const pad8 = (n: number) => (8 - (n % 8)) % 8;
const bad = (message: string) => badRequest('invalid_state', `serialized state: ${message}`);

export function writeState(header: SerializedHeader, sections: (Float32Array | Float64Array)[]): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  let size = 12 + json.length + pad8(12 + json.length) + 4;
  for (const s of sections) size += 8 + s.byteLength + pad8(s.byteLength);
  size += DIGEST;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  dv.setUint16(4, STATE_FORMAT_VERSION, true);
  dv.setUint16(6, 0, true);
  dv.setUint32(8, json.length, true);
  out.set(json, 12);
  let pos = 12 + json.length;
  pos += pad8(pos);
  dv.setUint32(pos, sections.length, true);
  pos += 4;
  for (const s of sections) {
    dv.setUint8(pos, s instanceof Float64Array ? 2 : 1);
    dv.setUint32(pos + 4, s.byteLength, true);
    pos += 8;
    out.set(new Uint8Array(s.buffer, s.byteOffset, s.byteLength), pos);
    pos += s.byteLength + pad8(s.byteLength);
  }
  out.set(createHash('sha256').update(out.subarray(0, pos)).digest(), pos);
  return out;
}

export function readState(bytes: Uint8Array): { header: SerializedHeader; sections: Uint8Array[] } {
  if (!(bytes instanceof Uint8Array)) throw bad('expected bytes');
  if (bytes.length < 16 + DIGEST || MAGIC.some((b, i) => bytes[i] !== b))
    throw bad('not a neural memory state');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint16(4, true);
  if (version !== STATE_FORMAT_VERSION) throw bad(`unsupported format version ${version}`);
  const body = bytes.subarray(0, bytes.length - DIGEST);
  const digest = createHash('sha256').update(body).digest();
  if (!digest.equals(bytes.subarray(bytes.length - DIGEST))) throw bad('checksum mismatch (corrupted)');
  const jsonLen = dv.getUint32(8, true);
  if (12 + jsonLen > body.length) throw bad('truncated header');
  let header: SerializedHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + jsonLen))) as SerializedHeader;
  } catch {
    throw bad('header is not JSON');
  }
  checkHeader(header);
  let pos = 12 + jsonLen;
  pos += pad8(pos);
  const count = dv.getUint32(pos, true);
  pos += 4;
  const sections: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    if (pos + 8 > body.length) throw bad('truncated');
    const len = dv.getUint32(pos + 4, true);
    pos += 8;
    if (pos + len > body.length) throw bad('truncated');
    sections.push(bytes.subarray(pos, pos + len));
    pos += len + pad8(len);
  }
  if (pos !== body.length) throw bad('trailing bytes');
  return { header, sections };
}

function checkHeader(h: SerializedHeader): void {
  const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  if (typeof h !== 'object' || h === null || typeof h.config !== 'object' || h.config === null)
    throw bad('missing config');
  if (h.backend !== 'wasm' && h.backend !== 'js') throw bad('bad backend');
  for (const k of ['step', 'winCount', 'winHead', 'surpCount', 'surpHead'] as const)
    if (!isInt(h[k])) throw bad(`bad ${k}`);
  if (typeof h.hasPrev !== 'boolean') throw bad('bad hasPrev');
  const r = h.rng;
  if (
    typeof r !== 'object' ||
    r === null ||
    !Array.isArray(r.s) ||
    r.s.length !== 4 ||
    !r.s.every((w) => isInt(w) && w <= 0xffffffff) ||
    !(r.spare === null || typeof r.spare === 'number')
  )
    throw bad('bad rng state');
  if (
    h.annotations !== undefined &&
    (typeof h.annotations !== 'object' || h.annotations === null || Array.isArray(h.annotations))
  )
    throw bad('bad annotations');
}
