/**
 * Automation: durable workflows (trigger → conditions → action tree with waits and branches) run for
 * fans. Definitions, cycle checks and the executor live in services/automation/; this file wires
 * actions, bus events and Agenda jobs to them.
 */
import type { Job } from "agenda";
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { requireUser } from "../lib/access";
import { auditOf, systemMeta, type AuditContext } from "./audit/context";
import type { AuthUser } from "../lib/auth";
import { loadAutomationConfig, type AutomationConfig } from "../lib/config";
import { ConflictError, NotFoundError, TooManyRequestsError, UnprocessableError } from "../lib/errors";
import { JobsMixin, StoreMixin } from "../lib/mixins";
import { runtimeOf } from "../lib/runtime";
import { isServiceAvailable } from "../lib/service-registry";
import { findCycle } from "./automation/cycles";
import { validateWorkflow, type WorkflowDefinition } from "./automation/definition";
import { AutomationEngine, OffsetClock, type Fan } from "./automation/engine";
import { RUN_STATUSES, WORKFLOW_STATUSES, type RunStatus, type WorkflowStatus } from "./automation/schema";
import { firesAt, fireRunId, firstFire, nextFire } from "./automation/schedule";
import { AutomationStore, type FanEntries, type Run, type Workflow, type WorkflowInput } from "./automation/store";
import { MESSAGE_TEMPLATES, placeholders, renderTemplate, TEMPLATE_VARIABLES, WORKFLOW_TEMPLATES } from "./automation/templates";
import { personalization } from "./automation/engine";
import "../lib/schema-types";

const WAKE_JOB = "automation.wake";
const SWEEP_JOB = "automation.sweep";
const BEHAVIOR_JOB = "automation.behavior-scan";
const TIME_JOB = "automation.time-trigger";

const idParam = { id: { type: "string", min: 1, max: 100 } } as const;
/** The tree is checked by validateWorkflow, which names the bad path (`actions[5].ifTrue.template`). */
const definitionFields = {
  name: { type: "string", trim: true, min: 1, max: 200 },
  description: { type: "string", max: 5000, optional: true, nullable: true },
  trigger: { type: "object" },
  conditions: { type: "array", max: 20, optional: true },
  actions: { type: "array", min: 1, max: 100 },
  settings: { type: "object", optional: true },
} as const;
const pageParams = {
  order: { type: "enum", values: ["asc", "desc"], default: "desc" },
  limit: { type: "number", integer: true, min: 1, max: 100, convert: true, default: 20 },
  cursor: { type: "string", max: 1000, optional: true },
} as const;

/** Bus events that may start runs; payloads carry `ownerId` and a fan (`fanId` or `fans[]`). */
const TRIGGER_EVENTS = [
  "segmentation.fan.subscribed",
  "segmentation.fan.unsubscribed",
  "segmentation.fan.purchased",
  "segmentation.fan.active",
  "segmentation.segment.entered",
  "segmentation.segment.exited",
  "campaigns.campaign.created",
  "campaigns.campaign.launched",
  "campaigns.campaign.completed",
  "automation.event.received",
];

type Methods = {
  workflowOr404(user: AuthUser, id: string): Promise<Workflow>;
  startRun(
    workflow: Workflow,
    fanId: string | null,
    triggerData: Record<string, unknown>,
    opts?: { testMode?: boolean; limit?: boolean; skipEntryRules?: boolean; audit?: AuditContext; fireKey?: string },
  ): Promise<Run | null>;
  scheduleTimeTrigger(workflow: Workflow): Promise<void>;
  unscheduleTimeTrigger(workflowId: string): Promise<void>;
  fireTimeTrigger(workflowId: string, scheduledAt: Date): Promise<boolean>;
  fireDueTimeTriggers(): Promise<number>;
  saveFireJob(workflowId: string, fireAt: Date): Promise<void>;
  dispatch(event: string, ownerId: string, fans: (string | null)[], data: Record<string, unknown>): Promise<number>;
  resumeDue(limit: number): Promise<number>;
  scanBehavior(): Promise<number>;
  publicRun(run: Run): Record<string, unknown>;
};
type Vars = { store: AutomationStore; engine: AutomationEngine; clock: OffsetClock; config: AutomationConfig; agenda: import("agenda").Agenda };
type This = Methods & Vars & { broker: Context["broker"]; logger: Context["broker"]["logger"] };

