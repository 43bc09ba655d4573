/**
 * The run executor. A run is a persisted cursor into its workflow's action tree: instant steps execute
 * inline in one loop; a `wait` (or a message held back by quiet hours) parks the run with `wakeAt` and an
 * Agenda wake-up. A step with a side effect is written (its record and the next cursor, one UPDATE) as
 * soon as it is done, and the cursor is on disk pointing at it before it starts. Steps without side
 * effects (engagement checks, waits already due) are recorded in memory and written with the next durable
 * write: re-running them after a crash changes nothing outside the run. Side effects carry the key
 * `run:<id>:step:<path>`, so re-executing a step after a crash (the cursor still points at it) never
 * sends twice. The worker driving a run renews its lease while it does (see `holdLease`), so only a worker
 * that died loses its runs to the sweep, not one whose step is slow.
 */
import crypto from "node:crypto";
import { Errors } from "moleculer";
import type { AuthUser } from "../../lib/auth";
import { actionAt, advance, enterBranch, parseDuration, pathOf, type Action, type Cursor } from "./definition";
import { compileExpression, conditionToExpression } from "./expressions";
import type { RunError, RunStatus, StepRecord } from "./schema";
import type { AutomationStore, Run, RunProgress, Workflow } from "./store";
import { MESSAGE_TEMPLATES, renderTemplate } from "./templates";

export interface Clock {
  now(): Date;
}

/** The engine's clock: real time plus an offset tests may move forward (never backward). */
export class OffsetClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): Date {
    this.offsetMs += Math.max(0, ms);
    return this.now();
  }
}

export interface EnginePorts {
  /** A broker call on behalf of the workflow's owner. */
  call<T = any>(action: string, params: Record<string, unknown>, owner: AuthUser): Promise<T>;
  emit(event: string, payload: unknown): void;
  /** Durable wake-up of a parked run. */
  scheduleWake(at: Date, runId: string): Promise<void>;
  isAvailable(service: string): boolean;
}

export interface EngineOptions {
  retries: number;
  retryBaseMs: number;
  leaseMs: number;
  webhookSecret: string;
  webhookTimeoutMs: number;
}

export type Fan = Record<string, unknown> & { id: string; ownerId: string; timezone?: string | null; platform?: string | null; platformIds?: Record<string, string> };

/** Why a step did not run now: the run parks until `until`. */
class Deferral {
  constructor(
    readonly until: Date,
    readonly reason: string,
  ) {}
}

interface StepOutcome {
  output?: unknown;
  status?: StepRecord["status"];
  /** For checks: which branch to enter. */
  branch?: "ifTrue" | "ifFalse";
  context?: Record<string, unknown>;
}

/** Campaign statuses a launch leads to: a step that finds its campaign in one of them launched it already. */
const LAUNCHED = ["active", "paused", "completed"];

const ownerOf = (run: Pick<Run, "ownerId" | "teamId">): AuthUser => ({ id: run.ownerId, teamId: run.teamId, role: "owner" });

export class AutomationEngine {
  constructor(
    private readonly store: AutomationStore,
    private readonly ports: EnginePorts,
    readonly clock: Clock,
    private readonly opts: EngineOptions,
  ) {}

  /** Loads a fan from segmentation; null for fan-less runs. */
  async loadFan(run: Pick<Run, "ownerId" | "teamId" | "fanId">): Promise<Fan | null> {
    if (!run.fanId) return null;
    return this.ports.call<Fan>("segmentation.getFan", { id: run.fanId }, ownerOf(run));
  }

  /** Whether the fan passes the workflow's entry conditions. */
  passesConditions(workflow: Workflow, fan: Fan | null): boolean {
    return workflow.conditions.every((c, i) => compileExpression(conditionToExpression(c, `conditions[${i}]`), `conditions[${i}]`).evaluate(fanScope(fan)));
  }

  /** Takes a due run and drives it; false when another worker got it first. */
  async resume(runId: string): Promise<boolean> {
    const run = await this.store.claimRun(runId, this.clock.now(), this.opts.leaseMs);
    if (!run) return false;
    const workflow = await this.store.workflowById(run.automationId);
    if (!workflow) {
      await this.finish(run, "cancelled", null);
      return true;
    }
    await this.drive(run, workflow);
    return true;
  }

