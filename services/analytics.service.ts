/**
 * Analytics: event ingestion (single, batch), hourly rollups into campaign_metrics, campaign metrics,
 * ROI, funnels, comparisons, trends, patterns, recommendations and downloadable reports.
 */
import type { Agenda } from "agenda";
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { requireUser } from "../lib/access";
import type { AuthUser } from "../lib/auth";
import { NotFoundError, UnprocessableError, type FieldProblem } from "../lib/errors";
import { cleanPattern } from "../lib/cache-keys";
import { JobsMixin, StoreMixin } from "../lib/mixins";
import { runtimeOf } from "../lib/runtime";
import { isServiceAvailable } from "../lib/service-registry";
import { PLATFORMS } from "./campaigns/schema";
import { createFanHasher, fanHashKey, type FanHasher } from "./analytics/fan-hash";
import { domainEventsFor, toNewEvent, type TrackInput } from "./analytics/ingest";
import { bestGroup, hourOfWeekLabel, recommend, type Group, type Pattern } from "./analytics/insights";
import { withDerived, type Counters, type Metrics } from "./analytics/metrics";
import { CONTENT_TYPES, REPORT_FORMATS, reportCsv, reportPdf, type CampaignReport, type ReportFormat } from "./analytics/report";
import { EVENT_TYPES } from "./analytics/schema";
import { AnalyticsStore, ceilHour, DIMENSIONS, floorHour, type BucketUnit, type CampaignFacts, type Totals } from "./analytics/store";
import { TtlCache } from "./analytics/ttl-cache";
import "../lib/schema-types";

export const MAX_BATCH = 1000;
/** Clock skew tolerated on a client's `occurredAt`. */
const FUTURE_SKEW_MS = 5 * 60_000;
const ROLLUP_JOB = "analytics.rollup";
const HOUR_MS = 3_600_000;
/** Longest range per trend bucket size, to bound the answer. */
const MAX_BUCKETS = 1000;
const BUCKET_MS: Record<BucketUnit, number> = { hour: HOUR_MS, day: 24 * HOUR_MS, week: 7 * 24 * HOUR_MS };
const DEFAULT_TREND_SPAN: Record<BucketUnit, number> = { hour: 48 * HOUR_MS, day: 30 * 24 * HOUR_MS, week: 12 * 7 * 24 * HOUR_MS };

const eventFields = {
  type: { type: "enum", values: EVENT_TYPES },
  campaignId: { type: "string", min: 1, max: 100 },
  platform: { type: "enum", values: PLATFORMS },
  fanId: { type: "string", min: 1, max: 200, optional: true },
  variantId: { type: "string", min: 1, max: 100, optional: true },
  value: { type: "number", min: 0, max: 1e9, optional: true },
  cost: { type: "number", min: 0, max: 1e9, optional: true },
  currency: { type: "string", pattern: "^[A-Z]{3}$", optional: true },
  eventId: { type: "string", min: 1, max: 100, optional: true },
  occurredAt: { type: "date", convert: true, optional: true },
} as const;

const idParam = { id: { type: "string", min: 1, max: 100 } } as const;
const rangeParams = {
  from: { type: "date", convert: true, optional: true },
  to: { type: "date", convert: true, optional: true },
} as const;

/** Campaign-scoped reads: the campaign id first, so ingest can drop exactly that campaign's entries. */
const campaignCache = { keys: ["id", "#user.id", "#user.teamId", "#user.role"], ttl: 60 };
/** Owner-wide reads: the user first and the team second (see cleanCaches). */
const ownerCache = (...keys: string[]) => ({ keys: ["#user.id", "#user.teamId", "#user.role", ...keys], ttl: 60 });

