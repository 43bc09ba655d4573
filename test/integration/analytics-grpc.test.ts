/** Analytics through the gRPC gateway on a real database: tracking (single, batch, streamed) and every read. */
import type * as grpc from "@grpc/grpc-js";
import type { ServiceBroker } from "moleculer";
import type { GrpcServiceInstance } from "../../services/grpc.service";
import { GatewayClient, type Message } from "../../services/grpc/client";
import { createTestDatabase, startBroker, token, type TestDatabase } from "../helpers/env";

jest.setTimeout(120_000);

let db: TestDatabase;
let broker: ServiceBroker;
let analytics: GatewayClient;
let campaigns: GatewayClient;
let bearer: string;
let otherBearer: string;

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startBroker({ databaseUrl: db.url, grpcPort: 0, services: ["campaigns", "analytics", "grpc"] });
  const address = `127.0.0.1:${(broker.getLocalService("grpc") as unknown as GrpcServiceInstance).boundPort}`;
  analytics = new GatewayClient(address, "marketing.v1.AnalyticsService");
  campaigns = new GatewayClient(address, "marketing.v1.CampaignService");
  bearer = await token("grpc-an-a");
  otherBearer = await token("grpc-an-b");
});

afterAll(async () => {
  analytics?.close();
  campaigns?.close();
  await broker?.stop();
  await db?.drop();
});

async function newCampaign(name: string, as = bearer): Promise<string> {
  return (await campaigns.unary("CreateCampaign", { name, type: "CAMPAIGN_TYPE_PPV" }, { token: as })).id;
}

/** Streams `events` to IngestEvents as a client would: waiting whenever the server is behind. */
async function ingest(events: Message[], as = bearer): Promise<Message> {
  const { stream, response } = analytics.clientStream("IngestEvents", { token: as });
  let settled = false;
  const done = response.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (const event of events) {
    if (settled) break; // the server answered early (an error): stop writing
    if (!stream.write(event)) await Promise.race([new Promise((resolve) => stream.once("drain", resolve)), done]);
  }
  stream.end();
  return response;
}

async function failure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await call;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error("expected the call to fail");
}

const details = (err: grpc.ServiceError) => JSON.parse(err.metadata.get("error-details-bin")[0].toString("utf8"));

/** A click per event, a conversion every 5th, all with ids so a replay is recognisable. */
function streamEvents(campaignId: string, prefix: string, count: number): Message[] {
  return Array.from({ length: count }, (_, i) => ({
    type: i % 5 === 4 ? "ANALYTICS_EVENT_TYPE_CONVERSION" : "ANALYTICS_EVENT_TYPE_CLICK",
    campaignId,
    platform: i % 2 ? "PLATFORM_TIKTOK" : "PLATFORM_INSTAGRAM",
    fanId: `fan-${i % 100}`,
    eventId: `${prefix}-${i}`,
    ...(i % 5 === 4 ? { value: 2, currency: "USD" } : {}),
  }));
}

