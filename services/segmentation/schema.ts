/** Tables owned by the segmentation service. Only `services/segmentation/store.ts` queries them. */
import { sql } from "drizzle-orm";
import {
  boolean,
  doublePrecision,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";

export const SUBSCRIPTION_STATUSES = ["active", "expired", "cancelled", "none"] as const;
export const SPENDING_LEVELS = ["low", "medium", "high"] as const;
export const SEGMENT_TYPES = ["static", "dynamic"] as const;
export const FAN_PLATFORMS = ["onlyfans", "instagram", "tiktok", "reddit"] as const;

export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];
export type SpendingLevel = (typeof SPENDING_LEVELS)[number];
export type SegmentType = (typeof SEGMENT_TYPES)[number];
export type FanPlatform = (typeof FAN_PLATFORMS)[number];

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/**
 * A creator's audience. `id` is the creator's own id for the fan, so the key is (owner_id, id).
 * The indexes serve the criteria compiler: every audience query starts with owner_id, then a range or
 * equality on the column a criterion names; tags and attributes use GIN.
 */
export const fans = pgTable(
  "fans",
  {
    ownerId: text("owner_id").notNull(),
    id: text("id").notNull(),
    teamId: text("team_id"),
    platform: text("platform").$type<FanPlatform>(),
    platformIds: jsonb("platform_ids").$type<Record<string, string>>().notNull().default({}),
    displayName: text("display_name"),
    subscriptionStatus: text("subscription_status").$type<SubscriptionStatus>().notNull().default("none"),
    subscribedAt: ts("subscribed_at"),
    lastActiveAt: ts("last_active_at"),
    lifetimeValue: doublePrecision("lifetime_value").notNull().default(0),
    spendingLevel: text("spending_level").$type<SpendingLevel>().notNull().default("low"),
    engagement: doublePrecision("engagement").notNull().default(0),
    tags: text("tags").array().notNull().default(sql`'{}'::text[]`),
    attributes: jsonb("attributes").$type<Record<string, unknown>>().notNull().default({}),
    timezone: text("timezone"),
    consent: boolean("consent").notNull().default(false),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "fans_pk", columns: [t.ownerId, t.id] }),
    index("fans_team_idx").on(t.teamId),
    index("fans_owner_spending_active_idx").on(t.ownerId, t.spendingLevel, t.lastActiveAt),
    index("fans_owner_status_idx").on(t.ownerId, t.subscriptionStatus),
    index("fans_owner_active_idx").on(t.ownerId, t.lastActiveAt),
    index("fans_owner_engagement_idx").on(t.ownerId, t.engagement),
    index("fans_owner_ltv_idx").on(t.ownerId, t.lifetimeValue),
    index("fans_tags_idx").using("gin", t.tags),
    index("fans_attributes_idx").using("gin", sql`${t.attributes} jsonb_path_ops`),
  ],
);

export const segments = pgTable(
  "segments",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull(),
    teamId: text("team_id"),
    name: text("name").notNull(),
    description: text("description"),
    type: text("type").$type<SegmentType>().notNull(),
    /** Normalized criteria AST (dynamic segments); null for static ones. */
    criteria: jsonb("criteria").$type<unknown>(),
    memberCount: integer("member_count").notNull().default(0),
    lastRefreshedAt: ts("last_refreshed_at"),
    avgEngagement: doublePrecision("avg_engagement"),
    avgRevenue: doublePrecision("avg_revenue"),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    index("segments_owner_created_idx").on(t.ownerId, t.createdAt, t.id),
    index("segments_team_idx").on(t.teamId),
    index("segments_type_idx").on(t.type),
  ],
);

/**
 * Materialized membership. `owner_id` is the fan's owner (fans are keyed per owner); erasing a fan or
 * deleting a segment removes its rows through the foreign keys.
 */
export const segmentMembers = pgTable(
  "segment_members",
  {
    segmentId: text("segment_id").notNull(),
    ownerId: text("owner_id").notNull(),
    fanId: text("fan_id").notNull(),
    addedAt: ts("added_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "segment_members_pk", columns: [t.segmentId, t.ownerId, t.fanId] }),
    index("segment_members_fan_idx").on(t.ownerId, t.fanId),
    foreignKey({ name: "segment_members_segment_fk", columns: [t.segmentId], foreignColumns: [segments.id] }).onDelete("cascade"),
    foreignKey({ name: "segment_members_fan_fk", columns: [t.ownerId, t.fanId], foreignColumns: [fans.ownerId, fans.id] }).onDelete("cascade"),
  ],
);

export type FanRow = typeof fans.$inferSelect;
export type NewFanRow = typeof fans.$inferInsert;
export type SegmentRow = typeof segments.$inferSelect;
