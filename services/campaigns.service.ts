/**
 * Campaigns: CRUD, templates, the lifecycle (schedule → launch → pause/resume → complete/cancel) with a
 * durable scheduler, budget guard and duplication. Handlers stay thin: rules live in services/campaigns/.
 */
import type { Job } from "agenda";
import { Errors, type Context, type ServiceSchema, type ServiceSettingSchema } from "moleculer";
import { requireUser } from "../lib/access";
import type { AuthUser } from "../lib/auth";
import { ConflictError, NotFoundError, UnprocessableError } from "../lib/errors";
import { keyOf } from "../lib/cache-keys";
import { CacheCleanerMixin, JobsMixin, StoreMixin } from "../lib/mixins";
import { runtimeOf } from "../lib/runtime";
import { isServiceAvailable } from "../lib/service-registry";
import { Launcher, ownerOf, type CampaignLaunchResult } from "./campaigns/launcher";
import { brokerPublishingPort } from "./campaigns/publishing-port";
import { auditOf, systemAudit, systemMeta } from "./audit/context";
import {
  CAMPAIGN_STATUSES,
  CAMPAIGN_TYPES,
  PLATFORMS,
  TEMPLATE_NICHES,
  type CampaignStatus,
  type CampaignType,
  type Platform,
  type TemplateNiche,
} from "./campaigns/schema";
import { CAMPAIGN_SORTS, CampaignStore, SYSTEM, type Actor, type Campaign, type CampaignInput, type CampaignSort, type SpendResult } from "./campaigns/store";
import { fillTemplate, SYSTEM_TEMPLATES } from "./campaigns/templates";
import "../lib/schema-types";

/** Fields a client may set on a campaign; the same rules serve create (name/type required) and update. */
const campaignFields = {
  name: { type: "string", trim: true, min: 1, max: 200 },
  description: { type: "string", max: 5000, optional: true, nullable: true },
  type: { type: "enum", values: CAMPAIGN_TYPES },
  platforms: { type: "array", items: { type: "enum", values: PLATFORMS }, unique: true, optional: true },
  segmentIds: { type: "array", items: { type: "string", min: 1, max: 100 }, max: 100, unique: true, optional: true },
  content: { type: "object", maxProps: 100, optional: true },
  mediaUrls: { type: "array", items: { type: "url" }, max: 50, optional: true },
  budget: { type: "number", min: 0, max: 1e12, optional: true, nullable: true },
  goals: { type: "record", key: { type: "string", max: 50 }, value: { type: "number", min: 0 }, optional: true },
  isABTest: { type: "boolean", optional: true },
  templateId: { type: "string", max: 100, optional: true, nullable: true },
  abTestId: { type: "string", max: 100, optional: true, nullable: true },
} as const;

const optional = <T extends Record<string, object>>(fields: T) =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, { ...v, optional: true }])) as T;

const idParam = { id: { type: "string", min: 1, max: 100 } } as const;
/** REST may send it as the `Idempotency-Key` header instead (services/api.service.ts maps it here). */
const idempotencyParam = {
  idempotencyKey: { type: "string", min: 1, max: 200, pattern: /^[\x21-\x7e]+$/, optional: true, messages: { stringPattern: "printable ASCII without spaces" } },
} as const;
const IDEMPOTENCY_DESCRIPTION =
  "With `idempotencyKey` (or the `Idempotency-Key` header) the campaign is created at most once per key and owner: a repeat answers 200 with the campaign made first (header `Idempotent-Replayed: true`), whatever else the repeat says.";
const LAUNCH_JOB = "campaigns.launch-scheduled";
const PUBLISH_RETRY_JOB = "campaigns.publish-retry";
const HOUSEKEEPING_JOB = "campaigns.housekeeping";