describe("IngestEvents (client streaming)", () => {
  it("stores 2,500 streamed events in batches and counts a replay as duplicates", async () => {
    const campaignId = await newCampaign("streamed");
    const events = streamEvents(campaignId, "s", 2_500);
    expect(await ingest(events)).toEqual({ accepted: "2500", new: "2500", duplicates: "0" });
    expect(await ingest(events)).toEqual({ accepted: "2500", new: "0", duplicates: "2500" });
    const metrics = await analytics.unary("GetCampaignMetrics", { id: campaignId }, { token: bearer });
    expect(metrics).toMatchObject({ campaignId, clicks: "2000", conversions: "500", revenue: 1000, reach: "100" });
  });

  it("answers an empty stream with zero counts", async () => {
    expect(await ingest([])).toEqual({ accepted: "0", new: "0", duplicates: "0" });
  });

  it("stops at a bad event with INVALID_ARGUMENT naming its place in the stream, keeping the batches before", async () => {
    const campaignId = await newCampaign("bad mid-stream");
    const events = streamEvents(campaignId, "b", 1_400);
    events[1_203] = { ...events[1_203], value: -1 };
    const err = await failure(ingest(events));
    expect(err.code).toBe(3);
    expect(err.details).toContain("events[1203].value");
    expect(details(err).data).toEqual([expect.objectContaining({ field: "events[1203].value" })]);
    // The two batches before the failing one (events 0–999) were committed; nothing of the third was.
    const metrics = await analytics.unary("GetCampaignMetrics", { id: campaignId }, { token: bearer });
    expect(Number(metrics.clicks) + Number(metrics.conversions)).toBe(1_000);
  });

  it("names an event whose enum is not given by its place in the stream", async () => {
    const campaignId = await newCampaign("unspecified type");
    const events = streamEvents(campaignId, "u", 10);
    events[7] = { ...events[7], type: "ANALYTICS_EVENT_TYPE_UNSPECIFIED" };
    const err = await failure(ingest(events));
    expect(err.code).toBe(3);
    expect(details(err).data.map((p: { field: string }) => p.field)).toEqual(["events[7].type"]);
  });

  it("answers NOT_FOUND for another owner's campaign and UNAUTHENTICATED without a token", async () => {
    const theirs = await newCampaign("theirs", otherBearer);
    const mine = await newCampaign("mine");
    const events = [...streamEvents(mine, "m", 600), ...streamEvents(theirs, "t", 3)];
    const err = await failure(ingest(events));
    expect(err.code).toBe(5);
    expect(err.details).toContain("events[600].campaignId");
    const anonymous = analytics.clientStream("IngestEvents");
    anonymous.stream.end();
    expect((await failure(anonymous.response)).code).toBe(16);
  });
});

