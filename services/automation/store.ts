/**
 * Every query on the automation tables. User-facing reads are scoped with `visibleTo`; the engine
 * works on runs by id (it acts for the run's owner). Run progress is one UPDATE per step, appending the
 * step record, so a run's state is durable after every step.
 */
import crypto from "node:crypto";
import { and, asc, count, desc, eq, gte, inArray, isNotNull, lt, lte, ne, or, sql, type SQL } from "drizzle-orm";
import { ownership, visibleTo } from "../../lib/access";
import type { AuthUser } from "../../lib/auth";
import type { Db } from "../../lib/db";
import { afterCursor, decodeCursor, toPage, type Page, type PageRequest } from "../../lib/pagination";
import type { AuditContext } from "../audit/context";
import { diff, recordAudit, targetOf, type Changes, type Executor } from "../audit/store";
import { canonicalEvent, type WorkflowDefinition } from "./definition";
import {
  automationMessageTemplates,
  automationRuns,
  automations,
  automationSends,
  type AutomationRow,
  type MessageTemplateRow,
  type RunError,
  type RunRow,
  type RunStatus,
  type StepRecord,
  type WorkflowStatus,
} from "./schema";

export type Workflow = AutomationRow;
/** A fan's runs of one workflow (test runs aside), and how many are unfinished. */
export interface FanEntries {
  total: number;
  open: number;
}
export type Run = RunRow;
export type WorkflowInput = WorkflowDefinition & { name: string; description?: string | null; templateId?: string | null };

const newId = (prefix: string) => `${prefix}_${crypto.randomBytes(12).toString("base64url")}`;
const FINAL: RunStatus[] = ["success", "failure", "partial", "cancelled"];

export interface RunProgress {
  status?: RunStatus;
  cursor?: (number | string)[] | null;
  context?: Record<string, unknown>;
  /** Step records to append, in execution order. */
  steps?: StepRecord[];
  error?: RunError;
  wakeAt?: Date | null;
  leaseUntil?: Date | null;
  completedAt?: Date;
  duration?: number;
}

/** Audit entry of a workflow change; webhook `secret`s in its actions are redacted by `diff`. */
const workflowEntry = (row: Workflow, changes: Changes) => targetOf(row, "automation", row.id, changes);

export class AutomationStore {
  constructor(readonly db: Db) {}

  // ---- workflows ------------------------------------------------------------------------------

