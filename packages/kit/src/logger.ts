// Structured JSON logs (pino). User content never goes above debug: log ids, counts and timings instead.
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** A root logger; `service` (when given) is on every line. Services add theirs with `logger.child({ service })`. */
export function createLogger(
  service: string | undefined,
  level = 'info',
  destination?: DestinationStream,
): Logger {
  const options: LoggerOptions = {
    level,
    base: service ? { service } : {},
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', '*.token', '*.apiKey'], censor: '***' },
  };
  return destination ? pino(options, destination) : pino(options);
}
