// The browser boundary of every HTTP, SSE and WebSocket route: a web page on another site must neither read nor write.
// Two checks for every request that does not carry the API token (a page cannot be made to send it):
// - Host: an IP literal, `localhost`, or a configured name (ALLOWED_HOSTS; off loopback also this machine's
//   hostname). DNS rebinding makes a page's own name resolve to 127.0.0.1: its requests then carry that name.
// - Origin: absent (not a browser, or a same-origin GET), the request's own origin, or one of CORS_ORIGINS. A
//   cross-site request without Origin (Sec-Fetch-Site: cross-site) passes only as a top-level GET navigation.
// With a token, the web console authenticates by a signed, expiring, HttpOnly SameSite=Strict cookie issued by the
// service that serves it (`consoleCookie`): browsers send it on the audio WebSocket, where no header can be set.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { IncomingHttpHeaders } from 'node:http';
import { AppError } from './errors.ts';
import { isLoopback } from './net.ts';

export interface BrowserBoundary {
  /** Host names accepted besides IP literals and localhost (lower case, no port). */
  allowedHosts: string[];
  /** Origins allowed cross-origin (CORS_ORIGINS), without trailing slash. */
  corsOrigins: string[];
}

/** The names a service bound to `host` answers to (ALLOWED_HOSTS, plus this machine's names off loopback). */
export function allowedHostNames(host: string, configured: string | undefined): string[] {
  const names = (configured ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  if (!isLoopback(host)) {
    const own = hostname().toLowerCase();
    if (own) names.push(own, `${own}.local`);
    if (!isIP(host) && host !== '0.0.0.0' && host !== '::') names.push(host.toLowerCase());
  }
  return [...new Set(names)];
}

/** The host name of a Host header value (`[::1]:8080` → `::1`, `Example.org:80` → `example.org`). */
export function hostOf(value: string): string {
  const v = value.trim().toLowerCase();
  if (v.startsWith('[')) return v.slice(1, v.indexOf(']') > 0 ? v.indexOf(']') : undefined);
  const colon = v.lastIndexOf(':');
  return colon >= 0 && v.indexOf(':') === colon ? v.slice(0, colon) : v;
}

const forbidden = (code: string, message: string) => new AppError(403, code, message);

/**
 * Throws 403 when the request comes from a browser on another site (or through a rebinding name). Called for
 * requests that do not carry the API token.
 */
export function checkBrowserBoundary(
  headers: IncomingHttpHeaders,
  method: string,
  boundary: BrowserBoundary,
): void {
  const hostHeader = headers.host ?? '';
  const name = hostOf(hostHeader);
  if (name !== '' && !(isIP(name) || name === 'localhost' || boundary.allowedHosts.includes(name))) {
    throw forbidden(
      'host_not_allowed',
      `Host "${name}" is not a name of this service: add it to ALLOWED_HOSTS to serve it`,
    );
  }
  const origin = headers.origin;
  if (origin !== undefined) {
    const o = origin.replace(/\/+$/, '');
    const same = o === `http://${hostHeader}` || o === `https://${hostHeader}`;
    if (!same && !boundary.corsOrigins.includes(o)) {
      throw forbidden(
        'origin_not_allowed',
        `Requests from the web origin ${o === 'null' ? '"null"' : o} are not allowed: add it to CORS_ORIGINS to allow it`,
      );
    }
    return;
  }
  const site = headers['sec-fetch-site'];
  if (site === 'cross-site') {
    const navigation = (method === 'GET' || method === 'HEAD') && headers['sec-fetch-mode'] === 'navigate';
    if (!navigation) throw forbidden('origin_not_allowed', 'Cross-site requests are not allowed');
  }
}

export const CONSOLE_COOKIE = 'synthians_console';

/** Signed console session cookies: `<expires ms>.<HMAC-SHA256(key from the token, expires)>`, no server state. */
export class ConsoleCookie {
  private readonly key: Buffer;

  constructor(
    token: string,
    readonly ttlMs = 12 * 3600_000,
  ) {
    this.key = createHmac('sha256', 'synthians.console.v1').update(token).digest();
  }

  private sign(expires: number): string {
    return createHmac('sha256', this.key).update(String(expires)).digest('base64url');
  }

  /** A new cookie value valid for `ttlMs`. */
  issue(now = Date.now()): string {
    const expires = now + this.ttlMs;
    return `${expires}.${this.sign(expires)}`;
  }

  /** The Set-Cookie header for a new session (`secure` when the console is served over HTTPS). */
  header(secure: boolean, now = Date.now()): string {
    return [
      `${CONSOLE_COOKIE}=${this.issue(now)}`,
      'Path=/',
      'HttpOnly',
      'SameSite=Strict',
      `Max-Age=${Math.floor(this.ttlMs / 1000)}`,
      ...(secure ? ['Secure'] : []),
    ].join('; ');
  }

  static clearHeader(): string {
    return `${CONSOLE_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
  }

  /** Whether the request's Cookie header holds a valid, unexpired session. */
  verify(cookieHeader: string | undefined, now = Date.now()): boolean {
    if (!cookieHeader) return false;
    for (const part of cookieHeader.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0 || part.slice(0, eq).trim() !== CONSOLE_COOKIE) continue;
      const value = part.slice(eq + 1).trim();
      const dot = value.indexOf('.');
      const expires = Number(value.slice(0, dot));
      if (dot < 0 || !Number.isSafeInteger(expires) || expires <= now) continue;
      const given = Buffer.from(value.slice(dot + 1));
      const want = Buffer.from(this.sign(expires));
      if (given.length === want.length && timingSafeEqual(given, want)) return true;
    }
    return false;
  }
}
