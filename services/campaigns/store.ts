/**
 * Every query on the campaigns tables. Callers pass the acting user (rows outside their reach do not
 * exist) or `SYSTEM` for jobs and bus events, which act on behalf of the row's owner.
 */
import crypto from "node:crypto";
import { and, arrayContains, arrayOverlaps, asc, between, desc, eq, gte, ilike, inArray, isNull, lt, lte, ne, or, sql, type SQL } from "drizzle-orm";
import { ownership, visibleTo } from "../../lib/access";
import type { AuthUser } from "../../lib/auth";
import type { Db } from "../../lib/db";
import { afterCursor, decodeCursor, likePattern, toPage, type Page, type PageRequest } from "../../lib/pagination";
import { systemAudit, type AuditContext } from "../audit/context";
import { diff, recordAudit, targetOf, type Changes, type Executor } from "../audit/store";
import { TRANSITIONS, illegalTransition, type LifecycleAction } from "./lifecycle";
import {
  campaignSpendEvents,
  campaignTemplates,
  campaigns,
  launchWindows,
  type CampaignRow,
  type CampaignStatus,
  type CampaignType,
  type NewCampaignRow,
  type Platform,
  type TemplateNiche,
  type TemplateRow,
} from "./schema";
import type { SystemTemplate } from "./templates";

export type Campaign = CampaignRow;
export type Template = TemplateRow;

/** Jobs and bus events act as the system: no visibility filter, the row's owner is the actor. */
export const SYSTEM = "system" as const;
export type Actor = AuthUser | typeof SYSTEM;

export type CampaignInput = Pick<NewCampaignRow, "name" | "type"> &
  Partial<
    Pick<
      NewCampaignRow,
      "description" | "platforms" | "segmentIds" | "content" | "mediaUrls" | "budget" | "goals" | "isABTest" | "abTestId" | "templateId"
    >
  >;

export type CampaignPatch = Partial<CampaignInput>;

/** What a create returns: `created` is false when an idempotency key matched an earlier campaign. */
export interface CreatedCampaign {
  campaign: Campaign;
  created: boolean;
}

export const CAMPAIGN_SORTS = ["createdAt", "updatedAt", "name", "spent"] as const;
export type CampaignSort = (typeof CAMPAIGN_SORTS)[number];

export interface CampaignFilters {
  status?: CampaignStatus[];
  type?: CampaignType[];
  platform?: Platform;
  q?: string;
  createdFrom?: Date;
  createdTo?: Date;
}

const SORT_COLUMNS = {
  createdAt: campaigns.createdAt,
  updatedAt: campaigns.updatedAt,
  name: campaigns.name,
  spent: campaigns.spent,
} as const;

export interface SpendResult {
  campaign: Campaign;
  /** False when the event id was seen before and nothing changed. */
  applied: boolean;
  /** True for exactly one of any number of concurrent spends: the one that paused the campaign. */
  pausedForBudget: boolean;
  /** True for exactly one spend: the one that took `spent` past 110 % of the budget. */
  crossedOverspend: boolean;
}

export interface ScheduleConflict {
  id: string;
  name: string;
  scheduledFor: Date;
  platforms: Platform[];
}

/** The audit entry of a change to a campaign. */
const campaignEntry = (row: Campaign, changes: Changes) => targetOf(row, "campaign", row.id, changes);

/** Action name of the budget guard's pause, recorded as `system` beside the spend that caused it. */
export const BUDGET_PAUSE_ACTION = "campaigns.autoPause";

export class CampaignStore {
  constructor(private readonly db: Db) {}

  private byId(actor: Actor, id: string): SQL {
    return actor === SYSTEM ? eq(campaigns.id, id) : and(eq(campaigns.id, id), visibleTo(actor, campaigns))!;
  }

  /**
   * Creates a draft campaign and its audit record in one transaction. With an idempotency key, the owner's
   * campaign made earlier with the same key is returned instead (`created: false`) and nothing is written.
   */
  async create(user: AuthUser, input: CampaignInput, audit: AuditContext, idempotencyKey?: string): Promise<CreatedCampaign> {
    return this.db.transaction(async (tx) => {
      const row = await this.insertCampaign(tx, user, input, idempotencyKey);
      if (!row) return { campaign: await this.byIdempotencyKey(tx, user, idempotencyKey!), created: false };
      await recordAudit(tx, audit, campaignEntry(row, diff(undefined, row)));
      return { campaign: row, created: true };
    });
  }

