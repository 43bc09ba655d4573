/**
 * Maps any error an action (or the gateway) throws to a gRPC status, as ARCHITECTURE.md "Gateways" lays
 * down and in step with the REST gateway's services/api/errors.ts: the same error types, the same client
 * messages, the same `{type, code, message, data}` body (here JSON in the `error-details-bin` trailer) and
 * the same rule that a server fault never shows its internals. Pure: the server turns the result into
 * grpc-js Metadata, and tests check it without a server.
 */
import { status as Code } from "@grpc/grpc-js";
import { Errors } from "moleculer";
import { isRetryable } from "../../lib/errors";

export interface GrpcStatus {
  code: Code;
  /** The status message clients see. */
  details: string;
  /** Trailing metadata: `retry-after` (seconds) and `error-details-bin` (UTF-8 JSON of ErrorBody). */
  trailers: Record<string, string | Buffer>;
  /** A server fault: log the original error; the client only got a generic message. */
  internal: boolean;
}

export interface ErrorBody {
  type: string;
  code: number;
  message: string;
  data?: unknown;
}

/** Metadata travels in HTTP/2 headers (clients accept 8-16 KiB in all), so error details stay small. */
const MAX_DETAILS_CHARS = 1_000;
const MAX_FIELD_PROBLEMS = 20;
const MAX_BODY_BYTES = 4_096;

function internalStatus(): GrpcStatus {
  const body = { type: "INTERNAL", code: 500, message: "Internal server error" };
  return { code: Code.INTERNAL, details: body.message, trailers: detailsTrailer(body), internal: true };
}

/** HTTP-like codes of client errors → gRPC codes (409 and 422 have their own rules below). */
const CLIENT_CODES: Record<number, Code> = {
  400: Code.INVALID_ARGUMENT,
  401: Code.UNAUTHENTICATED,
  403: Code.PERMISSION_DENIED,
  404: Code.NOT_FOUND,
  // Too large a request is bad input, not an exhausted server resource.
  413: Code.INVALID_ARGUMENT,
  429: Code.RESOURCE_EXHAUSTED,
};

export function toGrpcStatus(err: unknown): GrpcStatus {
  // Checked before the codes: a timeout is retryable and ServiceNotFoundError carries 404.
  if (err instanceof Errors.RequestTimeoutError) {
    return clientStatus(Code.DEADLINE_EXCEEDED, { type: "TIMEOUT", code: 504, message: "The request timed out" });
  }
  // A service that is not running (or not reachable) is the server's problem, not "no such thing".
  if (err instanceof Errors.ServiceNotFoundError || err instanceof Errors.ServiceNotAvailableError) {
    const body = { type: "SERVICE_UNAVAILABLE", code: 503, message: "The service is temporarily unavailable" };
    return clientStatus(Code.UNAVAILABLE, body, 1);
  }
  if (!(err instanceof Errors.MoleculerError) || typeof err.code !== "number") return internalStatus();

  const body: ErrorBody = { type: err.type || err.name, code: err.code, message: err.message, data: err.data };
  const retryAfter = (err.data as { retryAfter?: unknown } | undefined)?.retryAfter;
  if (err instanceof Errors.ValidationError || err.code === 422) return validationStatus(body);
  if (err.code === 409) return clientStatus(/EXISTS/i.test(body.type) ? Code.ALREADY_EXISTS : Code.FAILED_PRECONDITION, body);
  const code = CLIENT_CODES[err.code];
  if (code !== undefined) return clientStatus(code, body, code === Code.RESOURCE_EXHAUSTED ? retryAfter : undefined);
  if (isRetryable(err) || err.code === 503) {
    return clientStatus(Code.UNAVAILABLE, { type: body.type, code: body.code, message: body.message }, retryAfter ?? 1);
  }
  return internalStatus();
}

/** INVALID_ARGUMENT naming each field in the message too, for clients that only show the message. */
function validationStatus(body: ErrorBody): GrpcStatus {
  const problems = Array.isArray(body.data) ? body.data.slice(0, MAX_FIELD_PROBLEMS).map(fieldProblem) : [];
  const fields = problems.map((p) => `${p.field}: ${p.message}`).join("; ");
  return clientStatus(Code.INVALID_ARGUMENT, {
    type: body.type,
    code: 422,
    message: fields ? `${body.message} ${fields}` : body.message,
    data: problems,
  });
}

/** Only what a client can act on: the validator's `actual` may echo a large value back. */
function fieldProblem(p: { field?: unknown; message?: unknown; type?: unknown }) {
  return { field: String(p.field ?? ""), message: String(p.message ?? ""), type: p.type === undefined ? undefined : String(p.type) };
}

function clientStatus(code: Code, body: ErrorBody, retryAfter?: unknown): GrpcStatus {
  const trailers = detailsTrailer(body);
  if (typeof retryAfter === "number" && Number.isFinite(retryAfter)) trailers["retry-after"] = String(Math.ceil(retryAfter));
  return { code, details: clip(body.message), trailers, internal: false };
}

function detailsTrailer(body: ErrorBody): Record<string, string | Buffer> {
  let json = JSON.stringify({ ...body, message: clip(body.message) });
  // Oversized data is dropped rather than breaking the response's headers.
  if (Buffer.byteLength(json) > MAX_BODY_BYTES) json = JSON.stringify({ type: body.type, code: body.code, message: clip(body.message) });
  return { "error-details-bin": Buffer.from(json) };
}

function clip(text: string): string {
  return text.length > MAX_DETAILS_CHARS ? `${text.slice(0, MAX_DETAILS_CHARS - 1)}…` : text;
}