  /**
   * Keeps this worker's lease on a run it drives: renewed every third of its length, each renewal
   * conditional on the lease still being the one this worker set (another worker that took the run over
   * after an expiry holds a different one). `lost` turns true when a renewal finds the run taken; a database
   * error is not a loss, the next renewal tries again.
   */
  private holdLease(run: Pick<Run, "id" | "leaseUntil">): { readonly lost: boolean; release(): void } {
    const { leaseMs } = this.opts;
    let held = run.leaseUntil;
    let lost = false;
    let busy = false;
    const timer = setInterval(async () => {
      if (busy || lost || !held) return;
      busy = true;
      const until = new Date(Date.now() + leaseMs);
      try {
        if (await this.store.renewLease(run.id, held, until)) held = until;
        else lost = true;
      } catch {
        // Transient (database away): the lease may still be ours; try again on the next tick.
      } finally {
        busy = false;
      }
    }, Math.max(10, Math.floor(leaseMs / 3)));
    timer.unref();
    return {
      get lost() {
        return lost;
      },
      release: () => clearInterval(timer),
    };
  }

  /**
   * Runs steps from the run's cursor until it parks, finishes or fails. Stops without writing anything more
   * (answering "running") if another worker took the run over meanwhile.
   */
  async drive(run: Run, workflow: Workflow): Promise<RunStatus> {
    const lease = this.holdLease(run);
    try {
      return await this.driveHeld(run, workflow, lease);
    } finally {
      lease.release();
    }
  }

  private async driveHeld(run: Run, workflow: Workflow, lease: { readonly lost: boolean }): Promise<RunStatus> {
    let cursor = run.cursor as Cursor | null;
    let context = { ...run.context };
    let fan: Fan | null | undefined;
    let succeeded = run.executedActions.filter((s) => s.status === "success").length;
    /** Records of side-effect-free steps not written yet; the stored cursor is still before them. */
    const pending: StepRecord[] = [];
    const flushed = (...steps: StepRecord[]) => pending.splice(0).concat(steps);
    while (cursor) {
      if (lease.lost) return "running";
      const now = this.clock.now();
      if (run.deadlineAt && now >= run.deadlineAt) return this.timeout(run, flushed());
      const action = actionAt(workflow.actions, cursor);
      if (!action) break;
      const path = pathOf(cursor);
      const started = Date.now();
      if (action.type === "wait") {
        const until = action.until ? new Date(action.until as string) : new Date(now.getTime() + parseDuration(action.duration)!);
        const next = advance(workflow.actions, cursor);
        const step = record(path, action, run.testMode ? "simulated" : "deferred", started, { output: { until } });
        if (run.testMode || until <= now) {
          pending.push(step);
          cursor = next;
          continue;
        }
        return this.park(run, next, until, flushed(step));
      }
      const pure = action.type === "check_engagement";
      try {
        // The cursor on disk must point at a step with a side effect before it runs (see the header).
        if (!pure && pending.length) await this.store.saveProgress(run.id, { cursor, context, steps: flushed() });
        if (fan === undefined || action.type === "check_engagement") fan = await this.loadFan(run);
        const outcome = await this.withRetries(() => this.perform(action, { run, path, fan: fan ?? null, context }));
        // Taken over during the step (here or in the catch below): the new holder re-runs it under the same
        // key and records it.
        if (lease.lost) return "running";
        context = { ...context, ...outcome.context };
        const next = outcome.branch ? enterBranch(workflow.actions, cursor, outcome.branch) : advance(workflow.actions, cursor);
        const step = record(path, action, outcome.status ?? "success", started, outcome);
        if (pure) pending.push(step);
        else await this.store.saveProgress(run.id, { cursor: next, context, steps: [step] });
        if ((outcome.status ?? "success") === "success") succeeded++;
        cursor = next;
      } catch (err) {
        if (lease.lost) return "running";
        if (err instanceof Deferral) return this.park(run, cursor, err.until, flushed(record(path, action, "deferred", started, { output: { until: err.until, reason: err.reason } })));
        const { message, attempts } = err as { message: string; attempts?: number };
        const error: RunError = { path, message, at: new Date().toISOString() };
        const status: RunStatus = succeeded > 0 ? "partial" : "failure";
        await this.finish(run, status, cursor, { steps: flushed({ ...record(path, action, "failure", started, {}), error: message, attempts: attempts ?? 1 }), error });
        this.ports.emit("automation.run.failed", { runId: run.id, automationId: run.automationId, ownerId: run.ownerId, fanId: run.fanId, status, step: path, error: message });
        return status;
      }
    }
    await this.finish(run, "success", null, { steps: flushed() });
    return "success";
  }

