/**
 * Every query on the analytics tables. Reads are scoped with `visibleTo(user, …)`; rows carry the owner
 * and team of their campaign, stamped at ingest.
 *
 * Reads combine the hourly rollups with the live tail of events not yet in them (see `rollupState` in
 * ./schema.ts), in ONE statement so both halves come from the same snapshot.
 */
import { and, eq, inArray, sql, type SQL } from "drizzle-orm";
import { visibleTo } from "../../lib/access";
import type { AuthUser } from "../../lib/auth";
import type { Db } from "../../lib/db";
import type { Counters } from "./metrics";
import { ALL_PLATFORMS, analyticsCampaigns, analyticsEvents, campaignMetrics, rollupState, type AnalyticsCampaignRow, type EventType } from "./schema";

export interface NewEvent {
  ownerId: string;
  teamId: string | null;
  eventId: string;
  campaignId: string;
  type: EventType;
  platform: string;
  variantId: string | null;
  fanHash: string | null;
  value: number;
  cost: number;
  currency: string;
  occurredAt: Date;
}

/** What RETURNING hands back for the rows that were actually new. */
export type InsertedEvent = Pick<NewEvent, "eventId" | "ownerId" | "teamId" | "campaignId" | "type" | "platform" | "variantId" | "value" | "cost" | "currency"> & {
  occurredAt: string;
};

export type CampaignFacts = Pick<AnalyticsCampaignRow, "id" | "ownerId" | "teamId" | "name" | "type" | "templateId" | "budget">;

/** A grouping of the combined rollup + tail rows: its SQL over campaign_metrics and over analytics_events. */
export interface Dimension {
  name: string;
  metrics: SQL;
  events: SQL;
  /** Per-platform rollup rows instead of the aggregate ones. */
  perPlatform?: boolean;
}

export type BucketUnit = "hour" | "day" | "week";

export const DIMENSIONS = {
  campaign: { name: "campaignId", metrics: sql`campaign_id`, events: sql`campaign_id` },
  platform: { name: "platform", metrics: sql`platform`, events: sql`platform`, perPlatform: true },
  bucket: (unit: BucketUnit): Dimension => ({
    name: "bucket",
    metrics: sql`date_trunc(${sql.raw(`'${unit}'`)}, hour, 'UTC')`,
    events: sql`date_trunc(${sql.raw(`'${unit}'`)}, occurred_at, 'UTC')`,
  }),
  /** ISO day of week (1 = Monday … 7 = Sunday), UTC. */
  dayOfWeek: { name: "dayOfWeek", metrics: sql`extract(isodow from hour at time zone 'UTC')::int`, events: sql`extract(isodow from occurred_at at time zone 'UTC')::int` },
  hourOfDay: { name: "hourOfDay", metrics: sql`extract(hour from hour at time zone 'UTC')::int`, events: sql`extract(hour from occurred_at at time zone 'UTC')::int` },
} satisfies Record<string, Dimension | ((unit: BucketUnit) => Dimension)>;

export interface Scope {
  campaignIds?: string[];
  /** Inclusive, hour-aligned (rollups are hourly). */
  from?: Date;
  /** Exclusive, hour-aligned. */
  to?: Date;
}

export type Totals = Counters & Record<string, unknown>;

/**
 * Events received within this margin of a rollup are left to the next run: a batch that started before the
 * run but commits after it would otherwise be stamped "before the cutoff" yet missing from the rollup.
 * Far above any request timeout.
 */
export const ROLLUP_SAFETY_MS = 2 * 60_000;
const ROLLUP_STATE_ID = "rollup";
/** pg_advisory_xact_lock key: one rollup (or erase re-roll) at a time across nodes. */
const ROLLUP_LOCK_KEY = 0x616e6c79; // "anly"

const HOUR_MS = 3_600_000;
export const floorHour = (d: Date) => new Date(Math.floor(d.getTime() / HOUR_MS) * HOUR_MS);
export const ceilHour = (d: Date) => new Date(Math.ceil(d.getTime() / HOUR_MS) * HOUR_MS);

export class AnalyticsStore {
  constructor(private readonly db: Db) {}

  private async rows<T>(query: SQL, db: Pick<Db, "execute"> = this.db): Promise<T[]> {
    const result = (await db.execute(query)) as unknown as { rows: T[] };
    return result.rows;
  }

