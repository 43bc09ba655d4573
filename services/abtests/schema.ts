/** Tables owned by the abtests service. Only `services/abtests/store.ts` queries them. */
import { sql } from "drizzle-orm";
import { bigint, boolean, doublePrecision, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

export const AB_TEST_STATUSES = ["running", "completed", "cancelled"] as const;
/** What a test optimises: clicks/impressions, conversions/impressions, or revenue per impression. */
export const AB_TEST_METRICS = ["ctr", "conversion_rate", "revenue_per_impression"] as const;
/** `fixed` keeps the configured split; `bandit` re-weights it by Thompson sampling every hour. */
export const AB_TEST_MODES = ["fixed", "bandit"] as const;

export type ABTestStatus = (typeof AB_TEST_STATUSES)[number];
export type ABTestMetric = (typeof AB_TEST_METRICS)[number];
export type ABTestMode = (typeof AB_TEST_MODES)[number];

export const abTests = pgTable(
  "ab_tests",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull(),
    teamId: text("team_id"),
    campaignId: text("campaign_id").notNull(),
    name: text("name").notNull(),
    status: text("status").$type<ABTestStatus>().notNull().default("running"),
    metric: text("metric").$type<ABTestMetric>().notNull().default("conversion_rate"),
    mode: text("mode").$type<ABTestMode>().notNull().default("fixed"),
    minSampleSize: integer("min_sample_size").notNull().default(100),
    confidenceLevel: doublePrecision("confidence_level").notNull().default(0.95),
    autoApply: boolean("auto_apply").notNull().default(false),
    winnerId: text("winner_id"),
    /** 1 − (Holm-adjusted) p-value of the applied winner's comparison. */
    significance: doublePrecision("significance"),
    /** Set by determineWinner when the observed split does not match the configured one. */
    srmMismatch: boolean("srm_mismatch").notNull().default(false),
    lastAnalyzedAt: timestamp("last_analyzed_at", { withTimezone: true, mode: "date" }),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    completedAt: timestamp("completed_at", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("ab_tests_owner_idx").on(t.ownerId),
    index("ab_tests_team_idx").on(t.teamId),
    index("ab_tests_campaign_idx").on(t.campaignId),
    // One running test per campaign, enforced by the database so two concurrent creates cannot both win.
    uniqueIndex("ab_tests_one_running_per_campaign").on(t.campaignId).where(sql`status = 'running'`),
  ],
);

export const abTestVariants = pgTable(
  "ab_test_variants",
  {
    id: text("id").primaryKey(),
    testId: text("test_id")
      .notNull()
      .references(() => abTests.id, { onDelete: "cascade" }),
    ownerId: text("owner_id").notNull(),
    teamId: text("team_id"),
    name: text("name").notNull(),
    isControl: boolean("is_control").notNull().default(false),
    content: jsonb("content").$type<Record<string, unknown>>().notNull().default({}),
    /** Order of the arm in the cumulative split used by assignment (stable across processes). */
    position: integer("position").notNull(),
    /** Share of traffic in percent now (the bandit changes it). */
    weight: doublePrecision("weight").notNull(),
    /** Share of traffic in percent as configured at creation. */
    initialWeight: doublePrecision("initial_weight").notNull(),
    impressions: bigint("impressions", { mode: "number" }).notNull().default(0),
    clicks: bigint("clicks", { mode: "number" }).notNull().default(0),
    conversions: bigint("conversions", { mode: "number" }).notNull().default(0),
    revenue: doublePrecision("revenue").notNull().default(0),
    /** Σ revenue² per converting unit (estimated per batch), for the variance of revenue per impression. */
    revenueSquares: doublePrecision("revenue_squares").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("ab_test_variants_test_idx").on(t.testId, t.position), uniqueIndex("ab_test_variants_test_name_uq").on(t.testId, t.name)],
);

/** Analytics events already counted, so a redelivered event is not counted twice. */
export const abTestProcessedEvents = pgTable("ab_test_processed_events", {
  eventId: text("event_id").primaryKey(),
  variantId: text("variant_id").notNull(),
  processedAt: timestamp("processed_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

export type ABTestRow = typeof abTests.$inferSelect;
export type ABTestVariantRow = typeof abTestVariants.$inferSelect;