  private async park(run: Run, cursor: Cursor | null, until: Date, steps: StepRecord[]): Promise<RunStatus> {
    await this.store.saveProgress(run.id, { status: "waiting", cursor, wakeAt: until, leaseUntil: null, steps });
    await this.ports.scheduleWake(until, run.id);
    return "waiting";
  }

  async timeout(run: Pick<Run, "id" | "automationId" | "ownerId" | "fanId" | "startedAt" | "testMode">, steps: StepRecord[] = []): Promise<RunStatus> {
    await this.finish(run, "cancelled", null, { steps, error: { path: "run", message: "workflow timeout", at: new Date().toISOString() } });
    this.ports.emit("automation.run.timeout", { runId: run.id, automationId: run.automationId, ownerId: run.ownerId, fanId: run.fanId });
    return "cancelled";
  }

  private async finish(run: Pick<Run, "id" | "automationId" | "startedAt" | "testMode">, status: RunStatus, cursor: Cursor | null, last: Pick<RunProgress, "steps" | "error"> = {}) {
    const completedAt = this.clock.now();
    await this.store.saveProgress(run.id, { ...last, status, cursor, completedAt, duration: completedAt.getTime() - run.startedAt.getTime(), wakeAt: null, leaseUntil: null });
    if (!run.testMode) await this.store.recordOutcome(run.automationId, status, completedAt);
  }