type Methods = {
  cleanCache(id?: string): Promise<void>;
  cachedRead<T>(key: string, ttlSeconds: number, load: () => Promise<T>): Promise<T>;
  loadOr404(actor: Actor, id: string): Promise<Campaign>;
  lifecycle(ctx: Context, action: "pause" | "resume" | "complete" | "cancel", id: string, set?: Partial<Campaign>): Promise<Campaign>;
  afterLaunch(ctx: Context, result: CampaignLaunchResult): Promise<void>;
  afterSpend(ctx: Context, result: SpendResult): Promise<void>;
  unschedule(campaignId: string): Promise<void>;
  answerCreated(ctx: Context, campaign: Campaign, created: boolean): void;
  recordTemplatePerformance(ctx: Context, campaign: Campaign): Promise<void>;
};
type Vars = { store: CampaignStore; launcher: Launcher; agenda: import("agenda").Agenda };
type This = Methods & Vars & { broker: Context["broker"]; logger: Context["broker"]["logger"] };

/** Job handlers run as SYSTEM on behalf of the campaign's owner; each is idempotent. */
const jobs = {
  async [LAUNCH_JOB](this: unknown, job: Job) {
    const self = this as This;
    const { campaignId, scheduledFor } = job.attrs.data as { campaignId: string; scheduledFor: string };
    const campaign = await self.store.get(SYSTEM, campaignId);
    // A stale job (rescheduled, cancelled, launched by hand, deleted) does nothing.
    if (!campaign || campaign.status !== "scheduled" || campaign.scheduledFor?.toISOString() !== scheduledFor) return;
    const ctx = self.broker.ContextFactory.create(self.broker, null as never, {}, { meta: systemMeta(ownerOf(campaign)) });
    try {
      const result = await self.launcher.launch(ctx, SYSTEM, campaignId, auditOf(ctx, "campaigns.launch"));
      await self.afterLaunch(ctx, result);
    } catch (err) {
      // A launch the rules refuse (content, budget, a platform not connected) will not succeed on a retry:
      // the campaign stays scheduled and the owner is told why. Anything else fails the job for a retry.
      if (!(err instanceof Errors.MoleculerClientError)) throw err;
      ctx.emit("campaigns.launch.failed", { campaign, reason: err.message, problems: err.data });
    }
  },
  async [PUBLISH_RETRY_JOB](this: unknown, job: Job) {
    const self = this as This;
    const { campaignId } = job.attrs.data as { campaignId: string };
    const campaign = await self.store.get(SYSTEM, campaignId);
    if (!campaign || campaign.status !== "active") return;
    const ctx = self.broker.ContextFactory.create(self.broker, null as never, {}, { meta: systemMeta(ownerOf(campaign)) });
    const outcomes = await self.launcher.publish(ctx, campaign);
    // Still unreachable: fail the job so Agenda's backoff tries again.
    if (outcomes.some((o) => o.status === "pending_retry")) throw new Error("publisher still unavailable");
  },
  async [HOUSEKEEPING_JOB](this: unknown) {
    await (this as This).store.forgetLaunchWindowsBefore(new Date(Date.now() - 60 * 60_000));
  },
};