  /**
   * One multi-row INSERT for the whole batch (columns passed as arrays and unnested: 12 parameters
   * whatever the batch size). Duplicates — already stored or repeated within the batch — are skipped by
   * the primary key; RETURNING lists only the rows that were new.
   */
  async insertEvents(events: NewEvent[]): Promise<InsertedEvent[]> {
    if (!events.length) return [];
    const column = <T>(pick: (e: NewEvent) => T) => sql.param(events.map(pick));
    return this.rows<InsertedEvent>(sql`
      INSERT INTO ${analyticsEvents} (owner_id, event_id, team_id, campaign_id, type, platform, variant_id, fan_hash, value, cost, currency, occurred_at)
      SELECT * FROM unnest(
        ${column((e) => e.ownerId)}::text[], ${column((e) => e.eventId)}::text[], ${column((e) => e.teamId)}::text[],
        ${column((e) => e.campaignId)}::text[], ${column((e) => e.type)}::text[], ${column((e) => e.platform)}::text[],
        ${column((e) => e.variantId)}::text[], ${column((e) => e.fanHash)}::text[], ${column((e) => e.value)}::float8[],
        ${column((e) => e.cost)}::float8[], ${column((e) => e.currency)}::text[], ${column((e) => e.occurredAt.toISOString())}::timestamptz[]
      )
      ON CONFLICT DO NOTHING
      RETURNING event_id AS "eventId", owner_id AS "ownerId", team_id AS "teamId", campaign_id AS "campaignId", type, platform,
        variant_id AS "variantId", value, cost, currency, occurred_at AS "occurredAt"`);
  }

  // ---- campaign facts (analytics' own projection of campaigns) ----

  async saveCampaign(facts: CampaignFacts): Promise<void> {
    const { id, ...rest } = facts;
    await this.db
      .insert(analyticsCampaigns)
      .values({ ...facts, updatedAt: new Date() })
      .onConflictDoUpdate({ target: analyticsCampaigns.id, set: { ...rest, updatedAt: new Date() } });
  }

  async campaignsOf(user: AuthUser, ids?: string[]): Promise<CampaignFacts[]> {
    const where = [visibleTo(user, analyticsCampaigns)];
    if (ids) where.push(inArray(analyticsCampaigns.id, ids));
    return this.db.select().from(analyticsCampaigns).where(and(...where));
  }

  // ---- GDPR ----

