/** Tables owned by the analytics service. Only `services/analytics/store.ts` queries them. */
import { doublePrecision, index, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

export const EVENT_TYPES = ["impression", "click", "conversion"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** `platform` of the aggregate row of a campaign-hour (the design's "null for aggregated"; a key cannot be null). */
export const ALL_PLATFORMS = "all";

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/**
 * One row per accepted tracking event. `(owner_id, event_id)` is the idempotency key: a client retrying a
 * batch inserts nothing twice. Fans appear only as `fan_hash` (HMAC of the fan id, see ./fan-hash.ts).
 * `received_at` is when the event was accepted; the rollup job uses it to find late events.
 */
export const analyticsEvents = pgTable(
  "analytics_events",
  {
    ownerId: text("owner_id").notNull(),
    eventId: text("event_id").notNull(),
    teamId: text("team_id"),
    campaignId: text("campaign_id").notNull(),
    type: text("type").$type<EventType>().notNull(),
    platform: text("platform").notNull(),
    variantId: text("variant_id"),
    fanHash: text("fan_hash"),
    value: doublePrecision("value").notNull().default(0),
    cost: doublePrecision("cost").notNull().default(0),
    currency: text("currency").notNull().default("USD"),
    occurredAt: ts("occurred_at").notNull(),
    receivedAt: ts("received_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "analytics_events_pk", columns: [t.ownerId, t.eventId] }),
    index("analytics_events_campaign_occurred_idx").on(t.campaignId, t.occurredAt),
    index("analytics_events_received_idx").on(t.receivedAt),
    // Erasure by fan, and the click before a conversion for time-to-convert.
    index("analytics_events_fan_idx").on(t.ownerId, t.fanHash, t.campaignId, t.occurredAt),
  ],
);

/**
 * The design's CampaignMetric, one row per (campaign, platform, hour); platform "all" is the aggregate.
 * Rebuilt wholesale for an hour by the rollup job, so re-running an hour yields the same rows.
 */
export const campaignMetrics = pgTable(
  "campaign_metrics",
  {
    campaignId: text("campaign_id").notNull(),
    platform: text("platform").notNull(),
    hour: ts("hour").notNull(),
    ownerId: text("owner_id").notNull(),
    teamId: text("team_id"),
    impressions: integer("impressions").notNull().default(0),
    reach: integer("reach").notNull().default(0),
    clicks: integer("clicks").notNull().default(0),
    conversions: integer("conversions").notNull().default(0),
    revenue: doublePrecision("revenue").notNull().default(0),
    spent: doublePrecision("spent").notNull().default(0),
    ctr: doublePrecision("ctr"),
    conversionRate: doublePrecision("conversion_rate"),
    roi: doublePrecision("roi"),
    cpa: doublePrecision("cpa"),
    /** Events received up to this instant are counted in the row. */
    recordedAt: ts("recorded_at").notNull(),
  },
  (t) => [
    primaryKey({ name: "campaign_metrics_pk", columns: [t.campaignId, t.platform, t.hour] }),
    index("campaign_metrics_owner_hour_idx").on(t.ownerId, t.hour),
    index("campaign_metrics_team_idx").on(t.teamId),
  ],
);

/**
 * Analytics' own copy of the campaign facts it reports on (name, type, template), filled when a campaign
 * is first validated on ingest and kept current from campaigns events — analytics never reads the
 * campaigns tables.
 */
export const analyticsCampaigns = pgTable(
  "analytics_campaigns",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull(),
    teamId: text("team_id"),
    name: text("name").notNull(),
    type: text("type").notNull(),
    templateId: text("template_id"),
    budget: doublePrecision("budget"),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [index("analytics_campaigns_owner_idx").on(t.ownerId), index("analytics_campaigns_team_idx").on(t.teamId)],
);

/**
 * Where the rollup stands (one row, id "rollup"): every event received up to `cutoff` whose hour began
 * before `closedBefore` is in campaign_metrics. Everything else is the live tail reads add on top.
 */
export const rollupState = pgTable("analytics_rollup_state", {
  id: text("id").primaryKey(),
  cutoff: ts("cutoff").notNull(),
  closedBefore: ts("closed_before").notNull(),
});

export type EventRow = typeof analyticsEvents.$inferSelect;
export type MetricRow = typeof campaignMetrics.$inferSelect;
export type AnalyticsCampaignRow = typeof analyticsCampaigns.$inferSelect;
