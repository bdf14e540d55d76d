// The one error type services throw for anything a client can get wrong or that a client must learn about.
// The HTTP layer turns it into the envelope {"error": {"code", "message", "details"?}} with `statusCode`.

const marker = Symbol.for('synthians.AppError');

export class AppError extends Error {
  override readonly name: string = 'AppError';
  readonly [marker] = true;

  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  /** Works across package copies, unlike `instanceof`. */
  static isInstance(value: unknown): value is AppError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[marker] === true;
  }

  toBody(): ErrorBody {
    const error: ErrorBody['error'] = { code: this.code, message: this.message };
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export const badRequest = (code: string, message: string, details?: unknown) =>
  new AppError(400, code, message, details);
export const notFound = (message: string, details?: unknown) =>
  new AppError(404, 'not_found', message, details);
export const conflict = (code: string, message: string, details?: unknown) =>
  new AppError(409, code, message, details);
export const unavailable = (code: string, message: string, details?: unknown) =>
  new AppError(503, code, message, details);

/** Thrown at start-up for configuration that cannot work; the message names the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly issues: { variable: string; message: string }[] = [],
  ) {
    super(message);
  }
}
