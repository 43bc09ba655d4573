/**
 * Segmentation: a creator's audience (fans), the criteria language, and static and dynamic segments.
 * Fan ids in routes are the creator's own ids for their fans. Membership changes are announced as
 * `segmentation.segment.entered` / `…exited` (automation triggers); an erase as `segmentation.fan.erased`
 * so other services delete what they hold about the fan.
 */
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { requireUser } from "../lib/access";
import type { AuthUser } from "../lib/auth";
import { ConflictError, NotFoundError, UnprocessableError } from "../lib/errors";
import { JobsMixin, StoreMixin } from "../lib/mixins";
import { auditOf, type AuditContext } from "./audit/context";
import { evaluateCriteria, parseCriteria } from "./segmentation/criteria";
import { REFRESH_EVERY, REFRESH_JOB, refreshDynamicSegments } from "./segmentation/jobs";
import { bySegment, diffMemberships } from "./segmentation/membership";
import { FAN_PLATFORMS, SEGMENT_TYPES, SPENDING_LEVELS, SUBSCRIPTION_STATUSES, type SegmentType } from "./segmentation/schema";
import {
  ACTIVITY_TYPES,
  SEGMENT_SORTS,
  SegmentationStore,
  type Activity,
  type Fan,
  type FanInput,
  type FanKey,
  type Segment,
  type SegmentSort,
  type SpendingThresholds,
} from "./segmentation/store";
import "../lib/schema-types";

/** Fields a client may set on a fan; `id` is required and identifies it within the creator's audience. */
const fanFields = {
  id: { type: "string", trim: true, min: 1, max: 200 },
  platform: { type: "enum", values: FAN_PLATFORMS, optional: true, nullable: true },
  platformIds: { type: "record", key: { type: "enum", values: FAN_PLATFORMS }, value: { type: "string", min: 1, max: 200 }, optional: true },
  displayName: { type: "string", max: 200, optional: true, nullable: true },
  subscriptionStatus: { type: "enum", values: SUBSCRIPTION_STATUSES, optional: true },
  subscribedAt: { type: "date", convert: true, optional: true, nullable: true },
  lastActiveAt: { type: "date", convert: true, optional: true, nullable: true },
  lifetimeValue: { type: "number", min: 0, max: 1e12, optional: true },
  spendingLevel: { type: "enum", values: SPENDING_LEVELS, optional: true },
  engagement: { type: "number", min: 0, max: 100, optional: true },
  tags: { type: "array", items: { type: "string", min: 1, max: 100 }, max: 100, unique: true, optional: true },
  attributes: { type: "object", maxProps: 100, optional: true },
  timezone: { type: "string", max: 64, optional: true, nullable: true },
  consent: { type: "boolean", optional: true },
} as const;

const MAX_BATCH = 1000;
const idParam = { id: { type: "string", min: 1, max: 200 } } as const;
const fanIdParam = { fanId: { type: "string", min: 1, max: 200 } } as const;
/** Criteria are checked by the criteria parser, which names the bad part (`criteria.all[2].op`). */
const criteriaParam = { type: "any" } as const;
const segmentFields = {
  name: { type: "string", trim: true, min: 1, max: 200 },
  description: { type: "string", max: 5000, optional: true, nullable: true },
} as const;

/** Events carry at most this many fans each, so a big refresh becomes several events. */
const EVENT_CHUNK = 1000;

type Methods = {
  thresholds(): SpendingThresholds;
  reevaluate(fans: Fan[], reason: string): Promise<void>;
  refreshAndAnnounce(segment: Segment, reason: string, audit?: AuditContext): Promise<Segment>;
  announce(event: "entered" | "exited", segment: Pick<Segment, "id" | "ownerId">, fans: FanKey[], reason: string): void;
  segmentOr404(user: AuthUser, id: string): Promise<Segment>;
  fanOr404(user: AuthUser, id: string): Promise<Fan>;
};
type Vars = { store: SegmentationStore };
type Settings = ServiceSettingSchema & { spendingThresholds: SpendingThresholds };

