/**
 * The CloudWatch sink against the fake endpoint: what reaches PutMetricData (names, units, dimensions),
 * aggregation, batching within 1,000 datums, retry with backoff after a 5xx, the queue bound, flush on stop.
 */
import { FakeCloudWatch } from "../fakes/cloudwatch";
import { observationsFor } from "../../services/metrics/events";
import { CloudWatchSink, cloudWatchSender, type SinkOptions } from "../../services/metrics/sink";
import type { Observation } from "../../services/metrics/definitions";

let fake: FakeCloudWatch;
const warnings: string[] = [];
const logger = { warn: (...a: unknown[]) => warnings.push(a.join(" ")), debug: () => {} };

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID = "AKIDTEST";
  process.env.AWS_SECRET_ACCESS_KEY = "secret";
  await (fake = new FakeCloudWatch()).start();
});
afterAll(() => fake.stop());
beforeEach(() => {
  fake.requests.length = 0;
  warnings.length = 0;
});

function sink(overrides: Partial<SinkOptions> = {}): CloudWatchSink {
  const { send } = cloudWatchSender({ region: "eu-west-1", endpoint: fake.url });
  return new CloudWatchSink({ namespace: "Test/Marketing", send, flushMs: 60_000, queueLimit: 10_000, logger, backoffBaseMs: 50, ...overrides });
}

