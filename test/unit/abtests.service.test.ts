/**
 * The abtests service on a real PostgreSQL database, with the real campaigns service beside it:
 * design validation, one running test per campaign, atomic counters under concurrency, analytics events
 * counted once, the winner decision (z-test, Holm, SRM), apply, copy, bandit re-weighting and the hourly job.
 */
import type { ServiceBroker } from "moleculer";
import { Errors } from "moleculer";
import { holm, zTestTwoProportions } from "../../lib/stats";
import { runtimeOf } from "../../lib/runtime";
import { as, createTestDatabase, startBroker, type TestDatabase } from "../helpers/env";

let db: TestDatabase;
let broker: ServiceBroker;

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startBroker({ databaseUrl: db.url, services: ["campaigns", "abtests"] });
});

afterAll(async () => {
  await broker?.stop();
  await db?.drop();
});

type Any = any;
const call = <T = Any>(action: string, params: object, user = "owner-1") => broker.call<T, object>(action, params, as(user));

async function campaign(user = "owner-1", content: object = { title: "Original" }): Promise<Any> {
  return call("campaigns.create", { name: "Spring PPV", type: "ppv", content }, user);
}

const twoVariants = [
  { name: "A", isControl: true, content: { title: "Control title" } },
  { name: "B", content: { title: "Winning title" } },
];

async function abTest(user = "owner-1", extra: object = {}): Promise<Any> {
  const c = await campaign(user);
  return call("abtests.create", { id: c.id, variants: twoVariants, ...extra }, user);
}

const track = (testId: string, variantId: string, counts: object, user = "owner-1") =>
  call("abtests.trackPerformance", { id: testId, variantId, ...counts }, user);

