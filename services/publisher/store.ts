/**
 * Every query on the publisher's tables. User-facing reads are scoped with `visibleTo`; the job side
 * (attempt claims, credential reads for a publish) acts for the row's owner, named explicitly.
 */
import crypto from "node:crypto";
import { and, asc, eq, inArray, lt, or, sql } from "drizzle-orm";
import { ownership, visibleTo } from "../../lib/access";
import type { AuthUser } from "../../lib/auth";
import type { Db } from "../../lib/db";
import {
  platformCredentials,
  publishAttempts,
  rateBuckets,
  sentMessages,
  type AttemptError,
  type AttemptState,
  type PublishAttemptRow,
  type SentMessageRow,
} from "./schema";
import type { Sealed } from "./credentials-crypto";
import type { AuditContext } from "../audit/context";
import { recordAudit, REDACTED, targetOf, type AuditEntry } from "../audit/store";

export type PublishAttempt = PublishAttemptRow;

export interface NewAttempt {
  campaignId: string;
  platform: string;
  variantId?: string | null;
  idempotencyKey: string;
  payload: unknown;
  changes: string[];
  maxAttempts: number;
}

/** The publish attempt as APIs show it (the payload stays: it is what will be or was posted). */
export function idempotencyKeyOf(campaignId: string, platform: string, variantId?: string | null): string {
  return `${campaignId}:${platform}:${variantId ?? "-"}`;
}

const RETRYABLE_STATES: AttemptState[] = ["pending", "retrying"];

/**
 * Audit entries. Publications are recorded on their campaign (`publications.<platform>[.<variant>]`: the
 * attempt's state), so a campaign's trail shows who published it and how each platform ended; credentials
 * on `credentials`/<platform>, never with a value.
 */
const publicationKey = (a: Pick<PublishAttempt, "platform" | "variantId">) => `publications.${a.platform}${a.variantId ? `.${a.variantId}` : ""}`;
const publicationEntry = (a: PublishAttempt, from: AttemptState | null, extra: Record<string, { from?: unknown; to?: unknown }> = {}): AuditEntry =>
  targetOf(a, "campaign", a.campaignId, { [publicationKey(a)]: { from, to: a.state }, ...extra });

export class PublisherStore {
  constructor(private readonly db: Db) {}

  // ── publish attempts ───────────────────────────────────────────────────────────────────────────────

  /**
   * Inserts the attempts that do not exist yet (the idempotency key is unique) and returns all of them,
   * with `created` telling which are new: publishing a campaign twice never makes a second attempt.
   */
  async createAttempts(user: AuthUser, attempts: NewAttempt[], audit: AuditContext): Promise<{ attempt: PublishAttempt; created: boolean }[]> {
    if (!attempts.length) return [];
    const now = new Date();
    return this.db.transaction(async (tx) => {
      const inserted = await tx
        .insert(publishAttempts)
        .values(attempts.map((a) => ({ ...a, id: crypto.randomUUID(), ...ownership(user), state: "pending" as const, nextAttemptAt: now, createdAt: now, updatedAt: now })))
        .onConflictDoNothing({ target: publishAttempts.idempotencyKey })
        .returning();
      // One record per campaign for the attempts this request created; a repeated publish creates none.
      const byCampaign = new Map<string, PublishAttempt[]>();
      for (const a of inserted) byCampaign.set(a.campaignId, [...(byCampaign.get(a.campaignId) ?? []), a]);
      await recordAudit(
        tx,
        audit,
        [...byCampaign.values()].map((created) => targetOf(created[0], "campaign", created[0].campaignId, Object.fromEntries(created.map((a) => [publicationKey(a), { from: null, to: a.state }])))),
      );
      const newIds = new Set(inserted.map((r) => r.id));
      const keys = attempts.map((a) => a.idempotencyKey);
      const rows = await tx.select().from(publishAttempts).where(and(inArray(publishAttempts.idempotencyKey, keys), visibleTo(user, publishAttempts)));
      const byKey = new Map(rows.map((r) => [r.idempotencyKey, r]));
      return keys.flatMap((k) => (byKey.has(k) ? [{ attempt: byKey.get(k)!, created: newIds.has(byKey.get(k)!.id) }] : []));
    });
  }

  async listForCampaign(user: AuthUser, campaignId: string): Promise<PublishAttempt[]> {
    return this.db
      .select()
      .from(publishAttempts)
      .where(and(eq(publishAttempts.campaignId, campaignId), visibleTo(user, publishAttempts)))
      .orderBy(asc(publishAttempts.platform), asc(publishAttempts.createdAt));
  }

  /** For the job: the row whatever its owner (the job acts for that owner). */
  async getAttempt(id: string): Promise<PublishAttempt | undefined> {
    const [row] = await this.db.select().from(publishAttempts).where(eq(publishAttempts.id, id));
    return row;
  }

