/**
 * The audit trail. Rows are written by the stores of the other services inside the transaction of the
 * change they record (see `services/audit/store.ts` `recordAudit`); only the audit store reads them.
 */
import { bigint, index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

export const auditLog = pgTable(
  "audit_log",
  {
    /** Insertion order; the cursor of `GET /api/audit`. */
    seq: bigint("seq", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    at: timestamp("at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    /** Who did it (`ctx.meta.user`). */
    actorId: text("actor_id").notNull(),
    actorRole: text("actor_role"),
    /** Owner and team of the changed row: who may read this record. */
    ownerId: text("owner_id").notNull(),
    teamId: text("team_id"),
    /** The action, e.g. `campaigns.update`. */
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id").notNull(),
    requestId: text("request_id"),
    /** Field-level diff `{field: {from, to}}`, secrets removed. */
    changes: jsonb("changes").$type<Record<string, { from?: unknown; to?: unknown }>>().notNull().default({}),
  },
  (t) => [
    index("audit_log_target_idx").on(t.targetId, t.seq),
    index("audit_log_owner_idx").on(t.ownerId, t.seq),
    index("audit_log_team_idx").on(t.teamId, t.seq),
  ],
);

export type AuditRow = typeof auditLog.$inferSelect;
export type NewAuditRow = typeof auditLog.$inferInsert;
