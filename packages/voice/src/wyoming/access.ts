// Who may talk to the Wyoming server when it listens beyond loopback. Wyoming itself has no authentication and
// Home Assistant's integration cannot send a token, so there are two ways in: our `auth` event as the first
// event (token compared in constant time), or a client address on an explicit allow-list
// (WYOMING_ALLOWED_CLIENTS). The decision is made by the address the server is bound to, not by the client's
// address: off loopback, every connection authenticates unless its address is allow-listed.
import { createHash, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import type { WyomingLimits } from './protocol.ts';

/** Our extension event: `{"type":"auth","data":{"token":"…"}}`, the first event of a connection. */
export const AUTH_EVENT = 'auth';

/**
 * Limits while a connection has not authenticated: an `auth` event is one short header line (its data inline
 * or after it) and no payload, so an anonymous peer cannot make us buffer more than a few KiB.
 */
export const PRE_AUTH_LIMITS: Readonly<WyomingLimits> = Object.freeze({
  maxHeaderBytes: 4096,
  maxDataBytes: 4096,
  maxPayloadBytes: 0,
});

/** Whether `given` is the expected token; constant time in both the content and the lengths. */
export function tokenMatches(given: unknown, expected: string): boolean {
  if (typeof given !== 'string' || given.length === 0 || expected.length === 0) return false;
  // Hashing first gives equal-length inputs, so the comparison does not leak the token's length.
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** `::ffff:192.0.2.1` (an IPv4 client of a dual-stack socket) → `192.0.2.1`. */
function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

/** Why `entry` is not an address or CIDR (`192.168.1.20`, `192.168.1.0/24`, `fd00::/8`), or undefined if it is. */
export function clientEntryProblem(entry: string): string | undefined {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = net.isIP(unmapped(address));
  if (family === 0 || rest.length > 0)
    return `not an IP address or CIDR: ${JSON.stringify(entry)} (host names are not accepted)`;
  if (prefix === undefined) return undefined;
  const bits = Number(prefix);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || bits > max)
    return `bad prefix length in ${JSON.stringify(entry)} (0-${max})`;
  return undefined;
}

/** Client addresses (and networks) whose connections need no `auth` event. */
export class ClientAllowList {
  private readonly list = new net.BlockList();
  readonly entries: readonly string[];

  /** `entries`: addresses or CIDRs, already checked with `clientEntryProblem` (throws on a bad one). */
  constructor(entries: readonly string[]) {
    this.entries = [...entries];
    for (const entry of entries) {
      const problem = clientEntryProblem(entry);
      if (problem) throw new TypeError(problem);
      const [raw = '', prefix] = entry.split('/');
      const address = unmapped(raw);
      const type = net.isIPv4(address) ? 'ipv4' : 'ipv6';
      if (prefix === undefined) this.list.addAddress(address, type);
      else this.list.addSubnet(address, Number(prefix), type);
    }
  }

  get size(): number {
    return this.entries.length;
  }

  /** Whether a peer at `address` (a socket's remoteAddress) is on the list. */
  allows(address: string | undefined): boolean {
    if (!address || this.entries.length === 0) return false;
    const a = unmapped(address);
    const type = net.isIPv4(a) ? 'ipv4' : net.isIPv6(a) ? 'ipv6' : undefined;
    return type !== undefined && this.list.check(a, type);
  }
}

/**
 * How a client words a server's `error` event before its text: our server's `unauthorized` means this connection
 * needs a token (or another one), not that the request failed. `variable`: where the client's token is set.
 */
export function errorEventPrefix(
  data: Record<string, unknown>,
  token: string | undefined,
  variable: string,
): string {
  if (data.code !== 'unauthorized') return 'reported an error: ';
  return token
    ? `refused the token in ${variable} (it must be the server's WYOMING_TOKEN, else its SYNTHIANS_API_TOKEN): `
    : `requires authentication: set ${variable} to its WYOMING_TOKEN (else its SYNTHIANS_API_TOKEN), or list this host in its WYOMING_ALLOWED_CLIENTS. The server said: `;
}
