/**
 * PostgreSQL "data exception" errors (SQLSTATE class 22) are the client's bad value reaching the
 * database: a NUL character in text or JSON (22021, 22P05), a number out of range (22003), an
 * unparsable value (22P02). Validation cannot foresee every one of them, so this broker middleware turns
 * them into 422 instead of letting them surface as 500 — the statement failed, so nothing was written.
 */
import type { Middleware } from "moleculer";
import { UnprocessableError } from "./errors";

interface PgError {
  code?: unknown;
  message?: string;
  column?: string;
  cause?: unknown;
}

/** The PostgreSQL error behind `err` (drizzle wraps it in a DrizzleQueryError's `cause`). */
function dataException(err: unknown): PgError | undefined {
  for (let e = err as PgError | undefined, depth = 0; e && depth < 5; e = e.cause as PgError | undefined, depth++) {
    if (typeof e.code === "string" && /^22[0-9A-Z]{3}$/.test(e.code)) return e;
  }
  return undefined;
}

export function toDataError(err: unknown): unknown {
  const pg = dataException(err);
  if (!pg) return err;
  return new UnprocessableError("A value cannot be stored", [
    { field: pg.column ?? "params", message: pg.message ?? "invalid value", type: `sqlstate:${String(pg.code)}` },
  ]);
}

export const DataErrorMiddleware: Middleware = {
  name: "DataErrors",
  localAction(handler: (ctx: unknown) => unknown) {
    return async function mapDataErrors(ctx: unknown) {
      try {
        return await handler(ctx);
      } catch (err) {
        throw toDataError(err);
      }
    };
  },
} as unknown as Middleware;