  /** Deletes a fan's events and rebuilds the rolled-up hours they were counted in, in one transaction. */
  async eraseFan(ownerId: string, fanHash: string): Promise<number> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${ROLLUP_LOCK_KEY})`);
      const deleted = await this.rows<{ hour: string }>(
        sql`DELETE FROM ${analyticsEvents} WHERE owner_id = ${ownerId} AND fan_hash = ${fanHash}
            RETURNING date_trunc('hour', occurred_at, 'UTC') AS hour`,
        tx,
      );
      const state = await this.rollupState(tx);
      if (state) {
        const rolled = [...new Set(deleted.map((d) => new Date(d.hour).toISOString()))].filter((h) => new Date(h) < state.closedBefore);
        await this.rebuildHours(tx, rolled, state.cutoff);
      }
      return deleted.length;
    });
  }

  async countFanEvents(ownerId: string, fanHash: string): Promise<number> {
    const [row] = await this.rows<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM ${analyticsEvents} WHERE owner_id = ${ownerId} AND fan_hash = ${fanHash}`,
    );
    return row.n;
  }

  // ---- rollup ----

  private async rollupState(db: Pick<Db, "select">) {
    const [state] = await db.select().from(rollupState).where(eq(rollupState.id, ROLLUP_STATE_ID));
    return state;
  }

  /**
   * Rolls up every closed hour that has events not yet counted: hours that closed since the last run and
   * hours that received late events. Each such hour is rebuilt from scratch (delete + insert), so running
   * twice gives the same rows. Returns the hours rebuilt.
   */
  async rollup(opts: { now?: Date; safetyMs?: number } = {}): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${ROLLUP_LOCK_KEY})`);
      const prev = await this.rollupState(tx);
      // received_at comes from the database clock, so the cutoff does too; `now` may only move it back.
      const [{ clock }] = await this.rows<{ clock: string }>(sql`SELECT clock_timestamp() AS clock`, tx);
      const dbNow = new Date(clock);
      const now = opts.now && opts.now < dbNow ? opts.now : dbNow;
      const closedBefore = floorHour(now);
      let cutoff = new Date(now.getTime() - (opts.safetyMs ?? ROLLUP_SAFETY_MS));
      if (prev && prev.cutoff > cutoff) cutoff = prev.cutoff;
      const prevCutoff = prev?.cutoff ?? new Date(0);
      const prevClosed = prev?.closedBefore ?? new Date(0);
      const dirty = await this.rows<{ hour: string }>(
        sql`SELECT DISTINCT date_trunc('hour', occurred_at, 'UTC') AS hour FROM ${analyticsEvents}
            WHERE occurred_at < ${closedBefore.toISOString()} AND received_at <= ${cutoff.toISOString()}
              AND (received_at > ${prevCutoff.toISOString()} OR occurred_at >= ${prevClosed.toISOString()})`,
        tx,
      );
      const hours = dirty.map((d) => new Date(d.hour).toISOString()).sort();
      await this.rebuildHours(tx, hours, cutoff);
      await tx
        .insert(rollupState)
        .values({ id: ROLLUP_STATE_ID, cutoff, closedBefore })
        .onConflictDoUpdate({ target: rollupState.id, set: { cutoff, closedBefore } });
      return hours;
    });
  }

  /** Replaces the rows of `hours` with aggregates of the events received up to `cutoff`. */
  private async rebuildHours(tx: Pick<Db, "execute">, hours: string[], cutoff: Date): Promise<void> {
    if (!hours.length) return;
    const hourList = sql.param(hours);
    await tx.execute(sql`DELETE FROM ${campaignMetrics} WHERE hour = ANY(${hourList}::timestamptz[])`);
    // GROUPING SETS: one row per platform and the aggregate ("all") row from a single scan.
    await tx.execute(sql`
      INSERT INTO ${campaignMetrics} (campaign_id, platform, hour, owner_id, team_id, impressions, reach, clicks, conversions,
        revenue, spent, ctr, conversion_rate, roi, cpa, recorded_at)
      SELECT campaign_id, platform, hour, owner_id, team_id, impressions, reach, clicks, conversions, revenue, spent,
        clicks::float8 / nullif(impressions, 0), conversions::float8 / nullif(clicks, 0),
        (revenue - spent) / nullif(spent, 0), spent / nullif(conversions, 0), ${cutoff.toISOString()}::timestamptz
      FROM (
        SELECT campaign_id, coalesce(platform, ${ALL_PLATFORMS}) AS platform, date_trunc('hour', occurred_at, 'UTC') AS hour,
          min(owner_id) AS owner_id, min(team_id) AS team_id,
          count(*) FILTER (WHERE type = 'impression')::int AS impressions,
          count(DISTINCT fan_hash)::int AS reach,
          count(*) FILTER (WHERE type = 'click')::int AS clicks,
          count(*) FILTER (WHERE type = 'conversion')::int AS conversions,
          coalesce(sum(value) FILTER (WHERE type = 'conversion'), 0)::float8 AS revenue,
          coalesce(sum(cost), 0)::float8 AS spent
        FROM ${analyticsEvents}
        WHERE date_trunc('hour', occurred_at, 'UTC') = ANY(${hourList}::timestamptz[]) AND received_at <= ${cutoff.toISOString()}
        GROUP BY GROUPING SETS ((campaign_id, date_trunc('hour', occurred_at, 'UTC'), platform), (campaign_id, date_trunc('hour', occurred_at, 'UTC')))
      ) g`);
  }

  async metricRows(campaignId: string): Promise<(typeof campaignMetrics.$inferSelect)[]> {
    return this.db.select().from(campaignMetrics).where(eq(campaignMetrics.campaignId, campaignId)).orderBy(campaignMetrics.hour, campaignMetrics.platform);
  }

  // ---- reads ----

  /**
   * Counters grouped by `dims`: closed-hour rollups plus the live tail (events received after the last
   * rollup's cutoff, or in hours it had not closed yet), summed in one statement.
   */
  async totals(user: AuthUser, scope: Scope, dims: Dimension[]): Promise<Totals[]> {
    const perPlatform = dims.some((d) => d.perPlatform);
    const mWhere: SQL[] = [visibleTo(user, campaignMetrics), perPlatform ? sql`platform <> ${ALL_PLATFORMS}` : sql`platform = ${ALL_PLATFORMS}`];
    const eWhere: SQL[] = [visibleTo(user, analyticsEvents), sql`(received_at > s.cutoff OR occurred_at >= s.closed_before)`];
    if (scope.campaignIds) {
      const ids = sql.param(scope.campaignIds);
      mWhere.push(sql`campaign_id = ANY(${ids}::text[])`);
      eWhere.push(sql`campaign_id = ANY(${ids}::text[])`);
    }
    if (scope.from) {
      mWhere.push(sql`hour >= ${scope.from.toISOString()}::timestamptz`);
      eWhere.push(sql`occurred_at >= ${scope.from.toISOString()}::timestamptz`);
    }
    if (scope.to) {
      mWhere.push(sql`hour < ${scope.to.toISOString()}::timestamptz`);
      eWhere.push(sql`occurred_at < ${scope.to.toISOString()}::timestamptz`);
    }
    const keys = dims.map((_, i) => sql.raw(`k${i}`));
    const select = (exprs: SQL[]) => (exprs.length ? sql`${sql.join(exprs.map((e, i) => sql`${e} AS ${keys[i]}`), sql`, `)}, ` : sql``);
    const groupBy = keys.length ? sql`GROUP BY ${sql.join(keys, sql`, `)}` : sql``;
    const rows = await this.rows<Record<string, unknown>>(sql`
      WITH s AS (
        SELECT coalesce(max(cutoff), '-infinity'::timestamptz) AS cutoff, coalesce(max(closed_before), '-infinity'::timestamptz) AS closed_before
        FROM ${rollupState} WHERE id = ${ROLLUP_STATE_ID}
      )
      SELECT ${select(keys)}
        coalesce(sum(impressions), 0)::int AS impressions, coalesce(sum(clicks), 0)::int AS clicks,
        coalesce(sum(conversions), 0)::int AS conversions, coalesce(sum(revenue), 0)::float8 AS revenue,
        coalesce(sum(spent), 0)::float8 AS spent
      FROM (
        SELECT ${select(dims.map((d) => d.metrics))} impressions, clicks, conversions, revenue, spent
        FROM ${campaignMetrics} WHERE ${and(...mWhere)}
        UNION ALL
        SELECT ${select(dims.map((d) => d.events))}
          count(*) FILTER (WHERE type = 'impression'), count(*) FILTER (WHERE type = 'click'),
          count(*) FILTER (WHERE type = 'conversion'), coalesce(sum(value) FILTER (WHERE type = 'conversion'), 0), coalesce(sum(cost), 0)
        FROM ${analyticsEvents}, s WHERE ${and(...eWhere)}
        ${keys.length ? sql`GROUP BY ${sql.join(dims.map((d) => d.events), sql`, `)}` : sql``}
      ) t
      ${groupBy}
      ${keys.length ? sql`ORDER BY ${sql.join(keys, sql`, `)}` : sql``}`);
    return rows.map((row) => {
      const out: Record<string, unknown> = {};
      dims.forEach((d, i) => (out[d.name] = row[`k${i}`] instanceof Date ? (row[`k${i}`] as Date).toISOString() : row[`k${i}`]));
      return { ...out, impressions: row.impressions, clicks: row.clicks, conversions: row.conversions, revenue: row.revenue, spent: row.spent } as Totals;
    });
  }

  /**
   * Distinct fans reached, exact: distinct counts do not add up across hours, so reach over a range is
   * counted from the events themselves (index-only on the fan index).
   */
  async reach(user: AuthUser, campaignIds: string[], byPlatform = false): Promise<Map<string, number>> {
    const key = byPlatform ? sql`platform` : sql`campaign_id`;
    const rows = await this.rows<{ key: string; reach: number }>(sql`
      SELECT ${key} AS key, count(DISTINCT fan_hash)::int AS reach FROM ${analyticsEvents}
      WHERE ${visibleTo(user, analyticsEvents)} AND campaign_id = ANY(${sql.param(campaignIds)}::text[])
      GROUP BY ${key}`);
    return new Map(rows.map((r) => [r.key, r.reach]));
  }

  /**
   * Time from a fan's last click to their conversion (the design's CampaignConversion.timeToConvert), for
   * conversions whose fan clicked first. Median and count of those conversions.
   */
  async timeToConvert(user: AuthUser, campaignId: string): Promise<{ medianSeconds: number | null; attributed: number }> {
    const [row] = await this.rows<{ median: number | null; attributed: number }>(sql`
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ${analyticsEvents.occurredAt} - k.clicked_at))::float8 AS median,
        count(k.clicked_at)::int AS attributed
      FROM ${analyticsEvents}
      CROSS JOIN LATERAL (
        SELECT max(c.occurred_at) AS clicked_at FROM ${analyticsEvents} c
        WHERE c.owner_id = ${analyticsEvents.ownerId} AND c.fan_hash = ${analyticsEvents.fanHash}
          AND c.campaign_id = ${analyticsEvents.campaignId} AND c.type = 'click' AND c.occurred_at <= ${analyticsEvents.occurredAt}
      ) k
      WHERE ${visibleTo(user, analyticsEvents)} AND ${analyticsEvents.campaignId} = ${campaignId}
        AND ${analyticsEvents.type} = 'conversion' AND ${analyticsEvents.fanHash} IS NOT NULL AND k.clicked_at IS NOT NULL`);
    return { medianSeconds: row?.median ?? null, attributed: row?.attributed ?? 0 };
  }
}
