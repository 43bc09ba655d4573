/**
 * A/B tests of campaigns: design, deterministic assignment, counters, statistical analysis (lib/stats),
 * applying the winner to the campaign, and an hourly job for auto-apply and bandit re-weighting.
 * Part of the campaigns domain but its own service; it reaches campaigns only through their actions.
 */
import crypto from "node:crypto";
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { requireUser } from "../lib/access";
import { auditOf, systemAudit, systemMeta } from "./audit/context";
import type { AuthUser } from "../lib/auth";
import { ConflictError, NotFoundError } from "../lib/errors";
import { JobsMixin, StoreMixin } from "../lib/mixins";
import { analyzeTest, type Analysis } from "./abtests/analysis";
import { assignVariant } from "./abtests/assignment";
import { thompsonSplit, type ArmPosterior } from "./abtests/bandit";
import { variantsWithShares, type VariantInput } from "./abtests/design";
import { AnalyticsEventError, performanceOfEvent, VARIANT_COUNTED_EVENT, type CountedVariant } from "./abtests/events";
import { AB_TEST_METRICS, AB_TEST_MODES, type ABTestMetric, type ABTestMode } from "./abtests/schema";
import { ABTestStore, type ABTestWithVariants, type PerformanceDelta } from "./abtests/store";
import "../lib/schema-types";

const TAGS = ["ab-tests"];
const id = { type: "string", min: 1, max: 100 } as const;
const count = { type: "number", integer: true, min: 0, max: 1e9, convert: true, default: 0 } as const;

/** The design of a test, shared by create and (without the campaign id) copy. */
const designParams = {
  name: { type: "string", trim: true, min: 1, max: 200, optional: true },
  variants: {
    type: "array",
    min: 2,
    max: 20,
    items: {
      type: "object",
      strict: true,
      props: {
        name: { type: "string", trim: true, min: 1, max: 100 },
        isControl: { type: "boolean", default: false },
        content: { type: "object", maxProps: 100 },
      },
    },
  },
  trafficSplit: { type: "record", key: { type: "string", max: 100 }, value: { type: "number", positive: true, max: 100 }, optional: true },
  minSampleSize: { type: "number", integer: true, min: 1, max: 1e9, default: 100 },
  confidenceLevel: { type: "number", min: 0.8, max: 0.999, default: 0.95 },
  metric: { type: "enum", values: AB_TEST_METRICS, default: "conversion_rate" },
  autoApply: { type: "boolean", default: false },
  mode: { type: "enum", values: AB_TEST_MODES, default: "fixed" },
} as const;

interface DesignInput {
  name?: string;
  variants: VariantInput[];
  trafficSplit?: Record<string, number>;
  minSampleSize: number;
  confidenceLevel: number;
  metric: ABTestMetric;
  autoApply: boolean;
  mode: ABTestMode;
}

/** The test as clients see it: the row, its variants in assignment order, and the current split by name. */
function present(test: ABTestWithVariants) {
  return { ...test, trafficSplit: Object.fromEntries(test.variants.map((v) => [v.name, v.weight])) };
}

/** The acting identity of a job or event that works on behalf of a test's owner. */
function ownerOf(row: { ownerId: string; teamId: string | null }): AuthUser {
  return { id: row.ownerId, teamId: row.teamId, role: "owner" };
}

/** Posterior of each arm's metric for Thompson sampling (flat priors). */
function posteriors(test: ABTestWithVariants): ArmPosterior[] {
  return test.variants.map((v): ArmPosterior => {
    if (test.metric === "revenue_per_impression") {
      const n = Math.max(1, v.impressions);
      const mean = v.revenue / n;
      const variance = Math.max(0, v.revenueSquares / n - mean * mean);
      // With no data yet every arm is equally uncertain: a wide posterior keeps the split near equal.
      return { kind: "normal", mean, sd: v.impressions > 1 ? Math.sqrt(variance / n) : 1e6 };
    }
    const successes = test.metric === "ctr" ? v.clicks : v.conversions;
    return { kind: "beta", alpha: 1 + successes, beta: 1 + Math.max(0, v.impressions - successes) };
  });
}