/** Every job handler is idempotent: a run is claimed with a conditional UPDATE before it moves. */
const jobs = {
  async [WAKE_JOB](this: unknown, job: Job) {
    // Jobs may start before this service finished starting; the sweep picks the run up then.
    if (!(this as This).engine) throw new Error("automation engine not started yet");
    await (this as This).engine.resume((job.attrs.data as { runId: string }).runId);
  },
  async [SWEEP_JOB](this: unknown) {
    if (!(this as This).engine) return;
    await (this as This).fireDueTimeTriggers();
    await (this as This).resumeDue(500);
  },
  async [BEHAVIOR_JOB](this: unknown) {
    await (this as This).scanBehavior();
  },
  /** One fire of a time trigger (data: workflowId, fireAt); a cron trigger's job schedules the next fire. */
  async [TIME_JOB](this: unknown, job: Job) {
    const self = this as This;
    if (!self.engine) throw new Error("automation engine not started yet");
    const { workflowId, fireAt } = job.attrs.data as { workflowId: string; fireAt: string };
    await self.fireTimeTrigger(workflowId, new Date(fireAt));
  },
};

const AutomationService: ServiceSchema<ServiceSettingSchema, Methods, Vars> = {
  name: "automation",
  settings: { rest: "/" },
  dependencies: [],
  mixins: [StoreMixin((db) => new AutomationStore(db)), JobsMixin(jobs, { concurrency: 20 })],

  actions: {
    create: {
      rest: "POST /automations",
      permission: "write",
      params: { $$strict: true, ...definitionFields },
      openapi: { summary: "Create a workflow (status paused; activate it to start runs)", tags: ["automations"], status: 201 },
      async handler(ctx: Context<WorkflowInput>) {
        validateWorkflow(ctx.params);
        const workflow = await this.store.createWorkflow(requireUser(ctx), { ...ctx.params, conditions: ctx.params.conditions ?? [], settings: ctx.params.settings ?? {} }, auditOf(ctx));
        ctx.emit("automation.workflow.created", { workflow });
        Object.assign(ctx.meta, { $statusCode: 201, $location: `/api/automations/${workflow.id}` });
        return workflow;
      },
    },

    list: {
      rest: "GET /automations",
      params: { $$strict: true, status: { type: "enum", values: WORKFLOW_STATUSES, optional: true }, ...pageParams },
      openapi: { summary: "List workflows, newest first, cursor-paginated", tags: ["automations"] },
      handler(ctx: Context<{ status?: WorkflowStatus; order: "asc" | "desc"; limit: number; cursor?: string }>) {
        const { status, ...page } = ctx.params;
        return this.store.listWorkflows(requireUser(ctx), { status }, { sort: "createdAt", ...page });
      },
    },

    get: {
      rest: "GET /automations/:id",
      params: { $$strict: true, ...idParam },
      openapi: { summary: "Get a workflow with its counters", tags: ["automations"] },
      handler(ctx: Context<{ id: string }>) {
        return this.workflowOr404(requireUser(ctx), ctx.params.id);
      },
    },

    update: {
      rest: ["PUT /automations/:id", "PATCH /automations/:id"],
      permission: "write",
      params: {
        $$strict: true,
        ...idParam,
        ...Object.fromEntries(Object.entries(definitionFields).map(([k, v]) => [k, { ...v, optional: true }])),
        status: { type: "enum", values: ["paused", "archived"], optional: true },
      },
      openapi: { summary: "Change a workflow; an active one is re-checked for cycles. Status: use activate/deactivate (or archive here)", tags: ["automations"] },
      async handler(ctx: Context<{ id: string; status?: WorkflowStatus } & Partial<WorkflowInput>>) {
        const user = requireUser(ctx);
        const { id, ...patch } = ctx.params;
        const current = await this.workflowOr404(user, id);
        const merged: WorkflowDefinition = { trigger: current.trigger, conditions: current.conditions, actions: current.actions, settings: current.settings, ...patch };
        validateWorkflow(merged);
        if (current.status === "active" && patch.status === undefined) {
          const cycle = findCycle({ ...current, ...merged }, await this.store.activeWorkflowsOf(current.ownerId));
          if (cycle) throw new ConflictError(`The change would create a trigger cycle: ${cycle.join(" → ")}`, { cycle }, "WORKFLOW_CYCLE");
        }
        const workflow = (await this.store.updateWorkflow(user, id, patch, auditOf(ctx)))!;
        // A changed time trigger gets a new schedule; archiving stops it.
        if (workflow.status !== "active") await this.unscheduleTimeTrigger(workflow.id);
        else if (patch.trigger) {
          await this.unscheduleTimeTrigger(workflow.id);
          await this.scheduleTimeTrigger(workflow);
        }
        ctx.emit("automation.workflow.updated", { workflow, changed: Object.keys(patch) });
        return workflow;
      },
    },

    remove: {
      rest: "DELETE /automations/:id",
      permission: "write",
      params: { $$strict: true, ...idParam },
      openapi: { summary: "Delete a workflow; its unfinished runs are cancelled", tags: ["automations"] },
      async handler(ctx: Context<{ id: string }>) {
        const workflow = await this.store.removeWorkflow(requireUser(ctx), ctx.params.id, auditOf(ctx));
        if (!workflow) throw new NotFoundError("automation", ctx.params.id);
        await this.unscheduleTimeTrigger(workflow.id);
        ctx.emit("automation.workflow.deleted", { id: workflow.id, ownerId: workflow.ownerId });
        return { id: workflow.id, deleted: true };
      },
    },

    activate: {
      rest: "POST /automations/:id/activate",
      permission: "write",
      params: { $$strict: true, ...idParam },
      openapi: {
        summary: "Activate: refuses trigger cycles (409) and more than the active-workflow limit (429)",
        description: "A cycle is a workflow whose actions emit the event that triggers it, directly or through other active workflows.",
        tags: ["automations"],
      },
      async handler(ctx: Context<{ id: string }>) {
        const user = requireUser(ctx);
        const workflow = await this.workflowOr404(user, ctx.params.id);
        if (workflow.status === "active") return workflow;
        if ((await this.store.countActive(workflow.ownerId)) >= this.config.maxActiveWorkflows) {
          throw new TooManyRequestsError(`At most ${this.config.maxActiveWorkflows} workflows may be active`, 60);
        }
        const cycle = findCycle(workflow, await this.store.activeWorkflowsOf(workflow.ownerId));
        if (cycle) throw new ConflictError(`Activating would create a trigger cycle: ${cycle.join(" → ")}`, { cycle }, "WORKFLOW_CYCLE");
        let behaviorSegmentId = workflow.behaviorSegmentId;
        if (workflow.trigger.type === "behavior" && !behaviorSegmentId) {
          // Segmentation owns fan queries: it keeps a dynamic segment of the fans matching the condition.
          const segment = await ctx.call<{ id: string }, object>("segmentation.create", { name: `automation ${workflow.id}`, type: "dynamic", criteria: workflow.trigger.condition }, { meta: ctx.meta });
          behaviorSegmentId = segment.id;
        }
        const active = (await this.store.setStatus(user, workflow.id, "active", { behaviorSegmentId }, auditOf(ctx)))!;
        // After the status: a fire that is due at once (an `at` in the past) must find the workflow active.
        await this.scheduleTimeTrigger(active);
        ctx.emit("automation.workflow.activated", { workflow: active });
        return active;
      },
    },

    deactivate: {
      rest: "POST /automations/:id/deactivate",
      permission: "write",
      params: { $$strict: true, ...idParam, cancelRuns: { type: "boolean", default: false, convert: true } },
      openapi: { summary: "Stop new runs; unfinished runs finish, or are cancelled with cancelRuns=true", tags: ["automations"] },
      async handler(ctx: Context<{ id: string; cancelRuns: boolean }>) {
        const user = requireUser(ctx);
        await this.workflowOr404(user, ctx.params.id);
        const workflow = (await this.store.setStatus(user, ctx.params.id, "paused", {}, auditOf(ctx)))!;
        await this.unscheduleTimeTrigger(workflow.id);
        const cancelled = ctx.params.cancelRuns ? await this.store.cancelRunsOf(workflow.id, this.clock.now()) : 0;
        ctx.emit("automation.workflow.deactivated", { workflow, cancelledRuns: cancelled });
        return { ...workflow, cancelledRuns: cancelled };
      },
    },

    execute: {
      rest: "POST /automations/:id/execute",
      permission: "write",
      params: {
        $$strict: true,
        ...idParam,
        fanId: { type: "string", min: 1, max: 200, optional: true },
        data: { type: "object", maxProps: 50, optional: true },
        testMode: { type: "boolean", default: false, convert: true },
      },
      openapi: {
        summary: "Run the workflow now for a fan (any status). testMode: no external side effects, waits skipped; answers with the finished run",
        tags: ["automations"],
        status: 201,
      },
      async handler(ctx: Context<{ id: string; fanId?: string; data?: Record<string, unknown>; testMode: boolean }>) {
        const workflow = await this.workflowOr404(requireUser(ctx), ctx.params.id);
        const run = await this.startRun(workflow, ctx.params.fanId ?? null, { trigger: "manual", ...ctx.params.data }, { testMode: ctx.params.testMode, limit: true, skipEntryRules: true, audit: auditOf(ctx) });
        Object.assign(ctx.meta, { $statusCode: 201, $location: `/api/automations/${workflow.id}/executions` });
        return this.publicRun((await this.store.runById(run!.id))!);
      },
    },

    executions: {
      rest: "GET /automations/:id/executions",
      params: { $$strict: true, ...idParam, status: { type: "enum", values: RUN_STATUSES, optional: true }, ...pageParams },
      openapi: { summary: "Execution history (runs with each step's input, output, error and timing), cursor-paginated", tags: ["automations"] },
      async handler(ctx: Context<{ id: string; status?: RunStatus; order: "asc" | "desc"; limit: number; cursor?: string }>) {
        const { id, status, ...page } = ctx.params;
        await this.workflowOr404(requireUser(ctx), id);
        const result = await this.store.listRuns(id, { status }, { sort: "startedAt", ...page });
        return { items: result.items.map((r) => this.publicRun(r)), nextCursor: result.nextCursor };
      },
    },

    stats: {
      rest: "GET /automations/:id/stats",
      permission: "analytics",
      params: { $$strict: true, ...idParam },
      openapi: { summary: "Runs by status, success rate, p50/p95 duration (ms) and failures per step", tags: ["automations"] },
      async handler(ctx: Context<{ id: string }>) {
        const workflow = await this.workflowOr404(requireUser(ctx), ctx.params.id);
        const s = await this.store.runStats(workflow.id);
        const byStatus = Object.fromEntries(RUN_STATUSES.map((st) => [st, s.byStatus.find((b) => b.status === st)?.n ?? 0]));
        const finished = byStatus.success + byStatus.failure + byStatus.partial;
        return {
          automationId: workflow.id,
          total: s.byStatus.reduce((n, b) => n + b.n, 0),
          byStatus,
          successRate: finished ? byStatus.success / finished : null,
          durationMs: { p50: s.p50 === null ? null : Number(s.p50), p95: s.p95 === null ? null : Number(s.p95) },
          stepFailures: s.stepFailures,
        };
      },
    },

    ingestEvent: {
      rest: "POST /events",
      permission: "write",
      params: {
        $$strict: true,
        name: { type: "string", trim: true, min: 1, max: 100, pattern: /^[A-Za-z0-9_.:-]+$/ },
        fanId: { type: "string", min: 1, max: 200, optional: true },
        data: { type: "object", maxProps: 50, optional: true },
      },
      openapi: { summary: "A custom or behaviour event {name, fanId, data}; starts the active workflows it triggers", tags: ["automations"], status: 202 },
      async handler(ctx: Context<{ name: string; fanId?: string; data?: Record<string, unknown> }>) {
        const user = requireUser(ctx);
        const runs = await this.dispatch(ctx.params.name, user.id, [ctx.params.fanId ?? null], { event: ctx.params.name, ...ctx.params.data });
        Object.assign(ctx.meta, { $statusCode: 202 });
        return { accepted: true, name: ctx.params.name, runsStarted: runs };
      },
    },

    // ---- templates --------------------------------------------------------------------------------

    workflowTemplates: {
      rest: "GET /automation-templates",
      params: { $$strict: true },
      openapi: { summary: "Ready-made workflows (the seed's welcome series and win-back)", tags: ["automation templates"] },
      handler() {
        return { templates: WORKFLOW_TEMPLATES };
      },
    },

    installTemplate: {
      rest: "POST /automations/templates/:id/install",
      permission: "write",
      params: { $$strict: true, ...idParam, activate: { type: "boolean", default: false, convert: true } },
      openapi: { summary: "Create a workflow from a ready-made template in one call (optionally active)", tags: ["automation templates"], status: 201 },
      async handler(ctx: Context<{ id: string; activate: boolean }>) {
        const template = WORKFLOW_TEMPLATES.find((t) => t.id === ctx.params.id);
        if (!template) throw new NotFoundError("workflow template", ctx.params.id);
        const { id: templateId, ...definition } = template;
        let workflow = await ctx.call<Workflow, object>("automation.create", structuredClone(definition), { meta: ctx.meta });
        await this.store.updateWorkflow(requireUser(ctx), workflow.id, { templateId }, auditOf(ctx));
        if (ctx.params.activate) workflow = await ctx.call<Workflow, object>("automation.activate", { id: workflow.id }, { meta: ctx.meta });
        Object.assign(ctx.meta, { $statusCode: 201, $location: `/api/automations/${workflow.id}` });
        return { ...workflow, templateId };
      },
    },

    messageTemplates: {
      rest: "GET /message-templates",
      params: { $$strict: true },
      openapi: { summary: "Message templates (the owner's edited copies over the built-in ones) and the variables they may use", tags: ["automation templates"] },
      async handler(ctx: Context) {
        const own = await this.store.messageTemplateOverrides(requireUser(ctx).id);
        const all = [...MESSAGE_TEMPLATES.filter((t) => !own.some((o) => o.id === t.id)).map((t) => ({ ...t, custom: false })), ...own.map((o) => ({ id: o.id, name: o.name, text: o.text, mediaUrls: o.mediaUrls, custom: true }))];
        return { templates: all.sort((a, b) => a.id.localeCompare(b.id)), variables: Object.keys(TEMPLATE_VARIABLES) };
      },
    },

    saveMessageTemplate: {
      rest: "PUT /message-templates/:id",
      permission: "write",
      params: {
        $$strict: true,
        id: { type: "string", min: 1, max: 100, pattern: /^[a-z0-9_]+$/ },
        name: { type: "string", trim: true, min: 1, max: 200 },
        text: { type: "string", min: 1, max: 5000 },
        mediaUrls: { type: "array", items: { type: "url" }, max: 20, default: [] },
      },
      openapi: { summary: "Create or replace the owner's copy of a message template", tags: ["automation templates"] },
      async handler(ctx: Context<{ id: string; name: string; text: string; mediaUrls: string[] }>) {
        const unknown = placeholders(ctx.params.text).filter((p) => !(p in TEMPLATE_VARIABLES));
        if (unknown.length) throw new UnprocessableError("Unknown personalization variables", unknown.map((v) => ({ field: "text", message: `{{${v}}} is not a variable; use ${Object.keys(TEMPLATE_VARIABLES).join(", ")}`, type: "variable" })));
        return this.store.saveMessageTemplate(requireUser(ctx), ctx.params, auditOf(ctx));
      },
    },

    renderMessageTemplate: {
      rest: "POST /message-templates/:id/render",
      params: {
        $$strict: true,
        id: { type: "string", min: 1, max: 100 },
        fanId: { type: "string", min: 1, max: 200, optional: true },
        variables: { type: "record", key: { type: "string", max: 60 }, value: { type: "multi", rules: [{ type: "string", max: 500 }, { type: "number" }] }, optional: true },
      },
      openapi: { summary: "Test-render a template for a fan (from segmentation) and/or given variables; nothing is sent", tags: ["automation templates"] },
      async handler(ctx: Context<{ id: string; fanId?: string; variables?: Record<string, string | number> }>) {
        const user = requireUser(ctx);
        const own = (await this.store.messageTemplateOverrides(user.id)).find((t) => t.id === ctx.params.id);
        const template = own ?? MESSAGE_TEMPLATES.find((t) => t.id === ctx.params.id);
        if (!template) throw new NotFoundError("message template", ctx.params.id);
        const fan = ctx.params.fanId ? await ctx.call<Fan, object>("segmentation.getFan", { id: ctx.params.fanId }, { meta: ctx.meta }) : null;
        const vars = { ...(fan ? personalization(fan, {}, false) : {}), ...ctx.params.variables };
        return { id: template.id, text: renderTemplate(template.text, vars), mediaUrls: template.mediaUrls, variables: vars };
      },
    },

    // ---- operations and tests (no REST route) -------------------------------------------------------

    advanceTime: {
      permission: "manage",
      params: { $$strict: true, ms: { type: "number", integer: true, min: 0, max: 365 * 86_400_000 } },
      openapi: { summary: "Move the engine clock forward, fire the time triggers and run every wake-up now due (tests, drills)", tags: ["automation operations"] },
      async handler(ctx: Context<{ ms: number }>) {
        const now = this.clock.advance(ctx.params.ms);
        const fired = await this.fireDueTimeTriggers();
        const resumed = await this.resumeDue(100_000);
        return { now, fired, resumed };
      },
    },

    runDueWakeups: {
      permission: "manage",
      params: { $$strict: true },
      openapi: { summary: "Resume every run whose wake-up is due (without waiting for Agenda)", tags: ["automation operations"] },
      async handler() {
        return { resumed: await this.resumeDue(100_000) };
      },
    },

    scanBehavior: {
      permission: "manage",
      params: { $$strict: true },
      openapi: { summary: "Evaluate behaviour triggers now (otherwise a periodic job does)", tags: ["automation operations"] },
      async handler() {
        return { runsStarted: await this.scanBehavior() };
      },
    },
  },

  events: Object.fromEntries(
    TRIGGER_EVENTS.map((event) => [
      event,
      {
        async handler(this: This, ctx: Context<Record<string, any>>) {
          const p = ctx.params ?? {};
          const ownerId: string | undefined = p.ownerId ?? p.campaign?.ownerId ?? p.fan?.ownerId;
          if (!ownerId) return;
          const fans: (string | null)[] = Array.isArray(p.fans) ? p.fans.map((f: { fanId: string }) => f.fanId) : [p.fanId ?? null];
          const name = event === "automation.event.received" ? p.name : event;
          const data = event === "automation.event.received" ? { event: name, ...p.data } : { event, segmentId: p.segmentId, campaignId: p.campaign?.id, reason: p.reason };
          try {
            await this.dispatch(name, ownerId, fans, data);
          } catch (err) {
            this.logger.warn(`automation trigger ${name} for ${ownerId} failed: ${(err as Error).message}`);
          }
        },
      },
    ]),
  ) as never,

  methods: {
    async workflowOr404(user: AuthUser, id: string) {
      const workflow = await this.store.getWorkflow(user, id);
      if (!workflow) throw new NotFoundError("automation", id);
      return workflow;
    },

    /** Entry rules, limits, conditions; then the run is persisted and driven until it parks or ends. */
    async startRun(workflow, fanId, triggerData, opts = {}) {
      const now = this.clock.now();
      if (opts.limit && (await this.store.runsStartedSince(workflow.ownerId, new Date(now.getTime() - 60_000))) >= this.config.runsPerMinute) {
        throw new TooManyRequestsError(`At most ${this.config.runsPerMinute} runs per minute`, 60);
      }
      const s = workflow.settings;
      const mayEnter = ({ total, open }: FanEntries) => !(open > 0 || (total > 0 && !s.reentry) || (s.maxEntriesPerFan && total >= s.maxEntriesPerFan));
      const entryRules = Boolean(fanId && !opts.testMode && !opts.skipEntryRules);
      // Checked early (no fan lookup for a fan who may not enter), and again under a lock as the run is made.
      if (entryRules && !mayEnter(await this.store.entriesOf(workflow.id, fanId!))) return null;
      const fan = await this.engine.loadFan({ ownerId: workflow.ownerId, teamId: workflow.teamId, fanId });
      if (!this.engine.passesConditions(workflow, fan)) return null;
      const values = {
        automationId: workflow.id,
        ownerId: workflow.ownerId,
        teamId: workflow.teamId,
        fanId,
        status: "running",
        testMode: Boolean(opts.testMode),
        triggerData,
        cursor: [0],
        leaseUntil: new Date(Date.now() + this.config.leaseMs),
        deadlineAt: workflow.settings.timeoutMinutes ? new Date(now.getTime() + workflow.settings.timeoutMinutes * 60_000) : null,
        startedAt: now,
      } satisfies Parameters<AutomationStore["createRun"]>[0];
      // A time trigger's fire names its run (the fire key): a fire processed twice starts it once.
      const run = opts.fireKey
        ? await this.store.createFireRun(opts.fireKey, values)
        : entryRules
          ? await this.store.createFanRun({ ...values, fanId: fanId! }, mayEnter)
          : await this.store.createRun(values, opts.audit);
      if (!run) return null;
      await this.engine.drive(run, workflow);
      return run;
    },

    /** Starts the workflows an event triggers, one run per fan; returns how many started. */
    async dispatch(event, ownerId, fans, data) {
      const workflows = (await this.store.activeForEvent(ownerId, event)).filter(
        (w) => w.trigger.type !== "event" || !w.trigger.segment || w.trigger.segment === data.segmentId,
      );
      let started = 0;
      for (const workflow of workflows) {
        for (const fanId of fans) if (await this.startRun(workflow, fanId, data, { limit: true })) started++;
      }
      return started;
    },

    /**
     * Time triggers keep one Agenda job per upcoming fire (data: workflowId, fireAt — unique together). A
     * cron trigger's next job is saved before its fire starts the run, so a crash in between loses nothing.
     */
    async scheduleTimeTrigger(workflow) {
      if (workflow.trigger.type !== "time") return;
      const first = firstFire(workflow.trigger, this.clock.now());
      if (first) await this.saveFireJob(workflow.id, first);
    },

    async unscheduleTimeTrigger(workflowId) {
      await this.agenda.cancel({ name: TIME_JOB, data: { workflowId } });
    },

    /** Starts the fire's run unless it was started before; false when nothing started. */
    async fireTimeTrigger(workflowId, scheduledAt) {
      if (Number.isNaN(scheduledAt.getTime())) return false;
      const workflow = await this.store.workflowById(workflowId);
      // A job left from an older definition or status does nothing.
      if (workflow?.status !== "active" || workflow.trigger.type !== "time" || !firesAt(workflow.trigger, scheduledAt)) return false;
      const now = this.clock.now();
      const fireKey = fireRunId(workflowId, scheduledAt);
      // Not yet due (Agenda's timer may wake a moment early); the sweep takes a fire it skips here.
      if (scheduledAt.getTime() > now.getTime() + 1000) return false;
      // The successor is saved before the run starts, so a fire whose run exists has its successor too.
      if (await this.store.runExists(fireKey)) return false;
      if (workflow.trigger.cron) {
        // Missed occurrences (every node was down) fold into this one fire: the next is after now.
        await this.saveFireJob(workflowId, nextFire(workflow.trigger, now > scheduledAt ? now : scheduledAt)!);
        const { jobs } = await this.agenda.queryJobs({ name: TIME_JOB, data: { workflowId } });
        const older = jobs.filter((j) => String((j.data as { fireAt?: string }).fireAt) < scheduledAt.toISOString()).map((j) => String(j._id));
        if (older.length) await this.agenda.cancel({ ids: older });
      }
      // The trigger is the workflow's own context: one run without a fan per fire, like `execute` without fanId.
      const run = await this.startRun(workflow, null, { trigger: "time", scheduledAt: scheduledAt.toISOString(), firedAt: now.toISOString() }, { fireKey });
      return Boolean(run);
    },

    /** Fires whose time has come on the engine clock: jobs Agenda has not run (or whose run failed). */
    async fireDueTimeTriggers() {
      const now = this.clock.now().toISOString();
      const { jobs: due } = await this.agenda.queryJobs({ name: TIME_JOB });
      let fired = 0;
      for (const job of due) {
        const { workflowId, fireAt } = job.data as { workflowId: string; fireAt: string };
        if (fireAt <= now && (await this.fireTimeTrigger(workflowId, new Date(fireAt)))) fired++;
      }
      return fired;
    },

    async saveFireJob(workflowId: string, fireAt: Date) {
      const data = { workflowId, fireAt: fireAt.toISOString() };
      // insertOnly: a fire processed twice schedules its successor once.
      await this.agenda.create(TIME_JOB, data).unique({ "data.workflowId": workflowId, "data.fireAt": data.fireAt }, { insertOnly: true }).schedule(fireAt).save();
    },

    async resumeDue(limit) {
      let resumed = 0;
      for (const run of await this.store.runsPastDeadline(this.clock.now(), limit)) await this.engine.timeout(run);
      for (;;) {
        const ids = await this.store.dueRunIds(this.clock.now(), Math.min(limit - resumed, 200));
        if (!ids.length) return resumed;
        // A few at a time: each run's steps are sequential, different runs are independent.
        for (let i = 0; i < ids.length; i += 20) {
          const done = await Promise.all(ids.slice(i, i + 20).map((id) => this.engine.resume(id)));
          resumed += done.filter(Boolean).length;
        }
        if (resumed >= limit) return resumed;
      }
    },

    async scanBehavior() {
      if (!isServiceAvailable(this.broker, "segmentation")) return 0;
      let started = 0;
      for (const workflow of await this.store.activeBehaviorWorkflows()) {
        // A job's doing: recorded as `system` (and a refresh only when membership changed).
        const meta = { meta: systemMeta({ id: workflow.ownerId, teamId: workflow.teamId, role: "owner" }) };
        await this.broker.call("segmentation.refreshSegment", { id: workflow.behaviorSegmentId }, meta);
        let cursor: string | undefined;
        do {
          const page = await this.broker.call<{ items: { id: string }[]; nextCursor: string | null }, object>(
            "segmentation.getSegmentMembers",
            { id: workflow.behaviorSegmentId, limit: 500, ...(cursor ? { cursor } : {}) },
            meta,
          );
          for (const fan of page.items) if (await this.startRun(workflow, fan.id, { trigger: "behavior", condition: (workflow.trigger as { condition: string }).condition })) started++;
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
      }
      return started;
    },

    publicRun(run) {
      const { cursor: _c, leaseUntil: _l, ...rest } = run;
      return rest;
    },
  },

  created() {
    this.clock = new OffsetClock();
  },

  async started() {
    const runtime = runtimeOf(this.broker);
    this.config = loadAutomationConfig(process.env, runtime.jwtSecret());
    const broker = this.broker;
    this.engine = new AutomationEngine(
      this.store,
      {
        // Workflow steps act for the owner; their changes are recorded as `system`.
        call: (action, params, owner) => broker.call(action, params, { meta: systemMeta(owner) }),
        emit: (event, payload) => void broker.emit(event, payload),
        scheduleWake: async (at, runId) => void (await this.agenda.schedule(at, WAKE_JOB, { runId })),
        isAvailable: (service) => isServiceAvailable(broker, service),
      },
      this.clock,
      this.config,
    );
    await this.agenda.every(this.config.sweepEvery, SWEEP_JOB);
    await this.agenda.every(this.config.behaviorScanEvery, BEHAVIOR_JOB);
  },
};

export default AutomationService;

