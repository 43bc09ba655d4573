/**
 * The `Idempotency-Key` request header, for the actions that take an `idempotencyKey` parameter (e.g.
 * `POST /api/campaigns`): the header becomes that parameter, so the action validates and honours it like a
 * body field. Routes whose action has no such parameter ignore the header.
 */
import type { IncomingMessage } from "node:http";
import { UnprocessableError } from "../../lib/errors";

type Req = IncomingMessage & { $action?: { params?: Record<string, unknown> }; $params?: Record<string, unknown> };

export function idempotencyKeyFromHeader(req: Req): void {
  const raw = req.headers["idempotency-key"];
  if (raw === undefined || !req.$action?.params || !("idempotencyKey" in req.$action.params) || !req.$params) return;
  const header = Array.isArray(raw) ? raw[0] : raw;
  const body = req.$params.idempotencyKey;
  if (body !== undefined && body !== header) {
    throw new UnprocessableError("The Idempotency-Key header and the body's idempotencyKey differ", [
      { field: "idempotencyKey", message: "give the key once, or the same key in both places", type: "conflict" },
    ]);
  }
  req.$params.idempotencyKey = header;
}
