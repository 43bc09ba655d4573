/**
 * Every query on the segmentation tables. Callers pass the acting user; rows outside their reach do not
 * exist. A segment's audience is the fans its owner (and team) can see — the same rule `visibleTo` applies
 * to everything else — so a size preview and a refresh by the same user count the same fans.
 */
import crypto from "node:crypto";
import { and, asc, count, desc, eq, getTableColumns, inArray, notExists, or, sql, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { ownership, visibleTo } from "../../lib/access";
import type { AuthUser } from "../../lib/auth";
import type { Db } from "../../lib/db";
import { afterCursor, decodeCursor, toPage, type Page, type PageRequest } from "../../lib/pagination";
import { SYSTEM_ACTOR, type AuditContext } from "../audit/context";
import { diff, eraseAuditValues, recordAudit, targetOf, type AuditEntry, type Changes } from "../audit/store";
import { compileCriteria, noActivityDays, type Criteria } from "./criteria";
import {
  fans,
  segmentMembers,
  segments,
  type FanRow,
  type NewFanRow,
  type SegmentRow,
  type SegmentType,
  type SpendingLevel,
} from "./schema";

export type Fan = Omit<FanRow, "ownerId" | "teamId"> & { ownerId: string; teamId: string | null; noActivityDays: number | null };
export type Segment = SegmentRow;

/** Fields a client may set on a fan (`id` is the creator's own id for the fan). */
export type FanInput = { id: string } & Partial<
  Pick<
    NewFanRow,
    | "platform"
    | "platformIds"
    | "displayName"
    | "subscriptionStatus"
    | "subscribedAt"
    | "lastActiveAt"
    | "lifetimeValue"
    | "spendingLevel"
    | "engagement"
    | "tags"
    | "attributes"
    | "timezone"
    | "consent"
  >
>;

export type SegmentInput = { name: string; description?: string | null; type: SegmentType; criteria?: Criteria | null };
export type SegmentPatch = Partial<Pick<SegmentInput, "name" | "description" | "criteria">>;

export const ACTIVITY_TYPES = ["subscribed", "unsubscribed", "active", "purchased"] as const;
export type ActivityType = (typeof ACTIVITY_TYPES)[number];
export interface Activity {
  type: ActivityType;
  at: Date;
  /** Purchase amount (purchased only). */
  amount?: number;
  /** New engagement score, 0–100 (any activity may carry one). */
  engagement?: number;
}

/** Lifetime value at which a fan's spending level becomes medium or high. */
export interface SpendingThresholds {
  medium: number;
  high: number;
}

/** A fan's (owner, id) key; fan ids are only unique per owner. */
export interface FanKey {
  ownerId: string;
  fanId: string;
}

export interface MembershipChange extends FanKey {
  segmentId: string;
}

export const SEGMENT_SORTS = ["createdAt", "name", "memberCount"] as const;
export type SegmentSort = (typeof SEGMENT_SORTS)[number];

const SEGMENT_SORT_COLUMNS = { createdAt: segments.createdAt, name: segments.name, memberCount: segments.memberCount } as const;

export function spendingLevelOf(lifetimeValue: number, t: SpendingThresholds): SpendingLevel {
  return lifetimeValue >= t.high ? "high" : lifetimeValue >= t.medium ? "medium" : "low";
}

export function toFan(row: FanRow, now = new Date()): Fan {
  return { ...row, noActivityDays: noActivityDays(row, now) };
}

/** The audience of a segment: the fans its owner and team may see. */
function audienceOf(owner: { ownerId: string; teamId: string | null }): SQL {
  return visibleTo({ id: owner.ownerId, teamId: owner.teamId, role: "owner" }, fans);
}

/** Own rows first, so a team member with a same-id fan of their own gets theirs. */
const ownFirst = (user: AuthUser) => desc(sql`(${fans.ownerId} = ${user.id})`);

/** Audit entries: a fan (its id is the creator's own id for the fan) and a segment. */
const fanEntry = (row: FanRow, changes: Changes): AuditEntry => targetOf(row as { ownerId: string; teamId: string | null }, "fan", row.id, changes);
const segmentEntry = (row: Segment, changes: Changes): AuditEntry => targetOf(row, "segment", row.id, changes);

export class SegmentationStore {
  constructor(private readonly db: Db) {}

  // ---- fans ---------------------------------------------------------------------------------------

  /**
   * Inserts or changes fans: a given field replaces the stored one, an absent field keeps it. One multi-row
   * INSERT … ON CONFLICT per distinct set of given fields (a batch from one client normally has one).
   */
  async upsertFans(user: AuthUser, inputs: FanInput[], thresholds: SpendingThresholds, audit: AuditContext): Promise<{ fan: Fan; created: boolean }[]> {
    const groups = new Map<string, FanInput[]>();
    for (const input of inputs) {
      const row = withDerivedSpending(input, thresholds);
      const key = Object.keys(row).sort().join(",");
      groups.set(key, [...(groups.get(key) ?? []), row]);
    }
    const now = new Date();
    return this.db.transaction(async (tx) => {
      // The stored versions, locked, for the audit records' `from` values (one record per fan).
      const existing = await tx
        .select()
        .from(fans)
        .where(and(eq(fans.ownerId, user.id), inArray(fans.id, inputs.map((i) => i.id))))
        .for("update");
      const before = new Map(existing.map((r) => [r.id, r]));
      const out: { fan: Fan; created: boolean }[] = [];
      const entries: AuditEntry[] = [];
      for (const rows of groups.values()) {
        const given = Object.keys(rows[0]).filter((k) => k !== "id") as (keyof typeof fans.$inferInsert)[];
        const set: Record<string, SQL> = { updatedAt: sql`excluded.updated_at` };
        for (const key of given) set[key] = sql.raw(`excluded.${fans[key as keyof typeof fans._.columns].name}`);
        const result = await tx
          .insert(fans)
          .values(rows.map((r) => ({ ...r, ...ownership(user), createdAt: now, updatedAt: now })))
          .onConflictDoUpdate({ target: [fans.ownerId, fans.id], set })
          // xmax = 0 only on a freshly inserted row version: tells created from updated in the same statement.
          .returning({ ...getTableColumns(fans), created: sql<boolean>`(xmax = 0)` });
        for (const { created, ...row } of result) {
          out.push({ fan: toFan(row, now), created });
          entries.push(fanEntry(row, diff(created ? undefined : before.get(row.id), row)));
        }
      }
      await recordAudit(tx, audit, entries);
      return out;
    });
  }

  async getFan(user: AuthUser, id: string): Promise<Fan | undefined> {
    const [row] = await this.db.select().from(fans).where(and(eq(fans.id, id), visibleTo(user, fans))).orderBy(ownFirst(user)).limit(1);
    return row && toFan(row);
  }

  /**
   * Applies one activity in a single statement (creating the fan when it is new): counters and the spending
   * level are computed by the database, so concurrent purchases never lose an increment.
   */
  async recordActivity(user: AuthUser, fanId: string, activity: Activity, t: SpendingThresholds, audit: AuditContext): Promise<Fan> {
    const amount = activity.type === "purchased" ? (activity.amount ?? 0) : 0;
    const at = activity.at;
    const ltv = sql`(${fans.lifetimeValue} + ${amount}::double precision)`;
    const set: Record<string, SQL | Date> = {
      lastActiveAt: sql`GREATEST(${fans.lastActiveAt}, ${at}::timestamptz)`,
      updatedAt: new Date(),
    };
    if (activity.engagement !== undefined) set.engagement = sql`${activity.engagement}::double precision`;
    if (amount) {
      set.lifetimeValue = ltv;
      set.spendingLevel = sql`CASE WHEN ${ltv} >= ${t.high}::double precision THEN 'high' WHEN ${ltv} >= ${t.medium}::double precision THEN 'medium' ELSE 'low' END`;
    }
    if (activity.type === "subscribed") {
      set.subscriptionStatus = sql`'active'`;
      set.subscribedAt = at;
    }
    if (activity.type === "unsubscribed") set.subscriptionStatus = sql`'cancelled'`;

    const fresh: NewFanRow = {
      ...ownership(user),
      id: fanId,
      lastActiveAt: at,
      lifetimeValue: amount,
      spendingLevel: spendingLevelOf(amount, t),
      ...(activity.engagement !== undefined ? { engagement: activity.engagement } : {}),
      ...(activity.type === "subscribed" ? { subscriptionStatus: "active" as const, subscribedAt: at } : {}),
      ...(activity.type === "unsubscribed" ? { subscriptionStatus: "cancelled" as const } : {}),
    };
    return this.db.transaction(async (tx) => {
      const [before] = await tx.select().from(fans).where(and(eq(fans.ownerId, user.id), eq(fans.id, fanId))).for("update");
      const [row] = await tx.insert(fans).values(fresh).onConflictDoUpdate({ target: [fans.ownerId, fans.id], set }).returning();
      await recordAudit(tx, audit, fanEntry(row, { ...diff(before, row), activity: { to: activity.type } }));
      return toFan(row);
    });
  }

  /** Everything held about a fan: the row and its segment memberships. */
  async exportFan(user: AuthUser, id: string) {
    const fan = await this.getFan(user, id);
    if (!fan) return undefined;
    const memberships = await this.db
      .select({ segmentId: segments.id, name: segments.name, type: segments.type, addedAt: segmentMembers.addedAt })
      .from(segmentMembers)
      .innerJoin(segments, eq(segments.id, segmentMembers.segmentId))
      .where(and(eq(segmentMembers.ownerId, fan.ownerId), eq(segmentMembers.fanId, fan.id)))
      .orderBy(asc(segmentMembers.addedAt));
    return { fan, memberships };
  }

  /**
   * Deletes a fan and (through the foreign key) its memberships, keeping member counts right. The audit
   * records about the fan lose their values (the fields changed stay), and the erase itself is recorded
   * without any of the fan's data.
   */
  async eraseFan(user: AuthUser, id: string, audit: AuditContext): Promise<{ fan: Fan; segmentIds: string[] } | undefined> {
    const fan = await this.getFan(user, id);
    if (!fan) return undefined;
    return this.db.transaction(async (tx) => {
      const gone = await tx
        .delete(segmentMembers)
        .where(and(eq(segmentMembers.ownerId, fan.ownerId), eq(segmentMembers.fanId, fan.id)))
        .returning({ segmentId: segmentMembers.segmentId });
      const segmentIds = gone.map((g) => g.segmentId);
      if (segmentIds.length) {
        await tx.update(segments).set({ memberCount: sql`GREATEST(${segments.memberCount} - 1, 0)` }).where(inArray(segments.id, segmentIds));
      }
      await tx.delete(fans).where(and(eq(fans.ownerId, fan.ownerId), eq(fans.id, fan.id)));
      await eraseAuditValues(tx, fan.ownerId, "fan", fan.id);
      await recordAudit(tx, audit, fanEntry(fan, { erased: { from: false, to: true }, ...(segmentIds.length ? { segmentIds: { from: segmentIds, to: [] } } : {}) }));
      return { fan, segmentIds };
    });
  }

  // ---- segments -----------------------------------------------------------------------------------

  async createSegment(user: AuthUser, input: SegmentInput, audit: AuditContext): Promise<Segment> {
    const now = new Date();
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(segments)
        .values({ ...input, criteria: input.criteria ?? null, id: crypto.randomUUID(), ...ownership(user), createdAt: now, updatedAt: now })
        .returning();
      await recordAudit(tx, audit, segmentEntry(row, diff(undefined, row)));
      return row;
    });
  }

  async getSegment(user: AuthUser, id: string): Promise<Segment | undefined> {
    const [row] = await this.db.select().from(segments).where(and(eq(segments.id, id), visibleTo(user, segments)));
    return row;
  }

  async getSegments(user: AuthUser, ids: string[]): Promise<Segment[]> {
    return this.db.select().from(segments).where(and(inArray(segments.id, ids), visibleTo(user, segments)));
  }

  async updateSegment(user: AuthUser, id: string, patch: SegmentPatch, audit: AuditContext): Promise<Segment | undefined> {
    return this.db.transaction(async (tx) => {
      const [before] = await tx.select().from(segments).where(and(eq(segments.id, id), visibleTo(user, segments))).for("update");
      if (!before) return undefined;
      const [row] = await tx
        .update(segments)
        .set({ ...patch, updatedAt: new Date() })
        .where(eq(segments.id, id))
        .returning();
      await recordAudit(tx, audit, segmentEntry(row, diff(before, row)));
      return row;
    });
  }

  async removeSegment(user: AuthUser, id: string, audit: AuditContext): Promise<Segment | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.delete(segments).where(and(eq(segments.id, id), visibleTo(user, segments))).returning();
      if (row) await recordAudit(tx, audit, segmentEntry(row, diff(row, undefined)));
      return row;
    });
  }

  async listSegments(user: AuthUser, filters: { type?: SegmentType }, page: PageRequest<SegmentSort>): Promise<Page<Segment>> {
    const col = SEGMENT_SORT_COLUMNS[page.sort];
    const where: (SQL | undefined)[] = [visibleTo(user, segments)];
    if (filters.type) where.push(eq(segments.type, filters.type));
    if (page.cursor) {
      const c = decodeCursor(page.cursor, page.sort, page.order);
      where.push(afterCursor(col, segments.id, page.order, col === segments.createdAt ? new Date(c.v) : c.v, c.id));
    }
    const direction = page.order === "asc" ? asc : desc;
    const rows = await this.db
      .select()
      .from(segments)
      .where(and(...where))
      .orderBy(direction(col), direction(segments.id))
      .limit(page.limit + 1);
    return toPage(rows, page, (row) => {
      const v = row[page.sort];
      return v instanceof Date ? v.toISOString() : v;
    });
  }

  /** Every dynamic segment (the daily refresh job runs outside any user). */
  async allDynamicSegments(): Promise<Segment[]> {
    return this.db.select().from(segments).where(eq(segments.type, "dynamic")).orderBy(asc(segments.id));
  }

  /** Dynamic segments whose audience includes fans of this owner/team. */
  async dynamicSegmentsForFansOf(owner: { ownerId: string; teamId: string | null }): Promise<Segment[]> {
    const reach = owner.teamId ? or(eq(segments.ownerId, owner.ownerId), eq(segments.teamId, owner.teamId)) : eq(segments.ownerId, owner.ownerId);
    return this.db.select().from(segments).where(and(eq(segments.type, "dynamic"), reach));
  }

  // ---- audience queries ---------------------------------------------------------------------------

  /** Fans of the user's audience matching the criteria. */
  async countMatching(user: AuthUser, criteria: Criteria, now = new Date()): Promise<number> {
    const [row] = await this.db
      .select({ n: count() })
      .from(fans)
      .where(and(visibleTo(user, fans), compileCriteria(criteria, now)));
    return row.n;
  }

  /** Whether one fan matches, decided by the database (the in-memory evaluator's twin). */
  async fanMatches(user: AuthUser, fanId: string, criteria: Criteria, now = new Date()): Promise<boolean | undefined> {
    const fan = await this.getFan(user, fanId);
    if (!fan) return undefined;
    const [row] = await this.db
      .select({ n: count() })
      .from(fans)
      .where(and(eq(fans.ownerId, fan.ownerId), eq(fans.id, fan.id), compileCriteria(criteria, now)));
    return row.n > 0;
  }

  /** Raw `SELECT … WHERE <compiled criteria>` over given fans: lets tests compare both evaluators. */
  async matchingFanIds(ownerId: string, criteria: Criteria, now: Date): Promise<string[]> {
    const rows = await this.db
      .select({ id: fans.id })
      .from(fans)
      .where(and(eq(fans.ownerId, ownerId), compileCriteria(criteria, now)))
      .orderBy(asc(fans.id));
    return rows.map((r) => r.id);
  }

  /**
   * Materializes a segment's membership in one transaction with set-based statements: delete members that no
   * longer match, insert the new ones, then recompute the stats. Static segments only get their stats.
   * Audit (when given): the stats' changes and how many fans entered and left. A refresh the system runs
   * by itself is recorded only when membership changed; one a user asks for always is.
   */
  async refreshSegment(segment: Segment, audit: AuditContext | null, now = new Date()): Promise<{ segment: Segment; entered: FanKey[]; exited: FanKey[] }> {
    return this.db.transaction(async (tx) => {
      let entered: FanKey[] = [];
      let exited: FanKey[] = [];
      if (segment.type === "dynamic" && segment.criteria) {
        const matches = and(audienceOf(segment), compileCriteria(segment.criteria as Criteria, now));
        exited = await tx
          .delete(segmentMembers)
          .where(
            and(
              eq(segmentMembers.segmentId, segment.id),
              notExists(
                tx
                  .select({ one: sql`1` })
                  .from(fans)
                  .where(and(eq(fans.ownerId, segmentMembers.ownerId), eq(fans.id, segmentMembers.fanId), matches)),
              ),
            ),
          )
          .returning({ ownerId: segmentMembers.ownerId, fanId: segmentMembers.fanId });
        entered = await tx
          .insert(segmentMembers)
          .select(
            tx
              .select({ segmentId: sql`${segment.id}`.as("segment_id"), ownerId: fans.ownerId, fanId: fans.id, addedAt: sql`${now}::timestamptz`.as("added_at") })
              .from(fans)
              // Skip current members in the SELECT (a hash anti-join) rather than by 100k conflict checks;
              // ON CONFLICT still covers a concurrent incremental insert.
              .where(
                and(
                  matches,
                  notExists(
                    tx
                      .select({ one: sql`1` })
                      .from(segmentMembers)
                      .where(and(eq(segmentMembers.segmentId, segment.id), eq(segmentMembers.ownerId, fans.ownerId), eq(segmentMembers.fanId, fans.id))),
                  ),
                ),
              ),
          )
          .onConflictDoNothing()
          .returning({ ownerId: segmentMembers.ownerId, fanId: segmentMembers.fanId });
      }
      const [stats] = await tx
        .select({
          n: count(),
          engagement: sql<number | null>`avg(${fans.engagement})::double precision`,
          revenue: sql<number | null>`avg(${fans.lifetimeValue})::double precision`,
        })
        .from(segmentMembers)
        .innerJoin(fans, and(eq(fans.ownerId, segmentMembers.ownerId), eq(fans.id, segmentMembers.fanId)))
        .where(eq(segmentMembers.segmentId, segment.id));
      const [updated] = await tx
        .update(segments)
        .set({ memberCount: stats.n, avgEngagement: stats.engagement, avgRevenue: stats.revenue, lastRefreshedAt: now })
        .where(eq(segments.id, segment.id))
        .returning();
      if (audit && updated && (audit.actorId !== SYSTEM_ACTOR || entered.length || exited.length)) {
        const counts: Changes = { ...(entered.length ? { entered: { to: entered.length } } : {}), ...(exited.length ? { exited: { to: exited.length } } : {}) };
        await recordAudit(tx, audit, segmentEntry(updated, { ...diff(segment, updated), ...counts }));
      }
      return { segment: updated ?? segment, entered, exited };
    });
  }

  async listMembers(segment: Segment, page: PageRequest<"id">): Promise<Page<Fan & { addedAt: Date }>> {
    const where: (SQL | undefined)[] = [eq(segmentMembers.segmentId, segment.id)];
    if (page.cursor) {
      const c = decodeCursor(page.cursor, page.sort, page.order);
      where.push(afterCursor(segmentMembers.ownerId, segmentMembers.fanId, "asc", String(c.v), c.id));
    }
    const rows = await this.db
      .select({ fan: fans, addedAt: segmentMembers.addedAt })
      .from(segmentMembers)
      .innerJoin(fans, and(eq(fans.ownerId, segmentMembers.ownerId), eq(fans.id, segmentMembers.fanId)))
      .where(and(...where))
      .orderBy(asc(segmentMembers.ownerId), asc(segmentMembers.fanId))
      .limit(page.limit + 1);
    const now = new Date();
    return toPage(
      rows.map((r) => ({ ...toFan(r.fan, now), addedAt: r.addedAt })),
      page,
      (fan) => fan.ownerId,
    );
  }

  /** Memberships of the given fans in the given segments (for incremental re-evaluation). */
  async membershipsOf(segmentIds: string[], keys: FanKey[]): Promise<MembershipChange[]> {
    if (!segmentIds.length || !keys.length) return [];
    return this.db
      .select({ segmentId: segmentMembers.segmentId, ownerId: segmentMembers.ownerId, fanId: segmentMembers.fanId })
      .from(segmentMembers)
      .where(and(inArray(segmentMembers.segmentId, segmentIds), inArray(sql`(${segmentMembers.ownerId}, ${segmentMembers.fanId})`, keys.map((k) => sql`(${k.ownerId}, ${k.fanId})`))));
  }

  /**
   * Adds and removes memberships and moves the member counts by the rows that really changed, in one
   * transaction; returns those rows (a concurrent writer's duplicate is not counted twice). With `audit`
   * (a user adding or removing a member by hand) each fan whose membership changed gets a record
   * `{"segments.<id>": {from, to}}`, on the fan so that an erase of the fan clears it too; changes that
   * follow from a fan's own change (re-evaluation) are covered by that change's record.
   */
  async applyMembershipChanges(
    add: MembershipChange[],
    remove: MembershipChange[],
    audit?: { context: AuditContext; teamId: string | null },
  ): Promise<{ entered: MembershipChange[]; exited: MembershipChange[] }> {
    if (!add.length && !remove.length) return { entered: [], exited: [] };
    return this.db.transaction(async (tx) => {
      const entered = add.length
        ? await tx
            .insert(segmentMembers)
            .values(add)
            .onConflictDoNothing()
            .returning({ segmentId: segmentMembers.segmentId, ownerId: segmentMembers.ownerId, fanId: segmentMembers.fanId })
        : [];
      const exited = remove.length
        ? await tx
            .delete(segmentMembers)
            .where(
              inArray(
                sql`(${segmentMembers.segmentId}, ${segmentMembers.ownerId}, ${segmentMembers.fanId})`,
                remove.map((r) => sql`(${r.segmentId}, ${r.ownerId}, ${r.fanId})`),
              ),
            )
            .returning({ segmentId: segmentMembers.segmentId, ownerId: segmentMembers.ownerId, fanId: segmentMembers.fanId })
        : [];
      const delta = new Map<string, number>();
      for (const e of entered) delta.set(e.segmentId, (delta.get(e.segmentId) ?? 0) + 1);
      for (const e of exited) delta.set(e.segmentId, (delta.get(e.segmentId) ?? 0) - 1);
      for (const [segmentId, d] of delta) {
        if (d) await tx.update(segments).set({ memberCount: sql`GREATEST(${segments.memberCount} + ${d}, 0)` }).where(eq(segments.id, segmentId));
      }
      if (audit) {
        const membership = (m: MembershipChange, member: boolean): AuditEntry =>
          targetOf({ ownerId: m.ownerId, teamId: audit.teamId }, "fan", m.fanId, { [`segments.${m.segmentId}`]: { from: !member, to: member } });
        await recordAudit(tx, audit.context, [...entered.map((m) => membership(m, true)), ...exited.map((m) => membership(m, false))]);
      }
      return { entered, exited };
    });
  }

  /** How many fans each pair of the given segments shares, in one self-join of the membership table. */
  async overlaps(segmentIds: string[]): Promise<{ a: string; b: string; shared: number }[]> {
    const other = alias(segmentMembers, "other");
    const rows = await this.db
      .select({ a: segmentMembers.segmentId, b: other.segmentId, shared: count() })
      .from(segmentMembers)
      .innerJoin(
        other,
        and(eq(other.ownerId, segmentMembers.ownerId), eq(other.fanId, segmentMembers.fanId), sql`${segmentMembers.segmentId} < ${other.segmentId}`),
      )
      .where(and(inArray(segmentMembers.segmentId, segmentIds), inArray(other.segmentId, segmentIds)))
      .groupBy(segmentMembers.segmentId, other.segmentId);
    return rows.map((r) => ({ a: r.a, b: r.b, shared: Number(r.shared) }));
  }
}

/** A lifetime value without a spending level derives the level from the thresholds. */
function withDerivedSpending(input: FanInput, t: SpendingThresholds): FanInput {
  if (input.lifetimeValue === undefined || input.lifetimeValue === null || input.spendingLevel !== undefined) return input;
  return { ...input, spendingLevel: spendingLevelOf(input.lifetimeValue, t) };
}
