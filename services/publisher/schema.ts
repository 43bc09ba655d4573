/** Tables owned by the publisher service. Only `services/publisher/store.ts` queries them. */
import { doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp, boolean } from "drizzle-orm/pg-core";

/**
 * pending → running → published | retrying → running … | failed (will not succeed: content rejected, auth
 * expired) | dead_letter (max attempts spent).
 */
export const ATTEMPT_STATES = ["pending", "running", "retrying", "published", "failed", "dead_letter"] as const;
export type AttemptState = (typeof ATTEMPT_STATES)[number];

export interface AttemptError {
  attempt: number;
  at: string;
  kind: string;
  message: string;
  /** Delay chosen before the next try, when there is one. */
  retryInMs?: number;
}

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/** One publication of a campaign (variant) on one platform; its idempotency key makes it unique. */
export const publishAttempts = pgTable(
  "publish_attempts",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull(),
    teamId: text("team_id"),
    campaignId: text("campaign_id").notNull(),
    platform: text("platform").notNull(),
    variantId: text("variant_id"),
    idempotencyKey: text("idempotency_key").notNull().unique(),
    state: text("state").$type<AttemptState>().notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull(),
    /** The adapted platform payload, fixed when the publication was requested. */
    payload: jsonb("payload").$type<unknown>().notNull(),
    changes: jsonb("changes").$type<string[]>().notNull().default([]),
    /** True when a try may have gone live without us knowing: look it up before trying again. */
    outcomeUnknown: boolean("outcome_unknown").notNull().default(false),
    nextAttemptAt: ts("next_attempt_at").notNull().defaultNow(),
    leaseUntil: ts("lease_until"),
    firstAttemptAt: ts("first_attempt_at"),
    externalId: text("external_id"),
    url: text("url"),
    errors: jsonb("errors").$type<AttemptError[]>().notNull().default([]),
    publishedAt: ts("published_at"),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    index("publish_attempts_campaign_idx").on(t.campaignId, t.platform),
    index("publish_attempts_owner_idx").on(t.ownerId),
    index("publish_attempts_due_idx").on(t.state, t.nextAttemptAt),
  ],
);

/** A creator's secrets for one platform, AES-256-GCM encrypted; `key_id` names the key that sealed them. */
export const platformCredentials = pgTable(
  "platform_credentials",
  {
    ownerId: text("owner_id").notNull(),
    teamId: text("team_id"),
    platform: text("platform").notNull(),
    keyId: text("key_id").notNull(),
    iv: text("iv").notNull(),
    ciphertext: text("ciphertext").notNull(),
    tag: text("tag").notNull(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.ownerId, t.platform] })],
);

/** Token buckets shared by every node: one row per (platform, account). */
export const rateBuckets = pgTable("publisher_rate_buckets", {
  key: text("key").primaryKey(),
  tokens: doublePrecision("tokens").notNull(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});

/** Direct messages sent through plugins, unique per (owner, idempotency key) so retries send once. */
export const sentMessages = pgTable(
  "publisher_messages",
  {
    ownerId: text("owner_id").notNull(),
    teamId: text("team_id"),
    idempotencyKey: text("idempotency_key").notNull(),
    platform: text("platform").notNull(),
    fanId: text("fan_id").notNull(),
    externalId: text("external_id"),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.ownerId, t.idempotencyKey] })],
);

export type PublishAttemptRow = typeof publishAttempts.$inferSelect;
export type NewPublishAttemptRow = typeof publishAttempts.$inferInsert;
export type CredentialRow = typeof platformCredentials.$inferSelect;
export type SentMessageRow = typeof sentMessages.$inferSelect;