describe("unary RPCs", () => {
  let campaignId: string;
  let secondId: string;

  beforeAll(async () => {
    campaignId = await newCampaign("reads");
    secondId = await newCampaign("reads 2");
    const impressions = Array.from({ length: 200 }, (_, i) => ({ type: "ANALYTICS_EVENT_TYPE_IMPRESSION", campaignId, platform: "PLATFORM_REDDIT", fanId: `r-${i}`, eventId: `imp-${i}`, cost: 0.1 }));
    const res = await analytics.unary("TrackBatch", { events: impressions }, { token: bearer });
    expect(res).toEqual({ accepted: "200", new: "200", duplicates: "0" });
    await ingest(streamEvents(campaignId, "r", 50));
    await ingest(streamEvents(secondId, "r2", 10));
  });

  it("tracks one event, and a retry with the same id as a duplicate", async () => {
    const event = { type: "ANALYTICS_EVENT_TYPE_CLICK", campaignId: secondId, platform: "PLATFORM_ONLYFANS", fanId: "f1", eventId: "one-1" };
    expect(await analytics.unary("Track", event, { token: bearer })).toEqual({ eventId: "one-1", duplicate: false });
    expect(await analytics.unary("Track", event, { token: bearer })).toEqual({ eventId: "one-1", duplicate: true });
    const bad = await failure(analytics.unary("Track", { ...event, eventId: "one-2", occurredAt: "2999-01-01T00:00:00Z" }, { token: bearer }));
    expect(bad.code).toBe(3);
    expect(details(bad).data[0].field).toBe("occurredAt");
    expect((await failure(analytics.unary("Track", event, { token: otherBearer }))).code).toBe(5);
  });

  it("reads a campaign's metrics, ROI, funnel and platforms", async () => {
    const metrics = await analytics.unary("GetCampaignMetrics", { id: campaignId }, { token: bearer });
    expect(metrics).toMatchObject({ campaignId, name: "reads", impressions: "200", clicks: "40", conversions: "10", revenue: 20, ctr: 0.2, conversionRate: 0.25 });
    const roi = await analytics.unary("GetCampaignROI", { id: campaignId }, { token: bearer });
    // 200 impressions at 0.1 each cost 20; ten conversions of 2 brought 20 back.
    expect(roi).toMatchObject({ campaignId, revenue: 20, conversions: "10" });
    expect(roi.spent).toBeCloseTo(20);
    expect(roi.profit).toBeCloseTo(0);
    expect(roi.cpa).toBeCloseTo(2);
    expect(roi.budget).toBeUndefined();
    const funnel = await analytics.unary("GetConversionFunnel", { id: campaignId }, { token: bearer });
    expect(funnel.stages.map((s: Message) => [s.stage, s.count])).toEqual([
      ["ANALYTICS_EVENT_TYPE_IMPRESSION", "200"],
      ["ANALYTICS_EVENT_TYPE_CLICK", "40"],
      ["ANALYTICS_EVENT_TYPE_CONVERSION", "10"],
    ]);
    expect(funnel.stages[0].dropOff).toBeUndefined();
    expect(funnel.stages[1].dropOff).toBeCloseTo(0.8);
    expect(funnel.overallConversionRate).toBeCloseTo(0.05);
    const platforms = await analytics.unary("ComparePlatforms", { id: campaignId }, { token: bearer });
    const byPlatform = Object.fromEntries(platforms.platforms.map((p: Message) => [p.platform, p]));
    expect(byPlatform.PLATFORM_REDDIT).toMatchObject({ impressions: "200", reach: "200" });
    expect(byPlatform.PLATFORM_INSTAGRAM).toMatchObject({ clicks: "20", conversions: "5" });
    expect((await failure(analytics.unary("GetCampaignROI", { id: campaignId }, { token: otherBearer }))).code).toBe(5);
  });

  it("builds the JSON report", async () => {
    const report = await analytics.unary("GetCampaignReport", { id: campaignId }, { token: bearer });
    expect(report.campaign).toMatchObject({ id: campaignId, name: "reads", type: "ppv" });
    expect(report.summary).toMatchObject({ campaignId, impressions: "200", clicks: "40" });
    expect(report.funnel).toMatchObject({ impressions: "200", clicks: "40", conversions: "10" });
    expect(report.trend.unit).toBe("hour");
    expect(report.trend.buckets.reduce((n: number, b: Message) => n + Number(b.clicks), 0)).toBe(40);
    expect(new Date(report.generatedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it("compares campaigns, ranks the best and shows trends", async () => {
    const compared = await analytics.unary("CompareCampaigns", { campaignIds: [campaignId, secondId] }, { token: bearer });
    expect(compared.campaigns.map((c: Message) => c.campaignId)).toEqual([campaignId, secondId]);
    expect(compared.leaders).toMatchObject({ impressions: campaignId, clicks: campaignId });
    const tooFew = await failure(analytics.unary("CompareCampaigns", { campaignIds: [campaignId] }, { token: bearer }));
    expect(tooFew.code).toBe(3);
    const top = await analytics.unary("GetTopPerformingCampaigns", { by: "TOP_CAMPAIGNS_BY_CONVERSIONS", limit: 1 }, { token: bearer });
    expect(top).toMatchObject({ by: "TOP_CAMPAIGNS_BY_CONVERSIONS", items: [{ campaignId: expect.any(String), name: expect.any(String) }] });
    expect(top.items).toHaveLength(1);
    const trends = await analytics.unary("GetPerformanceTrends", { timeframe: "TREND_TIMEFRAME_HOUR" }, { token: bearer });
    expect(trends.timeframe).toBe("TREND_TIMEFRAME_HOUR");
    expect(trends.buckets.length).toBeGreaterThanOrEqual(48);
    expect(trends.buckets.reduce((n: number, b: Message) => n + Number(b.impressions ?? 0), 0)).toBe(200);
    const empty = await failure(analytics.unary("GetPerformanceTrends", { from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z" }, { token: bearer }));
    expect(empty.code).toBe(3);
  });

  it("answers patterns and recommendations", async () => {
    const patterns = await analytics.unary("IdentifyPatterns", {}, { token: bearer });
    const kinds = (patterns.patterns ?? []).map((p: Message) => p.kind);
    expect(kinds).toContain("platform");
    const platform = patterns.patterns.find((p: Message) => p.kind === "platform");
    expect(platform).toMatchObject({ metric: expect.any(String), value: expect.any(Number), sampleSize: expect.any(String) });
    const recommendations = await analytics.unary("GetRecommendations", {}, { token: bearer });
    for (const r of recommendations.recommendations ?? []) expect(r).toMatchObject({ kind: expect.any(String), message: expect.any(String), confidence: expect.any(Number), evidence: expect.any(Object) });
  });
});
