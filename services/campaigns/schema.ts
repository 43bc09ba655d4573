/** Tables owned by the campaigns service. Only `services/campaigns/store.ts` queries them. */
import { sql } from "drizzle-orm";
import { boolean, doublePrecision, index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

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
    budget: doublePrecision("budget"),
    spent: doublePrecision("spent").notNull().default(0),
    goals: jsonb("goals").$type<Record<string, number>>().notNull().default({}),
    isABTest: boolean("is_ab_test").notNull().default(false),
    abTestId: text("ab_test_id"),
    templateId: text("template_id"),
    isTemplate: boolean("is_template").notNull().default(false),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("campaigns_owner_created_idx").on(t.ownerId, t.createdAt, t.id),
    index("campaigns_team_idx").on(t.teamId),
    index("campaigns_status_idx").on(t.status),
    index("campaigns_scheduled_for_idx").on(t.scheduledFor),
  ],
);

export type CampaignRow = typeof campaigns.$inferSelect;
export type NewCampaignRow = typeof campaigns.$inferInsert;