  /** The new row, or undefined when the owner already has a campaign with this idempotency key. */
  private async insertCampaign(db: Executor, user: AuthUser, input: CampaignInput, idempotencyKey?: string): Promise<Campaign | undefined> {
    // Timestamps come from JS (millisecond precision) so they round-trip exactly through cursors.
    const now = new Date();
    const insert = db
      .insert(campaigns)
      .values({ ...input, id: crypto.randomUUID(), ...ownership(user), status: "draft", idempotencyKey: idempotencyKey ?? null, createdAt: now, updatedAt: now });
    // Racing requests with one key: the unique index (owner_id, idempotency_key) lets one insert win; the
    // others wait for it to commit, insert nothing, and read the winner's row.
    const [row] = await (idempotencyKey ? insert.onConflictDoNothing({ target: [campaigns.ownerId, campaigns.idempotencyKey] }) : insert).returning();
    return row;
  }

  private async byIdempotencyKey(db: Executor, user: AuthUser, idempotencyKey: string): Promise<Campaign> {
    const [row] = await db.select().from(campaigns).where(and(eq(campaigns.ownerId, user.id), eq(campaigns.idempotencyKey, idempotencyKey)));
    return row;
  }

  async get(actor: Actor, id: string): Promise<Campaign | undefined> {
    const [row] = await this.db.select().from(campaigns).where(this.byId(actor, id));
    return row;
  }

  /** Changes the given fields; the row is locked first so the audit record's `from` values are exact. */
  async update(user: AuthUser, id: string, patch: CampaignPatch, audit: AuditContext): Promise<Campaign | undefined> {
    return this.db.transaction(async (tx) => {
      const [before] = await tx.select().from(campaigns).where(this.byId(user, id)).for("update");
      if (!before) return undefined;
      const [row] = await tx
        .update(campaigns)
        .set({ ...patch, updatedAt: new Date() })
        .where(eq(campaigns.id, id))
        .returning();
      await recordAudit(tx, audit, campaignEntry(row, diff(before, row)));
      return row;
    });
  }

