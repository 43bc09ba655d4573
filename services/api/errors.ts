/** Maps any error to the REST error body `{type, code, message, data}` and its HTTP status. */
import { Errors } from "moleculer";

export interface HttpError {
  status: number;
  body: { type: string; code: number; message: string; data?: unknown };
  retryAfter?: number;
}

/** body-parser's errors, by their `type` (moleculer-web wraps them but keeps the type). */
const BODY_ERRORS: Record<string, { status: number; type: string; message: string }> = {
  "entity.too.large": { status: 413, type: "PAYLOAD_TOO_LARGE", message: "The request body is larger than allowed" },
  "entity.parse.failed": { status: 400, type: "MALFORMED_JSON", message: "The request body is not valid JSON" },
  "encoding.unsupported": { status: 415, type: "UNSUPPORTED_ENCODING", message: "The body's encoding is not supported" },
  "charset.unsupported": { status: 415, type: "UNSUPPORTED_CHARSET", message: "The body's charset is not supported" },
  "request.aborted": { status: 400, type: "REQUEST_ABORTED", message: "The request was aborted" },
  "request.size.invalid": { status: 400, type: "BAD_REQUEST", message: "The body's size does not match Content-Length" },
};

export function toHttpError(err: unknown): HttpError {
  const e = err as { type?: string; status?: number; code?: unknown; message?: string; data?: unknown; limit?: number };
  const bodyError = e?.type ? BODY_ERRORS[e.type] : undefined;
  if (bodyError) {
    return {
      status: bodyError.status,
      body: { type: bodyError.type, code: bodyError.status, message: bodyError.message, data: e.limit ? { limit: e.limit } : undefined },
    };
  }
  // A compressed body that does not inflate: moleculer-web re-wraps body-parser's 400 as a MoleculerError
  // whose code is zlib's ("Z_BUF_ERROR", "Z_DATA_ERROR"), dropping the status.
  if (typeof e?.code === "string" && /^Z_[A-Z_]+$/.test(e.code)) {
    return { status: 400, body: { type: "BAD_ENCODING", code: 400, message: "The request body could not be decompressed" } };
  }
  // A service that is not running (or not reachable: no route to it while the transporter is down) is the
  // server's problem, not "no such route".
  if (err instanceof Errors.ServiceNotFoundError || err instanceof Errors.ServiceNotAvailableError || err instanceof Errors.BrokerDisconnectedError) {
    return { status: 503, body: { type: "SERVICE_UNAVAILABLE", code: 503, message: "The service is temporarily unavailable" }, retryAfter: 1 };
  }
  // No answer in time (the remote node is busy or unreachable, or the request's time ran out before a
  // nested call): 503 as well, with Retry-After. The work may still complete; clients retry with the same
  // idempotency key or event id.
  if (err instanceof Errors.RequestTimeoutError || err instanceof Errors.RequestSkippedError) {
    return { status: 503, body: { type: "TIMEOUT", code: 503, message: "The request timed out; try again" }, retryAfter: 1 };
  }
  if (err instanceof Errors.MoleculerError && typeof e.code === "number" && e.code >= 400 && e.code < 600) {
    const status = e.code;
    const retryAfter = (e.data as { retryAfter?: number } | undefined)?.retryAfter;
    if (status >= 500 && !(err instanceof Errors.MoleculerRetryableError)) {
      return { status: 500, body: { type: "INTERNAL", code: 500, message: "Internal server error" } };
    }
    return {
      status,
      body: { type: err.type || err.name, code: status, message: err.message, data: e.data },
      retryAfter: status === 429 || status === 503 ? (retryAfter ?? (status === 503 ? 1 : undefined)) : undefined,
    };
  }
  return { status: 500, body: { type: "INTERNAL", code: 500, message: "Internal server error" } };
}
