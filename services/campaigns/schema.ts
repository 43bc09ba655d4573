/** Tables owned by the campaigns service. Only `services/campaigns/store.ts` queries them. */
import { sql } from "drizzle-orm";
import { boolean, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

export const CAMPAIGN_TYPES = ["ppv", "subscription", "promotion", "engagement", "retention"] as const;
export const CAMPAIGN_STATUSES = ["draft", "scheduled", "active", "paused", "completed", "cancelled"] as const;
export const PLATFORMS = ["onlyfans", "instagram", "tiktok", "reddit"] as const;

export type CampaignType = (typeof CAMPAIGN_TYPES)[number];
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];
export type Platform = (typeof PLATFORMS)[number];

export const campaigns = pgTable(
  "campaigns",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull(),
    teamId: text("team_id"),
    name: text("name").notNull(),
    description: text("description"),
    type: text("type").$type<CampaignType>().notNull(),
    status: text("status").$type<CampaignStatus>().notNull().default("draft"),
    platforms: text("platforms").array().$type<Platform[]>().notNull().default(sql`'{}'::text[]`),
    segmentIds: text("segment_ids").array().notNull().default(sql`'{}'::text[]`),
    content: jsonb("content").$type<Record<string, unknown>>().notNull().default({}),
    mediaUrls: text("media_urls").array().notNull().default(sql`'{}'::text[]`),
    scheduledFor: timestamp("scheduled_for", { withTimezone: true, mode: "date" }),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }),
    completedAt: timestamp("completed_at", { withTimezone: true, mode: "date" }),
    pausedAt: timestamp("paused_at", { withTimezone: true, mode: "date" }),
    cancelledAt: timestamp("cancelled_at", { withTimezone: true, mode: "date" }),
    /** Why the campaign is in its state when the system put it there (e.g. `budget_exhausted`). */
    statusReason: text("status_reason"),
    budget: doublePrecision("budget"),
    spent: doublePrecision("spent").notNull().default(0),
    goals: jsonb("goals").$type<Record<string, number>>().notNull().default({}),
    isABTest: boolean("is_ab_test").notNull().default(false),
    abTestId: text("ab_test_id"),
    templateId: text("template_id"),
    isTemplate: boolean("is_template").notNull().default(false),
    /** Caller-chosen key making `create` idempotent per owner (automation steps use `run:step`). */
    idempotencyKey: text("idempotency_key"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("campaigns_owner_created_idx").on(t.ownerId, t.createdAt, t.id),
    index("campaigns_team_idx").on(t.teamId),
    index("campaigns_status_idx").on(t.status),
    index("campaigns_scheduled_for_idx").on(t.scheduledFor),
    uniqueIndex("campaigns_idempotency_idx").on(t.ownerId, t.idempotencyKey),
  ],
);

export type CampaignRow = typeof campaigns.$inferSelect;
export type NewCampaignRow = typeof campaigns.$inferInsert;

export const TEMPLATE_NICHES = ["fitness", "gaming", "adult", "fashion", "general"] as const;
export type TemplateNiche = (typeof TEMPLATE_NICHES)[number];

/** Defaults a template applies to the campaigns made from it. */
export interface TemplateSettings {
  goals?: Record<string, number>;
  estimatedROI?: number;
  platforms?: Platform[];
  budget?: number;
}

/** System templates have no owner and are visible to everyone; saved templates belong to their owner. */
export const campaignTemplates = pgTable(
  "campaign_templates",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id"),
    teamId: text("team_id"),
    name: text("name").notNull(),
    description: text("description"),
    niche: text("niche").$type<TemplateNiche>().notNull(),
    type: text("type").$type<CampaignType>().notNull(),
    content: jsonb("content").$type<Record<string, unknown>>().notNull(),
    defaultSettings: jsonb("default_settings").$type<TemplateSettings>().notNull().default({}),
    usageCount: integer("usage_count").notNull().default(0),
    avgPerformance: doublePrecision("avg_performance"),
    performanceSamples: integer("performance_samples").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("campaign_templates_niche_type_idx").on(t.niche, t.type), index("campaign_templates_owner_idx").on(t.ownerId)],
);

/** Spend already applied, by event id: a replayed spend event changes nothing. */
export const campaignSpendEvents = pgTable(
  "campaign_spend_events",
  {
    campaignId: text("campaign_id").notNull(),
    eventId: text("event_id").notNull(),
    amount: doublePrecision("amount").notNull(),
    recordedAt: timestamp("recorded_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.eventId] })],
);

/** Launches per owner per minute window, shared by every node (launch throttling). */
export const launchWindows = pgTable(
  "campaign_launch_windows",
  {
    ownerId: text("owner_id").notNull(),
    windowStart: timestamp("window_start", { withTimezone: true, mode: "date" }).notNull(),
    launches: integer("launches").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.ownerId, t.windowStart] })],
);

export type TemplateRow = typeof campaignTemplates.$inferSelect;
