/**
 * The audit trail: `recordAudit`, which every other store calls inside the transaction of the change it
 * records (so a change that rolls back leaves no record, and a record that cannot be written rolls the
 * change back), the field-level `diff` with secrets redacted, and the read query behind `GET /api/audit`.
 */
import { and, desc, eq, gte, lte, lt, sql, type SQL } from "drizzle-orm";
import { visibleTo } from "../../lib/access";
import type { AuthUser } from "../../lib/auth";
import type { Db } from "../../lib/db";
import { UnprocessableError } from "../../lib/errors";
import { decodeCursor, encodeCursor, type Page } from "../../lib/pagination";
import type { AuditContext } from "./context";
import { auditLog, type AuditRow } from "./schema";

export type { AuditContext } from "./context";
export type AuditRecord = AuditRow;

/** A store's database handle or the transaction it runs in. */
export type Executor = Db | Parameters<Parameters<Db["transaction"]>[0]>[0];

/** `{field: {from, to}}`: `from` is absent for a created target, `to` for a deleted one. */
export type Changes = Record<string, { from?: unknown; to?: unknown }>;

export interface AuditEntry {
  targetType: string;
  targetId: string;
  /** Owner and team of the changed row: who may read the record. */
  ownerId: string;
  teamId: string | null;
  changes: Changes;
}

/** The owner/team of a row (`{ownerId, teamId}`), for an entry. */
export function targetOf(row: { ownerId: string; teamId: string | null }, targetType: string, targetId: string, changes: Changes): AuditEntry {
  return { targetType, targetId, ownerId: row.ownerId, teamId: row.teamId, changes };
}

/** Writes one record per entry, on `tx`: call it inside the transaction of the change. */
export async function recordAudit(tx: Executor, audit: AuditContext, entries: AuditEntry | AuditEntry[]): Promise<void> {
  const list = Array.isArray(entries) ? entries : [entries];
  if (!list.length) return;
  const at = new Date();
  await tx.insert(auditLog).values(
    list.map((e) => ({
      at,
      actorId: audit.actorId,
      actorRole: audit.actorRole,
      ownerId: e.ownerId,
      teamId: e.teamId,
      action: audit.action,
      targetType: e.targetType,
      targetId: e.targetId,
      requestId: audit.requestId,
      changes: e.changes,
    })),
  );
}

/**
 * Drops the records of a target that a compensation removes again within the same request (a created row
 * deleted because the rest of the action failed): the action failed, so it leaves no trace. Not for
 * ordinary deletes, which are recorded.
 */
export async function forgetAudit(tx: Executor, targetType: string, targetId: string, requestId: string | null): Promise<void> {
  const sameRequest = requestId === null ? sql`${auditLog.requestId} IS NULL` : eq(auditLog.requestId, requestId);
  await tx.delete(auditLog).where(and(eq(auditLog.targetType, targetType), eq(auditLog.targetId, targetId), sameRequest));
}

/**
 * GDPR erase: the records about a fan keep who changed which field when, but lose the values
 * (`{field: {}}`), in the transaction that deletes the fan.
 */
export async function eraseAuditValues(tx: Executor, ownerId: string, targetType: string, targetId: string): Promise<void> {
  await tx
    .update(auditLog)
    .set({ changes: sql`COALESCE((SELECT jsonb_object_agg(k, '{}'::jsonb) FROM jsonb_object_keys(${auditLog.changes}) AS k), '{}'::jsonb)` })
    .where(and(eq(auditLog.ownerId, ownerId), eq(auditLog.targetType, targetType), eq(auditLog.targetId, targetId)));
}

// ---- diff ---------------------------------------------------------------------------------------

/** What a secret's value is replaced by; a changed secret still shows as changed. */
export const REDACTED = "[redacted]";

/**
 * Keys whose values never reach the audit log, at any depth: platform credentials (`credentials`,
 * `ciphertext`), webhook `secret`s of automation actions, tokens, passwords, API keys.
 */
const SECRET_KEY = /secret|token|passw(or)?d|credential|api[-_]?key|authorization|ciphertext|private[-_]?key/i;

/**
 * Columns every row has: the id and owner/team are the record's own columns, and the timestamps say
 * nothing the record's `at` does not.
 */