describe("create", () => {
  it("starts a running test with an equal split and marks the campaign", async () => {
    const c = await campaign();
    const t = await call("abtests.create", { id: c.id, variants: twoVariants, metric: "ctr" });
    expect(t).toMatchObject({
      campaignId: c.id,
      status: "running",
      metric: "ctr",
      mode: "fixed",
      minSampleSize: 100,
      confidenceLevel: 0.95,
      autoApply: false,
      ownerId: "owner-1",
      trafficSplit: { A: 50, B: 50 },
    });
    expect(t.variants.map((v: Any) => [v.name, v.isControl, v.position, v.impressions])).toEqual([
      ["A", true, 0, 0],
      ["B", false, 1, 0],
    ]);
    const after = await call("campaigns.get", { id: c.id });
    expect(after.isABTest).toBe(true);
  });

  it("keeps a given split", async () => {
    const c = await campaign();
    const t = await call("abtests.create", { id: c.id, variants: [...twoVariants, { name: "C", content: {} }], trafficSplit: { A: 50, B: 25, C: 25 } });
    expect(t.trafficSplit).toEqual({ A: 50, B: 25, C: 25 });
  });

  it.each([
    ["one variant", { variants: [twoVariants[0]] }, "variants"],
    ["no control", { variants: [{ name: "A", content: {} }, { name: "B", content: {} }] }, "variants"],
    ["two controls", { variants: [{ name: "A", isControl: true, content: {} }, { name: "B", isControl: true, content: {} }] }, "variants"],
    ["a duplicate name", { variants: [twoVariants[0], { name: "A", content: {} }] }, "variants[1].name"],
    ["a split not summing to 100", { variants: twoVariants, trafficSplit: { A: 50, B: 40 } }, "trafficSplit"],
    ["a split for an unknown variant", { variants: twoVariants, trafficSplit: { A: 50, B: 25, Z: 25 } }, "trafficSplit.Z"],
    ["a split missing a variant", { variants: twoVariants, trafficSplit: { A: 100 } }, "trafficSplit.B"],
    ["a zero share", { variants: twoVariants, trafficSplit: { A: 100, B: 0 } }, "trafficSplit.B"],
    ["an unknown metric", { variants: twoVariants, metric: "likes" }, "metric"],
    ["an unknown field", { variants: twoVariants, foo: 1 }, "foo"],
  ])("refuses %s with 422 naming the field", async (_label, body, field) => {
    const c = await campaign();
    const err = await call("abtests.create", { id: c.id, ...body }).catch((e) => e);
    expect(err).toBeInstanceOf(Errors.ValidationError);
    expect(err.code).toBe(422);
    expect(err.data.map((p: Any) => p.field)).toContain(field);
    const after = await call("campaigns.get", { id: c.id });
    expect(after.isABTest).toBe(false);
  });

  it("allows one running test per campaign (409), also under concurrent creates", async () => {
    const c = await campaign();
    const results = await Promise.allSettled([0, 1, 2, 3].map(() => call("abtests.create", { id: c.id, variants: twoVariants })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results.filter((r): r is PromiseRejectedResult => r.status === "rejected")) {
      expect(r.reason).toMatchObject({ code: 409, type: "AB_TEST_RUNNING" });
    }
  });

  it("answers 404 for another owner's campaign and test", async () => {
    const c = await campaign("owner-x");
    await expect(call("abtests.create", { id: c.id, variants: twoVariants })).rejects.toMatchObject({ code: 404 });
    const t = await abTest("owner-x");
    await expect(call("abtests.get", { id: t.id })).rejects.toMatchObject({ code: 404 });
    await expect(call("abtests.results", { id: t.id })).rejects.toMatchObject({ code: 404 });
    await expect(track(t.id, t.variants[0].id, { impressions: 1 })).rejects.toMatchObject({ code: 404 });
    await expect(call("abtests.apply", { id: t.id })).rejects.toMatchObject({ code: 404 });
  });

  it("lets a viewer read but not create", async () => {
    const c = await campaign("team-owner");
    await expect(broker.call("abtests.create", { id: c.id, variants: twoVariants }, as("viewer-1", "viewer", "team-1"))).rejects.toMatchObject({ code: 403 });
  });
});

describe("performance counters", () => {
  it("adds 200 concurrent increments exactly", async () => {
    const t = await abTest();
    const [a] = t.variants;
    await Promise.all(Array.from({ length: 200 }, () => track(t.id, a.id, { impressions: 3, clicks: 2, conversions: 1, revenue: 0.5 })));
    const after = await call("abtests.get", { id: t.id });
    expect(after.variants[0]).toMatchObject({ impressions: 600, clicks: 400, conversions: 200, revenue: 100 });
  });

  it("refuses a variant of another test (404) and negative counts (422)", async () => {
    const t1 = await abTest();
    const t2 = await abTest();
    await expect(track(t1.id, t2.variants[0].id, { impressions: 1 })).rejects.toMatchObject({ code: 404 });
    await expect(track(t1.id, t1.variants[0].id, { impressions: -1 })).rejects.toMatchObject({ code: 422 });
  });

  it("counts analytics.variant.counted once per batch of event ids, only for the event's owner", async () => {
    const t = await abTest();
    const [a, b] = t.variants;
    const batch = { ownerId: "owner-1", campaignId: t.campaignId, variantId: b.id, impressions: 10, clicks: 3, conversions: 1, revenue: 12.5, eventIds: ["e1", "e2"] };
    await broker.emit("analytics.variant.counted", batch);
    await broker.emit("analytics.variant.counted", { ...batch, eventIds: ["e2", "e1"] }); // same batch redelivered
    await broker.emit("analytics.variant.counted", { ...batch, eventIds: ["e3"], impressions: 5, clicks: 0, conversions: 0, revenue: 0 });
    await broker.emit("analytics.variant.counted", { ...batch, eventIds: ["e4"], ownerId: "someone-else" });
    await broker.emit("analytics.variant.counted", { ...batch, eventIds: ["e5"], clicks: -1 });
    await broker.emit("analytics.variant.counted", { ownerId: "owner-1", campaignId: t.campaignId, variantId: a.id, impressions: 7 });
    await waitUntil(async () => {
      const { variants } = await call("abtests.get", { id: t.id });
      return variants[0].impressions === 7 && variants[1].impressions >= 15;
    });
    await new Promise((r) => setTimeout(r, 200)); // a late duplicate would show now
    const after = await call("abtests.get", { id: t.id });
    expect(after.variants[1]).toMatchObject({ impressions: 15, clicks: 3, conversions: 1, revenue: 12.5 });
  });
});

async function waitUntil(probe: () => Promise<boolean>, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("winner", () => {
  it("refuses with 409 listing what is missing, while results report it", async () => {
    const t = await abTest("owner-1", { minSampleSize: 5000 });
    const [a, b] = t.variants;
    await track(t.id, a.id, { impressions: 6000, clicks: 150, conversions: 40 });
    await track(t.id, b.id, { impressions: 1200, clicks: 90, conversions: 20 });
    const err = await call("abtests.determineWinner", { id: t.id }).catch((e) => e);
    expect(err).toMatchObject({ code: 409, type: "AB_TEST_NOT_READY" });
    expect(err.data.missing).toEqual([
      { variantId: b.id, variantName: "B", field: "impressions", have: 1200, need: 5000 },
      { variantId: b.id, variantName: "B", field: "clicks", have: 90, need: 100 },
      { variantId: b.id, variantName: "B", field: "conversions", have: 20, need: 30 },
    ]);
    const results = await call("abtests.results", { id: t.id });
    expect(results).toMatchObject({ ready: false, conclusion: "insufficient_data", winner: null });
    expect(results.missing).toEqual(err.data.missing);
  });

  it("declares the significant variant with the z-test's numbers", async () => {
    const t = await abTest();
    const [a, b] = t.variants;
    await track(t.id, a.id, { impressions: 10_000, clicks: 900, conversions: 300 });
    await track(t.id, b.id, { impressions: 10_000, clicks: 950, conversions: 400 });
    const r = await call("abtests.determineWinner", { id: t.id });
    const z = zTestTwoProportions({ n1: 10_000, x1: 300, n2: 10_000, x2: 400 });
    expect(r).toMatchObject({ ready: true, conclusion: "winner", correction: "none", winner: { variantId: b.id, name: "B", isControl: false } });
    const cmp = r.variants[1].comparison;
    expect(cmp.pValue).toBeCloseTo(z.pValue, 15);
    expect(cmp.adjustedPValue).toBe(cmp.pValue);
    expect(cmp.relativeLift).toBeCloseTo(1 / 3, 12);
    expect(cmp.interval[0]).toBeGreaterThan(0);
    expect(cmp.chanceToBeatControl).toBeGreaterThan(0.99);
    expect(cmp.sequential.pValue).toBeGreaterThan(cmp.pValue); // always-valid inference is more conservative
    expect(r.winner.significance).toBeCloseTo(1 - z.pValue, 12);
    expect(r.variants[0].comparison).toBeNull();
    expect(r.srm).toMatchObject({ mismatch: false });
    expect(r.sampleSize.perVariant).toBeGreaterThan(10_000); // 3% baseline, 10% MDE: ~53k per arm
    expect(r.variants[0].impressionsNeededForMde).toBe(r.sampleSize.perVariant - 10_000);
  });

  it("says no significant difference when there is none", async () => {
    const t = await abTest();
    const [a, b] = t.variants;
    await track(t.id, a.id, { impressions: 5000, clicks: 500, conversions: 150 });
    await track(t.id, b.id, { impressions: 5000, clicks: 505, conversions: 152 });
    const r = await call("abtests.determineWinner", { id: t.id });
    expect(r).toMatchObject({ conclusion: "no_significant_difference", winner: null, message: "No significant difference" });
    await expect(call("abtests.apply", { id: t.id })).rejects.toMatchObject({ code: 409, type: "AB_TEST_NO_WINNER" });
  });

  it("flags a sample ratio mismatch instead of naming a winner", async () => {
    const t = await abTest();
    const [a, b] = t.variants;
    await track(t.id, a.id, { impressions: 10_000, clicks: 900, conversions: 300 });
    await track(t.id, b.id, { impressions: 8_000, clicks: 950, conversions: 400 });
    const r = await call("abtests.determineWinner", { id: t.id });
    expect(r).toMatchObject({ conclusion: "srm_mismatch", winner: null, srm: { mismatch: true } });
    expect((await call("abtests.get", { id: t.id })).srmMismatch).toBe(true);
  });

  it("corrects several comparisons with Holm", async () => {
    const c = await campaign();
    const t = await call("abtests.create", {
      id: c.id,
      variants: [twoVariants[0], twoVariants[1], { name: "C", content: { title: "C" } }, { name: "D", content: { title: "D" } }],
    });
    const conversions = [300, 345, 310, 420];
    await Promise.all(t.variants.map((v: Any, i: number) => track(t.id, v.id, { impressions: 10_000, clicks: 1000, conversions: conversions[i] })));
    const r = await call("abtests.determineWinner", { id: t.id });
    const raw = [345, 310, 420].map((x2) => zTestTwoProportions({ n1: 10_000, x1: 300, n2: 10_000, x2 }).pValue);
    const adjusted = holm(raw);
    expect(r.correction).toBe("holm");
    r.variants.slice(1).forEach((v: Any, i: number) => {
      expect(v.comparison.pValue).toBeCloseTo(raw[i], 15);
      expect(v.comparison.adjustedPValue).toBeCloseTo(adjusted[i], 15);
    });
    // B alone would pass at 5% (p ≈ 0.07 is not, but check the strongest): D wins after correction.
    expect(r.winner).toMatchObject({ name: "D" });
    expect(r.variants[1].comparison.significant).toBe(adjusted[0] < 0.05);
  });

  it("names the control when every variant is significantly worse", async () => {
    const t = await abTest();
    const [a, b] = t.variants;
    await track(t.id, a.id, { impressions: 10_000, clicks: 1000, conversions: 400 });
    await track(t.id, b.id, { impressions: 10_000, clicks: 1000, conversions: 300 });
    const r = await call("abtests.determineWinner", { id: t.id });
    expect(r.winner).toMatchObject({ variantId: a.id, isControl: true });
  });

  it("tests revenue per impression on means", async () => {
    const t = await abTest("owner-1", { metric: "revenue_per_impression" });
    const [a, b] = t.variants;
    // 300 vs 400 conversions at 10 each: the same evidence as the rate test, scaled.
    for (const impressions of [3334, 3333, 3333]) await track(t.id, a.id, { impressions, clicks: 300, conversions: 100, revenue: 1000 });
    for (let i = 0; i < 4; i++) await track(t.id, b.id, { impressions: i < 2 ? 5000 : 0, clicks: 300, conversions: 100, revenue: 1000 });
    const r = await call("abtests.results", { id: t.id });
    expect(r.problems).toEqual([]);
    expect(r.variants[0].value).toBeCloseTo(0.3, 9);
    expect(r.variants[1].value).toBeCloseTo(0.4, 9);
    expect(r.winner).toMatchObject({ name: "B" });
    expect(r.variants[1].comparison.sequential.pValue).toBeLessThan(1);
  });
});

describe("apply", () => {
  it("copies the winner's content into the campaign and completes the test once", async () => {
    const completed: Any[] = [];
    const spy = await broker.createService({ name: "abtest-spy", events: { "campaigns.abtest.completed"(ctx: Any) { completed.push(ctx.params); } } });
    await broker.waitForServices("abtest-spy");
    const t = await abTest();
    const [a, b] = t.variants;
    await track(t.id, a.id, { impressions: 10_000, clicks: 900, conversions: 300 });
    await track(t.id, b.id, { impressions: 10_000, clicks: 950, conversions: 400 });
    const applied = await call("abtests.apply", { id: t.id });
    expect(applied).toMatchObject({ status: "completed", winnerId: b.id });
    expect(applied.significance).toBeGreaterThan(0.99);
    expect(applied.completedAt).toBeInstanceOf(Date);
    expect((await call("campaigns.get", { id: t.campaignId })).content).toEqual({ title: "Winning title" });
    await expect(call("abtests.apply", { id: t.id })).rejects.toMatchObject({ code: 409, type: "AB_TEST_NOT_RUNNING" });
    await expect(track(t.id, a.id, { impressions: 1 })).rejects.toMatchObject({ code: 409 });
    await waitUntil(async () => completed.length > 0);
    expect(completed).toEqual([expect.objectContaining({ testId: t.id, campaignId: t.campaignId, winnerId: b.id })]);
    // The campaign may start a new test now.
    await expect(call("abtests.create", { id: t.campaignId, variants: twoVariants })).resolves.toMatchObject({ status: "running" });
    await broker.destroyService(spy);
  });
});

describe("assignment", () => {
  it("is deterministic and follows the split", async () => {
    const c = await campaign();
    const t = await call("abtests.create", { id: c.id, variants: twoVariants, trafficSplit: { A: 80, B: 20 } });
    const first = await call("abtests.assign", { id: t.id, fanId: "fan-42" });
    const again = await call("abtests.assign", { id: t.id, fanId: "fan-42" });
    expect(again).toEqual(first);
    expect(t.variants.map((v: Any) => v.id)).toContain(first.variantId);
    const counts: Record<string, number> = { A: 0, B: 0 };
    for (let i = 0; i < 400; i++) counts[(await call("abtests.assign", { id: t.id, fanId: `fan-${i}` })).variantName]++;
    expect(counts.A).toBeGreaterThan(280);
    expect(counts.B).toBeGreaterThan(40);
  });
});

describe("copyForCampaign", () => {
  it("copies the design as a fresh running test", async () => {
    const t = await abTest("owner-1", { trafficSplit: { A: 70, B: 30 }, metric: "ctr", autoApply: true });
    await track(t.id, t.variants[0].id, { impressions: 50 });
    const target = await campaign();
    const copy = await call("abtests.copyForCampaign", { fromCampaignId: t.campaignId, toCampaignId: target.id });
    expect(copy).toMatchObject({ campaignId: target.id, status: "running", metric: "ctr", autoApply: true, trafficSplit: { A: 70, B: 30 } });
    expect(copy.id).not.toBe(t.id);
    expect(copy.variants.map((v: Any) => [v.name, v.content, v.impressions])).toEqual([
      ["A", { title: "Control title" }, 0],
      ["B", { title: "Winning title" }, 0],
    ]);
    expect((await call("campaigns.get", { id: target.id })).isABTest).toBe(true);
    const plain = await campaign();
    await expect(call("abtests.copyForCampaign", { fromCampaignId: plain.id, toCampaignId: target.id })).resolves.toBeNull();
  });
});

describe("bandit", () => {
  it("re-weights by Thompson sampling, deterministically for a seed, never below the floor", async () => {
    const c = await campaign();
    const t = await call("abtests.create", { id: c.id, mode: "bandit", variants: [...twoVariants, { name: "C", content: {} }] });
    const [a, b, cc] = t.variants;
    await track(t.id, a.id, { impressions: 2000, clicks: 200, conversions: 60 });
    await track(t.id, b.id, { impressions: 2000, clicks: 200, conversions: 100 });
    await track(t.id, cc.id, { impressions: 2000, clicks: 200, conversions: 20 });
    const one = await call("abtests.rebalance", { id: t.id, seed: 7 });
    const two = await call("abtests.rebalance", { id: t.id, seed: 7 });
    expect(two.trafficSplit).toEqual(one.trafficSplit);
    expect(one.trafficSplit.B).toBeGreaterThan(85);
    expect(one.trafficSplit.A).toBeGreaterThanOrEqual(5);
    expect(one.trafficSplit.C).toBeGreaterThanOrEqual(5);
    expect(one.trafficSplit.A + one.trafficSplit.B + one.trafficSplit.C).toBeCloseTo(100, 9);
    // Assignment follows the new split.
    const counts: Record<string, number> = { A: 0, B: 0, C: 0 };
    for (let i = 0; i < 300; i++) counts[(await call("abtests.assign", { id: t.id, fanId: `f${i}` })).variantName]++;
    expect(counts.B).toBeGreaterThan(240);
    // Adaptive allocation is intended, so there is no SRM verdict on a bandit.
    expect((await call("abtests.results", { id: t.id })).srm).toBeNull();
    await expect(call("abtests.rebalance", { id: (await abTest()).id })).rejects.toMatchObject({ code: 409, type: "AB_TEST_NOT_BANDIT" });
  });
});

describe("hourly job", () => {
  it("auto-applies a significant winner and leaves the others running; running again changes nothing", async () => {
    const user = "job-owner";
    const auto = await abTest(user, { autoApply: true });
    const manual = await abTest(user);
    const undecided = await abTest(user, { autoApply: true });
    for (const t of [auto, manual]) {
      await track(t.id, t.variants[0].id, { impressions: 10_000, clicks: 900, conversions: 300 }, user);
      await track(t.id, t.variants[1].id, { impressions: 10_000, clicks: 950, conversions: 400 }, user);
    }
    const agenda = await runtimeOf(broker).agenda();
    await agenda.now("abtests.hourly-check");
    await waitUntil(async () => (await call("abtests.get", { id: auto.id }, user)).status === "completed", 20_000);
    await agenda.now("abtests.hourly-check");
    await new Promise((r) => setTimeout(r, 1500));
    expect(await call("abtests.get", { id: auto.id }, user)).toMatchObject({ status: "completed", winnerId: auto.variants[1].id });
    expect((await call("campaigns.get", { id: auto.campaignId }, user)).content).toEqual({ title: "Winning title" });
    expect((await call("abtests.get", { id: manual.id }, user)).status).toBe("running");
    expect((await call("abtests.get", { id: undecided.id }, user)).status).toBe("running");
  });
});