  async remove(user: AuthUser, id: string, audit: AuditContext): Promise<Campaign | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.delete(campaigns).where(this.byId(user, id)).returning();
      if (row) await recordAudit(tx, audit, campaignEntry(row, diff(row, undefined)));
      return row;
    });
  }

  async list(user: AuthUser, filters: CampaignFilters, page: PageRequest<CampaignSort>): Promise<Page<Campaign>> {
    const col = SORT_COLUMNS[page.sort];
    const where: (SQL | undefined)[] = [visibleTo(user, campaigns)];
    if (filters.status?.length) where.push(inArray(campaigns.status, filters.status));
    if (filters.type?.length) where.push(inArray(campaigns.type, filters.type));
    if (filters.platform) where.push(arrayContains(campaigns.platforms, [filters.platform]));
    if (filters.q) where.push(ilike(campaigns.name, likePattern(filters.q)));
    if (filters.createdFrom) where.push(gte(campaigns.createdAt, filters.createdFrom));
    if (filters.createdTo) where.push(lte(campaigns.createdAt, filters.createdTo));
    if (page.cursor) {
      const c = decodeCursor(page.cursor, page.sort, page.order);
      const value = col === campaigns.createdAt || col === campaigns.updatedAt ? new Date(c.v) : c.v;
      where.push(afterCursor(col, campaigns.id, page.order, value, c.id));
    }
    const direction = page.order === "asc" ? asc : desc;
    const rows = await this.db
      .select()
      .from(campaigns)
      .where(and(...where))
      .orderBy(direction(col), direction(campaigns.id))
      .limit(page.limit + 1);
    return toPage(rows, page, (row) => {
      const v = row[page.sort];
      return v instanceof Date ? v.toISOString() : (v as string | number);
    });
  }

  /**
   * Applies a lifecycle action to the row locked `FOR UPDATE`, so of two racing requests the second sees
   * the first's status. Unknown/invisible id → undefined; wrong state → 409 naming the state (nothing
   * changed, nothing recorded).
   */
  async transition(actor: Actor, id: string, action: LifecycleAction, set: Partial<NewCampaignRow>, audit: AuditContext): Promise<Campaign | undefined> {
    const { from, to } = TRANSITIONS[action];
    return this.db.transaction(async (tx) => {
      const [before] = await tx.select().from(campaigns).where(this.byId(actor, id)).for("update");
      if (!before) return undefined;
      if (!from.includes(before.status)) throw illegalTransition(action, before.status);
      const [row] = await tx
        .update(campaigns)
        .set({ ...set, status: to, updatedAt: new Date() })
        .where(eq(campaigns.id, id))
        .returning();
      await recordAudit(tx, audit, campaignEntry(row, diff(before, row)));
      return row;
    });
  }

  /** Other scheduled campaigns of the same owner sharing a platform within ±window of `at`. */
  async scheduleConflicts(campaign: Campaign, at: Date, windowMs: number): Promise<ScheduleConflict[]> {
    if (!campaign.platforms.length) return [];
    const rows = await this.db
      .select({ id: campaigns.id, name: campaigns.name, scheduledFor: campaigns.scheduledFor, platforms: campaigns.platforms })
      .from(campaigns)
      .where(
        and(
          eq(campaigns.ownerId, campaign.ownerId),
          ne(campaigns.id, campaign.id),
          eq(campaigns.status, "scheduled"),
          between(campaigns.scheduledFor, new Date(at.getTime() - windowMs), new Date(at.getTime() + windowMs)),
          arrayOverlaps(campaigns.platforms, campaign.platforms),
        ),
      )
      .orderBy(asc(campaigns.scheduledFor));
    return rows.map((r) => ({ ...r, scheduledFor: r.scheduledFor!, platforms: r.platforms.filter((p) => campaign.platforms.includes(p)) }));
  }

  /**
   * Adds spend atomically (`spent = spent + amount`), once per event id, then pauses the campaign if the
   * budget is exhausted — a conditional UPDATE, so exactly one of many concurrent spends pauses it.
   * Audit: the spend under `audit`, the pause as `system` (the budget guard's doing); a replayed event id
   * changes nothing and records nothing.
   */
  async recordSpend(actor: Actor, id: string, amount: number, eventId: string | undefined, audit: AuditContext): Promise<SpendResult | undefined> {
    return this.db.transaction(async (tx) => {
      const [target] = await tx.select().from(campaigns).where(this.byId(actor, id));
      if (!target) return undefined;
      if (eventId) {
        const inserted = await tx.insert(campaignSpendEvents).values({ campaignId: id, eventId, amount }).onConflictDoNothing().returning();
        if (!inserted.length) {
          const [campaign] = await tx.select().from(campaigns).where(eq(campaigns.id, id));
          return { campaign, applied: false, pausedForBudget: false, crossedOverspend: false };
        }
      }
      const [updated] = await tx
        .update(campaigns)
        .set({ spent: sql`${campaigns.spent} + ${amount}`, updatedAt: new Date() })
        .where(eq(campaigns.id, id))
        .returning();
      const previous = updated.spent - amount;
      const budget = updated.budget;
      const crossedOverspend = budget != null && previous <= budget * 1.1 && updated.spent > budget * 1.1;
      const [paused] = await tx
        .update(campaigns)
        .set({ status: "paused", statusReason: "budget_exhausted", pausedAt: new Date(), updatedAt: new Date() })
        .where(and(eq(campaigns.id, id), eq(campaigns.status, "active"), sql`${campaigns.budget} IS NOT NULL`, gte(campaigns.spent, campaigns.budget)))
        .returning();
      await recordAudit(tx, audit, campaignEntry(updated, { spent: { from: previous, to: updated.spent }, ...(eventId ? { eventId: { to: eventId } } : {}) }));
      if (paused) await recordAudit(tx, systemAudit(BUDGET_PAUSE_ACTION, audit.requestId), campaignEntry(paused, diff(updated, paused)));
      return { campaign: paused ?? updated, applied: true, pausedForBudget: Boolean(paused), crossedOverspend };
    });
  }

  /**
   * Counts a launch in the owner's current one-minute window (shared by every node) and returns the
   * count including this one.
   */
  async countLaunch(ownerId: string, windowStart: Date): Promise<number> {
    const [row] = await this.db
      .insert(launchWindows)
      .values({ ownerId, windowStart, launches: 1 })
      .onConflictDoUpdate({ target: [launchWindows.ownerId, launchWindows.windowStart], set: { launches: sql`${launchWindows.launches} + 1` } })
      .returning({ launches: launchWindows.launches });
    return row.launches;
  }

  async forgetLaunchWindowsBefore(before: Date): Promise<void> {
    await this.db.delete(launchWindows).where(lt(launchWindows.windowStart, before));
  }

  // ---- templates -------------------------------------------------------------------------------

  /** Inserts the library, or refreshes its text; usage and performance figures are kept. */
  async seedTemplates(library: readonly SystemTemplate[]): Promise<void> {
    for (const t of library) {
      await this.db
        .insert(campaignTemplates)
        .values({ ...t, ownerId: null, teamId: null })
        .onConflictDoUpdate({
          target: campaignTemplates.id,
          set: { name: t.name, description: t.description, niche: t.niche, type: t.type, content: t.content, defaultSettings: t.defaultSettings },
        });
    }
  }

  private templateVisibleTo(user: AuthUser): SQL {
    return or(isNull(campaignTemplates.ownerId), visibleTo(user, campaignTemplates))!;
  }

  async listTemplates(user: AuthUser, filters: { niche?: TemplateNiche; type?: CampaignType }): Promise<Template[]> {
    const where: SQL[] = [this.templateVisibleTo(user)];
    if (filters.niche) where.push(eq(campaignTemplates.niche, filters.niche));
    if (filters.type) where.push(eq(campaignTemplates.type, filters.type));
    return this.db
      .select()
      .from(campaignTemplates)
      .where(and(...where))
      .orderBy(asc(campaignTemplates.niche), asc(campaignTemplates.name));
  }

  async getTemplate(user: AuthUser, id: string): Promise<Template | undefined> {
    const [row] = await this.db.select().from(campaignTemplates).where(and(eq(campaignTemplates.id, id), this.templateVisibleTo(user)));
    return row;
  }

  /** Creates the campaign, counts the template's use and records the creation in one transaction. */
  /** Like `create`, and counts the template's use (only when a campaign was made). */
  async createFromTemplate(user: AuthUser, templateId: string, input: CampaignInput, audit: AuditContext, idempotencyKey?: string): Promise<CreatedCampaign> {
    return this.db.transaction(async (tx) => {
      const campaign = await this.insertCampaign(tx, user, { ...input, templateId }, idempotencyKey);
      if (!campaign) return { campaign: await this.byIdempotencyKey(tx, user, idempotencyKey!), created: false };
      await recordAudit(tx, audit, campaignEntry(campaign, diff(undefined, campaign)));
      await tx
        .update(campaignTemplates)
        .set({ usageCount: sql`${campaignTemplates.usageCount} + 1` })
        .where(eq(campaignTemplates.id, templateId));
      return { campaign, created: true };
    });
  }

  async saveTemplate(user: AuthUser, from: Campaign, name: string, niche: TemplateNiche, audit: AuditContext): Promise<Template> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(campaignTemplates)
        .values({
          id: crypto.randomUUID(),
          ...ownership(user),
          name,
          description: from.description,
          niche,
          type: from.type,
          content: from.content,
          defaultSettings: { goals: from.goals, platforms: from.platforms, budget: from.budget ?? undefined },
        })
        .returning();
      await recordAudit(tx, audit, targetOf({ ownerId: row.ownerId!, teamId: row.teamId }, "campaign_template", row.id, { ...diff(undefined, row), savedFrom: { to: from.id } }));
      return row;
    });
  }

  /** Folds one completed campaign's ROI into the template's running average. */
  async recordTemplatePerformance(templateId: string, roi: number): Promise<void> {
    await this.db
      .update(campaignTemplates)
      .set({
        avgPerformance: sql`(COALESCE(${campaignTemplates.avgPerformance}, 0) * ${campaignTemplates.performanceSamples} + ${roi}) / (${campaignTemplates.performanceSamples} + 1)`,
        performanceSamples: sql`${campaignTemplates.performanceSamples} + 1`,
      })
      .where(eq(campaignTemplates.id, templateId));
  }
}
