/**
 * The metrics service on a real broker: domain events emitted on the bus become Prometheus samples on
 * `/metrics` and CloudWatch datums at the fake endpoint (sent when the service stops).
 */
import type { ServiceBroker, ServiceSchema } from "moleculer";
import { FakeCloudWatch } from "../fakes/cloudwatch";
import { startBroker } from "../helpers/env";
import { prometheusText } from "../../lib/metrics";

let fake: FakeCloudWatch;
let broker: ServiceBroker;
const roiAsked: Array<{ id: string; user: unknown }> = [];

/** Stands in for analytics' ROI answer so the completion → CampaignROI path runs without a database. */
const analyticsStub: ServiceSchema = {
  name: "analytics",
  actions: {
    getCampaignROI(ctx) {
      roiAsked.push({ id: ctx.params.id, user: (ctx.meta as { user: unknown }).user });
      return { campaignId: ctx.params.id, roi: 1.5 };
    },
  },
};

beforeAll(async () => {
  await (fake = new FakeCloudWatch()).start();
  Object.assign(process.env, {
    CLOUDWATCH_NAMESPACE: "Test/Marketing",
    AWS_REGION: "eu-west-1",
    CLOUDWATCH_ENDPOINT: fake.url,
    CLOUDWATCH_FLUSH_MS: "3600000",
    AWS_ACCESS_KEY_ID: "AKIDTEST",
    AWS_SECRET_ACCESS_KEY: "secret",
  });
  broker = await startBroker({ services: ["metrics"] }, [analyticsStub]);
});

afterAll(async () => {
  await broker?.stop();
  await fake?.stop();
});

async function emitAll() {
  const campaign = { id: "c1", ownerId: "owner-1", teamId: null, type: "ppv", status: "draft", platforms: ["reddit"] };
  await broker.emit("campaigns.campaign.created", { campaign });
  await broker.emit("campaigns.campaign.launched", { campaign: { ...campaign, status: "active" }, outcomes: [{ platform: "reddit", status: "queued" }] });
  await broker.emit("publisher.publish.failed", { attempt: { id: "a1", campaignId: "c1", platform: "reddit" }, reason: "bad_content" });
  await broker.emit("analytics.conversion.recorded", { ownerId: "owner-1", campaignId: "c1", platform: "reddit", value: 20, eventId: "e1" });
  await broker.emit("campaigns.budget.overspend", { campaign, ratio: 1.2 });
  await broker.emit("campaigns.abtest.created", { testId: "t1", campaignId: "c1", ownerId: "owner-1", mode: "fixed", metric: "conversion_rate" });
  await broker.emit("campaigns.abtest.completed", { testId: "t1", campaignId: "c1", ownerId: "owner-1", winnerId: "v2", significance: 0.99 });
  await broker.emit("automation.run.completed", { workflowId: "w1", ownerId: "owner-1", status: "completed", durationMs: 250 });
  await broker.emit("automation.run.failed", { workflowId: "w1", ownerId: "owner-1", status: "failed", durationMs: 50 });
  await broker.emit("campaigns.campaign.completed", { campaign: { ...campaign, status: "completed" } });
}

/** Value of the sample of `name` whose labels include `labels` (the reporter adds namespace and nodeID). */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.includes(w)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("metrics service", () => {
  beforeAll(emitAll);

  it("asks analytics for a completed campaign's ROI as its owner", async () => {
    await until(() => roiAsked.length === 1);
    expect(roiAsked[0]).toEqual({ id: "c1", user: { id: "owner-1", teamId: null, role: "owner" } });
  });

  it("shows the metrics on Prometheus /metrics without AWS", async () => {
    await until(() => /marketing_campaign_roi_count/.test(prometheusText(broker) ?? ""));
    const text = prometheusText(broker)!;
    expect(sample(text, "marketing_campaigns_created_total", { service: "campaigns", campaign_type: "ppv" })).toBe(1);
    expect(sample(text, "marketing_campaigns_launched_total", { service: "campaigns", campaign_type: "ppv" })).toBe(1);
    expect(sample(text, "marketing_campaign_status_changes_total", { service: "campaigns", status: "completed" })).toBe(1);
    expect(sample(text, "marketing_publishes_requested_total", { service: "campaigns", platform: "reddit" })).toBe(1);
    expect(sample(text, "marketing_publishes_failed_total", { service: "publisher", platform: "reddit" })).toBe(1);
    expect(sample(text, "marketing_campaign_conversions_total", { service: "analytics", platform: "reddit" })).toBe(1);
    expect(sample(text, "marketing_campaign_revenue_total", { service: "analytics", platform: "reddit" })).toBe(20);
    expect(sample(text, "marketing_budget_overspends_total", { service: "campaigns", campaign_type: "ppv" })).toBe(1);
    expect(sample(text, "marketing_ab_tests_created_total", { service: "abtests", mode: "fixed" })).toBe(1);
    expect(sample(text, "marketing_ab_tests_completed_total", { service: "abtests" })).toBe(1);
    expect(sample(text, "marketing_winner_determination_accuracy_sum", { service: "abtests" })).toBe(99);
    expect(sample(text, "marketing_automations_executed_total", { service: "automation", status: "failed" })).toBe(1);
    expect(sample(text, "marketing_automation_failures_total", { service: "automation" })).toBe(1);
    expect(sample(text, "marketing_automation_execution_time_sum", { service: "automation" })).toBe(300);
    expect(sample(text, "marketing_automation_success_rate_sum", { service: "automation" })).toBe(100);
    expect(sample(text, "marketing_automation_success_rate_count", { service: "automation" })).toBe(2);
    expect(sample(text, "marketing_campaign_roi_sum", { service: "analytics", campaign_type: "ppv" })).toBe(1.5);
  });

  it("publishes every design metric to CloudWatch when the service stops", async () => {
    expect(fake.ofOperation("PutMetricData")).toHaveLength(0);
    await broker.stop();
    const names = new Set(fake.metricData.map((d) => d.MetricName));
    for (const name of [
      "CampaignsCreated",
      "CampaignsLaunched",
      "CampaignConversions",
      "CampaignRevenue",
      "CampaignROI",
      "AutomationsExecuted",
      "AutomationSuccessRate",
      "AutomationExecutionTime",
      "ABTestsCreated",
      "ABTestsCompleted",
      "WinnerDeterminationAccuracy",
      "BudgetOverspends",
      "PublishesRequested",
      "PublishesFailed",
      "CampaignStatusChanges",
    ]) {
      expect(names).toContain(name);
    }
    const roi = fake.metricData.find((d) => d.MetricName === "CampaignROI" && d.Dimensions.length === 2);
    expect(roi).toMatchObject({ Unit: "None", Value: 1.5, Dimensions: [{ Name: "Service", Value: "analytics" }, { Name: "CampaignType", Value: "ppv" }] });
    const rate = fake.metricData.find((d) => d.MetricName === "AutomationSuccessRate");
    expect(rate).toMatchObject({ Unit: "Percent", StatisticValues: { SampleCount: 2, Sum: 100, Minimum: 0, Maximum: 100 } });
  });
});