  /**
   * Takes an attempt for one try: it must be due (pending/retrying and past `next_attempt_at`) or its
   * previous runner's lease must have expired (that runner died mid-try, so the outcome is unknown).
   * Only one worker wins the UPDATE; the others get undefined.
   */
  async claim(id: string, leaseMs: number): Promise<PublishAttempt | undefined> {
    const now = new Date();
    const [row] = await this.db
      .update(publishAttempts)
      .set({
        state: "running",
        attempts: sql`${publishAttempts.attempts} + 1`,
        leaseUntil: new Date(now.getTime() + leaseMs),
        firstAttemptAt: sql`COALESCE(${publishAttempts.firstAttemptAt}, ${now})`,
        outcomeUnknown: sql`${publishAttempts.outcomeUnknown} OR ${publishAttempts.state} = 'running'`,
        updatedAt: now,
      })
      .where(
        and(
          eq(publishAttempts.id, id),
          or(
            and(inArray(publishAttempts.state, RETRYABLE_STATES), sql`${publishAttempts.nextAttemptAt} <= ${now}`),
            and(eq(publishAttempts.state, "running"), lt(publishAttempts.leaseUntil, now)),
          ),
        ),
      )
      .returning();
    return row;
  }

  /** Puts a claimed attempt back without spending a try (our own rate limiter said wait). */
  async defer(id: string, until: Date): Promise<void> {
    await this.db
      .update(publishAttempts)
      .set({ state: "retrying", attempts: sql`${publishAttempts.attempts} - 1`, nextAttemptAt: until, leaseUntil: null, updatedAt: new Date() })
      .where(and(eq(publishAttempts.id, id), eq(publishAttempts.state, "running")));
  }

