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
 * Database errors that mean "the server is not there right now" become a retryable 503 instead of a 500,
 * so gateways answer clearly and the retry policy may try again.
 */
export function fromDatabaseError(err: unknown): unknown {
  const code = (err as { code?: string })?.code;
  const unreachable = ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "57P01", "57P02", "57P03", "08006", "08001", "08003"];
  if (code && unreachable.includes(code)) return new ServiceUnavailableError("The database is unavailable", { code });
  if (err instanceof Error && /Connection terminated|timeout exceeded when trying to connect/i.test(err.message)) {
    return new ServiceUnavailableError("The database is unavailable");
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
