/**
 * Every query on the abtests tables. Callers pass the acting user; tests and variants outside their reach
 * do not exist. The two unscoped reads (`listDueForHourlyCheck`) serve the background job, which then acts
 * as each test's owner.
 */
import crypto from "node:crypto";
import { and, asc, desc, eq, sql } from "drizzle-orm";
import { ownership, visibleTo } from "../../lib/access";
import type { AuthUser } from "../../lib/auth";
import type { Db } from "../../lib/db";
import { ConflictError } from "../../lib/errors";
import type { AuditContext } from "../audit/context";
import { diff, forgetAudit, recordAudit, targetOf, type Changes } from "../audit/store";
import {
  abTestProcessedEvents,
  abTests,
  abTestVariants,
  type ABTestMetric,
  type ABTestMode,
  type ABTestRow,
  type ABTestVariantRow,
} from "./schema";

export type ABTest = ABTestRow;
export type ABTestVariant = ABTestVariantRow;
export type ABTestWithVariants = ABTest & { variants: ABTestVariant[] };

export interface NewVariant {
  name: string;
  isControl: boolean;
  content: Record<string, unknown>;
  /** Percent of traffic. */
  weight: number;
}

export interface NewABTest {
  campaignId: string;
  name: string;
  metric: ABTestMetric;
  mode: ABTestMode;
  minSampleSize: number;
  confidenceLevel: number;
  autoApply: boolean;
  variants: NewVariant[];
}

/** Counter increments of one variant; all non-negative. */
export interface PerformanceDelta {
  impressions: number;
  clicks: number;
  conversions: number;
  revenue: number;
}

/** PostgreSQL unique_violation; Drizzle wraps the driver error, so look at its cause too. */
const isUniqueViolation = (err: unknown): boolean => {
  const e = err as { code?: string; cause?: unknown } | undefined;
  return e?.code === "23505" || (e?.cause !== undefined && isUniqueViolation(e.cause));
};

/**
 * Σ revenue² contribution of one batch. Each converting unit in the batch is assumed to bring the batch's
 * mean revenue (R/c each, so c·(R/c)² = R²/c); revenue without conversions counts as one unit.
 */
export function revenueSquares(delta: Pick<PerformanceDelta, "conversions" | "revenue">): number {
  if (delta.revenue === 0) return 0;
  return (delta.revenue * delta.revenue) / Math.max(1, delta.conversions);
}

/** The audit entry of a change to a test. */
const testEntry = (row: ABTest, changes: Changes) => targetOf(row, "ab_test", row.id, changes);

/** A test's split by variant name, as clients see it. */
const splitOf = (variants: Pick<ABTestVariant, "name" | "weight">[]) => Object.fromEntries(variants.map((v) => [v.name, v.weight]));

export class ABTestStore {
  constructor(private readonly db: Db) {}

