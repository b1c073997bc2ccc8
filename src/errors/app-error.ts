import type { BearerKind, FailureReason } from './failure-reasons.ts';

/**
 * The one error hierarchy of Tessera. Every failure that reaches a caller is an AppError with a
 * code from this closed set; the HTTP status for each code is decided in one place
 * (src/errors/http-status.ts). Messages are written for the caller and never carry secrets.
 *
 * Expected outcomes (a token that is inactive, a key that is not found by a lookup) are return
 * values of services, not exceptions; AppError is for requests that cannot be served.
 */
export const ERROR_CODES = [
  'BAD_REQUEST',
  'VALIDATION_FAILED',
  'UNAUTHORIZED',
  'PAYMENT_REQUIRED',
  'FORBIDDEN',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'RATE_LIMITED',
  'INTERNAL',
  'UNAVAILABLE',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface AppErrorOptions {
  /** Seconds a client should wait before retrying (RATE_LIMITED, UNAVAILABLE). */
  retryAfterSeconds?: number;
  /** The request field a validation error is about, as a dotted path. */
  field?: string;
  /** Headers the response must carry (e.g. Allow for 405). */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterSeconds: number | undefined;
  readonly field: string | undefined;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.field = options.field;
    this.headers = options.headers ?? {};
  }
}

export class ValidationError extends AppError {
  constructor(field: string, message: string) {
    super('VALIDATION_FAILED', message, { field });
    this.name = 'ValidationError';
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'You do not have permission to perform this action') {
    super('FORBIDDEN', message);
    this.name = 'ForbiddenError';
  }
}

export class NotFoundError extends AppError {
  constructor(what = 'Resource') {
    super('NOT_FOUND', `${what} not found`);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends AppError {
  constructor(message: string, field?: string) {
    super('CONFLICT', message, field === undefined ? {} : { field });
    this.name = 'ConflictError';
  }
}

/** The error code a bearer refusal is logged and classed under (its status and words are the profile's). */
const REFUSAL_CODES: Record<FailureReason, ErrorCode> = {
  missing: 'UNAUTHORIZED',
  malformed: 'UNAUTHORIZED',
  unknown: 'UNAUTHORIZED',
  expired: 'UNAUTHORIZED',
  revoked: 'UNAUTHORIZED',
  disabled_key: 'UNAUTHORIZED',
  disabled_user: 'UNAUTHORIZED',
  not_a_member: 'UNAUTHORIZED',
  disabled_organization: 'FORBIDDEN',
  disabled_client: 'FORBIDDEN',
  insufficient_scope: 'FORBIDDEN',
  rate_limited: 'RATE_LIMITED',
  usage_exceeded: 'PAYMENT_REQUIRED',
  balance_exhausted: 'PAYMENT_REQUIRED',
};

/** The refusal in words where no profile is in play (the console's pages, the CLI, logs). */
function refusalText(reason: FailureReason, scope: string | undefined): string {
  if (reason === 'insufficient_scope') return `This credential lacks the ${scope ?? 'required'} scope`;
  return `This credential is refused (${reason.replace(/_/g, ' ')})`;
}

/**
 * A bearer refused, and why: the deployment's profile (config/profiles/) decides the status, the
 * code and the words for each reason and bearer kind (src/http/error-body.ts).
 */
export class BearerRefusedError extends AppError {
  readonly reason: FailureReason;
  /** The bearer's kind, where it is known (a document may answer the two kinds differently). */
  readonly bearerKind: BearerKind | undefined;
  /** The scopes lacking (insufficient_scope), for the message's `{scope}`. */
  readonly scope: string | undefined;

  constructor(reason: FailureReason, options: { bearerKind?: BearerKind; scope?: string; retryAfterSeconds?: number } = {}) {
    super(REFUSAL_CODES[reason], refusalText(reason, options.scope), options.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: options.retryAfterSeconds });
    this.name = 'BearerRefusedError';
    this.reason = reason;
    this.bearerKind = options.bearerKind;
    this.scope = options.scope;
  }
}

/** A store Tessera depends on cannot be reached; the caller should retry (never a 4xx). */
export class UnavailableError extends AppError {
  constructor(message = 'Service temporarily unavailable', retryAfterSeconds = 5, cause?: unknown) {
    super('UNAVAILABLE', message, { retryAfterSeconds, cause });
    this.name = 'UnavailableError';
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
