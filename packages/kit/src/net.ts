// Secure defaults for binding: loopback needs nothing; anything else needs a token.
import { ConfigError } from './errors.ts';

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export function assertSafeBinding(
  host: string,
  token: string | undefined,
  variable = 'SYNTHIANS_API_TOKEN',
): void {
  if (!isLoopback(host) && !token) {
    throw new ConfigError(
      `Refusing to listen on ${host} without a token: set ${variable} (clients send "Authorization: Bearer <token>")`,
      [{ variable, message: 'required when HOST is not a loopback address' }],
    );
  }
}