  /** Inserts a running test and its variants in one transaction; 409 when the campaign already runs one. */
  async create(user: AuthUser, input: NewABTest, audit: AuditContext): Promise<ABTestWithVariants> {
    const now = new Date();
    const owner = ownership(user);
    const testId = crypto.randomUUID();
    try {
      return await this.db.transaction(async (tx) => {
        const { variants, ...fields } = input;
        const [test] = await tx
          .insert(abTests)
          .values({ ...fields, id: testId, ...owner, status: "running", startedAt: now, createdAt: now, updatedAt: now })
          .returning();
        const rows = await tx
          .insert(abTestVariants)
          .values(
            variants.map((v, position) => ({
              id: crypto.randomUUID(),
              testId,
              ...owner,
              name: v.name,
              isControl: v.isControl,
              content: v.content,
              position,
              weight: v.weight,
              initialWeight: v.weight,
              createdAt: now,
              updatedAt: now,
            })),
          )
          .returning();
        const sorted = rows.sort((a, b) => a.position - b.position);
        const design = sorted.map(({ name, isControl, weight, content }) => ({ name, isControl, weight, content }));
        await recordAudit(tx, audit, testEntry(test, diff(undefined, { ...test, variants: design })));
        return { ...test, variants: sorted };
      });
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new ConflictError("The campaign already has a running A/B test", { campaignId: input.campaignId }, "AB_TEST_RUNNING");
      }
      throw err;
    }
  }

  async get(user: AuthUser, id: string): Promise<ABTestWithVariants | undefined> {
    const [test] = await this.db.select().from(abTests).where(and(eq(abTests.id, id), visibleTo(user, abTests)));
    if (!test) return undefined;
    return { ...test, variants: await this.variantsOf(test.id) };
  }

  /** The campaign's most recent test (any status), for copying a campaign's configuration. */
  async latestForCampaign(user: AuthUser, campaignId: string): Promise<ABTestWithVariants | undefined> {
    const [test] = await this.db
      .select()
      .from(abTests)
      .where(and(eq(abTests.campaignId, campaignId), visibleTo(user, abTests)))
      .orderBy(desc(abTests.createdAt), desc(abTests.id))
      .limit(1);
    if (!test) return undefined;
    return { ...test, variants: await this.variantsOf(test.id) };
  }

  /**
   * Removes a test the caller just created (compensation when flagging the campaign failed), with its
   * creation record: the action failed, so it leaves no trace in the audit trail.
   */
  async remove(user: AuthUser, id: string, audit: AuditContext): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.delete(abTests).where(and(eq(abTests.id, id), visibleTo(user, abTests)));
      await forgetAudit(tx, "ab_test", id, audit.requestId);
    });
  }

  private variantsOf(testId: string): Promise<ABTestVariant[]> {
    return this.db.select().from(abTestVariants).where(eq(abTestVariants.testId, testId)).orderBy(asc(abTestVariants.position));
  }

  /**
   * Adds to a variant's counters in one `SET n = n + $1` statement (row lock, no lost updates), only while
   * its test runs. Returns the variant after the change, or undefined when the variant is not the caller's,
   * not in that test, or the test no longer runs (the caller tells these apart with `get`).
   */
  async addPerformance(user: AuthUser, testId: string, variantId: string, delta: PerformanceDelta): Promise<ABTestVariant | undefined> {
    const [row] = await this.db
      .update(abTestVariants)
      .set(this.increments(delta))
      .where(
        and(
          eq(abTestVariants.id, variantId),
          eq(abTestVariants.testId, testId),
          visibleTo(user, abTestVariants),
          this.testIsRunning(),
        ),
      )
      .returning();
    return row;
  }

  /**
   * Counts an analytics payload for the event's owner. With a key, the key is recorded in the same
   * transaction as the increment, and a redelivered key hits the primary key and changes nothing.
   * Returns false for duplicates and for variants the owner does not have (or whose test has ended).
   */
  async addPerformanceFromEvent(owner: AuthUser, dedupeKey: string | null, variantId: string, delta: PerformanceDelta): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      if (dedupeKey) {
        const inserted = await tx.insert(abTestProcessedEvents).values({ eventId: dedupeKey, variantId }).onConflictDoNothing().returning();
        if (!inserted.length) return false;
      }
      const [row] = await tx
        .update(abTestVariants)
        .set(this.increments(delta))
        .where(and(eq(abTestVariants.id, variantId), visibleTo(owner, abTestVariants), this.testIsRunning()))
        .returning({ id: abTestVariants.id });
      return Boolean(row);
    });
  }

  private testIsRunning() {
    return sql`EXISTS (SELECT 1 FROM ${abTests} WHERE ${abTests.id} = ${abTestVariants.testId} AND ${abTests.status} = 'running')`;
  }

  private increments(delta: PerformanceDelta) {
    return {
      impressions: sql`${abTestVariants.impressions} + ${delta.impressions}`,
      clicks: sql`${abTestVariants.clicks} + ${delta.clicks}`,
      conversions: sql`${abTestVariants.conversions} + ${delta.conversions}`,
      revenue: sql`${abTestVariants.revenue} + ${delta.revenue}`,
      revenueSquares: sql`${abTestVariants.revenueSquares} + ${revenueSquares(delta)}`,
      updatedAt: new Date(),
    };
  }

  /** Records the outcome of a determineWinner run (the SRM flag sticks once raised). */
  async recordAnalysis(user: AuthUser, id: string, srmMismatch: boolean, audit: AuditContext): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [before] = await tx.select().from(abTests).where(and(eq(abTests.id, id), visibleTo(user, abTests))).for("update");
      if (!before) return;
      const [row] = await tx
        .update(abTests)
        .set({ srmMismatch: sql`${abTests.srmMismatch} OR ${srmMismatch}`, lastAnalyzedAt: new Date(), updatedAt: new Date() })
        .where(eq(abTests.id, id))
        .returning();
      await recordAudit(tx, audit, testEntry(row, diff(before, row)));
    });
  }

  /**
   * Completes a running test with its winner. Conditional on `running`, so of two concurrent applies only
   * one completes; the other gets undefined.
   */
  async complete(user: AuthUser, id: string, winnerId: string, significance: number, audit: AuditContext): Promise<ABTest | undefined> {
    const now = new Date();
    return this.db.transaction(async (tx) => {
      const [before] = await tx.select().from(abTests).where(and(eq(abTests.id, id), visibleTo(user, abTests), eq(abTests.status, "running"))).for("update");
      if (!before) return undefined;
      const [row] = await tx
        .update(abTests)
        .set({ status: "completed", winnerId, significance, completedAt: now, updatedAt: now })
        .where(and(eq(abTests.id, id), eq(abTests.status, "running")))
        .returning();
      await recordAudit(tx, audit, testEntry(row, diff(before, row)));
      return row;
    });
  }

  /** Sets the current split of a bandit test's arms (percent per variant id); audited as `trafficSplit`. */
  async setWeights(user: AuthUser, testId: string, weights: Record<string, number>, audit: AuditContext): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [test] = await tx.select().from(abTests).where(and(eq(abTests.id, testId), visibleTo(user, abTests))).for("update");
      if (!test) return;
      const before = await tx.select().from(abTestVariants).where(eq(abTestVariants.testId, testId)).orderBy(asc(abTestVariants.position));
      for (const [variantId, weight] of Object.entries(weights)) {
        await tx
          .update(abTestVariants)
          .set({ weight, updatedAt: new Date() })
          .where(and(eq(abTestVariants.id, variantId), eq(abTestVariants.testId, testId), visibleTo(user, abTestVariants)));
      }
      const after = before.map((v) => ({ name: v.name, weight: weights[v.id] ?? v.weight }));
      await recordAudit(tx, audit, testEntry(test, diff({ trafficSplit: splitOf(before) }, { trafficSplit: splitOf(after) })));
    });
  }

  /**
   * Running tests the hourly job looks at (auto-apply or bandit), across owners: the job acts as each
   * test's owner afterwards, so every change still goes through the scoped queries.
   */
  async listDueForHourlyCheck(): Promise<Pick<ABTest, "id" | "ownerId" | "teamId" | "autoApply" | "mode">[]> {
    return this.db
      .select({ id: abTests.id, ownerId: abTests.ownerId, teamId: abTests.teamId, autoApply: abTests.autoApply, mode: abTests.mode })
      .from(abTests)
      .where(and(eq(abTests.status, "running"), sql`(${abTests.autoApply} OR ${abTests.mode} = 'bandit')`))
      .orderBy(asc(abTests.id));
  }
}