const ALWAYS_IGNORED = new Set(["id", "ownerId", "teamId", "createdAt", "updatedAt"]);

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/**
 * The fields that differ between `before` and `after` (undefined `before`: a created row, undefined
 * `after`: a deleted one), with secrets redacted. Dates compare and appear as ISO strings; objects and
 * arrays compare by value.
 */
export function diff(before: object | null | undefined, after: object | null | undefined, ignore: readonly string[] = []): Changes {
  const b = (before ?? undefined) as Record<string, unknown> | undefined;
  const a = (after ?? undefined) as Record<string, unknown> | undefined;
  const keys = new Set([...Object.keys(b ?? {}), ...Object.keys(a ?? {})]);
  const changes: Changes = {};
  for (const key of keys) {
    if (ALWAYS_IGNORED.has(key) || ignore.includes(key)) continue;
    const from = normalize(b?.[key]);
    const to = normalize(a?.[key]);
    if (b && a && canonical(from) === canonical(to)) continue;
    // A created row's empty fields and a deleted row's are not news.
    if (!b && (to === undefined || to === null)) continue;
    if (!a && (from === undefined || from === null)) continue;
    const entry: { from?: unknown; to?: unknown } = {};
    if (b) entry.from = redact(key, from);
    if (a) entry.to = redact(key, to);
    changes[key] = entry;
  }
  return changes;
}

/** A value as JSON would carry it (Dates as ISO strings, undefined → null inside arrays). */
function normalize(value: unknown): unknown {
  if (value === undefined) return undefined;
  return JSON.parse(JSON.stringify(value, (_k, v) => (v instanceof Date ? v.toISOString() : v)) ?? "null");
}

/** JSON with sorted keys, so jsonb's key order does not make equal objects differ. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v,
  ) ?? "undefined";
}

/** The value with secrets replaced, at any depth; a secret that is null or absent stays so. */
export function redact(key: string, value: unknown): unknown {
  if (isSecretKey(key)) return value === null || value === undefined ? value ?? null : REDACTED;
  return redactDeep(value);
}

function redactDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactDeep);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(k, v)]));
  }
  // Userinfo in a URL (`https://user:pass@host`) is a credential too.
  if (typeof value === "string" && /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]+@/i.test(value)) return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/i, `$1${REDACTED}@`);
  return value;
}

// ---- reading --------------------------------------------------------------------------------------

export interface AuditFilters {
  targetId?: string;
  targetType?: string;
  action?: string;
  actorId?: string;
  from?: Date;
  to?: Date;
}

/** The cursor's sort name: records page by `seq`, newest first. */
const CURSOR_SORT = "seq";

export class AuditStore {
  constructor(private readonly db: Db) {}

  /**
   * The records the user may see (rows of their own and of their team), newest first, `limit` at a time.
   * The cursor carries the last `seq`, so pages stay stable while records are added.
   */
  async list(user: AuthUser, filters: AuditFilters, page: { limit: number; cursor?: string }): Promise<Page<AuditRecord>> {
    const where: SQL[] = [visibleTo(user, auditLog)];
    if (filters.targetId) where.push(eq(auditLog.targetId, filters.targetId));
    if (filters.targetType) where.push(eq(auditLog.targetType, filters.targetType));
    if (filters.action) where.push(eq(auditLog.action, filters.action));
    if (filters.actorId) where.push(eq(auditLog.actorId, filters.actorId));
    if (filters.from) where.push(gte(auditLog.at, filters.from));
    if (filters.to) where.push(lte(auditLog.at, filters.to));
    if (page.cursor) {
      const seq = Number(decodeCursor(page.cursor, CURSOR_SORT, "desc").v);
      if (!Number.isSafeInteger(seq)) throw new UnprocessableError("The cursor is not valid", [{ field: "cursor", message: "not a cursor this API issued", type: "cursor" }]);
      where.push(lt(auditLog.seq, seq));
    }
    const rows = await this.db
      .select()
      .from(auditLog)
      .where(and(...where))
      .orderBy(desc(auditLog.seq))
      .limit(page.limit + 1);
    const items = rows.slice(0, page.limit);
    const last = items[items.length - 1];
    const nextCursor = rows.length > page.limit && last ? encodeCursor({ s: CURSOR_SORT, o: "desc", v: last.seq, id: String(last.seq) }) : null;
    return { items, nextCursor };
  }
}