  async createWorkflow(user: AuthUser, input: WorkflowInput, audit: AuditContext): Promise<Workflow> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(automations)
        .values({ id: newId("wf"), ...ownership(user), ...input, triggerEvent: eventOf(input), status: "paused" })
        .returning();
      await recordAudit(tx, audit, workflowEntry(row, diff(undefined, row)));
      return row;
    });
  }

  async getWorkflow(user: AuthUser, id: string): Promise<Workflow | undefined> {
    const [row] = await this.db.select().from(automations).where(and(eq(automations.id, id), visibleTo(user, automations)));
    return row;
  }

  /** For the engine, which acts on behalf of the workflow's owner. */
  async workflowById(id: string): Promise<Workflow | undefined> {
    const [row] = await this.db.select().from(automations).where(eq(automations.id, id));
    return row;
  }

  async updateWorkflow(user: AuthUser, id: string, patch: Partial<WorkflowInput>, audit: AuditContext): Promise<Workflow | undefined> {
    const set: Partial<typeof automations.$inferInsert> = { ...patch, updatedAt: new Date() };
    if (patch.trigger) set.triggerEvent = eventOf(patch as WorkflowInput);
    return this.changeWorkflow(user, id, set, audit);
  }

  async setStatus(user: AuthUser, id: string, status: WorkflowStatus, extra: { behaviorSegmentId?: string | null }, audit: AuditContext): Promise<Workflow | undefined> {
    return this.changeWorkflow(user, id, { status, ...extra, updatedAt: new Date() }, audit);
  }

  /** One UPDATE of a visible workflow, locked first so the audit record's `from` values are exact. */
  private async changeWorkflow(user: AuthUser, id: string, set: Partial<typeof automations.$inferInsert>, audit: AuditContext): Promise<Workflow | undefined> {
    return this.db.transaction(async (tx) => {
      const [before] = await tx.select().from(automations).where(and(eq(automations.id, id), visibleTo(user, automations))).for("update");
      if (!before) return undefined;
      const [row] = await tx.update(automations).set(set).where(eq(automations.id, id)).returning();
      await recordAudit(tx, audit, workflowEntry(row, diff(before, row)));
      return row;
    });
  }

  /** Deletes a workflow and cancels its unfinished runs, in one transaction with its audit record. */
  async removeWorkflow(user: AuthUser, id: string, audit: AuditContext): Promise<Workflow | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.delete(automations).where(and(eq(automations.id, id), visibleTo(user, automations))).returning();
      if (!row) return undefined;
      const cancelled = await this.cancelRunsOf(row.id, new Date(), tx);
      await recordAudit(tx, audit, workflowEntry(row, { ...diff(row, undefined), ...(cancelled ? { cancelledRuns: { to: cancelled } } : {}) }));
      return row;
    });
  }

  async listWorkflows(user: AuthUser, filters: { status?: WorkflowStatus }, page: PageRequest<"createdAt">): Promise<Page<Workflow>> {
    const where: SQL[] = [visibleTo(user, automations)];
    if (filters.status) where.push(eq(automations.status, filters.status));
    if (page.cursor) {
      const c = decodeCursor(page.cursor, page.sort, page.order);
      where.push(afterCursor(automations.createdAt, automations.id, page.order, new Date(c.v), c.id));
    }
    const dir = page.order === "asc" ? asc : desc;
    const rows = await this.db.select().from(automations).where(and(...where)).orderBy(dir(automations.createdAt), dir(automations.id)).limit(page.limit + 1);
    return toPage(rows, page, (r) => r.createdAt.toISOString());
  }

  async countActive(ownerId: string): Promise<number> {
    const [row] = await this.db.select({ n: count() }).from(automations).where(and(eq(automations.ownerId, ownerId), eq(automations.status, "active")));
    return row.n;
  }

  async activeWorkflowsOf(ownerId: string): Promise<Workflow[]> {
    return this.db.select().from(automations).where(and(eq(automations.ownerId, ownerId), eq(automations.status, "active")));
  }

  async activeForEvent(ownerId: string, event: string): Promise<Workflow[]> {
    return this.db
      .select()
      .from(automations)
      .where(and(eq(automations.status, "active"), eq(automations.triggerEvent, canonicalEvent(event)), eq(automations.ownerId, ownerId)));
  }

  async activeBehaviorWorkflows(): Promise<Workflow[]> {
    return this.db.select().from(automations).where(and(eq(automations.status, "active"), isNotNull(automations.behaviorSegmentId)));
  }

  async recordOutcome(id: string, outcome: RunStatus, at: Date): Promise<void> {
    const success = outcome === "success" ? 1 : 0;
    const failure = outcome === "failure" || outcome === "partial" ? 1 : 0;
    await this.db
      .update(automations)
      .set({
        executionCount: sql`${automations.executionCount} + 1`,
        successCount: sql`${automations.successCount} + ${success}`,
        failureCount: sql`${automations.failureCount} + ${failure}`,
        lastExecutedAt: at,
      })
      .where(eq(automations.id, id));
  }

  // ---- runs -----------------------------------------------------------------------------------

  /**
   * Persists a new run. Runs the engine starts from triggers are their own record (no audit); a run a user
   * starts by hand (`audit`) is recorded on its workflow, without the fan's id.
   */
  async createRun(values: Omit<typeof automationRuns.$inferInsert, "id">, audit?: AuditContext): Promise<Run> {
    if (!audit) {
      const [row] = await this.db.insert(automationRuns).values({ id: newId("run"), ...values }).returning();
      return row;
    }
    return this.db.transaction(async (tx) => {
      const [row] = await tx.insert(automationRuns).values({ id: newId("run"), ...values }).returning();
      await recordAudit(tx, audit, targetOf({ ownerId: row.ownerId, teamId: row.teamId }, "automation", row.automationId, { run: { to: row.id }, testMode: { to: row.testMode } }));
      return row;
    });
  }

  /**
   * A fan's run, if the workflow's entry rules still let the fan in. Entries of one (workflow, fan) take
   * turns on an advisory lock, so the same event delivered twice at once (a client's retry while the first
   * request is still going, two nodes) starts one run, not two.
   */
  async createFanRun(values: Omit<typeof automationRuns.$inferInsert, "id"> & { fanId: string }, mayEnter: (entries: FanEntries) => boolean): Promise<Run | undefined> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`automation-entry|${values.automationId}|${values.fanId}`}, 0))`);
      if (!mayEnter(await this.entriesOf(values.automationId, values.fanId, tx))) return undefined;
      const [row] = await tx.insert(automationRuns).values({ id: newId("run"), ...values }).returning();
      return row;
    });
  }

  /** The run of a time trigger's fire, whose id is its fire key: undefined when that fire started it before. */
  async createFireRun(id: string, values: Omit<typeof automationRuns.$inferInsert, "id">): Promise<Run | undefined> {
    const [row] = await this.db.insert(automationRuns).values({ id, ...values }).onConflictDoNothing({ target: automationRuns.id }).returning();
    return row;
  }

  async runExists(id: string): Promise<boolean> {
    const [row] = await this.db.select({ id: automationRuns.id }).from(automationRuns).where(eq(automationRuns.id, id));
    return Boolean(row);
  }

  async runById(id: string): Promise<Run | undefined> {
    const [row] = await this.db.select().from(automationRuns).where(eq(automationRuns.id, id));
    return row;
  }

  /** One UPDATE: the new cursor/status plus the step records appended. */
  async saveProgress(id: string, p: RunProgress): Promise<void> {
    const set: Record<string, unknown> = {};
    if (p.status) set.status = p.status;
    if (p.cursor !== undefined) set.cursor = p.cursor;
    if (p.context) set.context = p.context;
    if (p.steps?.length) set.executedActions = sql`${automationRuns.executedActions} || ${JSON.stringify(p.steps)}::jsonb`;
    if (p.error) set.errors = sql`${automationRuns.errors} || ${JSON.stringify([p.error])}::jsonb`;
    if (p.wakeAt !== undefined) set.wakeAt = p.wakeAt;
    if (p.leaseUntil !== undefined) set.leaseUntil = p.leaseUntil;
    if (p.completedAt) set.completedAt = p.completedAt;
    if (p.duration !== undefined) set.duration = p.duration;
    await this.db.update(automationRuns).set(set).where(eq(automationRuns.id, id));
  }

  /**
   * Takes a run for execution: a waiting run whose time has come, or a running one whose worker's lease
   * ran out (it crashed). The conditional UPDATE lets exactly one of racing workers win.
   */
  async claimRun(id: string, now: Date, leaseMs: number): Promise<Run | undefined> {
    const realNow = new Date();
    const [row] = await this.db
      .update(automationRuns)
      .set({ status: "running", leaseUntil: new Date(realNow.getTime() + leaseMs), wakeAt: null })
      .where(and(eq(automationRuns.id, id), claimable(now, realNow)))
      .returning();
    return row;
  }

  /** Extends a running run's lease if it is still `held` (the one its worker set); false when it is not. */
  async renewLease(id: string, held: Date, until: Date): Promise<boolean> {
    const rows = await this.db
      .update(automationRuns)
      .set({ leaseUntil: until })
      .where(and(eq(automationRuns.id, id), eq(automationRuns.status, "running"), eq(automationRuns.leaseUntil, held)))
      .returning({ id: automationRuns.id });
    return rows.length > 0;
  }

  async dueRunIds(now: Date, limit: number): Promise<string[]> {
    const rows = await this.db.select({ id: automationRuns.id }).from(automationRuns).where(claimable(now, new Date())).orderBy(asc(automationRuns.wakeAt)).limit(limit);
    return rows.map((r) => r.id);
  }

  async runsPastDeadline(now: Date, limit: number): Promise<Run[]> {
    return this.db
      .select()
      .from(automationRuns)
      .where(and(inArray(automationRuns.status, ["running", "waiting"]), lte(automationRuns.deadlineAt, now)))
      .limit(limit);
  }

  /** Entries of a fan into a workflow, and whether one is still in progress. */
  async entriesOf(automationId: string, fanId: string, db: Executor = this.db): Promise<FanEntries> {
    const [row] = await db
      .select({ total: count(), open: sql<number>`count(*) FILTER (WHERE ${automationRuns.status} IN ('running','waiting'))`.mapWith(Number) })
      .from(automationRuns)
      .where(and(eq(automationRuns.automationId, automationId), eq(automationRuns.fanId, fanId), eq(automationRuns.testMode, false)));
    return row;
  }

  async runsStartedSince(ownerId: string, since: Date): Promise<number> {
    const [row] = await this.db
      .select({ n: count() })
      .from(automationRuns)
      .where(and(eq(automationRuns.ownerId, ownerId), gte(automationRuns.startedAt, since)));
    return row.n;
  }

  async cancelRunsOf(automationId: string, at: Date, db: Db | Parameters<Parameters<Db["transaction"]>[0]>[0] = this.db): Promise<number> {
    const rows = await db
      .update(automationRuns)
      .set({ status: "cancelled", completedAt: at, cursor: null, wakeAt: null })
      .where(and(eq(automationRuns.automationId, automationId), inArray(automationRuns.status, ["running", "waiting"])))
      .returning({ id: automationRuns.id });
    return rows.length;
  }

  async listRuns(automationId: string, filters: { status?: RunStatus }, page: PageRequest<"startedAt">): Promise<Page<Run>> {
    const where: SQL[] = [eq(automationRuns.automationId, automationId)];
    if (filters.status) where.push(eq(automationRuns.status, filters.status));
    if (page.cursor) {
      const c = decodeCursor(page.cursor, page.sort, page.order);
      where.push(afterCursor(automationRuns.startedAt, automationRuns.id, page.order, new Date(c.v), c.id));
    }
    const dir = page.order === "asc" ? asc : desc;
    const rows = await this.db.select().from(automationRuns).where(and(...where)).orderBy(dir(automationRuns.startedAt), dir(automationRuns.id)).limit(page.limit + 1);
    return toPage(rows, page, (r) => r.startedAt.toISOString());
  }

  async runStats(automationId: string) {
    const byStatus = await this.db
      .select({ status: automationRuns.status, n: count() })
      .from(automationRuns)
      .where(eq(automationRuns.automationId, automationId))
      .groupBy(automationRuns.status);
    const [durations] = await this.db
      .select({
        p50: sql<number | null>`percentile_cont(0.5) WITHIN GROUP (ORDER BY ${automationRuns.duration})`,
        p95: sql<number | null>`percentile_cont(0.95) WITHIN GROUP (ORDER BY ${automationRuns.duration})`,
      })
      .from(automationRuns)
      .where(and(eq(automationRuns.automationId, automationId), isNotNull(automationRuns.duration)));
    const stepFailures = (await this.db.execute(sql`
      SELECT step->>'path' AS path, count(*)::int AS failures
      FROM ${automationRuns}, jsonb_array_elements(${automationRuns.executedActions}) AS step
      WHERE ${automationRuns.automationId} = ${automationId} AND step->>'status' = 'failure'
      GROUP BY 1 ORDER BY 2 DESC, 1`)) as unknown as { rows: { path: string; failures: number }[] };
    return { byStatus, p50: durations?.p50 ?? null, p95: durations?.p95 ?? null, stepFailures: stepFailures.rows };
  }

  // ---- sends (frequency cap) --------------------------------------------------------------------

  /** Reserves the message of (run, step); false when it was reserved before (a re-run after a crash). */
  async reserveSend(runId: string, stepPath: string, ownerId: string, fanId: string, at: Date): Promise<boolean> {
    const rows = await this.db.insert(automationSends).values({ runId, stepPath, ownerId, fanId, sentAt: at }).onConflictDoNothing().returning({ runId: automationSends.runId });
    return rows.length > 0;
  }

  async sendsSince(ownerId: string, fanId: string, since: Date, exceptRun: string): Promise<number> {
    const [row] = await this.db
      .select({ n: count() })
      .from(automationSends)
      .where(and(eq(automationSends.ownerId, ownerId), eq(automationSends.fanId, fanId), gte(automationSends.sentAt, since), ne(automationSends.runId, exceptRun)));
    return row.n;
  }

  async runSendsSince(runId: string, since: Date): Promise<number> {
    const [row] = await this.db.select({ n: count() }).from(automationSends).where(and(eq(automationSends.runId, runId), gte(automationSends.sentAt, since)));
    return row.n;
  }

  // ---- message templates ------------------------------------------------------------------------

  async messageTemplateOverrides(ownerId: string): Promise<MessageTemplateRow[]> {
    return this.db.select().from(automationMessageTemplates).where(eq(automationMessageTemplates.ownerId, ownerId));
  }

  async saveMessageTemplate(user: AuthUser, t: { id: string; name: string; text: string; mediaUrls: string[] }, audit: AuditContext): Promise<MessageTemplateRow> {
    const values = { ...ownership(user), ...t, updatedAt: new Date() };
    return this.db.transaction(async (tx) => {
      const [before] = await tx
        .select()
        .from(automationMessageTemplates)
        .where(and(eq(automationMessageTemplates.ownerId, user.id), eq(automationMessageTemplates.id, t.id)))
        .for("update");
      const [row] = await tx
        .insert(automationMessageTemplates)
        .values(values)
        .onConflictDoUpdate({ target: [automationMessageTemplates.ownerId, automationMessageTemplates.id], set: { name: t.name, text: t.text, mediaUrls: t.mediaUrls, updatedAt: values.updatedAt } })
        .returning();
      await recordAudit(tx, audit, targetOf(row as { ownerId: string; teamId: string | null }, "message_template", row.id, diff(before, row)));
      return row;
    });
  }

  /** Drops what is held about an erased fan (GDPR). */
  async eraseFan(ownerId: string, fanId: string): Promise<void> {
    await this.db.delete(automationRuns).where(and(eq(automationRuns.ownerId, ownerId), eq(automationRuns.fanId, fanId)));
    await this.db.delete(automationSends).where(and(eq(automationSends.ownerId, ownerId), eq(automationSends.fanId, fanId)));
  }
}

function eventOf(def: Pick<WorkflowDefinition, "trigger">): string | null {
  return def.trigger?.type === "event" ? canonicalEvent(def.trigger.event) : null;
}

/**
 * Wake-ups follow the engine's clock (tests move it); leases follow the real one, so moving the clock never
 * steals a run a live worker is executing.
 */
function claimable(now: Date, realNow: Date): SQL {
  return or(
    and(eq(automationRuns.status, "waiting"), lte(automationRuns.wakeAt, now)),
    and(eq(automationRuns.status, "running"), lt(automationRuns.leaseUntil, realNow)),
  )!;
}

export const FINAL_RUN_STATUSES = FINAL;
