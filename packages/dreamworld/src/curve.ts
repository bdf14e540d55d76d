// Protection of the ZeroMQ PUB socket: CURVE keys (Z85 text, as ZeroMQ writes them), the server key from the
// environment or a file generated once under the data directory, and the refusal to publish off loopback without
// CURVE.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as zmq from 'zeromq';
import { ConfigError, isLoopback } from '@synthians/kit';

const alphabet = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const decodeTable = new Map([...alphabet].map((c, i) => [c, i]));

/** Z85 (ZeroMQ RFC 32) of bytes whose length is a multiple of 4. */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new Error('z85: length must be a multiple of 4');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let v = view.getUint32(i);
    const chunk = new Array<string>(5);
    for (let k = 4; k >= 0; k--) {
      chunk[k] = alphabet[v % 85]!;
      v = Math.floor(v / 85);
    }
    out += chunk.join('');
  }
  return out;
}

/** The bytes of a Z85 string, or undefined when it is not valid Z85. */
export function z85Decode(text: string): Buffer | undefined {
  if (text.length % 5 !== 0) return undefined;
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let v = 0;
    for (let k = 0; k < 5; k++) {
      const d = decodeTable.get(text[i + k]!);
      if (d === undefined) return undefined;
      v = v * 85 + d;
    }
    if (v > 0xffffffff) return undefined;
    out.writeUInt32BE(v, (i / 5) * 4);
  }
  return out;
}

/** A CURVE key: 32 bytes written as 40 characters of Z85. */
export const isCurveKey = (text: string): boolean => text.length === 40 && z85Decode(text) !== undefined;

// PKCS#8 and SPKI wrappings of a raw X25519 key (RFC 8410), so that node:crypto derives the public key.
const pkcs8Prefix = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** The public key (Z85) of a CURVE secret key (Z85): CURVE keys are X25519 keys. */
export function curvePublicKeyOf(secretKey: string): string {
  const raw = z85Decode(secretKey);
  if (!raw || raw.length !== 32) throw new Error('not a CURVE secret key');
  const key = createPrivateKey({ key: Buffer.concat([pkcs8Prefix, raw]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return z85Encode(spki.subarray(spki.length - 32));
}

export interface CurveServer {
  secretKey: string;
  publicKey: string;
  /** Where the secret key came from: the environment, or the key file (its path). */
  source: string;
  /** Public keys (Z85) of the subscribers allowed to connect; empty = any client that completes CURVE. */
  clientKeys: string[];
}

export interface PubSecurityConfig {
  DREAM_PUB_HOST: string;
  DREAM_PUB_CURVE: boolean;
  DREAM_PUB_CURVE_SECRET_KEY?: string | undefined;
  DREAM_PUB_CURVE_CLIENT_KEYS: string[];
}

export const KEY_FILE = 'pub-curve.key';

/**
 * The CURVE server of the PUB socket, or undefined when CURVE is off. CURVE is on with DREAM_PUB_CURVE=true,
 * DREAM_PUB_CURVE_SECRET_KEY or DREAM_PUB_CURVE_CLIENT_KEYS. The secret key comes from DREAM_PUB_CURVE_SECRET_KEY,
 * else from `<dir>/pub-curve.key` (created on first use, mode 0600). Refuses (ConfigError) to publish off loopback
 * without CURVE.
 */
export function pubSecurity(config: PubSecurityConfig, dir: string): CurveServer | undefined {
  const on =
    config.DREAM_PUB_CURVE ||
    config.DREAM_PUB_CURVE_SECRET_KEY !== undefined ||
    config.DREAM_PUB_CURVE_CLIENT_KEYS.length > 0;
  if (!on) {
    if (!isLoopback(config.DREAM_PUB_HOST))
      throw new ConfigError(
        `Refusing to publish on ${config.DREAM_PUB_HOST} without CURVE: set DREAM_PUB_CURVE=true (a server key is generated under the data directory) or DREAM_PUB_CURVE_SECRET_KEY, or bind DREAM_PUB_HOST to a loopback address`,
        [
          {
            variable: 'DREAM_PUB_CURVE_SECRET_KEY',
            message: 'required (or DREAM_PUB_CURVE=true) when DREAM_PUB_HOST is not a loopback address',
          },
        ],
      );
    return undefined;
  }
  let secretKey = config.DREAM_PUB_CURVE_SECRET_KEY;
  let source = 'DREAM_PUB_CURVE_SECRET_KEY';
  if (secretKey === undefined) {
    source = join(dir, KEY_FILE);
    secretKey = readOrCreateKey(source);
  }
  return {
    secretKey,
    publicKey: curvePublicKeyOf(secretKey),
    source,
    clientKeys: config.DREAM_PUB_CURVE_CLIENT_KEYS,
  };
}

function readOrCreateKey(file: string): string {
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new ConfigError(`Cannot read the PUB socket's CURVE key ${file}: ${(err as Error).message}`, [
        { variable: 'DREAM_PUB_CURVE', message: 'key file unreadable' },
      ]);
  }
  if (text !== undefined) {
    if (!isCurveKey(text))
      throw new ConfigError(
        `${file} does not hold a CURVE secret key (40 characters of Z85): remove it to generate a new one, or set DREAM_PUB_CURVE_SECRET_KEY`,
        [{ variable: 'DREAM_PUB_CURVE', message: 'malformed key file' }],
      );
    return text;
  }
  mkdirSync(dirname(file), { recursive: true });
  const { secretKey } = zmq.curveKeyPair();
  // Written whole to a private temporary file, then linked into place: a second process starting at once either
  // links first (and this one reads its key) or finds the complete file.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, secretKey + '\n', { mode: 0o600 });
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readOrCreateKey(file);
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  return secretKey;
}
