/**
 * Keyset (cursor) pagination shared by every store: rows are ordered by (sort column, id) and the cursor
 * carries the last row's pair, so pages stay stable while rows are inserted and cost one index range scan.
 */
import { sql, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import { UnprocessableError } from "./errors";

export interface PageRequest<S extends string> {
  sort: S;
  order: "asc" | "desc";
  limit: number;
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

interface CursorBody {
  s: string;
  o: "asc" | "desc";
  v: string | number;
  id: string;
}

export function encodeCursor(body: CursorBody): string {
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

export function decodeCursor(cursor: string, sort: string, order: "asc" | "desc"): CursorBody {
  let body: CursorBody;
  try {
    body = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw new UnprocessableError("The cursor is not valid", [{ field: "cursor", message: "not a cursor this API issued", type: "cursor" }]);
  }
  if (!body || typeof body !== "object" || typeof body.id !== "string" || !["string", "number"].includes(typeof body.v)) {
    throw new UnprocessableError("The cursor is not valid", [{ field: "cursor", message: "not a cursor this API issued", type: "cursor" }]);
  }
  if (body.s !== sort || body.o !== order) {
    throw new UnprocessableError("The cursor belongs to another sort order", [
      { field: "cursor", message: `issued for sort=${body.s}&order=${body.o}`, type: "cursor" },
    ]);
  }
  return body;
}

/** `(col, id) > (v, id)` (or `<` when descending), the keyset condition after a cursor. */
export function afterCursor(col: PgColumn, idCol: PgColumn, order: "asc" | "desc", value: unknown, id: string): SQL {
  return order === "asc" ? sql`(${col}, ${idCol}) > (${value}, ${id})` : sql`(${col}, ${idCol}) < (${value}, ${id})`;
}

/** Turns `limit + 1` fetched rows into a page and the cursor for the next one. */
export function toPage<T extends { id: string }>(
  rows: T[],
  req: PageRequest<string>,
  sortValue: (row: T) => string | number,
): Page<T> {
  const hasMore = rows.length > req.limit;
  const items = hasMore ? rows.slice(0, req.limit) : rows;
  const last = items[items.length - 1];
  return {
    items,
    nextCursor: hasMore && last ? encodeCursor({ s: req.sort, o: req.order, v: sortValue(last), id: last.id }) : null,
  };
}

/** Escapes LIKE wildcards so user text matches literally. */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