const CampaignsService: ServiceSchema<ServiceSettingSchema, Methods, Vars> = {
  name: "campaigns",
  settings: { rest: "/" },
  mixins: [StoreMixin((db) => new CampaignStore(db)), CacheCleanerMixin("campaigns"), JobsMixin(jobs)],

  actions: {
    create: {
      rest: "POST /campaigns",
      permission: "write",
      params: { $$strict: true, ...campaignFields, ...idempotencyParam },
      openapi: { summary: "Create a campaign (status draft)", description: IDEMPOTENCY_DESCRIPTION, tags: ["campaigns"], status: 201 },
      async handler(ctx: Context<CampaignInput & { idempotencyKey?: string }>) {
        const { idempotencyKey, ...input } = ctx.params;
        const { campaign, created } = await this.store.create(requireUser(ctx), input, auditOf(ctx), idempotencyKey);
        this.answerCreated(ctx, campaign, created);
        if (created) ctx.emit("campaigns.campaign.created", { campaign });
        return campaign;
      },
    },

    get: {
      rest: "GET /campaigns/:id",
      params: { $$strict: true, ...idParam },
      openapi: { summary: "Get a campaign", tags: ["campaigns"] },
      async handler(ctx: Context<{ id: string }>) {
        const user = requireUser(ctx);
        // Keyed id first so a write cleans every user's entry for the campaign (`cleanPattern("campaigns", id)`).
        const key = keyOf("campaigns.get", ctx.params.id, user.id, user.teamId, user.role);
        return this.cachedRead(key, 60, () => this.loadOr404(user, ctx.params.id));
      },
    },

    update: {
      rest: ["PUT /campaigns/:id", "PATCH /campaigns/:id"],
      permission: "write",
      params: { $$strict: true, ...idParam, ...optional(campaignFields), content: { ...campaignFields.content } },
      openapi: { summary: "Change a campaign's fields (only those given); status changes go through the lifecycle routes", tags: ["campaigns"] },
      async handler(ctx: Context<{ id: string } & Partial<CampaignInput>>) {
        const { id, ...patch } = ctx.params;
        const campaign = await this.store.update(requireUser(ctx), id, patch, auditOf(ctx));
        if (!campaign) throw new NotFoundError("campaign", id);
        await this.cleanCache(id);
        ctx.emit("campaigns.campaign.updated", { campaign, changed: Object.keys(patch) });
        return campaign;
      },
    },

    remove: {
      rest: "DELETE /campaigns/:id",
      permission: "write",
      params: { $$strict: true, ...idParam },
      openapi: { summary: "Delete a campaign", tags: ["campaigns"] },
      async handler(ctx: Context<{ id: string }>) {
        const campaign = await this.store.remove(requireUser(ctx), ctx.params.id, auditOf(ctx));
        if (!campaign) throw new NotFoundError("campaign", ctx.params.id);
        await this.unschedule(campaign.id);
        await this.cleanCache(campaign.id);
        ctx.emit("campaigns.campaign.deleted", { id: campaign.id, ownerId: campaign.ownerId });
        return { id: campaign.id, deleted: true };
      },
    },

    list: {
      rest: "GET /campaigns",
      params: {
        $$strict: true,
        status: { type: "array", items: { type: "enum", values: CAMPAIGN_STATUSES }, convert: true, optional: true },
        type: { type: "array", items: { type: "enum", values: CAMPAIGN_TYPES }, convert: true, optional: true },
        platform: { type: "enum", values: PLATFORMS, optional: true },
        q: { type: "string", trim: true, min: 1, max: 200, optional: true },
        createdFrom: { type: "date", convert: true, optional: true },
        createdTo: { type: "date", convert: true, optional: true },
        sort: { type: "enum", values: CAMPAIGN_SORTS, default: "createdAt" },
        order: { type: "enum", values: ["asc", "desc"], default: "desc" },
        limit: { type: "number", integer: true, min: 1, max: 100, convert: true, default: 20 },
        cursor: { type: "string", max: 1000, optional: true },
      },
      openapi: { summary: "List campaigns with filters, sorting and cursor pagination", tags: ["campaigns"] },
      async handler(ctx: Context<Record<string, unknown>>) {
        const p = ctx.params as {
          status?: CampaignStatus[];
          type?: CampaignType[];
          platform?: Platform;
          q?: string;
          createdFrom?: Date;
          createdTo?: Date;
          sort: CampaignSort;
          order: "asc" | "desc";
          limit: number;
          cursor?: string;
        };
        return this.store.list(
          requireUser(ctx),
          { status: p.status, type: p.type, platform: p.platform, q: p.q, createdFrom: p.createdFrom, createdTo: p.createdTo },
          { sort: p.sort, order: p.order, limit: p.limit, cursor: p.cursor },
        );
      },
    },

    // ---- lifecycle -------------------------------------------------------------------------------

    schedule: {
      rest: "POST /campaigns/:id/schedule",
      permission: "write",
      params: { $$strict: true, ...idParam, scheduledFor: { type: "date", convert: true } },
      openapi: {
        summary: "Schedule (or reschedule) the launch; answers with any scheduling conflicts",
        description: "Conflicts: other scheduled campaigns of the same owner on a shared platform within the conflict window. They do not stop scheduling; they are reported and emitted as `campaigns.schedule.conflict`.",
        tags: ["campaigns lifecycle"],
      },
      async handler(ctx: Context<{ id: string; scheduledFor: Date }>) {
        const { id, scheduledFor } = ctx.params;
        if (scheduledFor.getTime() <= Date.now()) {
          throw new UnprocessableError("scheduledFor must be in the future", [{ field: "scheduledFor", message: "must be in the future", type: "dateMin" }]);
        }
        const campaign = await this.store.transition(requireUser(ctx), id, "schedule", { scheduledFor }, auditOf(ctx));
        if (!campaign) throw new NotFoundError("campaign", id);
        // Replace any earlier job; a job that escapes cancellation is stale and does nothing.
        await this.unschedule(id);
        await this.agenda.schedule(scheduledFor, LAUNCH_JOB, { campaignId: id, scheduledFor: scheduledFor.toISOString() });
        const windowMs = runtimeOf(this.broker).config.scheduleConflictWindowMinutes * 60_000;
        const conflicts = await this.store.scheduleConflicts(campaign, scheduledFor, windowMs);
        await this.cleanCache(id);
        ctx.emit("campaigns.campaign.scheduled", { campaign });
        if (conflicts.length) ctx.emit("campaigns.schedule.conflict", { campaign, conflicts });
        return { campaign, conflicts };
      },
    },

    launch: {
      rest: "POST /campaigns/:id/launch",
      permission: "write",
      params: { $$strict: true, ...idParam },
      openapi: {
        summary: "Launch now: validates content and budget, marks the campaign active and publishes to every platform",
        description: "Throttled per owner (LAUNCHES_PER_MINUTE); beyond → 429 with Retry-After.",
        tags: ["campaigns lifecycle"],
      },
      async handler(ctx: Context<{ id: string }>) {
        const result = await this.launcher.launch(ctx, requireUser(ctx), ctx.params.id, auditOf(ctx));
        await this.unschedule(ctx.params.id);
        await this.afterLaunch(ctx, result);
        return result;
      },
    },

    pause: {
      rest: "POST /campaigns/:id/pause",
      permission: "write",
      params: { $$strict: true, ...idParam, reason: { type: "string", max: 200, optional: true } },
      openapi: { summary: "Pause an active campaign", tags: ["campaigns lifecycle"] },
      async handler(ctx: Context<{ id: string; reason?: string }>) {
        return this.lifecycle(ctx, "pause", ctx.params.id, { pausedAt: new Date(), statusReason: ctx.params.reason ?? "paused_by_user" });
      },
    },

    resume: {
      rest: "POST /campaigns/:id/resume",
      permission: "write",
      params: { $$strict: true, ...idParam },
      openapi: { summary: "Resume a paused campaign (refused while its budget is exhausted)", tags: ["campaigns lifecycle"] },
      async handler(ctx: Context<{ id: string }>) {
        const campaign = await this.loadOr404(requireUser(ctx), ctx.params.id);
        if (campaign.budget != null && campaign.spent >= campaign.budget) {
          throw new ConflictError(`The budget is exhausted (spent ${campaign.spent} of ${campaign.budget}); raise it before resuming`, {
            currentStatus: campaign.status,
            spent: campaign.spent,
            budget: campaign.budget,
          }, "BUDGET_EXHAUSTED");
        }
        return this.lifecycle(ctx, "resume", ctx.params.id, { pausedAt: null, statusReason: null });
      },
    },

    complete: {
      rest: "POST /campaigns/:id/complete",
      permission: "write",
      params: { $$strict: true, ...idParam },
      openapi: { summary: "Complete an active or paused campaign", tags: ["campaigns lifecycle"] },
      async handler(ctx: Context<{ id: string }>) {
        const campaign = await this.lifecycle(ctx, "complete", ctx.params.id, { completedAt: new Date() });
        await this.recordTemplatePerformance(ctx, campaign);
        return campaign;
      },
    },

    cancel: {
      rest: "POST /campaigns/:id/cancel",
      permission: "write",
      params: { $$strict: true, ...idParam },
      openapi: { summary: "Cancel a campaign (removes a pending scheduled launch)", tags: ["campaigns lifecycle"] },
      async handler(ctx: Context<{ id: string }>) {
        const campaign = await this.lifecycle(ctx, "cancel", ctx.params.id, { cancelledAt: new Date() });
        await this.unschedule(campaign.id);
        return campaign;
      },
    },

    // ---- budget ----------------------------------------------------------------------------------

    recordSpend: {
      rest: "POST /campaigns/:id/spend",
      permission: "write",
      params: {
        $$strict: true,
        ...idParam,
        amount: { type: "number", positive: true, max: 1e9 },
        eventId: { type: "string", min: 1, max: 200, optional: true },
      },
      openapi: {
        summary: "Add spend to a campaign (atomic; once per eventId). Pauses the campaign when the budget is exhausted.",
        tags: ["campaigns budget"],
      },
      async handler(ctx: Context<{ id: string; amount: number; eventId?: string }>) {
        const { id, amount, eventId } = ctx.params;
        const result = await this.store.recordSpend(requireUser(ctx), id, amount, eventId, auditOf(ctx));
        if (!result) throw new NotFoundError("campaign", id);
        await this.afterSpend(ctx, result);
        return { campaign: result.campaign, applied: result.applied };
      },
    },

    // ---- duplication -----------------------------------------------------------------------------

    duplicate: {
      rest: "POST /campaigns/:id/duplicate",
      permission: "write",
      params: { $$strict: true, ...idParam, ...optional(campaignFields) },
      openapi: { summary: "Copy a campaign as a new draft (no schedule, no spend); given fields override the copy", tags: ["campaigns"], status: 201 },
      async handler(ctx: Context<{ id: string } & Partial<CampaignInput>>) {
        const user = requireUser(ctx);
        const { id, ...modifications } = ctx.params;
        const source = await this.loadOr404(user, id);
        const { campaign: copy } = await this.store.create(user, {
          name: `${source.name} (copy)`,
          description: source.description,
          type: source.type,
          platforms: source.platforms,
          segmentIds: source.segmentIds,
          content: source.content,
          mediaUrls: source.mediaUrls,
          budget: source.budget,
          goals: source.goals,
          isABTest: source.isABTest,
          templateId: source.templateId,
          ...modifications,
        }, auditOf(ctx));
        // A/B configuration comes along as a fresh test (no results) when the A/B service runs.
        if (source.isABTest && isServiceAvailable(this.broker, "abtests")) {
          await ctx.call("abtests.copyForCampaign", { fromCampaignId: source.id, toCampaignId: copy.id }, { meta: ctx.meta });
        }
        ctx.emit("campaigns.campaign.created", { campaign: copy, duplicatedFrom: source.id });
        Object.assign(ctx.meta, { $statusCode: 201, $location: `/api/campaigns/${copy.id}` });
        return copy;
      },
    },

    // ---- templates -------------------------------------------------------------------------------

    listTemplates: {
      rest: "GET /templates",
      params: {
        $$strict: true,
        niche: { type: "enum", values: TEMPLATE_NICHES, optional: true },
        type: { type: "enum", values: CAMPAIGN_TYPES, optional: true },
      },
      cache: { keys: ["niche", "type", "#user.id", "#user.teamId"], ttl: 3600 },
      openapi: { summary: "The template library (system templates and your saved ones), by niche and type", tags: ["templates"] },
      async handler(ctx: Context<{ niche?: TemplateNiche; type?: CampaignType }>) {
        return this.store.listTemplates(requireUser(ctx), ctx.params);
      },
    },

    createFromTemplate: {
      rest: "POST /templates/:id/campaigns",
      permission: "write",
      params: {
        $$strict: true,
        ...idParam,
        name: { type: "string", trim: true, min: 1, max: 200, optional: true },
        variables: { type: "record", key: { type: "string", max: 60 }, value: { type: "multi", rules: [{ type: "string", max: 500 }, { type: "number" }] }, optional: true },
        discount: { type: "number", min: 0, max: 0.9, optional: true },
        platforms: campaignFields.platforms,
        segmentIds: campaignFields.segmentIds,
        mediaUrls: campaignFields.mediaUrls,
        budget: campaignFields.budget,
        goals: campaignFields.goals,
        content: campaignFields.content,
        ...idempotencyParam,
      },
      openapi: {
        summary: "Create a draft campaign from a template, filling its placeholders ([Game Name] or {{gameName}})",
        description: `A missing placeholder value is a 422 naming \`customization.variables.<name>\`. \`discount\` (0–0.9) lowers the price and fills {{discountPercent}}. ${IDEMPOTENCY_DESCRIPTION}`,
        tags: ["templates"],
        status: 201,
      },
      async handler(ctx: Context<{ id: string; name?: string; variables?: Record<string, string | number>; discount?: number; content?: Record<string, unknown>; idempotencyKey?: string } & Partial<CampaignInput>>) {
        const user = requireUser(ctx);
        const { id, name, variables, discount, content: overrides, idempotencyKey, ...rest } = ctx.params;
        const template = await this.store.getTemplate(user, id);
        if (!template) throw new NotFoundError("template", id);
        const content = fillTemplate({ ...template.content, ...overrides }, variables, discount);
        const settings = template.defaultSettings;
        const { campaign, created } = await this.store.createFromTemplate(user, template.id, {
          name: name ?? template.name,
          description: template.description,
          type: template.type,
          content,
          goals: settings.goals ?? {},
          platforms: settings.platforms,
          budget: settings.budget,
          ...rest,
        }, auditOf(ctx), idempotencyKey);
        this.answerCreated(ctx, campaign, created);
        if (created) {
          await this.cleanCache();
          ctx.emit("campaigns.campaign.created", { campaign, templateId: template.id });
        }
        return campaign;
      },
    },

    saveAsTemplate: {
      rest: "POST /campaigns/:id/save-as-template",
      permission: "write",
      params: { $$strict: true, ...idParam, name: { type: "string", trim: true, min: 1, max: 200 }, niche: { type: "enum", values: TEMPLATE_NICHES, default: "general" } },
      openapi: { summary: "Save a campaign's content and settings as one of your templates", tags: ["templates"], status: 201 },
      async handler(ctx: Context<{ id: string; name: string; niche: TemplateNiche }>) {
        const user = requireUser(ctx);
        const campaign = await this.loadOr404(user, ctx.params.id);
        const template = await this.store.saveTemplate(user, campaign, ctx.params.name, ctx.params.niche, auditOf(ctx));
        await this.cleanCache();
        Object.assign(ctx.meta, { $statusCode: 201, $location: `/api/templates?niche=${template.niche}` });
        return template;
      },
    },
  },

  events: {
    /** Spend reported by analytics: applied once per event id, on the owner's behalf. */
    "analytics.spend.recorded": {
      async handler(ctx: Context<{ campaignId: string; amount?: number; value?: number; eventId: string }>) {
        const self = this as unknown as This;
        const amount = ctx.params.amount ?? ctx.params.value;
        if (!ctx.params.campaignId || !amount || amount <= 0) return;
        const result = await self.store.recordSpend(SYSTEM, ctx.params.campaignId, amount, ctx.params.eventId, systemAudit("campaigns.recordSpend", ctx.requestID));
        if (result?.applied) await self.afterSpend(ctx, result);
      },
    },
  },

  methods: {
    async loadOr404(actor: Actor, id: string) {
      const campaign = await this.store.get(actor, id);
      if (!campaign) throw new NotFoundError("campaign", id);
      return campaign;
    },

    async lifecycle(ctx: Context, action: "pause" | "resume" | "complete" | "cancel", id: string, set: Partial<Campaign> = {}) {
      const campaign = await this.store.transition(requireUser(ctx), id, action, set, auditOf(ctx));
      if (!campaign) throw new NotFoundError("campaign", id);
      await this.cleanCache(id);
      const verb = { pause: "paused", resume: "resumed", complete: "completed", cancel: "cancelled" }[action];
      ctx.emit(`campaigns.campaign.${verb}`, { campaign });
      return campaign;
    },

    async afterLaunch(ctx: Context, result: CampaignLaunchResult) {
      await this.cleanCache(result.campaign.id);
      if (result.outcomes.some((o) => o.status === "pending_retry")) {
        await this.agenda.schedule("in 30 seconds", PUBLISH_RETRY_JOB, { campaignId: result.campaign.id });
      }
      ctx.emit("campaigns.campaign.launched", { campaign: result.campaign, outcomes: result.outcomes });
    },

    /** Cache and events after spend: the budget guard's pause and the overspend alarm each fire once. */
    async afterSpend(ctx: Context, result: SpendResult) {
      if (!result.applied) return;
      const { campaign } = result;
      await this.cleanCache(campaign.id);
      if (result.pausedForBudget) {
        ctx.emit("campaigns.campaign.paused", { campaign, reason: "budget_exhausted" });
        ctx.emit("campaigns.budget.exhausted", { campaign });
      }
      if (result.crossedOverspend) ctx.emit("campaigns.budget.overspend", { campaign, ratio: campaign.spent / campaign.budget! });
    },

    async unschedule(campaignId: string) {
      await this.agenda.cancel({ name: LAUNCH_JOB, data: { campaignId } });
    },

    /** 201 with its location for a new campaign; 200 marked as a replay when an idempotency key matched. */
    answerCreated(ctx: Context, campaign: Campaign, created: boolean) {
      if (created) Object.assign(ctx.meta, { $statusCode: 201, $location: `/api/campaigns/${campaign.id}` });
      else Object.assign(ctx.meta, { $responseHeaders: { "Idempotent-Replayed": "true" } });
    },

    /** Folds a completed campaign's ROI into its template's average, when analytics can tell it. */
    async recordTemplatePerformance(ctx: Context, campaign: Campaign) {
      if (!campaign.templateId || !isServiceAvailable(this.broker, "analytics")) return;
      try {
        const roi = await ctx.call<{ roi: number | null }, { id: string }>("analytics.getCampaignROI", { id: campaign.id }, { meta: { user: ownerOf(campaign) } });
        if (typeof roi?.roi === "number" && Number.isFinite(roi.roi)) {
          await this.store.recordTemplatePerformance(campaign.templateId, roi.roi);
          await this.cleanCache();
        }
      } catch (err) {
        this.logger.warn(`template performance for campaign ${campaign.id} not recorded: ${(err as Error).message}`);
      }
    },
  },

  async started() {
    const { config } = runtimeOf(this.broker);
    this.launcher = new Launcher(this.store, brokerPublishingPort, config.launchesPerMinute);
    await this.store.seedTemplates(SYSTEM_TEMPLATES);
    await this.agenda.every("1 hour", HOUSEKEEPING_JOB);
  },
};

export type { Campaign, AuthUser };
export default CampaignsService;