  /** First try plus `retries` more with exponential backoff; deferrals pass straight through. */
  private async withRetries(fn: () => Promise<StepOutcome>): Promise<StepOutcome> {
    let attempt = 0;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        attempt++;
        if (err instanceof Deferral || attempt > this.opts.retries || !worthRetrying(err)) throw Object.assign(err as object, { attempts: attempt });
        await new Promise((r) => setTimeout(r, this.opts.retryBaseMs * 2 ** (attempt - 1)));
      }
    }
  }

  // ---- actions --------------------------------------------------------------------------------

  private async perform(action: Action, s: { run: Run; path: string; fan: Fan | null; context: Record<string, unknown> }): Promise<StepOutcome> {
    const { run, path, fan, context } = s;
    const owner = ownerOf(run);
    const key = `run:${run.id}:step:${path}`;
    switch (action.type) {
      case "check_engagement": {
        const result = compileExpression(action.condition as string, `${path}.condition`).evaluate(fanScope(fan));
        return { output: { result }, branch: result ? "ifTrue" : "ifFalse" };
      }
      case "send_message":
        return this.sendMessage(action, run, path, requireFan(fan, path), context, key);
      case "create_campaign": {
        const params = { id: action.template as string, discount: action.discount, name: action.name, variables: action.variables };
        if (run.testMode) return { status: "simulated", output: { would: "campaigns.createFromTemplate", params } };
        // Re-executed after a crash (the cursor still points here), the step gets the campaign it made before.
        const campaign = await this.ports.call<{ id: string; content: Record<string, unknown> }>("campaigns.createFromTemplate", { ...stripUndefined(params), idempotencyKey: `${run.id}:${path}` }, owner);
        const offer = { id: campaign.id, title: campaign.content?.title, discount: action.discount ?? null };
        return { output: { campaignId: campaign.id, title: offer.title }, context: { campaign: offer } };
      }
      case "launch_campaign": {
        const id = (action.campaignId as string | undefined) ?? (context.campaign as { id?: string } | undefined)?.id;
        if (!id) throw new Errors.MoleculerClientError(`${path}: no campaign to launch (give campaignId or create one earlier)`, 422, "NO_CAMPAIGN");
        if (run.testMode) return { status: "simulated", output: { would: "campaigns.launch", id } };
        try {
          const result = await this.ports.call<{ campaign?: { status?: string } }>("campaigns.launch", { id }, owner);
          return { output: { campaignId: id, status: result?.campaign?.status } };
        } catch (err) {
          // Re-executed after a crash, the launch this step made answers 409: the campaign is past launching.
          const { type, data } = err as { type?: string; data?: { currentStatus?: string } };
          if (type === "INVALID_TRANSITION" && LAUNCHED.includes(data?.currentStatus ?? "")) return { output: { campaignId: id, status: data!.currentStatus, alreadyLaunched: true } };
          throw err;
        }
      }
      case "add_to_segment":
      case "remove_from_segment": {
        const target = requireFan(fan, path);
        if (run.testMode) return { status: "simulated", output: { would: action.type, segment: action.segment } };
        const segmentId = await this.resolveSegment(action.segment as string, owner, action.type === "add_to_segment");
        if (!segmentId) return { status: "skipped", output: { reason: "no such segment" } };
        const verb = action.type === "add_to_segment" ? "segmentation.addUserToSegment" : "segmentation.removeUserFromSegment";
        return { output: await this.ports.call(verb, { id: segmentId, fanId: target.id }, owner) };
      }
      case "update_fan": {
        const target = requireFan(fan, path);
        if (run.testMode) return { status: "simulated", output: { would: "segmentation.upsertFan", set: action.set } };
        const updated = await this.ports.call<Fan>("segmentation.upsertFan", { ...(action.set as object), id: target.id }, owner);
        return { output: { fanId: updated.id } };
      }
      case "webhook":
        return this.webhook(action, run, fan, context, key);
      case "emit_event": {
        const payload = { ownerId: run.ownerId, teamId: run.teamId, name: action.event, fanId: run.fanId, data: action.data ?? {}, source: { runId: run.id } };
        if (run.testMode) return { status: "simulated", output: { would: "emit", payload } };
        this.ports.emit("automation.event.received", payload);
        return { output: { emitted: action.event } };
      }
      default:
        throw new Errors.MoleculerClientError(`${path}: unknown action type`, 422, "UNKNOWN_ACTION");
    }
  }

  private async sendMessage(action: Action, run: Run, path: string, fan: Fan, context: Record<string, unknown>, key: string): Promise<StepOutcome> {
    const settings = (await this.store.workflowById(run.automationId))?.settings ?? {};
    const now = this.clock.now();
    const quiet = settings.quietHours;
    if (quiet && !run.testMode) {
      const until = quietUntil(now, quiet, fan.timezone ?? "UTC");
      if (until) throw new Deferral(until, "quiet hours");
    }
    const cap = settings.frequencyCap;
    if (cap && !run.testMode) {
      const since = new Date(now.getTime() - cap.periodHours * 3_600_000);
      const sent = await this.store.sendsSince(run.ownerId, fan.id, since, run.id);
      if (sent + (await this.store.runSendsSince(run.id, since)) >= cap.messages) return { status: "skipped", output: { reason: "frequency cap", sent, cap } };
    }
    const text = await this.messageText(action, run.ownerId, fan, context);
    const platform = (action.platform as string) ?? fan.platform ?? "onlyfans";
    const message: { text: string; mediaUrls?: string[]; price?: number } = { text: text.text };
    if (action.includeMedia && text.mediaUrls.length) message.mediaUrls = text.mediaUrls;
    if (typeof action.price === "number") message.price = action.price;
    if (run.testMode) return { status: "simulated", output: { would: "publisher.sendMessage", platform, message } };
    await this.store.reserveSend(run.id, path, run.ownerId, fan.id, now);
    const sent = await this.ports.call<{ externalId: string; duplicate: boolean }>(
      "publisher.sendMessage",
      { platform, fanId: fan.platformIds?.[platform] ?? fan.id, idempotencyKey: key, message },
      ownerOf(run),
    );
    return { output: { platform, externalId: sent.externalId, duplicate: sent.duplicate, text: message.text } };
  }

  private async messageText(action: Action, ownerId: string, fan: Fan, context: Record<string, unknown>) {
    let template = { text: (action.text as string) ?? "", mediaUrls: [] as string[] };
    if (action.template) {
      const own = (await this.store.messageTemplateOverrides(ownerId)).find((t) => t.id === action.template);
      const found = own ?? MESSAGE_TEMPLATES.find((t) => t.id === action.template);
      if (!found) throw new Errors.MoleculerClientError(`message template ${String(action.template)} does not exist`, 422, "UNKNOWN_TEMPLATE");
      template = { text: found.text, mediaUrls: found.mediaUrls };
    }
    return { text: renderTemplate(template.text, personalization(fan, context, Boolean(action.includeOffer))), mediaUrls: template.mediaUrls };
  }

  /** A segment by id, else a static segment by name (created when adding: the seed's `at_risk_fans`). */
  private async resolveSegment(ref: string, owner: AuthUser, create: boolean): Promise<string | null> {
    const byId = await this.ports.call<{ id: string }>("segmentation.get", { id: ref }, owner).catch((err) => (err?.code === 404 ? null : Promise.reject(err)));
    if (byId) return byId.id;
    let cursor: string | undefined;
    do {
      const page = await this.ports.call<{ items: { id: string; name: string }[]; nextCursor: string | null }>("segmentation.list", { type: "static", limit: 100, ...(cursor ? { cursor } : {}) }, owner);
      const match = page.items.find((s) => s.name === ref);
      if (match) return match.id;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    if (!create) return null;
    const made = await this.ports.call<{ id: string }>("segmentation.create", { name: ref, type: "static", description: "Created by an automation workflow" }, owner);
    return made.id;
  }

  private async webhook(action: Action, run: Run, fan: Fan | null, context: Record<string, unknown>, key: string): Promise<StepOutcome> {
    const body = JSON.stringify({ runId: run.id, automationId: run.automationId, fanId: run.fanId, fan: fan ? { id: fan.id } : null, context, data: action.body ?? {} });
    const secret = (action.secret as string | undefined) ?? this.opts.webhookSecret;
    const timestamp = Math.floor(Date.now() / 1000).toString();
    const signature = crypto.createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
    if (run.testMode) return { status: "simulated", output: { would: "POST", url: action.url } };
    const res = await fetch(action.url as string, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": key, "x-automation-timestamp": timestamp, "x-automation-signature": `sha256=${signature}` },
      body,
      signal: AbortSignal.timeout(this.opts.webhookTimeoutMs),
    });
    if (!res.ok) throw new Errors.MoleculerRetryableError(`webhook answered ${res.status}`, 502, "WEBHOOK_FAILED", { status: res.status });
    return { output: { status: res.status } };
  }
}

