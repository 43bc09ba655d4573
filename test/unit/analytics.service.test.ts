/**
 * Analytics on a real PostgreSQL database with the real campaigns service: ingestion and dedupe, fan
 * hashing and erasure, domain events, rollups with live tail and late events, reads, insights, reports.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { Client } from "pg";
import type { ServiceBroker } from "moleculer";
import { as, createTestDatabase, startBroker, type TestDatabase } from "../helpers/env";

let db: TestDatabase;
let broker: ServiceBroker;
let sqlClient: Client;
const seen: Array<{ name: string; payload: any }> = [];

const HOUR = 3_600_000;
/** Whole hours ago, so events land in closed hours the rollup will take. */
const hoursAgo = (h: number, minutes = 0) => new Date(Math.floor(Date.now() / HOUR) * HOUR - h * HOUR + minutes * 60_000);
/** A rollup that counts everything received so far (the job leaves the last two minutes to its next run). */
const rollup = () => broker.call<{ hours: string[] }, object>("analytics.runRollup", { safetyMs: 0 });

async function campaign(owner: string, extra: Record<string, unknown> = {}): Promise<string> {
  const c = await broker.call<any, any>("campaigns.create", { name: `C ${Math.random()}`, type: "ppv", ...extra }, as(owner));
  return c.id;
}

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startBroker({ databaseUrl: db.url, services: ["campaigns", "analytics"] });
  await broker.createService({
    name: "analytics-spy",
    events: {
      "analytics.**"(ctx: any) {
        seen.push({ name: ctx.eventName, payload: ctx.params });
      },
    },
  });
  sqlClient = new Client({ connectionString: db.url });
  await sqlClient.connect();
});

afterAll(async () => {
  await sqlClient?.end();
  await broker?.stop();
  await db?.drop();
});

describe("ingestion", () => {
  it("stores one event, answers a retry with the same eventId as a duplicate", async () => {
    const id = await campaign("in-a");
    const first = await broker.call<any, any>("analytics.track", { type: "impression", campaignId: id, platform: "instagram", eventId: "e-1" }, as("in-a"));
    expect(first).toEqual({ eventId: "e-1", duplicate: false });
    const again = await broker.call<any, any>("analytics.track", { type: "impression", campaignId: id, platform: "instagram", eventId: "e-1" }, as("in-a"));
    expect(again).toEqual({ eventId: "e-1", duplicate: true });
    const generated = await broker.call<any, any>("analytics.track", { type: "click", campaignId: id, platform: "instagram", fanId: "fan-1" }, as("in-a"));
    expect(generated.eventId).toMatch(/^[0-9a-f-]{36}$/);
    const { rows } = await sqlClient.query("SELECT event_id, owner_id, type FROM analytics_events WHERE campaign_id = $1 ORDER BY type DESC", [id]);
    expect(rows).toEqual([
      { event_id: "e-1", owner_id: "in-a", type: "impression" },
      { event_id: generated.eventId, owner_id: "in-a", type: "click" },
    ]);
  });

  it("counts new and duplicate events of a batch, including repeats inside the batch", async () => {
    const id = await campaign("in-b");
    const events = [
      { type: "impression", campaignId: id, platform: "tiktok", eventId: "b-1" },
      { type: "click", campaignId: id, platform: "tiktok", eventId: "b-2", fanId: "f" },
      { type: "click", campaignId: id, platform: "tiktok", eventId: "b-2", fanId: "f" },
    ];
    await expect(broker.call("analytics.trackBatch", { events }, as("in-b"))).resolves.toEqual({ accepted: 3, new: 2, duplicates: 1 });
    await expect(broker.call("analytics.trackBatch", { events }, as("in-b"))).resolves.toEqual({ accepted: 3, new: 0, duplicates: 3 });
  });

  it("keeps the same eventId of two owners apart", async () => {
    const a = await campaign("in-c1");
    const b = await campaign("in-c2");
    await broker.call("analytics.track", { type: "impression", campaignId: a, platform: "reddit", eventId: "shared" }, as("in-c1"));
    const res = await broker.call<any, any>("analytics.track", { type: "impression", campaignId: b, platform: "reddit", eventId: "shared" }, as("in-c2"));
    expect(res.duplicate).toBe(false);
  });

  it("refuses another owner's campaign: 404 for one event, 422 naming the event in a batch", async () => {
    const id = await campaign("in-d");
    await expect(broker.call("analytics.track", { type: "impression", campaignId: id, platform: "reddit" }, as("intruder"))).rejects.toMatchObject({ code: 404 });
    await expect(
      broker.call("analytics.trackBatch", { events: [{ type: "impression", campaignId: "nope", platform: "reddit" }] }, as("in-d")),
    ).rejects.toMatchObject({ code: 422, data: [{ field: "events[0].campaignId", type: "notFound" }] });
  });

  it.each([
    ["an unknown type", { type: "view" }, "type"],
    ["an unknown platform", { platform: "myspace" }, "platform"],
    ["a negative value", { value: -1 }, "value"],
    ["a lowercase currency", { currency: "usd" }, "currency"],
    ["an unknown field", { extra: 1 }, "extra"],
    ["a future occurredAt", { occurredAt: new Date(Date.now() + 3_600_000).toISOString() }, "occurredAt"],
  ])("answers 422 for %s", async (_name, patch, field) => {
    const id = await campaign("in-e");
    const err: any = await broker.call("analytics.track", { type: "click", campaignId: id, platform: "reddit", ...patch }, as("in-e")).catch((e) => e);
    expect(err).toMatchObject({ code: 422 });
    expect(JSON.stringify(err.data)).toContain(field);
  });

  it("refuses batches over 1000 events and empty ones", async () => {
    const id = await campaign("in-f");
    const events = Array.from({ length: 1001 }, () => ({ type: "impression", campaignId: id, platform: "reddit" }));
    await expect(broker.call("analytics.trackBatch", { events }, as("in-f"))).rejects.toMatchObject({ code: 422 });
    await expect(broker.call("analytics.trackBatch", { events: [] }, as("in-f"))).rejects.toMatchObject({ code: 422 });
  });

  it("needs the write permission to track", async () => {
    const id = await campaign("in-g");
    await expect(broker.call("analytics.track", { type: "impression", campaignId: id, platform: "reddit" }, as("in-g", "analyst"))).rejects.toMatchObject({ code: 403 });
  });
});