  /** The try went live. Audited (under the job's `audit`) on the campaign with the post's id. */
  async markPublished(id: string, externalId: string, url: string | undefined, audit: AuditContext): Promise<PublishAttempt | undefined> {
    const now = new Date();
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(publishAttempts)
        .set({ state: "published", externalId, url: url ?? null, outcomeUnknown: false, leaseUntil: null, publishedAt: now, updatedAt: now })
        .where(and(eq(publishAttempts.id, id), eq(publishAttempts.state, "running")))
        .returning();
      if (row) await recordAudit(tx, audit, publicationEntry(row, "running", { [`${publicationKey(row)}.externalId`]: { to: externalId } }));
      return row;
    });
  }

  async markRetry(id: string, nextAttemptAt: Date, error: AttemptError, outcomeUnknown: boolean): Promise<void> {
    await this.db
      .update(publishAttempts)
      .set({
        state: "retrying",
        nextAttemptAt,
        leaseUntil: null,
        outcomeUnknown,
        errors: sql`${publishAttempts.errors} || ${JSON.stringify([error])}::jsonb`,
        updatedAt: new Date(),
      })
      .where(and(eq(publishAttempts.id, id), eq(publishAttempts.state, "running")));
  }

  /** Final failure: `failed` (cannot succeed) or `dead_letter` (tries spent); audited like `markPublished`. */
  async markFinal(id: string, state: "failed" | "dead_letter", error: AttemptError, audit: AuditContext): Promise<PublishAttempt | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(publishAttempts)
        .set({ state, leaseUntil: null, errors: sql`${publishAttempts.errors} || ${JSON.stringify([error])}::jsonb`, updatedAt: new Date() })
        .where(and(eq(publishAttempts.id, id), eq(publishAttempts.state, "running")))
        .returning();
      if (row) await recordAudit(tx, audit, publicationEntry(row, "running", { [`${publicationKey(row)}.error`]: { to: error.kind } }));
      return row;
    });
  }

  /** Attempts whose job may have been lost: due for over `graceMs`, or running past their lease. */
  async strandedAttemptIds(graceMs: number, limit = 100): Promise<string[]> {
    const now = new Date();
    const rows = await this.db
      .select({ id: publishAttempts.id })
      .from(publishAttempts)
      .where(
        or(
          and(inArray(publishAttempts.state, RETRYABLE_STATES), lt(publishAttempts.nextAttemptAt, new Date(now.getTime() - graceMs))),
          and(eq(publishAttempts.state, "running"), lt(publishAttempts.leaseUntil, now)),
        ),
      )
      .limit(limit);
    return rows.map((r) => r.id);
  }

  // ── credentials ────────────────────────────────────────────────────────────────────────────────────

  /** Stores (or replaces) sealed credentials; the audit record names the fields, never a value. */
  async putCredentials(user: AuthUser, platform: string, sealed: Sealed, fields: string[], audit: AuditContext): Promise<void> {
    const now = new Date();
    await this.db.transaction(async (tx) => {
      const [existing] = await tx
        .select({ platform: platformCredentials.platform })
        .from(platformCredentials)
        .where(and(eq(platformCredentials.ownerId, user.id), eq(platformCredentials.platform, platform)))
        .for("update");
      await tx
        .insert(platformCredentials)
        .values({ ...ownership(user), platform, ...sealed, updatedAt: now })
        .onConflictDoUpdate({ target: [platformCredentials.ownerId, platformCredentials.platform], set: { ...sealed, teamId: user.teamId, updatedAt: now } });
      const credentials = existing ? { from: REDACTED, to: REDACTED } : { to: REDACTED };
      await recordAudit(tx, audit, targetOf(ownership(user), "credentials", platform, { credentials, fields: { to: fields } }));
    });
  }

  /** The owner's sealed credentials for a platform (the job side: acts for `ownerId`). */
  async sealedCredentials(ownerId: string, platform: string): Promise<Sealed | undefined> {
    const [row] = await this.db
      .select({ keyId: platformCredentials.keyId, iv: platformCredentials.iv, ciphertext: platformCredentials.ciphertext, tag: platformCredentials.tag })
      .from(platformCredentials)
      .where(and(eq(platformCredentials.ownerId, ownerId), eq(platformCredentials.platform, platform)));
    return row;
  }

  /** Re-seals a row with the current key after rotation, only if nobody rewrote it meanwhile (audited: the key id). */
  async resealCredentials(ownerId: string, platform: string, from: Sealed, to: Sealed, audit: AuditContext): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(platformCredentials)
        .set({ ...to })
        .where(and(eq(platformCredentials.ownerId, ownerId), eq(platformCredentials.platform, platform), eq(platformCredentials.iv, from.iv)))
        .returning({ ownerId: platformCredentials.ownerId, teamId: platformCredentials.teamId });
      if (row) await recordAudit(tx, audit, targetOf(row, "credentials", platform, { keyId: { from: from.keyId, to: to.keyId }, credentials: { from: REDACTED, to: REDACTED } }));
    });
  }

  /** Credentials are per creator: only the owner's own row is removed. */
  async deleteCredentials(user: AuthUser, platform: string, audit: AuditContext): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const rows = await tx
        .delete(platformCredentials)
        .where(and(eq(platformCredentials.ownerId, user.id), eq(platformCredentials.platform, platform)))
        .returning({ ownerId: platformCredentials.ownerId, teamId: platformCredentials.teamId });
      if (rows.length) await recordAudit(tx, audit, targetOf(rows[0], "credentials", platform, { credentials: { from: REDACTED } }));
      return rows.length > 0;
    });
  }

  async credentialPlatforms(user: AuthUser): Promise<{ platform: string; updatedAt: Date }[]> {
    return this.db
      .select({ platform: platformCredentials.platform, updatedAt: platformCredentials.updatedAt })
      .from(platformCredentials)
      .where(eq(platformCredentials.ownerId, user.id));
  }

  // ── rate limits ────────────────────────────────────────────────────────────────────────────────────

  /**
   * Takes one token from the bucket `key` (refilled at `perMinute`, holding at most `burst`), in one
   * atomic statement so every node shares the bucket. Returns 0 when a token was taken, else the
   * milliseconds until one will be there.
   */
  async takeToken(key: string, perMinute: number, burst: number): Promise<number> {
    const perMs = perMinute / 60_000;
    const refilled = sql`LEAST(${burst}::float8, ${rateBuckets.tokens} + EXTRACT(EPOCH FROM (clock_timestamp() - ${rateBuckets.updatedAt})) * 1000 * ${perMs}::float8)`;
    const taken = await this.db
      .insert(rateBuckets)
      .values({ key, tokens: burst - 1, updatedAt: sql`clock_timestamp()` })
      .onConflictDoUpdate({ target: rateBuckets.key, set: { tokens: sql`${refilled} - 1`, updatedAt: sql`clock_timestamp()` }, setWhere: sql`${refilled} >= 1` })
      .returning({ tokens: rateBuckets.tokens });
    if (taken.length) return 0;
    const [row] = await this.db.select({ available: refilled }).from(rateBuckets).where(eq(rateBuckets.key, key));
    const missing = 1 - Number(row?.available ?? 0);
    return Math.max(1, Math.ceil(missing / perMs));
  }

  // ── direct messages ────────────────────────────────────────────────────────────────────────────────

  /** Records a message before sending; returns the existing record when the key was used already. */
  async claimMessage(user: AuthUser, key: string, platform: string, fanId: string): Promise<{ row: SentMessageRow; created: boolean }> {
    const [inserted] = await this.db
      .insert(sentMessages)
      .values({ ...ownership(user), idempotencyKey: key, platform, fanId })
      .onConflictDoNothing()
      .returning();
    if (inserted) return { row: inserted, created: true };
    const [row] = await this.db.select().from(sentMessages).where(and(eq(sentMessages.ownerId, user.id), eq(sentMessages.idempotencyKey, key)));
    return { row, created: false };
  }

  /**
   * The message went out. Audited on the fan (so erasing the fan clears its values): platform, key and the
   * platform's message id, never the text.
   */
  async setMessageSent(user: AuthUser, key: string, externalId: string, audit: AuditContext): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(sentMessages)
        .set({ externalId })
        .where(and(eq(sentMessages.ownerId, user.id), eq(sentMessages.idempotencyKey, key)))
        .returning();
      if (row) await recordAudit(tx, audit, targetOf(row, "fan", row.fanId, { [`messages.${row.platform}`]: { to: { idempotencyKey: key, externalId } } }));
    });
  }
}