type Methods = {
  loadTest(user: AuthUser, id: string): Promise<ABTestWithVariants>;
  analyse(test: ABTestWithVariants): Analysis;
  startTest(ctx: Context, campaignId: string, design: DesignInput): Promise<ABTestWithVariants>;
  applyWinner(ctx: Context, user: AuthUser, id: string): Promise<ReturnType<typeof present> & { analysis: Analysis }>;
  rebalance(ctx: Context | null, user: AuthUser, id: string, seed: number): Promise<ABTestWithVariants>;
  hourlyCheck(): Promise<void>;
  countAnalyticsEvent(payload: unknown): Promise<void>;
};
type Vars = { store: ABTestStore };
type Self = Service & Methods & Vars;

const HOURLY_JOB = "abtests.hourly-check";

const ABTestsService: ServiceSchema<ServiceSettingSchema, Methods, Vars> = {
  name: "abtests",
  settings: { rest: "/" },
  mixins: [
    StoreMixin((db) => new ABTestStore(db)),
    JobsMixin({
      async [HOURLY_JOB](this: Service) {
        await (this as Self).hourlyCheck();
      },
    }),
  ],

  actions: {
    create: {
      rest: "POST /campaigns/:id/ab-test",
      permission: "write",
      params: { $$strict: true, id, ...designParams },
      openapi: { summary: "Start an A/B test on a campaign (one running test per campaign)", tags: TAGS, status: 201 },
      async handler(ctx: Context<{ id: string } & DesignInput>) {
        const { id: campaignId, ...design } = ctx.params;
        const test = await this.startTest(ctx, campaignId, design);
        Object.assign(ctx.meta, { $statusCode: 201, $location: `/api/ab-tests/${test.id}` });
        return present(test);
      },
    },

    get: {
      rest: "GET /ab-tests/:id",
      params: { $$strict: true, id },
      openapi: { summary: "Get an A/B test with its variants and counters", tags: TAGS },
      async handler(ctx: Context<{ id: string }>) {
        return present(await this.loadTest(requireUser(ctx), ctx.params.id));
      },
    },

    results: {
      rest: "GET /ab-tests/:id/results",
      params: { $$strict: true, id },
      openapi: { summary: "Current analysis of a test (no side effects; lists what is still missing)", tags: TAGS },
      async handler(ctx: Context<{ id: string }>) {
        const test = await this.loadTest(requireUser(ctx), ctx.params.id);
        return { testId: test.id, status: test.status, ...this.analyse(test) };
      },
    },

    determineWinner: {
      rest: "POST /ab-tests/:id/winner",
      permission: "analytics",
      params: { $$strict: true, id },
      openapi: { summary: "Decide the winner; 409 until every variant has the minimum samples", tags: TAGS },
      async handler(ctx: Context<{ id: string }>) {
        const user = requireUser(ctx);
        const test = await this.loadTest(user, ctx.params.id);
        const analysis = this.analyse(test);
        if (analysis.conclusion === "insufficient_data" || analysis.conclusion === "invalid_data") {
          throw new ConflictError(`Cannot determine a winner yet: ${analysis.message}`, { missing: analysis.missing, problems: analysis.problems }, "AB_TEST_NOT_READY");
        }
        await this.store.recordAnalysis(user, test.id, analysis.srm?.mismatch ?? false, auditOf(ctx));
        return { testId: test.id, status: test.status, ...analysis };
      },
    },

    apply: {
      rest: "POST /ab-tests/:id/apply",
      permission: "write",
      params: { $$strict: true, id },
      openapi: { summary: "Copy the significant winner's content into the campaign and complete the test", tags: TAGS },
      async handler(ctx: Context<{ id: string }>) {
        return this.applyWinner(ctx, requireUser(ctx), ctx.params.id);
      },
    },

    trackPerformance: {
      rest: "POST /ab-tests/:id/variants/:variantId/performance",
      permission: "write",
      params: { $$strict: true, id, variantId: id, impressions: count, clicks: count, conversions: count, revenue: { type: "number", min: 0, max: 1e12, convert: true, default: 0 } },
      openapi: { summary: "Add to a variant's counters (atomic increments)", tags: TAGS },
      async handler(ctx: Context<{ id: string; variantId: string } & PerformanceDelta>) {
        const { id: testId, variantId, ...delta } = ctx.params;
        const user = requireUser(ctx);
        const variant = await this.store.addPerformance(user, testId, variantId, delta);
        if (variant) return variant;
        const test = await this.loadTest(user, testId);
        if (!test.variants.some((v) => v.id === variantId)) throw new NotFoundError("variant", variantId);
        throw new ConflictError(`The A/B test is ${test.status}; it no longer counts performance`, { status: test.status }, "AB_TEST_NOT_RUNNING");
      },
    },

    assign: {
      rest: "GET /ab-tests/:id/assign/:fanId",
      params: { $$strict: true, id, fanId: { type: "string", min: 1, max: 200 } },
      openapi: { summary: "The variant a fan sees (deterministic hash of test and fan)", tags: TAGS },
      async handler(ctx: Context<{ id: string; fanId: string }>) {
        const test = await this.loadTest(requireUser(ctx), ctx.params.id);
        const { arm, bucket } = assignVariant(test.id, ctx.params.fanId, test.variants);
        return { testId: test.id, fanId: ctx.params.fanId, variantId: arm.id, variantName: arm.name, isControl: arm.isControl, content: arm.content, bucket };
      },
    },

    rebalance: {
      rest: "POST /ab-tests/:id/rebalance",
      permission: "write",
      params: { $$strict: true, id, seed: { type: "number", integer: true, min: 0, max: 2 ** 32 - 1, optional: true } },
      openapi: { summary: "Re-weight a bandit test's split now by Thompson sampling (the hourly job does this too)", tags: TAGS },
      async handler(ctx: Context<{ id: string; seed?: number }>) {
        const seed = ctx.params.seed ?? crypto.randomInt(2 ** 32 - 1);
        return present(await this.rebalance(ctx, requireUser(ctx), ctx.params.id, seed));
      },
    },

    /** Internal: the campaigns duplicate feature copies a campaign's latest test design as a fresh test. */
    copyForCampaign: {
      visibility: "public",
      permission: "write",
      params: { $$strict: true, fromCampaignId: id, toCampaignId: id },
      async handler(ctx: Context<{ fromCampaignId: string; toCampaignId: string }>) {
        const source = await this.store.latestForCampaign(requireUser(ctx), ctx.params.fromCampaignId);
        if (!source) return null;
        const test = await this.startTest(ctx, ctx.params.toCampaignId, {
          name: source.name,
          variants: source.variants.map(({ name, isControl, content }) => ({ name, isControl, content })),
          trafficSplit: Object.fromEntries(source.variants.map((v) => [v.name, v.initialWeight])),
          minSampleSize: source.minSampleSize,
          confidenceLevel: source.confidenceLevel,
          metric: source.metric,
          autoApply: source.autoApply,
          mode: source.mode,
        });
        return present(test);
      },
    },
  },

  events: {
    /** Counters from the analytics service; contract in services/abtests/events.ts. */
    [VARIANT_COUNTED_EVENT]: {
      async handler(ctx: Context<unknown>) {
        await (this as unknown as Self).countAnalyticsEvent(ctx.params);
      },
    },
  },

  methods: {
    async loadTest(user, testId) {
      const test = await this.store.get(user, testId);
      if (!test) throw new NotFoundError("A/B test", testId);
      return test;
    },

    analyse(test) {
      return analyzeTest(test, test.variants);
    },

    async startTest(ctx, campaignId, design) {
      const user = requireUser(ctx);
      const variants = variantsWithShares(design.variants, design.trafficSplit);
      const campaign = (await ctx.call("campaigns.get", { id: campaignId }, { meta: ctx.meta })) as { id: string; name: string };
      const { variants: _variants, trafficSplit: _split, name, ...config } = design;
      const audit = auditOf(ctx);
      const test = await this.store.create(user, { ...config, campaignId, name: name ?? `${campaign.name} A/B test`, variants }, audit);
      try {
        await ctx.call("campaigns.update", { id: campaignId, isABTest: true }, { meta: ctx.meta });
      } catch (err) {
        // The test must not outlive a campaign that could not be marked (e.g. deleted meanwhile).
        await this.store.remove(user, test.id, audit);
        throw err;
      }
      ctx.emit("campaigns.abtest.created", { testId: test.id, campaignId, ownerId: test.ownerId, mode: test.mode, metric: test.metric });
      return test;
    },

    async applyWinner(ctx, user, testId) {
      const test = await this.loadTest(user, testId);
      if (test.status !== "running") {
        throw new ConflictError(`The A/B test is already ${test.status}`, { status: test.status, winnerId: test.winnerId }, "AB_TEST_NOT_RUNNING");
      }
      const analysis = this.analyse(test);
      if (!analysis.winner) {
        throw new ConflictError(`No winner to apply: ${analysis.message}`, { conclusion: analysis.conclusion, missing: analysis.missing, srm: analysis.srm }, "AB_TEST_NO_WINNER");
      }
      const winner = test.variants.find((v) => v.id === analysis.winner!.variantId)!;
      const meta = { ...(ctx.meta as object), user };
      // Campaign first: if completing then loses a race, the campaign got the same content twice (harmless);
      // the other order could leave a completed test whose winner never reached the campaign.
      await ctx.call("campaigns.update", { id: test.campaignId, content: winner.content }, { meta });
      const completed = await this.store.complete(user, test.id, winner.id, analysis.winner.significance, auditOf(ctx));
      if (!completed) throw new ConflictError("The A/B test was completed meanwhile", { id: test.id }, "AB_TEST_NOT_RUNNING");
      ctx.emit("campaigns.abtest.completed", {
        testId: test.id,
        campaignId: test.campaignId,
        ownerId: test.ownerId,
        winnerId: winner.id,
        winnerName: winner.name,
        significance: analysis.winner.significance,
      });
      return { ...present({ ...completed, variants: test.variants }), analysis };
    },

    async rebalance(ctx, user, testId, seed) {
      const test = await this.loadTest(user, testId);
      if (test.mode !== "bandit") throw new ConflictError("Only bandit tests are re-weighted", { mode: test.mode }, "AB_TEST_NOT_BANDIT");
      if (test.status !== "running") throw new ConflictError(`The A/B test is ${test.status}`, { status: test.status }, "AB_TEST_NOT_RUNNING");
      const split = thompsonSplit(posteriors(test), { seed });
      const audit = ctx ? auditOf(ctx) : systemAudit("abtests.rebalance");
      await this.store.setWeights(user, test.id, Object.fromEntries(test.variants.map((v, i) => [v.id, split[i]])), audit);
      return this.loadTest(user, test.id);
    },

    /**
     * The hourly job: bandit tests get a new split, auto-apply tests with a significant winner are applied.
     * Idempotent: an applied test is no longer running, and a re-weight from the same counters is harmless.
     * One failing test is logged and does not stop the others.
     */
    async hourlyCheck() {
      for (const row of await this.store.listDueForHourlyCheck()) {
        const user = ownerOf(row);
        try {
          if (row.mode === "bandit") await this.rebalance(null, user, row.id, crypto.randomInt(2 ** 32 - 1));
          if (row.autoApply) {
            const test = await this.loadTest(user, row.id);
            if (test.status === "running" && this.analyse(test).winner) {
              await this.broker.call("abtests.apply", { id: row.id }, { meta: systemMeta(user) });
            }
          }
        } catch (err) {
          this.logger.warn(`hourly check of A/B test ${row.id} failed`, err);
        }
      }
    },

    /** Counts one analytics payload (once per idempotency key); malformed payloads are logged and skipped. */
    async countAnalyticsEvent(payload: unknown) {
      let counted: CountedVariant;
      try {
        counted = performanceOfEvent(payload);
      } catch (err) {
        if (err instanceof AnalyticsEventError) return this.logger.warn(`ignored ${VARIANT_COUNTED_EVENT}: ${err.message}`);
        throw err;
      }
      const owner = ownerOf({ ownerId: counted.ownerId, teamId: null });
      await this.store.addPerformanceFromEvent(owner, counted.dedupeKey, counted.variantId, counted.delta);
    },
  },

  async started() {
    // Agenda keeps one "every" job per name, so each node starting does not add another.
    await (this as unknown as { agenda: { every(interval: string, name: string): Promise<unknown> } }).agenda.every("1 hour", HOURLY_JOB);
  },
};

export default ABTestsService;