describe("fan privacy", () => {
  it("stores fans only as keyed hashes and erases a fan's events on segmentation.fan.erased", async () => {
    const id = await campaign("pii-a");
    await broker.call("analytics.trackBatch", {
      events: [
        { type: "click", campaignId: id, platform: "onlyfans", fanId: "fan-secret-42", occurredAt: hoursAgo(3) },
        { type: "conversion", campaignId: id, platform: "onlyfans", fanId: "fan-secret-42", value: 10, occurredAt: hoursAgo(3, 5) },
        { type: "click", campaignId: id, platform: "onlyfans", fanId: "other-fan", occurredAt: hoursAgo(3) },
      ],
    }, as("pii-a"));
    const { rows } = await sqlClient.query("SELECT fan_hash FROM analytics_events WHERE campaign_id = $1", [id]);
    for (const r of rows) {
      expect(r.fan_hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(r.fan_hash).not.toContain("fan-secret");
    }
    const dump = JSON.stringify((await sqlClient.query("SELECT * FROM analytics_events")).rows);
    expect(dump).not.toContain("fan-secret-42");

    await rollup();
    expect((await broker.call<any, any>("analytics.getCampaignMetrics", { id }, as("pii-a"))).conversions).toBe(1);

    await broker.emit("segmentation.fan.erased", { ownerId: "pii-a", fanId: "fan-secret-42" });
    await waitUntil(async () => (await sqlClient.query("SELECT count(*)::int AS n FROM analytics_events WHERE campaign_id = $1", [id])).rows[0].n === 1);
    // The rolled-up hour was rebuilt without the fan, and the cached read was dropped.
    const m = await broker.call<any, any>("analytics.getCampaignMetrics", { id }, as("pii-a"));
    expect(m).toMatchObject({ clicks: 1, conversions: 0, revenue: 0, reach: 1 });
    const hourRow = await sqlClient.query("SELECT clicks, conversions FROM campaign_metrics WHERE campaign_id = $1 AND platform = 'all'", [id]);
    expect(hourRow.rows).toEqual([{ clicks: 1, conversions: 0 }]);
  });
});

describe("domain events", () => {
  it("emits conversion, spend and variant counts once per new event, never for duplicates", async () => {
    const id = await campaign("ev-a");
    const events = [
      { type: "impression", campaignId: id, platform: "instagram", variantId: "v1", cost: 0.5, eventId: "x1" },
      { type: "click", campaignId: id, platform: "instagram", variantId: "v1", fanId: "f1", eventId: "x2" },
      { type: "conversion", campaignId: id, platform: "instagram", variantId: "v1", fanId: "f1", value: 25, currency: "EUR", eventId: "x3" },
    ];
    seen.length = 0;
    await broker.call("analytics.trackBatch", { events }, as("ev-a"));
    await broker.call("analytics.trackBatch", { events }, as("ev-a"));
    await new Promise((r) => setTimeout(r, 100));
    const mine = seen.filter((e) => e.payload.campaignId === id);
    expect(mine.filter((e) => e.name === "analytics.conversion.recorded").map((e) => e.payload)).toEqual([
      expect.objectContaining({ ownerId: "ev-a", campaignId: id, variantId: "v1", value: 25, currency: "EUR", eventId: "x3" }),
    ]);
    expect(mine.filter((e) => e.name === "analytics.spend.recorded").map((e) => e.payload)).toEqual([
      expect.objectContaining({ ownerId: "ev-a", campaignId: id, value: 0.5, eventId: "x1" }),
    ]);
    expect(mine.filter((e) => e.name === "analytics.variant.counted").map((e) => e.payload)).toEqual([
      { ownerId: "ev-a", campaignId: id, variantId: "v1", impressions: 1, clicks: 1, conversions: 1, revenue: 25, eventIds: ["x1", "x2", "x3"] },
    ]);
  });
});

describe("rollups and metrics", () => {
  let id: string;
  beforeAll(async () => {
    id = await campaign("ro-a", { budget: 100 });
    const events = [
      ...Array.from({ length: 10 }, (_, i) => ({ type: "impression", campaignId: id, platform: "instagram", fanId: `f${i}`, cost: 1, occurredAt: hoursAgo(5) })),
      ...Array.from({ length: 4 }, (_, i) => ({ type: "impression", campaignId: id, platform: "tiktok", fanId: `f${i}`, occurredAt: hoursAgo(4) })),
      { type: "click", campaignId: id, platform: "instagram", fanId: "f1", occurredAt: hoursAgo(5, 10) },
      { type: "click", campaignId: id, platform: "instagram", fanId: "f2", occurredAt: hoursAgo(5, 20) },
      { type: "click", campaignId: id, platform: "tiktok", fanId: "f3", occurredAt: hoursAgo(4, 1) },
      { type: "conversion", campaignId: id, platform: "instagram", fanId: "f1", value: 20, occurredAt: hoursAgo(5, 12) },
      { type: "conversion", campaignId: id, platform: "instagram", fanId: "f2", value: 10, occurredAt: hoursAgo(5, 26) },
    ];
    await broker.call("analytics.trackBatch", { events }, as("ro-a"));
  });

  const expected = { impressions: 14, reach: 10, clicks: 3, conversions: 2, revenue: 30, spent: 10, ctr: 3 / 14, conversionRate: 2 / 3, roi: 2, cpa: 5 };

  it("reflects accepted events before any rollup ran (live tail)", async () => {
    expect(await broker.call("analytics.getCampaignMetrics", { id }, as("ro-a"))).toMatchObject(expected);
  });

  it("rolls closed hours into per-platform and aggregate rows, and the same rows again on a re-run", async () => {
    await rollup();
    const rows = async () => (await sqlClient.query("SELECT platform, hour, impressions, reach, clicks, conversions, revenue, spent, ctr, roi, cpa FROM campaign_metrics WHERE campaign_id = $1 ORDER BY hour, platform", [id])).rows;
    const first = await rows();
    expect(first.map((r) => [r.platform, r.impressions, r.reach, r.clicks, r.conversions, r.revenue, r.spent])).toEqual([
      ["all", 10, 10, 2, 2, 30, 10],
      ["instagram", 10, 10, 2, 2, 30, 10],
      ["all", 4, 4, 1, 0, 0, 0],
      ["tiktok", 4, 4, 1, 0, 0, 0],
    ]);
    expect(first[0]).toMatchObject({ ctr: 0.2, roi: 2, cpa: 5 });
    // Re-rolling the same hours (as after a crash mid-job) changes nothing.
    await sqlClient.query("UPDATE analytics_rollup_state SET cutoff = '1970-01-01', closed_before = '1970-01-01'");
    await rollup();
    expect(await rows()).toEqual(first);
    // Reads are the same from rollups as they were from the tail.
    expect(await broker.call("analytics.getCampaignMetrics", { id }, as("ro-a"))).toMatchObject(expected);
  });

  it("folds a late event for a rolled-up hour into reads at once and into the rollup on the next run", async () => {
    const late = await campaign("ro-b");
    await broker.call("analytics.track", { type: "impression", campaignId: late, platform: "reddit", occurredAt: hoursAgo(6) }, as("ro-b"));
    await rollup();
    await broker.call("analytics.track", { type: "impression", campaignId: late, platform: "reddit", occurredAt: hoursAgo(6, 30) }, as("ro-b"));
    expect((await broker.call<any, any>("analytics.getCampaignMetrics", { id: late }, as("ro-b"))).impressions).toBe(2);
    const { hours } = await rollup();
    expect(hours).toEqual([hoursAgo(6).toISOString()]);
    const row = await sqlClient.query("SELECT impressions FROM campaign_metrics WHERE campaign_id = $1 AND platform = 'all'", [late]);
    expect(row.rows).toEqual([{ impressions: 2 }]);
    expect((await broker.call<any, any>("analytics.getCampaignMetrics", { id: late }, as("ro-b"))).impressions).toBe(2);
  });

  it("answers ROI with budget use, the funnel with median time to convert, and per-platform metrics", async () => {
    await expect(broker.call("analytics.getCampaignROI", { id }, as("ro-a"))).resolves.toMatchObject({ revenue: 30, spent: 10, profit: 20, roi: 2, cpa: 5, budget: 100, budgetUsed: 0.1 });
    const funnel = await broker.call<any, any>("analytics.getConversionFunnel", { id }, as("ro-a"));
    expect(funnel.stages.map((s: any) => s.count)).toEqual([14, 3, 2]);
    expect(funnel.stages[1].dropOff).toBeCloseTo(1 - 3 / 14);
    // f1: click at +10, conversion at +12 (120 s); f2: +20 → +26 (360 s): median 240 s.
    expect(funnel).toMatchObject({ medianSecondsToConvert: 240, conversionsWithClick: 2 });
    const platforms = await broker.call<any, any>("analytics.comparePlatforms", { id }, as("ro-a"));
    expect(platforms.platforms.map((p: any) => [p.platform, p.impressions, p.reach, p.clicks])).toEqual([
      ["instagram", 10, 10, 2],
      ["tiktok", 4, 4, 1],
    ]);
  });

  it("hides metrics of another owner's campaign (404) and needs the analytics permission", async () => {
    await expect(broker.call("analytics.getCampaignMetrics", { id }, as("ro-intruder"))).rejects.toMatchObject({ code: 404 });
    await expect(broker.call("analytics.getCampaignMetrics", { id }, as("ro-a", "viewer"))).rejects.toMatchObject({ code: 403 });
  });

  it("drops a cached read as soon as a new event for the campaign is accepted", async () => {
    const before = await broker.call<any, any>("analytics.getCampaignMetrics", { id }, as("ro-a"));
    await broker.call("analytics.track", { type: "click", campaignId: id, platform: "tiktok", fanId: "f9" }, as("ro-a"));
    const after = await broker.call<any, any>("analytics.getCampaignMetrics", { id }, as("ro-a"));
    expect(after.clicks).toBe(before.clicks + 1);
  });
});

describe("owner-wide reads", () => {
  const owner = "ow-a";
  let a: string;
  let b: string;
  beforeAll(async () => {
    a = await campaign(owner, { type: "ppv" });
    b = await campaign(owner, { type: "promotion" });
    const many = (campaignId: string, platform: string, n: number, clicks: number, conversions: number, at: Date) => [
      ...Array.from({ length: n }, () => ({ type: "impression", campaignId, platform, occurredAt: at })),
      ...Array.from({ length: clicks }, () => ({ type: "click", campaignId, platform, cost: 1, occurredAt: at })),
      ...Array.from({ length: conversions }, () => ({ type: "conversion", campaignId, platform, value: 5, occurredAt: at })),
    ];
    await broker.call("analytics.trackBatch", { events: many(a, "onlyfans", 400, 100, 40, hoursAgo(30)) }, as(owner));
    await broker.call("analytics.trackBatch", { events: many(b, "reddit", 400, 100, 5, hoursAgo(2)) }, as(owner));
  });

  it("compares campaigns and names the leader per metric", async () => {
    const res = await broker.call<any, any>("analytics.compareCampaigns", { campaignIds: [a, b] }, as(owner));
    expect(res.campaigns.map((c: any) => [c.campaignId, c.conversions, c.revenue])).toEqual([
      [a, 40, 200],
      [b, 5, 25],
    ]);
    expect(res.leaders).toMatchObject({ conversions: a, revenue: a, roi: a });
    await expect(broker.call("analytics.compareCampaigns", { campaignIds: [a, "missing"] }, as(owner))).rejects.toMatchObject({ code: 404 });
  });

  it("buckets trends by day with empty days present", async () => {
    const res = await broker.call<any, any>("analytics.getPerformanceTrends", { timeframe: "day", from: hoursAgo(24 * 4).toISOString() }, as(owner));
    expect(res.buckets.length).toBeGreaterThanOrEqual(4);
    expect(res.buckets.reduce((s: number, x: any) => s + x.conversions, 0)).toBe(45);
    expect(res.buckets.some((x: any) => x.impressions === 0)).toBe(true);
    await expect(broker.call("analytics.getPerformanceTrends", { timeframe: "hour", from: "2000-01-01" }, as(owner))).rejects.toMatchObject({ code: 422 });
  });

  it("ranks top campaigns", async () => {
    const res = await broker.call<any, any>("analytics.getTopPerformingCampaigns", { limit: 1, by: "roi" }, as(owner));
    expect(res.items.map((c: any) => c.campaignId)).toEqual([a]);
  });

  it("finds patterns with their sample sizes and recommends only from enough data", async () => {
    const { patterns } = await broker.call<any, any>("analytics.identifyPatterns", {}, as(owner));
    const platform = patterns.find((p: any) => p.kind === "platform");
    expect(platform).toMatchObject({ key: "onlyfans", metric: "conversionRate", value: 0.4, sampleSize: 100, baseline: 0.05, baselineSampleSize: 100 });
    expect(patterns.find((p: any) => p.kind === "campaignType")).toMatchObject({ key: "ppv", sampleSize: 100 });
    const { recommendations } = await broker.call<any, any>("analytics.getRecommendations", {}, as(owner));
    const kinds = recommendations.map((r: any) => r.kind);
    expect(kinds).toEqual(expect.arrayContaining(["platform", "pauseCampaign"]));
    for (const r of recommendations) {
      expect(r.confidence).toBeGreaterThanOrEqual(0.9);
      expect(Object.keys(r.evidence).length).toBeGreaterThan(0);
    }
    const paused = recommendations.find((r: any) => r.kind === "pauseCampaign");
    expect(paused.evidence).toMatchObject({ campaignId: b, spent: 100, revenue: 25 });

    // A newcomer with a handful of events gets neither patterns nor advice.
    const small = await campaign("ow-small");
    await broker.call("analytics.trackBatch", { events: [{ type: "click", campaignId: small, platform: "reddit", cost: 50 }, { type: "impression", campaignId: small, platform: "reddit" }] }, as("ow-small"));
    await expect(broker.call("analytics.identifyPatterns", {}, as("ow-small"))).resolves.toEqual({ patterns: [] });
    await expect(broker.call("analytics.getRecommendations", {}, as("ow-small"))).resolves.toEqual({ recommendations: [] });
  });
});

describe("template niche patterns", () => {
  it("names the best template niche, from the campaigns service's library", async () => {
    const u = as("niche-owner");
    const fitness: any = await broker.call("campaigns.createFromTemplate", { id: "fitness-meal-plan-bundle", platforms: ["reddit"] }, u);
    const gaming: any = await broker.call("campaigns.createFromTemplate", { id: "gaming-exclusive-stream-access", platforms: ["reddit"] }, u);
    const events = [
      ...Array.from({ length: 50 }, () => ({ type: "click", campaignId: fitness.id, platform: "reddit" })),
      ...Array.from({ length: 20 }, () => ({ type: "conversion", campaignId: fitness.id, platform: "reddit", value: 29.99 })),
      ...Array.from({ length: 50 }, () => ({ type: "click", campaignId: gaming.id, platform: "reddit" })),
      ...Array.from({ length: 2 }, () => ({ type: "conversion", campaignId: gaming.id, platform: "reddit", value: 19.99 })),
    ];
    await broker.call("analytics.trackBatch", { events }, u);
    const { patterns } = await broker.call<any, any>("analytics.identifyPatterns", {}, u);
    expect(patterns.find((p: any) => p.kind === "templateNiche")).toMatchObject({ key: "fitness", metric: "conversionRate", value: 0.4, sampleSize: 50, baseline: 0.04, baselineSampleSize: 50 });
  });
});

describe("reports", () => {
  let id: string;
  beforeAll(async () => {
    id = await campaign("rep-a", { name: "Report me" });
    const events = [0, 1, 2, 3].flatMap((h) => [
      ...Array.from({ length: 20 + h * 10 }, () => ({ type: "impression", campaignId: id, platform: "instagram", occurredAt: hoursAgo(h + 1) })),
      ...Array.from({ length: 5 + h }, () => ({ type: "click", campaignId: id, platform: "instagram", occurredAt: hoursAgo(h + 1) })),
      { type: "conversion", campaignId: id, platform: "instagram", value: 9.5, occurredAt: hoursAgo(h + 1) },
    ]);
    await broker.call("analytics.trackBatch", { events }, as("rep-a"));
  });

  it("returns the report as JSON with summary, platforms, trend and funnel", async () => {
    const r = await broker.call<any, any>("analytics.generateReport", { id, format: "json" }, as("rep-a"));
    expect(r.campaign).toMatchObject({ id, name: "Report me", type: "ppv" });
    expect(r.summary).toMatchObject({ impressions: 140, clicks: 26, conversions: 4, revenue: 38 });
    expect(r.trend.unit).toBe("hour");
    expect(r.trend.buckets.map((b: any) => b.impressions)).toEqual([50, 40, 30, 20]);
  });

  it("renders CSV with a header, the summary, platforms and buckets", async () => {
    const ctx = { meta: { ...as("rep-a").meta } as any };
    const csv: Buffer = await broker.call("analytics.generateReport", { id, format: "csv" }, ctx);
    expect(ctx.meta.$responseType).toBe("text/csv; charset=utf-8");
    const lines = csv.toString("utf8").trim().split("\n");
    expect(lines[0]).toBe("section,key,impressions,reach,clicks,conversions,revenue,spent,ctr,conversionRate,roi,cpa");
    expect(lines[1]).toMatch(/^summary,Report me,140,0,26,4,38,0,/);
    expect(lines.filter((l) => l.startsWith("hour,"))).toHaveLength(4);
  });

  it("renders a PDF whose first page shows a table and a chart (rendered with pdftoppm)", async () => {
    const ctx = { meta: { ...as("rep-a").meta } as any };
    const pdf: Buffer = await broker.call("analytics.generateReport", { id, format: "pdf" }, ctx);
    expect(ctx.meta.$responseType).toBe("application/pdf");
    expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "report-"));
    try {
      fs.writeFileSync(path.join(dir, "r.pdf"), pdf);
      execFileSync("pdftoppm", ["-f", "1", "-l", "1", "-r", "50", "-png", path.join(dir, "r.pdf"), path.join(dir, "page")]);
      const png = fs.readdirSync(dir).find((f) => f.endsWith(".png"))!;
      const { width, height, dark } = inkOf(path.join(dir, png));
      // A4 (595.28 × 841.89 pt) at 50 dpi, rounded up by pdftoppm.
      expect([width, height]).toEqual([Math.ceil((595.28 * 50) / 72), Math.ceil((841.89 * 50) / 72)]);
      // Text, table rules and chart lines: a real share of the page is ink, but far from all of it.
      expect(dark / (width * height)).toBeGreaterThan(0.01);
      expect(dark / (width * height)).toBeLessThan(0.5);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Size and number of dark pixels of an 8-bit grey or RGB PNG as pdftoppm writes it, decoded with zlib and PNG's row filters. */
function inkOf(pngFile: string): { width: number; height: number; dark: number } {
  const buf = fs.readFileSync(pngFile);
  const width = buf.readUInt32BE(16);
  const height = buf.readUInt32BE(20);
  expect(buf[24]).toBe(8);
  const bpp = { 0: 1, 2: 3 }[buf[25] as 0 | 2];
  expect(bpp).toBeDefined();
  const idat: Buffer[] = [];
  for (let off = 8; off < buf.length; ) {
    const len = buf.readUInt32BE(off);
    if (buf.toString("ascii", off + 4, off + 8) === "IDAT") idat.push(buf.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  let dark = 0;
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? line[i - bpp] : 0;
      const b = prev[i];
      const c = i >= bpp ? prev[i - bpp] : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      line[i] = (line[i] + [0, a, b, (a + b) >> 1, paeth][filter]) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = 0; k < bpp; k++) sum += line[x * bpp + k];
      if (sum / bpp < 200) dark++;
    }
    prev = line;
  }
  return { width, height, dark };
}

async function waitUntil(probe: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