function record(path: string, action: Action, status: StepRecord["status"], started: number, o: { output?: unknown }): StepRecord {
  const { ifTrue: _t, ifFalse: _f, ...input } = action;
  return { path, type: action.type, status, input, output: o.output, attempts: 1, startedAt: new Date(started).toISOString(), durationMs: Date.now() - started };
}

/** Validation problems and missing things will not heal on a retry; everything else gets the retries. */
function worthRetrying(err: unknown): boolean {
  const code = (err as { code?: number }).code;
  return !(err instanceof Errors.MoleculerClientError) || code === 429 || code === undefined;
}

function requireFan(fan: Fan | null, path: string): Fan {
  if (!fan) throw new Errors.MoleculerClientError(`${path} needs a fan, and this run has none`, 422, "NO_FAN");
  return fan;
}

function stripUndefined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The names conditions may use (see expressions.ts) from a fan as segmentation returns it. */
export function fanScope(fan: Fan | null): Record<string, unknown> {
  if (!fan) return {};
  return { ...(fan.attributes as Record<string, unknown> | undefined), ...fan };
}

export function personalization(fan: Fan, context: Record<string, unknown>, includeOffer: boolean): Record<string, unknown> {
  const campaign = context.campaign as { title?: string; discount?: number | null } | undefined;
  const discountPercent = campaign?.discount ? Math.round(campaign.discount * 100) : "";
  return {
    fanName: (fan.displayName as string | null) ?? fan.id,
    discountPercent,
    offer: includeOffer && campaign ? (campaign.title ?? `${discountPercent}% off`) : "",
  };
}

/** When the fan's local time is inside quiet hours, the end of them; otherwise null. */
export function quietUntil(now: Date, quiet: { start: number; end: number }, timeZone: string): Date | null {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat("en-US", { timeZone, hour: "numeric", minute: "numeric", second: "numeric", hourCycle: "h23" }).formatToParts(now);
  } catch {
    return quietUntil(now, quiet, "UTC");
  }
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const minutes = get("hour") * 60 + get("minute");
  const start = quiet.start * 60;
  const end = quiet.end * 60;
  const inside = start < end ? minutes >= start && minutes < end : minutes >= start || minutes < end;
  if (!inside) return null;
  const untilEnd = (end - minutes + 1440) % 1440;
  return new Date(now.getTime() + untilEnd * 60_000 - get("second") * 1000 - now.getMilliseconds());
}