type Methods = {
  campaignFor(ctx: Context, id: string): Promise<CampaignFacts>;
  ingest(ctx: Context, inputs: TrackInput[], campaigns: Map<string, CampaignFacts>): Promise<{ accepted: number; new: number; duplicates: number; eventIds: string[] }>;
  cleanCaches(scopes: Array<Pick<CampaignFacts, "id" | "ownerId" | "teamId">>): Promise<void>;
  campaignMetrics(user: AuthUser, campaign: CampaignFacts): Promise<Metrics & { campaignId: string; name: string; reach: number }>;
  funnel(user: AuthUser, campaign: CampaignFacts): Promise<Funnel>;
  platforms(user: AuthUser, campaign: CampaignFacts): Promise<Array<Metrics & { platform: string; reach: number }>>;
  patterns(user: AuthUser): Promise<Pattern[]>;
  templateNiches(user: AuthUser): Promise<Map<string, string>>;
  campaignGroups(user: AuthUser): Promise<Array<Group & { facts?: CampaignFacts }>>;
  buildReport(user: AuthUser, campaign: CampaignFacts): Promise<CampaignReport>;
};
interface Funnel {
  campaignId: string;
  stages: Array<{ stage: "impression" | "click" | "conversion"; count: number; dropOff: number | null; rateFromPrevious?: number | null }>;
  overallConversionRate: number | null;
  medianSecondsToConvert: number | null;
  conversionsWithClick: number;
}
type Vars = { store: AnalyticsStore; hashFan: FanHasher; campaignsSeen: TtlCache<CampaignFacts> };

const counters = (t: Totals): Counters => ({ impressions: t.impressions, clicks: t.clicks, conversions: t.conversions, revenue: t.revenue, spent: t.spent });

function assertNotFuture(inputs: TrackInput[], now: Date, path: (i: number) => string): void {
  const problems: FieldProblem[] = [];
  inputs.forEach((e, i) => {
    if (e.occurredAt && e.occurredAt.getTime() > now.getTime() + FUTURE_SKEW_MS) {
      problems.push({ field: `${path(i)}occurredAt`, message: "occurredAt lies in the future", type: "dateMax" });
    }
  });
  if (problems.length) throw new UnprocessableError("Events may not happen in the future", problems);
}

/** Start of the UTC bucket holding `d` (weeks start on Monday, as date_trunc('week') does). */
function bucketStart(d: Date, unit: BucketUnit): Date {
  if (unit === "hour") return floorHour(d);
  const day = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  if (unit === "day") return day;
  const sinceMonday = (day.getUTCDay() + 6) % 7;
  return new Date(day.getTime() - sinceMonday * 24 * HOUR_MS);
}

/** Every bucket of the range with its counters, zeros where nothing happened (a chart needs the gaps). */
function fillBuckets(rows: Totals[], from: Date, to: Date, unit: BucketUnit) {
  const byBucket = new Map(rows.map((r) => [new Date(r.bucket as string).toISOString(), counters(r)]));
  const out: Array<ReturnType<typeof withDerived<Counters>> & { bucket: string }> = [];
  for (let t = bucketStart(from, unit).getTime(); t < to.getTime(); t += BUCKET_MS[unit]) {
    const bucket = new Date(t).toISOString();
    out.push({ bucket, ...withDerived(byBucket.get(bucket) ?? { impressions: 0, clicks: 0, conversions: 0, revenue: 0, spent: 0 }) });
  }
  return out;
}