/** `n` datums of one rollup-only metric, each in its own minute so none fold together. */
function distinctMinutes(n: number): Observation[] {
  const start = Date.now() - n * 60_000;
  return Array.from({ length: n }, (_, i) => ({ metric: "AutomationFailures", value: 1, service: "automation", timestamp: new Date(start + i * 60_000) }));
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("CloudWatch sink", () => {
  it("publishes a launch as the design's metrics with units and Service/CampaignType/Platform dimensions", async () => {
    const s = sink();
    const launched = { campaign: { id: "c1", type: "ppv" }, outcomes: [{ platform: "reddit", status: "queued" }, { platform: "tiktok", status: "failed" }] };
    s.record(observationsFor("campaigns.campaign.launched", launched));
    await s.flush();

    const [request] = fake.ofOperation("PutMetricData");
    expect(request.protocol).toBe("json");
    expect(request.headers["x-amz-target"]).toBe("GraniteServiceVersion20100801.PutMetricData");
    expect(request.body.Namespace).toBe("Test/Marketing");
    const byName = (name: string) => fake.metricData.filter((d) => d.MetricName === name);
    expect(byName("CampaignsLaunched")).toEqual([
      expect.objectContaining({ Unit: "Count", Value: 1, Dimensions: [{ Name: "Service", Value: "campaigns" }] }),
      expect.objectContaining({ Unit: "Count", Value: 1, Dimensions: [{ Name: "Service", Value: "campaigns" }, { Name: "CampaignType", Value: "ppv" }] }),
    ]);
    // Two platforms requested fold into one rollup datum; each platform keeps its own detailed series.
    expect(byName("PublishesRequested")).toEqual([
      expect.objectContaining({ StatisticValues: { SampleCount: 2, Sum: 2, Minimum: 1, Maximum: 1 }, Dimensions: [{ Name: "Service", Value: "campaigns" }] }),
      expect.objectContaining({ Value: 1, Dimensions: [{ Name: "Service", Value: "campaigns" }, { Name: "Platform", Value: "reddit" }] }),
      expect.objectContaining({ Value: 1, Dimensions: [{ Name: "Service", Value: "campaigns" }, { Name: "Platform", Value: "tiktok" }] }),
    ]);
    expect(byName("PublishesFailed")).toHaveLength(2);
    expect(typeof fake.metricData[0].Timestamp).toBe("number");
    expect(s.getStats()).toMatchObject({ sentRequests: 1, queued: 0, dropped: 0 });
  });

  it("uses the design's units for distributions and aggregates same-minute samples into StatisticValues", async () => {
    const s = sink();
    for (const durationMs of [120, 80, 400]) s.record(observationsFor("automation.run.completed", { workflowId: "w", ownerId: "o", status: "completed", durationMs }));
    s.record(observationsFor("automation.run.failed", { workflowId: "w", ownerId: "o", status: "failed", durationMs: 10 }));
    s.record(observationsFor("campaigns.abtest.completed", { testId: "t", significance: 0.97 }));
    s.record(observationsFor("analytics.conversion.recorded", { campaignId: "c9", platform: "onlyfans", value: 12.5 }));
    await s.flush();

    const one = (name: string, dims = 1) => fake.metricData.find((d) => d.MetricName === name && d.Dimensions.length === dims)!;
    expect(one("AutomationExecutionTime")).toMatchObject({ Unit: "Milliseconds", StatisticValues: { SampleCount: 4, Sum: 610, Minimum: 10, Maximum: 400 } });
    expect(one("AutomationSuccessRate")).toMatchObject({ Unit: "Percent", StatisticValues: { SampleCount: 4, Sum: 300 } });
    expect(one("AutomationsExecuted")).toMatchObject({ Unit: "Count", StatisticValues: { SampleCount: 4, Sum: 4 } });
    expect(one("AutomationFailures")).toMatchObject({ Unit: "Count", Value: 1 });
    expect(one("WinnerDeterminationAccuracy")).toMatchObject({ Unit: "Percent", Value: 97 });
    expect(one("CampaignRevenue")).toMatchObject({ Unit: "None", Value: 12.5 });
    expect(fake.metricData.filter((d) => d.MetricName === "CampaignConversions").map((d) => d.Dimensions)).toEqual([
      [{ Name: "Service", Value: "analytics" }],
      [{ Name: "Service", Value: "analytics" }, { Name: "Platform", Value: "onlyfans" }],
      [{ Name: "Service", Value: "analytics" }, { Name: "CampaignId", Value: "c9" }],
    ]);
  });

  it("splits 2,500 datums into three requests of at most 1,000", async () => {
    const s = sink();
    s.record(distinctMinutes(2_500));
    await s.flush();
    expect(fake.ofOperation("PutMetricData").map((r) => r.body.MetricData.length)).toEqual([1000, 1000, 500]);
    // Large bodies go gzip-compressed, as the SDK's compression plugin sends them to the real service.
    expect(fake.ofOperation("PutMetricData")[0].gzip).toBe(true);
  });

  it("keeps the data after a 500 and retries with backoff until CloudWatch accepts", async () => {
    const s = sink({ backoffBaseMs: 50 });
    fake.failNext(500, 2);
    s.record(distinctMinutes(3));
    await s.flush();
    expect(s.getStats()).toMatchObject({ queued: 3, sentRequests: 0, failedRequests: 1 });
    await until(() => s.getStats().sentRequests === 1);
    const calls = fake.ofOperation("PutMetricData");
    expect(calls).toHaveLength(3);
    expect(calls[2].body.MetricData).toEqual(calls[0].body.MetricData);
    expect(s.getStats()).toMatchObject({ queued: 0, sentDatums: 3, failedRequests: 2 });
    expect(warnings.some((w) => /retry in 50 ms/.test(w)) && warnings.some((w) => /retry in 100 ms/.test(w))).toBe(true);
    await s.stop();
  });

  it("drops a batch CloudWatch refuses as invalid instead of retrying it forever", async () => {
    const s = sink();
    fake.failNext(400);
    s.record(distinctMinutes(2));
    await s.flush();
    expect(s.getStats()).toMatchObject({ queued: 0, rejected: 2, sentRequests: 0 });
    expect(warnings.join()).toMatch(/refused 2 datums/);
  });

  it("bounds the queue by dropping the oldest datums and counting them", async () => {
    const s = sink({ queueLimit: 5 });
    const observations = distinctMinutes(8);
    s.record(observations);
    expect(s.getStats()).toMatchObject({ queued: 5, dropped: 3 });
    await s.flush();
    const sent = fake.metricData.map((d) => d.Timestamp * 1000);
    expect(sent).toEqual(observations.slice(3).map((o) => o.timestamp!.getTime()));
  });

  it("flushes what is queued when stopped, without waiting for the interval", async () => {
    const s = sink({ flushMs: 3_600_000 });
    s.start();
    s.record(observationsFor("campaigns.campaign.created", { campaign: { id: "c", type: "promotion" } }));
    expect(fake.requests).toHaveLength(0);
    await s.stop();
    expect(fake.metricData.map((d) => d.MetricName)).toEqual(expect.arrayContaining(["CampaignsCreated", "CampaignStatusChanges"]));
  });

  it("flushes on its interval", async () => {
    const s = sink({ flushMs: 100 });
    s.start();
    s.record(distinctMinutes(1));
    await until(() => fake.metricData.length === 1);
    await s.stop();
  });
});