const SegmentationService: ServiceSchema<Settings, Methods, Vars> = {
  name: "segmentation",
  settings: {
    rest: "/",
    /** Lifetime value at which a fan becomes a medium / high spender. */
    spendingThresholds: { medium: 50, high: 200 },
  },
  mixins: [StoreMixin((db) => new SegmentationStore(db)), JobsMixin({ [REFRESH_JOB]: refreshDynamicSegments as never })],

  actions: {
    // ---- fans -------------------------------------------------------------------------------------
    upsertFan: {
      rest: "POST /fans",
      permission: "write",
      params: { $$strict: true, ...fanFields },
      openapi: { summary: "Create or change a fan (given fields replace stored ones)", tags: ["fans"] },
      async handler(ctx: Context<FanInput>) {
        const [{ fan, created }] = await this.store.upsertFans(requireUser(ctx), [ctx.params], this.thresholds(), auditOf(ctx));
        await this.reevaluate([fan], "fan-change");
        if (created) Object.assign(ctx.meta, { $statusCode: 201, $location: `/api/fans/${encodeURIComponent(fan.id)}` });
        return fan;
      },
    },

    upsertFans: {
      rest: "POST /fans/batch",
      permission: "write",
      params: {
        $$strict: true,
        fans: { type: "array", min: 1, max: MAX_BATCH, items: { type: "object", strict: true, props: fanFields } },
      },
      openapi: { summary: `Create or change up to ${MAX_BATCH} fans in one statement`, tags: ["fans"] },
      async handler(ctx: Context<{ fans: FanInput[] }>) {
        const seen = new Map<string, number>();
        const problems = ctx.params.fans.flatMap((f, i) => {
          const first = seen.get(f.id);
          seen.set(f.id, first ?? i);
          return first === undefined ? [] : [{ field: `fans[${i}].id`, message: `the same id as fans[${first}]`, type: "unique" }];
        });
        if (problems.length) throw new UnprocessableError("A batch may name each fan once", problems);
        const results = await this.store.upsertFans(requireUser(ctx), ctx.params.fans, this.thresholds(), auditOf(ctx));
        await this.reevaluate(
          results.map((r) => r.fan),
          "fan-change",
        );
        return { created: results.filter((r) => r.created).length, updated: results.filter((r) => !r.created).length, fans: results.map((r) => r.fan) };
      },
    },

    getFan: {
      rest: "GET /fans/:id",
      params: { $$strict: true, ...idParam },
      openapi: { summary: "Get a fan", tags: ["fans"] },
      handler(ctx: Context<{ id: string }>) {
        return this.fanOr404(requireUser(ctx), ctx.params.id);
      },
    },

    exportFan: {
      rest: "GET /fans/:id/export",
      params: { $$strict: true, ...idParam },
      openapi: { summary: "GDPR export: everything held about a fan here (the fan and their segment memberships)", tags: ["fans"] },
      async handler(ctx: Context<{ id: string }>) {
        const data = await this.store.exportFan(requireUser(ctx), ctx.params.id);
        if (!data) throw new NotFoundError("fan", ctx.params.id);
        return { exportedAt: new Date(), ...data };
      },
    },

    eraseFan: {
      rest: "DELETE /fans/:id",
      permission: "write",
      params: { $$strict: true, ...idParam },
      openapi: { summary: "GDPR erase: delete a fan and their memberships; other services erase on the event", tags: ["fans"] },
      async handler(ctx: Context<{ id: string }>) {
        const erased = await this.store.eraseFan(requireUser(ctx), ctx.params.id, auditOf(ctx));
        if (!erased) throw new NotFoundError("fan", ctx.params.id);
        // Persisted first (the row is gone), then announced so analytics, automation, … delete theirs.
        ctx.emit("segmentation.fan.erased", { ownerId: erased.fan.ownerId, fanId: erased.fan.id, segmentIds: erased.segmentIds });
        return { id: erased.fan.id, erased: true, segmentIds: erased.segmentIds };
      },
    },

    recordActivity: {
      rest: "POST /fans/:id/activity",
      permission: "write",
      params: {
        $$strict: true,
        ...idParam,
        type: { type: "enum", values: ACTIVITY_TYPES },
        at: { type: "date", convert: true, optional: true },
        amount: { type: "number", min: 0, max: 1e9, optional: true },
        engagement: { type: "number", min: 0, max: 100, optional: true },
      },
      openapi: { summary: "Record a fan's activity (subscribed, unsubscribed, active, purchased); updates the derived fields", tags: ["fans"] },
      async handler(ctx: Context<{ id: string; type: Activity["type"]; at?: Date; amount?: number; engagement?: number }>) {
        const { id, type, at = new Date(), amount, engagement } = ctx.params;
        if (amount !== undefined && type !== "purchased") {
          throw new UnprocessableError("Only a purchase has an amount", [{ field: "amount", message: "allowed with type purchased only", type: "forbidden" }]);
        }
        const fan = await this.store.recordActivity(requireUser(ctx), id, { type, at, amount, engagement }, this.thresholds(), auditOf(ctx));
        ctx.emit(`segmentation.fan.${type}`, { ownerId: fan.ownerId, fanId: fan.id, at, amount, fan });
        await this.reevaluate([fan], "fan-change");
        return fan;
      },
    },

    // ---- segments ---------------------------------------------------------------------------------
    create: {
      rest: "POST /segments",
      permission: "write",
      params: { $$strict: true, ...segmentFields, type: { type: "enum", values: SEGMENT_TYPES }, criteria: { ...criteriaParam, optional: true } },
      openapi: { summary: "Create a segment: static (explicit members) or dynamic (criteria, materialized now)", tags: ["segments"], status: 201 },
      async handler(ctx: Context<{ name: string; description?: string | null; type: SegmentType; criteria?: unknown }>) {
        const { type, criteria } = ctx.params;
        if (type === "dynamic" && criteria === undefined) {
          throw new UnprocessableError("A dynamic segment needs criteria", [{ field: "criteria", message: "required for a dynamic segment", type: "required" }]);
        }
        if (type === "static" && criteria !== undefined && criteria !== null) {
          throw new UnprocessableError("A static segment has no criteria", [{ field: "criteria", message: "members are added explicitly", type: "forbidden" }]);
        }
        const parsed = type === "dynamic" ? parseCriteria(criteria) : null;
        // One record for the action: the first materialization is part of creating the segment.
        let segment = await this.store.createSegment(requireUser(ctx), { ...ctx.params, criteria: parsed }, auditOf(ctx));
        if (type === "dynamic") segment = await this.refreshAndAnnounce(segment, "created");
        ctx.emit("segmentation.segment.created", { segment });
        Object.assign(ctx.meta, { $statusCode: 201, $location: `/api/segments/${segment.id}` });
        return segment;
      },
    },

    list: {
      rest: "GET /segments",
      params: {
        $$strict: true,
        type: { type: "enum", values: SEGMENT_TYPES, optional: true },
        sort: { type: "enum", values: SEGMENT_SORTS, default: "createdAt" },
        order: { type: "enum", values: ["asc", "desc"], default: "desc" },
        limit: { type: "number", integer: true, min: 1, max: 100, convert: true, default: 20 },
        cursor: { type: "string", max: 1000, optional: true },
      },
      openapi: { summary: "List segments with cursor pagination", tags: ["segments"] },
      handler(ctx: Context<{ type?: SegmentType; sort: SegmentSort; order: "asc" | "desc"; limit: number; cursor?: string }>) {
        const { type, ...page } = ctx.params;
        return this.store.listSegments(requireUser(ctx), { type }, page);
      },
    },

    get: {
      rest: "GET /segments/:id",
      params: { $$strict: true, ...idParam },
      openapi: { summary: "Get a segment", tags: ["segments"] },
      handler(ctx: Context<{ id: string }>) {
        return this.segmentOr404(requireUser(ctx), ctx.params.id);
      },
    },

    update: {
      rest: ["PUT /segments/:id", "PATCH /segments/:id"],
      permission: "write",
      params: { $$strict: true, ...idParam, name: { ...segmentFields.name, optional: true }, description: segmentFields.description, criteria: { ...criteriaParam, optional: true } },
      openapi: { summary: "Change a segment's name, description or (dynamic only) criteria; new criteria re-materialize it", tags: ["segments"] },
      async handler(ctx: Context<{ id: string; name?: string; description?: string | null; criteria?: unknown }>) {
        const user = requireUser(ctx);
        const { id, criteria, ...rest } = ctx.params;
        const current = await this.segmentOr404(user, id);
        if (criteria !== undefined && current.type === "static") {
          throw new ConflictError("A static segment has no criteria: add or remove members instead", { id, type: "static" });
        }
        const patch = criteria === undefined ? rest : { ...rest, criteria: parseCriteria(criteria) };
        let segment = (await this.store.updateSegment(user, id, patch, auditOf(ctx))) ?? current;
        if (criteria !== undefined) segment = await this.refreshAndAnnounce(segment, "criteria-changed");
        ctx.emit("segmentation.segment.updated", { segment, changed: Object.keys(ctx.params).filter((k) => k !== "id") });
        return segment;
      },
    },

    remove: {
      rest: "DELETE /segments/:id",
      permission: "write",
      params: { $$strict: true, ...idParam },
      openapi: { summary: "Delete a segment and its memberships", tags: ["segments"] },
      async handler(ctx: Context<{ id: string }>) {
        const segment = await this.store.removeSegment(requireUser(ctx), ctx.params.id, auditOf(ctx));
        if (!segment) throw new NotFoundError("segment", ctx.params.id);
        ctx.emit("segmentation.segment.deleted", { id: segment.id, ownerId: segment.ownerId });
        return { id: segment.id, deleted: true };
      },
    },

    calculateSegmentSize: {
      rest: "POST /segments/size",
      params: { $$strict: true, criteria: criteriaParam },
      // Sizes move slowly and the count scans the audience: five minutes of staleness is the seed's budget.
      cache: { keys: ["criteria", "#user.id", "#user.teamId"], ttl: 300 },
      openapi: { summary: "Count the fans matching criteria (cached 5 minutes)", tags: ["segments"] },
      async handler(ctx: Context<{ criteria: unknown }>) {
        const criteria = parseCriteria(ctx.params.criteria);
        const size = await this.store.countMatching(requireUser(ctx), criteria);
        return { size, criteria, calculatedAt: new Date() };
      },
    },

    getSegmentMembers: {
      rest: "GET /segments/:id/members",
      params: {
        $$strict: true,
        ...idParam,
        limit: { type: "number", integer: true, min: 1, max: 500, convert: true, default: 50 },
        cursor: { type: "string", max: 1000, optional: true },
      },
      openapi: { summary: "A segment's members (fans), cursor-paginated", tags: ["segments"] },
      async handler(ctx: Context<{ id: string; limit: number; cursor?: string }>) {
        const segment = await this.segmentOr404(requireUser(ctx), ctx.params.id);
        return this.store.listMembers(segment, { sort: "id", order: "asc", limit: ctx.params.limit, cursor: ctx.params.cursor });
      },
    },

    refreshSegment: {
      rest: "POST /segments/:id/refresh",
      permission: "write",
      params: { $$strict: true, ...idParam },
      openapi: { summary: "Re-materialize a segment's membership and stats now", tags: ["segments"] },
      async handler(ctx: Context<{ id: string }>) {
        const segment = await this.segmentOr404(requireUser(ctx), ctx.params.id);
        return this.refreshAndAnnounce(segment, "manual", auditOf(ctx));
      },
    },

    addUserToSegment: {
      rest: "POST /segments/:id/members/:fanId",
      permission: "write",
      params: { $$strict: true, ...idParam, ...fanIdParam },
      openapi: { summary: "Add a fan to a static segment (409 on a dynamic one)", tags: ["segments"] },
      async handler(ctx: Context<{ id: string; fanId: string }>) {
        const user = requireUser(ctx);
        const segment = await this.segmentOr404(user, ctx.params.id);
        if (segment.type === "dynamic") throw new ConflictError("Members of a dynamic segment follow its criteria", { id: segment.id, type: "dynamic" });
        const fan = await this.fanOr404(user, ctx.params.fanId);
        const { entered } = await this.store.applyMembershipChanges([{ segmentId: segment.id, ownerId: fan.ownerId, fanId: fan.id }], [], { context: auditOf(ctx), teamId: fan.teamId });
        this.announce("entered", segment, entered, "manual");
        return { segmentId: segment.id, fanId: fan.id, member: true, changed: entered.length > 0 };
      },
    },

    removeUserFromSegment: {
      rest: "DELETE /segments/:id/members/:fanId",
      permission: "write",
      params: { $$strict: true, ...idParam, ...fanIdParam },
      openapi: { summary: "Remove a fan from a static segment (409 on a dynamic one)", tags: ["segments"] },
      async handler(ctx: Context<{ id: string; fanId: string }>) {
        const user = requireUser(ctx);
        const segment = await this.segmentOr404(user, ctx.params.id);
        if (segment.type === "dynamic") throw new ConflictError("Members of a dynamic segment follow its criteria", { id: segment.id, type: "dynamic" });
        const fan = await this.fanOr404(user, ctx.params.fanId);
        const { exited } = await this.store.applyMembershipChanges([], [{ segmentId: segment.id, ownerId: fan.ownerId, fanId: fan.id }], { context: auditOf(ctx), teamId: fan.teamId });
        this.announce("exited", segment, exited, "manual");
        return { segmentId: segment.id, fanId: fan.id, member: false, changed: exited.length > 0 };
      },
    },

    evaluateCriteria: {
      rest: "POST /segments/evaluate",
      params: { $$strict: true, ...fanIdParam, criteria: criteriaParam },
      openapi: { summary: "Whether one fan matches criteria", tags: ["segments"] },
      async handler(ctx: Context<{ fanId: string; criteria: unknown }>) {
        const criteria = parseCriteria(ctx.params.criteria);
        const fan = await this.fanOr404(requireUser(ctx), ctx.params.fanId);
        return { fanId: fan.id, matches: evaluateCriteria(fan, criteria), criteria };
      },
    },

    getSegmentPerformance: {
      rest: "GET /segments/:id/performance",
      permission: "analytics",
      params: { $$strict: true, ...idParam },
      openapi: { summary: "Conversions and revenue of the campaigns targeting a segment (from analytics)", tags: ["segments"] },
      async handler(ctx: Context<{ id: string }>) {
        const segment = await this.segmentOr404(requireUser(ctx), ctx.params.id);
        const base = { segmentId: segment.id, memberCount: segment.memberCount };
        // Analytics is optional in a deployment (SERVICES=…): without it, say so instead of failing.
        if (!ctx.broker.registry.getActionEndpoints("analytics.segmentPerformance")?.hasAvailable()) {
          return { ...base, campaigns: 0, conversions: 0, revenue: 0, conversionRate: 0, source: "unavailable" };
        }
        const perf = await ctx.call<Record<string, unknown>, { segmentId: string }>("analytics.segmentPerformance", { segmentId: segment.id });
        return { ...base, ...perf, source: "analytics" };
      },
    },

    compareSegments: {
      rest: "POST /segments/compare",
      permission: "analytics",
      params: { $$strict: true, ids: { type: "array", items: { type: "string", min: 1, max: 200 }, min: 2, max: 10, unique: true } },
      openapi: { summary: "Segments side by side: size, averages and pairwise overlap", tags: ["segments"] },
      async handler(ctx: Context<{ ids: string[] }>) {
        const found = await this.store.getSegments(requireUser(ctx), ctx.params.ids);
        const missing = ctx.params.ids.find((id) => !found.some((s) => s.id === id));
        if (missing) throw new NotFoundError("segment", missing);
        const overlaps = await this.store.overlaps(ctx.params.ids);
        const ordered = ctx.params.ids.map((id) => found.find((s) => s.id === id)!);
        return {
          segments: ordered.map((s) => ({
            id: s.id,
            name: s.name,
            type: s.type,
            memberCount: s.memberCount,
            avgEngagement: s.avgEngagement,
            avgRevenue: s.avgRevenue,
            lastRefreshedAt: s.lastRefreshedAt,
          })),
          overlaps,
        };
      },
    },
  },

  methods: {
    thresholds() {
      return this.settings.spendingThresholds;
    },

    async segmentOr404(user: AuthUser, id: string) {
      const segment = await this.store.getSegment(user, id);
      if (!segment) throw new NotFoundError("segment", id);
      return segment;
    },

    async fanOr404(user: AuthUser, id: string) {
      const fan = await this.store.getFan(user, id);
      if (!fan) throw new NotFoundError("fan", id);
      return fan;
    },

    /** Re-decides the changed fans' dynamic memberships in memory and applies the difference. */
    async reevaluate(changed: Fan[], reason: string) {
      const audiences = new Map(changed.map((f) => [`${f.ownerId}\u0000${f.teamId ?? ""}`, { ownerId: f.ownerId, teamId: f.teamId }]));
      const dynamic = new Map<string, Segment>();
      for (const owner of audiences.values()) for (const s of await this.store.dynamicSegmentsForFansOf(owner)) dynamic.set(s.id, s);
      if (!dynamic.size) return;
      const current = await this.store.membershipsOf([...dynamic.keys()], changed.map((f) => ({ ownerId: f.ownerId, fanId: f.id })));
      const { add, remove } = diffMemberships(changed, [...dynamic.values()], current, new Date());
      const { entered, exited } = await this.store.applyMembershipChanges(add, remove);
      for (const [segmentId, fans] of bySegment(entered)) this.announce("entered", dynamic.get(segmentId)!, fans, reason);
      for (const [segmentId, fans] of bySegment(exited)) this.announce("exited", dynamic.get(segmentId)!, fans, reason);
    },

    /** Without `audit` the refresh is part of another recorded change (creating a segment, new criteria). */
    async refreshAndAnnounce(segment: Segment, reason: string, audit?: AuditContext) {
      const { segment: refreshed, entered, exited } = await this.store.refreshSegment(segment, audit ?? null);
      this.announce("entered", refreshed, entered, reason);
      this.announce("exited", refreshed, exited, reason);
      this.broker.emit("segmentation.segment.refreshed", { segment: refreshed, entered: entered.length, exited: exited.length, reason });
      return refreshed;
    },

    /** `segmentation.segment.entered|exited` with `{segmentId, ownerId, fans: [{ownerId, fanId}], reason}`, ≤1000 fans each. */
    announce(event: "entered" | "exited", segment: Pick<Segment, "id" | "ownerId">, fans: FanKey[], reason: string) {
      for (let i = 0; i < fans.length; i += EVENT_CHUNK) {
        this.broker.emit(`segmentation.segment.${event}`, { segmentId: segment.id, ownerId: segment.ownerId, fans: fans.slice(i, i + EVENT_CHUNK), reason });
      }
    },
  },

  async started() {
    // One recurring job per name across the cluster (Agenda's `every` upserts it), so every node may ask.
    await (this as unknown as { agenda: { every(interval: string, name: string): Promise<unknown> } }).agenda.every(REFRESH_EVERY, REFRESH_JOB);
  },
};

export default SegmentationService;