const AnalyticsService: ServiceSchema<ServiceSettingSchema, Methods, Vars> = {
  name: "analytics",
  settings: { rest: "/" },
  mixins: [
    StoreMixin((db) => new AnalyticsStore(db)),
    JobsMixin({
      async [ROLLUP_JOB](this: unknown) {
        await (this as { store: AnalyticsStore }).store.rollup();
      },
    }),
  ],

  actions: {
    track: {
      rest: "POST /track",
      permission: "write",
      params: { $$strict: true, ...eventFields },
      openapi: { summary: "Track one event (impression, click or conversion); 201 when new, 200 when the eventId was already stored", tags: ["analytics"], status: 201 },
      async handler(ctx: Context<TrackInput>) {
        assertNotFuture([ctx.params], new Date(), () => "");
        const campaign = await this.campaignFor(ctx, ctx.params.campaignId);
        const result = await this.ingest(ctx, [ctx.params], new Map([[campaign.id, campaign]]));
        // The event itself has no resource of its own; it shows in the campaign's metrics.
        if (result.new) Object.assign(ctx.meta, { $statusCode: 201, $location: `/api/campaigns/${campaign.id}/metrics` });
        return { eventId: result.eventIds[0], duplicate: result.duplicates === 1 };
      },
    },

    trackBatch: {
      rest: "POST /track/batch",
      permission: "write",
      params: {
        $$strict: true,
        events: { type: "array", min: 1, max: MAX_BATCH, items: { type: "object", strict: true, props: eventFields } },
      },
      openapi: { summary: `Track up to ${MAX_BATCH} events in one transaction; says how many were new and how many duplicates`, tags: ["analytics"] },
      async handler(ctx: Context<{ events: TrackInput[] }>) {
        const { events } = ctx.params;
        assertNotFuture(events, new Date(), (i) => `events[${i}].`);
        const campaigns = new Map<string, CampaignFacts>();
        const missing: FieldProblem[] = [];
        for (const id of new Set(events.map((e) => e.campaignId))) {
          try {
            campaigns.set(id, await this.campaignFor(ctx, id));
          } catch (err) {
            if (!(err instanceof NotFoundError)) throw err;
            events.forEach((e, i) => e.campaignId === id && missing.push({ field: `events[${i}].campaignId`, message: `campaign ${JSON.stringify(id)} was not found`, type: "notFound" }));
          }
        }
        if (missing.length) throw new UnprocessableError("Some events name campaigns that do not exist", missing);
        const { eventIds: _ids, ...counts } = await this.ingest(ctx, events, campaigns);
        return counts;
      },
    },

    trackImpression: {
      rest: "POST /campaigns/:campaignId/impressions",
      permission: "write",
      params: { $$strict: true, campaignId: eventFields.campaignId, platform: eventFields.platform, fanId: eventFields.fanId, variantId: eventFields.variantId, cost: eventFields.cost, eventId: eventFields.eventId, occurredAt: eventFields.occurredAt },
      openapi: { summary: "Track an impression of a campaign", tags: ["analytics"], status: 201 },
      handler(ctx: Context<Omit<TrackInput, "type">>) {
        return ctx.call("analytics.track", { ...ctx.params, type: "impression" }, { meta: ctx.meta });
      },
    },

    trackClick: {
      rest: "POST /campaigns/:campaignId/clicks",
      permission: "write",
      params: { $$strict: true, campaignId: eventFields.campaignId, platform: eventFields.platform, fanId: { ...eventFields.fanId, optional: false }, variantId: eventFields.variantId, cost: eventFields.cost, eventId: eventFields.eventId, occurredAt: eventFields.occurredAt },
      openapi: { summary: "Track a fan's click on a campaign", tags: ["analytics"], status: 201 },
      handler(ctx: Context<Omit<TrackInput, "type">>) {
        return ctx.call("analytics.track", { ...ctx.params, type: "click" }, { meta: ctx.meta });
      },
    },

    trackConversion: {
      rest: "POST /campaigns/:campaignId/conversions",
      permission: "write",
      params: { $$strict: true, campaignId: eventFields.campaignId, platform: eventFields.platform, fanId: { ...eventFields.fanId, optional: false }, variantId: eventFields.variantId, value: { ...eventFields.value, optional: false }, currency: eventFields.currency, cost: eventFields.cost, eventId: eventFields.eventId, occurredAt: eventFields.occurredAt },
      openapi: { summary: "Track a fan's conversion (purchase, subscription) with its value", tags: ["analytics"], status: 201 },
      handler(ctx: Context<Omit<TrackInput, "type">>) {
        return ctx.call("analytics.track", { ...ctx.params, type: "conversion" }, { meta: ctx.meta });
      },
    },

    getCampaignMetrics: {
      rest: "GET /campaigns/:id/metrics",
      permission: "analytics",
      params: { $$strict: true, ...idParam },
      cache: campaignCache,
      openapi: { summary: "A campaign's counters and rates so far (rollups plus the live tail)", tags: ["analytics"] },
      async handler(ctx: Context<{ id: string }>) {
        return this.campaignMetrics(requireUser(ctx), await this.campaignFor(ctx, ctx.params.id));
      },
    },

    getCampaignROI: {
      rest: "GET /campaigns/:id/roi",
      permission: "analytics",
      params: { $$strict: true, ...idParam },
      cache: campaignCache,
      openapi: { summary: "A campaign's revenue, spend, ROI = (revenue − spent)/spent and CPA, with budget use", tags: ["analytics"] },
      async handler(ctx: Context<{ id: string }>) {
        const campaign = await this.campaignFor(ctx, ctx.params.id);
        const m = await this.campaignMetrics(requireUser(ctx), campaign);
        return {
          campaignId: campaign.id,
          revenue: m.revenue,
          spent: m.spent,
          profit: m.revenue - m.spent,
          roi: m.roi,
          cpa: m.cpa,
          conversions: m.conversions,
          budget: campaign.budget,
          budgetUsed: campaign.budget ? m.spent / campaign.budget : null,
        };
      },
    },

    getConversionFunnel: {
      rest: "GET /campaigns/:id/funnel",
      permission: "analytics",
      params: { $$strict: true, ...idParam },
      cache: campaignCache,
      openapi: { summary: "Impression → click → conversion with drop-off and median time from click to conversion", tags: ["analytics"] },
      async handler(ctx: Context<{ id: string }>) {
        return this.funnel(requireUser(ctx), await this.campaignFor(ctx, ctx.params.id));
      },
    },

    comparePlatforms: {
      rest: "GET /campaigns/:id/platforms",
      permission: "analytics",
      params: { $$strict: true, ...idParam },
      cache: campaignCache,
      openapi: { summary: "A campaign's metrics per platform", tags: ["analytics"] },
      async handler(ctx: Context<{ id: string }>) {
        const campaign = await this.campaignFor(ctx, ctx.params.id);
        return { campaignId: campaign.id, platforms: await this.platforms(requireUser(ctx), campaign) };
      },
    },

    generateReport: {
      rest: "GET /campaigns/:id/report",
      permission: "analytics",
      params: { $$strict: true, ...idParam, format: { type: "enum", values: REPORT_FORMATS, default: "json" } },
      openapi: { summary: "A campaign report as JSON, CSV or PDF (summary table and performance chart)", tags: ["analytics"], response: { contentType: "application/pdf" } },
      async handler(ctx: Context<{ id: string; format: ReportFormat }>) {
        const campaign = await this.campaignFor(ctx, ctx.params.id);
        const report = await this.buildReport(requireUser(ctx), campaign);
        if (ctx.params.format === "json") return report;
        const body = ctx.params.format === "csv" ? reportCsv(report) : await reportPdf(report);
        const filename = `campaign-${campaign.id}-report.${ctx.params.format}`;
        Object.assign(ctx.meta, { $responseType: CONTENT_TYPES[ctx.params.format], $responseHeaders: { "Content-Disposition": `attachment; filename="${filename}"` } });
        return body;
      },
    },

    compareCampaigns: {
      rest: "POST /analytics/compare",
      permission: "analytics",
      params: { $$strict: true, campaignIds: { type: "array", min: 2, max: 20, unique: true, items: { type: "string", min: 1, max: 100 } } },
      cache: ownerCache("campaignIds"),
      openapi: { summary: "Metrics of several campaigns side by side, with the leader per metric", tags: ["analytics"] },
      async handler(ctx: Context<{ campaignIds: string[] }>) {
        const user = requireUser(ctx);
        const facts = await Promise.all(ctx.params.campaignIds.map((id) => this.campaignFor(ctx, id)));
        const rows = await this.store.totals(user, { campaignIds: ctx.params.campaignIds }, [DIMENSIONS.campaign]);
        const reach = await this.store.reach(user, ctx.params.campaignIds);
        const byId = new Map(rows.map((r) => [r.campaignId as string, counters(r)]));
        const campaigns = facts.map((f) => ({ campaignId: f.id, name: f.name, reach: reach.get(f.id) ?? 0, ...withDerived(byId.get(f.id) ?? { impressions: 0, clicks: 0, conversions: 0, revenue: 0, spent: 0 }) }));
        const leaders: Record<string, string | null> = {};
        for (const metric of ["impressions", "clicks", "conversions", "revenue", "ctr", "conversionRate", "roi"] as const) {
          const ranked = campaigns.filter((c) => c[metric] !== null).sort((a, b) => (b[metric] as number) - (a[metric] as number));
          leaders[metric] = ranked.length && (ranked[0][metric] as number) > 0 ? ranked[0].campaignId : null;
        }
        return { campaigns, leaders };
      },
    },

    getPerformanceTrends: {
      rest: "GET /analytics/trends",
      permission: "analytics",
      params: { $$strict: true, timeframe: { type: "enum", values: ["hour", "day", "week"], default: "day" }, ...rangeParams },
      cache: ownerCache("timeframe", "from", "to"),
      openapi: { summary: "The caller's counters and rates per hour, day or week bucket over a range (UTC)", tags: ["analytics"] },
      async handler(ctx: Context<{ timeframe: BucketUnit; from?: Date; to?: Date }>) {
        const unit = ctx.params.timeframe;
        const to = ceilHour(ctx.params.to ?? new Date());
        const from = bucketStart(ctx.params.from ?? new Date(to.getTime() - DEFAULT_TREND_SPAN[unit]), unit);
        if (from >= to) throw new UnprocessableError("The range is empty", [{ field: "from", message: "from must be before to", type: "dateMax" }]);
        if ((to.getTime() - from.getTime()) / BUCKET_MS[unit] > MAX_BUCKETS) {
          throw new UnprocessableError("The range holds too many buckets", [{ field: "from", message: `at most ${MAX_BUCKETS} ${unit} buckets per request`, type: "dateMin" }]);
        }
        const rows = await this.store.totals(requireUser(ctx), { from, to }, [DIMENSIONS.bucket(unit)]);
        return { timeframe: unit, from: from.toISOString(), to: to.toISOString(), buckets: fillBuckets(rows, from, to, unit) };
      },
    },

    getTopPerformingCampaigns: {
      rest: "GET /analytics/top",
      permission: "analytics",
      params: {
        $$strict: true,
        limit: { type: "number", integer: true, min: 1, max: 100, convert: true, default: 10 },
        by: { type: "enum", values: ["revenue", "roi", "conversions", "conversionRate", "ctr"], default: "revenue" },
      },
      cache: ownerCache("limit", "by"),
      openapi: { summary: "The caller's best campaigns by revenue, ROI, conversions or a rate (rates need enough sample)", tags: ["analytics"] },
      async handler(ctx: Context<{ limit: number; by: "revenue" | "roi" | "conversions" | "conversionRate" | "ctr" }>) {
        const { limit, by } = ctx.params;
        const groups = await this.campaignGroups(requireUser(ctx));
        const ranked = groups
          .map((g) => ({ campaignId: g.key, name: g.label, type: g.facts?.type ?? null, ...withDerived(g.counters) }))
          .filter((c) => c[by] !== null && (by !== "ctr" || c.impressions >= 100) && (by !== "conversionRate" || c.clicks >= 30))
          .sort((a, b) => (b[by] as number) - (a[by] as number) || a.campaignId.localeCompare(b.campaignId));
        return { by, items: ranked.slice(0, limit) };
      },
    },

    identifyPatterns: {
      rest: "GET /analytics/patterns",
      permission: "analytics",
      params: { $$strict: true },
      cache: ownerCache(),
      openapi: { summary: "Best hour of the week, platform, campaign type, template and template niche, each with its sample size", tags: ["analytics"] },
      async handler(ctx: Context) {
        return { patterns: await this.patterns(requireUser(ctx)) };
      },
    },

    getRecommendations: {
      rest: "GET /analytics/recommendations",
      permission: "analytics",
      params: { $$strict: true },
      cache: ownerCache(),
      openapi: { summary: "Rule-based advice, each with its evidence and confidence; nothing from too little data", tags: ["analytics"] },
      async handler(ctx: Context) {
        const user = requireUser(ctx);
        const [patterns, campaigns] = await Promise.all([this.patterns(user), this.campaignGroups(user)]);
        return { recommendations: recommend(patterns, campaigns) };
      },
    },

    runRollup: {
      // Internal: the hourly job's work on demand (operations, tests). Not exposed through the gateways.
      rest: null,
      visibility: "protected",
      permission: false,
      params: {
        $$strict: true,
        now: { type: "date", convert: true, optional: true },
        // 0 counts everything received so far; only safe when no ingest is in flight.
        safetyMs: { type: "number", integer: true, min: 0, max: 3_600_000, optional: true },
      },
      async handler(ctx: Context<{ now?: Date; safetyMs?: number }>) {
        return { hours: await this.store.rollup(ctx.params) };
      },
    },
  },

  events: {
    "segmentation.fan.erased": {
      params: { ownerId: "string", fanId: "string" },
      async handler(ctx: Context<{ ownerId: string; fanId: string }>) {
        const { ownerId, fanId } = ctx.params;
        const erased = await this.store.eraseFan(ownerId, this.hashFan(ownerId, fanId));
        if (erased) await this.cleanCaches([{ id: "*", ownerId, teamId: null }]);
        this.logger.info(`erased ${erased} analytics events of one fan of ${ownerId}`);
      },
    },
    "campaigns.campaign.created": {
      handler(ctx: Context<{ campaign: CampaignFacts }>) {
        return this.store.saveCampaign(pickFacts(ctx.params.campaign));
      },
    },
    "campaigns.campaign.updated": {
      async handler(ctx: Context<{ campaign: CampaignFacts }>) {
        await this.store.saveCampaign(pickFacts(ctx.params.campaign));
        this.campaignsSeen.deleteBySuffix(`|${ctx.params.campaign.id}`);
      },
    },
    "campaigns.campaign.deleted": {
      handler(ctx: Context<{ id: string }>) {
        this.campaignsSeen.deleteBySuffix(`|${ctx.params.id}`);
      },
    },
    "cache.clean.analytics": {
      handler(ctx: Context<{ patterns: string[] }>) {
        return this.broker.cacher?.clean(ctx.params.patterns);
      },
    },
  },

  methods: {
    /**
     * The campaign as the caller may see it — asked of the campaigns service (analytics never reads its
     * tables), remembered for a minute per user so batches and bursts don't ask per event. A campaign
     * the caller may not see is a 404.
     */
    async campaignFor(ctx: Context, id: string): Promise<CampaignFacts> {
      const user = requireUser(ctx);
      const key = `${user.id}|${user.teamId}|${user.role}|${id}`;
      const seen = this.campaignsSeen.get(key);
      if (seen) return seen;
      const campaign = pickFacts(await ctx.call<CampaignFacts, { id: string }>("campaigns.get", { id }, { meta: ctx.meta }));
      await this.store.saveCampaign(campaign);
      this.campaignsSeen.set(key, campaign);
      return campaign;
    },

    /** One INSERT for all events; domain events and cache cleaning only after it committed. */
    async ingest(ctx: Context, inputs: TrackInput[], campaigns: Map<string, CampaignFacts>) {
      const now = new Date();
      const rows = inputs.map((input) => toNewEvent(input, campaigns.get(input.campaignId)!, this.hashFan, now));
      const inserted = await this.store.insertEvents(rows);
      for (const event of domainEventsFor(inserted)) ctx.emit(event.name, event.payload);
      if (inserted.length) await this.cleanCaches([...campaigns.values()]);
      return { accepted: inputs.length, new: inserted.length, duplicates: inputs.length - inserted.length, eventIds: rows.map((r) => r.eventId) };
    },

    /**
     * Drops the cached reads that may include these campaigns on every node: campaign-keyed entries, the
     * owner's own owner-wide entries, and the owner-wide entries of their team's members.
     */
    async cleanCaches(scopes) {
      const patterns = new Set<string>();
      for (const s of scopes) {
        patterns.add(cleanPattern("analytics", s.id));
        patterns.add(cleanPattern("analytics", s.ownerId));
        if (s.teamId) patterns.add(cleanPattern("analytics", "*", s.teamId));
      }
      await this.broker.broadcast("cache.clean.analytics", { patterns: [...patterns] });
    },

    async campaignMetrics(user, campaign) {
      const [[totals], reach] = await Promise.all([this.store.totals(user, { campaignIds: [campaign.id] }, []), this.store.reach(user, [campaign.id])]);
      return { campaignId: campaign.id, name: campaign.name, reach: reach.get(campaign.id) ?? 0, ...withDerived(counters(totals)) };
    },

    async funnel(user, campaign) {
      const [[t], time] = await Promise.all([this.store.totals(user, { campaignIds: [campaign.id] }, []), this.store.timeToConvert(user, campaign.id)]);
      const dropOff = (from: number, to: number) => (from > 0 ? Math.max(0, 1 - to / from) : null);
      return {
        campaignId: campaign.id,
        stages: [
          { stage: "impression", count: t.impressions, dropOff: null },
          { stage: "click", count: t.clicks, dropOff: dropOff(t.impressions, t.clicks), rateFromPrevious: t.impressions ? t.clicks / t.impressions : null },
          { stage: "conversion", count: t.conversions, dropOff: dropOff(t.clicks, t.conversions), rateFromPrevious: t.clicks ? t.conversions / t.clicks : null },
        ],
        overallConversionRate: t.impressions ? t.conversions / t.impressions : null,
        medianSecondsToConvert: time.medianSeconds,
        conversionsWithClick: time.attributed,
      };
    },

    async platforms(user, campaign) {
      const [rows, reach] = await Promise.all([
        this.store.totals(user, { campaignIds: [campaign.id] }, [DIMENSIONS.platform]),
        this.store.reach(user, [campaign.id], true),
      ]);
      return rows.map((r) => ({ platform: r.platform as string, reach: reach.get(r.platform as string) ?? 0, ...withDerived(counters(r)) }));
    },

    async campaignGroups(user) {
      const [rows, facts] = await Promise.all([this.store.totals(user, {}, [DIMENSIONS.campaign]), this.store.campaignsOf(user)]);
      const byId = new Map(facts.map((f) => [f.id, f]));
      return rows.map((r) => ({ key: r.campaignId as string, label: byId.get(r.campaignId as string)?.name ?? (r.campaignId as string), counters: counters(r), facts: byId.get(r.campaignId as string) }));
    },

    async patterns(user) {
      const [hours, platforms, campaigns, templates] = await Promise.all([
        this.store.totals(user, {}, [DIMENSIONS.dayOfWeek, DIMENSIONS.hourOfDay]),
        this.store.totals(user, {}, [DIMENSIONS.platform]),
        this.campaignGroups(user),
        this.templateNiches(user),
      ]);
      const regroup = (key: (g: (typeof campaigns)[number]) => string | null | undefined, kind: Pattern["kind"]) => {
        const acc = new Map<string, Counters>();
        for (const g of campaigns) {
          const k = key(g);
          if (!k) continue;
          const c = acc.get(k) ?? { impressions: 0, clicks: 0, conversions: 0, revenue: 0, spent: 0 };
          for (const f of ["impressions", "clicks", "conversions", "revenue", "spent"] as const) c[f] += g.counters[f];
          acc.set(k, c);
        }
        return bestGroup(kind, [...acc].map(([k, c]) => ({ key: k, label: k, counters: c })));
      };
      return [
        bestGroup("hourOfWeek", hours.map((h) => ({ key: `${h.dayOfWeek}-${h.hourOfDay}`, label: hourOfWeekLabel(h.dayOfWeek as number, h.hourOfDay as number), counters: counters(h) }))),
        bestGroup("platform", platforms.map((p) => ({ key: p.platform as string, label: p.platform as string, counters: counters(p) }))),
        regroup((g) => g.facts?.type, "campaignType"),
        regroup((g) => g.facts?.templateId, "template"),
        regroup((g) => (g.facts?.templateId ? templates.get(g.facts.templateId) : undefined), "templateNiche"),
      ].filter((p): p is Pattern => p !== undefined);
    },

    /** templateId → niche, from the campaigns service's template library (cached there for an hour). */
    async templateNiches(user) {
      if (!isServiceAvailable(this.broker, "campaigns")) return new Map<string, string>();
      try {
        const list = await this.broker.call<Array<{ id: string; niche: string }>, object>("campaigns.listTemplates", {}, { meta: { user } });
        return new Map(list.map((t) => [t.id, t.niche]));
      } catch {
        // Patterns by niche are a refinement: without the library the other patterns still stand.
        return new Map<string, string>();
      }
    },

    async buildReport(user, campaign) {
      const [summary, platforms, funnel, hourly] = await Promise.all([
        this.campaignMetrics(user, campaign),
        this.platforms(user, campaign),
        this.funnel(user, campaign),
        this.store.totals(user, { campaignIds: [campaign.id] }, [DIMENSIONS.bucket("hour")]),
      ]);
      // Hourly when the campaign's activity spans up to three days, daily beyond.
      const first = hourly.length ? new Date(hourly[0].bucket as string) : new Date();
      const last = hourly.length ? new Date(hourly[hourly.length - 1].bucket as string) : first;
      const unit: "hour" | "day" = last.getTime() - first.getTime() <= 72 * HOUR_MS ? "hour" : "day";
      const rows = unit === "hour" ? hourly : regroupByDay(hourly);
      const stages = funnel.stages.map((s) => s.count);
      return {
        campaign: { id: campaign.id, name: campaign.name, type: campaign.type },
        generatedAt: new Date().toISOString(),
        summary,
        platforms,
        trend: { unit, buckets: hourly.length ? fillBuckets(rows, first, new Date(last.getTime() + 1), unit) : [] },
        funnel: { impressions: stages[0], clicks: stages[1], conversions: stages[2], medianSecondsToConvert: funnel.medianSecondsToConvert },
      };
    },
  },

  created() {
    this.campaignsSeen = new TtlCache<CampaignFacts>(60_000);
  },

  async started() {
    const runtime = runtimeOf(this.broker);
    this.hashFan = createFanHasher(fanHashKey(runtime.config.analyticsFanKey, runtime.jwtSecret()));
    // Agenda keeps one schedule per name: every node declares it, and it runs once per hour overall
    // (five minutes past, so the hour just closed is complete).
    await (this as unknown as { agenda: Agenda }).agenda.every("5 * * * *", ROLLUP_JOB, undefined, { timezone: "UTC" });
  },
};

function pickFacts(c: CampaignFacts): CampaignFacts {
  return { id: c.id, ownerId: c.ownerId, teamId: c.teamId ?? null, name: c.name, type: c.type, templateId: c.templateId ?? null, budget: c.budget ?? null };
}

function regroupByDay(hourly: Totals[]): Totals[] {
  const days = new Map<string, Totals>();
  for (const h of hourly) {
    const day = bucketStart(new Date(h.bucket as string), "day").toISOString();
    const d = days.get(day) ?? ({ bucket: day, impressions: 0, clicks: 0, conversions: 0, revenue: 0, spent: 0 } as Totals);
    for (const f of ["impressions", "clicks", "conversions", "revenue", "spent"] as const) d[f] += h[f];
    days.set(day, d);
  }
  return [...days.values()];
}

export default AnalyticsService;
