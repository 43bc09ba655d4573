/**
 * The errors actions throw. Client errors (4xx) are never retried; `ServiceUnavailableError` is retryable.
 * Gateways map `code` to HTTP status and gRPC status (see services/grpc/status.ts).
 */
import { Errors } from "moleculer";

export interface FieldProblem {
  field: string;
  message: string;
  type?: string;
}

/** 422 with field details, the same shape fastest-validator produces. */
export class UnprocessableError extends Errors.ValidationError {
  constructor(message: string, problems: FieldProblem[]) {
    super(message, "VALIDATION_ERROR", problems);
  }
}

export class NotFoundError extends Errors.MoleculerClientError {
  constructor(entity: string, id: string) {
    super(`${entity} ${JSON.stringify(id)} was not found`, 404, "NOT_FOUND", { entity, id });
  }
}

export class ConflictError extends Errors.MoleculerClientError {
  constructor(message: string, data?: unknown, type = "CONFLICT") {
    super(message, 409, type, data);
  }
}

export class UnauthorizedError extends Errors.MoleculerClientError {
  constructor(message = "A valid bearer token is required") {
    super(message, 401, "UNAUTHORIZED");
  }
}

export class ForbiddenError extends Errors.MoleculerClientError {
  constructor(message: string, data?: unknown) {
    super(message, 403, "FORBIDDEN", data);
  }
}

export class TooManyRequestsError extends Errors.MoleculerClientError {
  constructor(message: string, retryAfterSeconds: number) {
    super(message, 429, "TOO_MANY_REQUESTS", { retryAfter: retryAfterSeconds });
  }
}

export class ServiceUnavailableError extends Errors.MoleculerRetryableError {
  constructor(message: string, data?: unknown) {
    super(message, 503, "SERVICE_UNAVAILABLE", data);
  }
}

/** True for errors a caller may retry (network, timeouts, 5xx marked retryable). */
export function isRetryable(err: unknown): boolean {
  return err instanceof Errors.MoleculerRetryableError || (err as { retryable?: boolean })?.retryable === true;
}

/**
 * The broker's retry policy: retryable, but not a timeout. After a timeout the remote node may still be
 * doing the work (a retry could do it twice) and the caller's time is spent: each retry would get a whole
 * new timeout, so a REST request waited up to four timeouts while NATS was down.
 */
export function isSafeToRetry(err: unknown): boolean {
  return isRetryable(err) && !(err instanceof Errors.RequestTimeoutError);
}

/** Connection exceptions (SQLSTATE class 08), the server shutting down or starting up (57P01-57P03), socket errors. */
const DB_UNREACHABLE_CODES = ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "57P01", "57P02", "57P03", "08006", "08001", "08003", "08004"];
/** node-postgres' own messages for a lost or refused connection (anchored: server messages may quote values). */
const DB_UNREACHABLE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/**
 * Database errors that mean "the server is not there right now" become a retryable 503 instead of a 500,
 * so gateways answer clearly and the retry policy may try again. Drizzle wraps the driver's error in a
 * DrizzleQueryError ("Failed query: …") whose `cause` holds the code, so the whole cause chain is looked at.
 */
export function fromDatabaseError(err: unknown): unknown {
  if (err instanceof Errors.MoleculerError) return err;
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === "string" && DB_UNREACHABLE_CODES.includes(e.code)) {
      return new ServiceUnavailableError("The database is unavailable", { code: e.code });
    }
    // Only the innermost error's message: a wrapper's message quotes the query and its parameters.
    if (!e.cause && typeof e.message === "string" && DB_UNREACHABLE_MESSAGE.test(e.message)) {
      return new ServiceUnavailableError("The database is unavailable");
    }
  }
  return err;
}

const CUSTOM_ERRORS: Record<string, { prototype: Error }> = {
  UnprocessableError,
  NotFoundError,
  ConflictError,
  UnauthorizedError,
  ForbiddenError,
  TooManyRequestsError,
  ServiceUnavailableError,
};

/**
 * Rebuilds our error classes when they arrive from another node, so a remote 404 stays a NotFoundError
 * (Moleculer's default regenerator only knows its own classes and would hand back a bare Error).
 */
export class ErrorRegenerator extends Errors.Regenerator {
  restoreCustomError(plain: Errors.PlainMoleculerError): Error {
    const Class = CUSTOM_ERRORS[plain.name];
    // Moleculer's own classes are restored by the base class when this returns nothing.
    if (!Class) return undefined as unknown as Error;
    const err = Object.create(Class.prototype) as Errors.MoleculerError;
    Object.defineProperty(err, "name", { value: plain.name, configurable: true, writable: true });
    Object.assign(err, { message: plain.message, code: plain.code, type: plain.type, data: plain.data, retryable: plain.retryable });
    if (plain.stack) err.stack = plain.stack;
    return err;
  }
}
