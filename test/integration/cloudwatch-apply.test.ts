/**
 * `npm run cloudwatch:apply` as a real child process against the fake CloudWatch: the four alarms and the
 * six-widget dashboard, the same state after a second run (upserts), and `--dry-run` without credentials.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { FakeCloudWatch } from "../fakes/cloudwatch";

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, "../..");
const TSX = path.join(ROOT, "node_modules/.bin/tsx");

let fake: FakeCloudWatch;
beforeAll(async () => void (await (fake = new FakeCloudWatch()).start()));
afterAll(() => fake.stop());

function apply(args: string[], env: Record<string, string | undefined>) {
  const base = { PATH: process.env.PATH, HOME: process.env.HOME };
  return run(TSX, ["scripts/cloudwatch-apply.ts", ...args], { cwd: ROOT, env: { ...base, ...env } as NodeJS.ProcessEnv, timeout: 30_000 });
}

const awsEnv = () => ({
  CLOUDWATCH_NAMESPACE: "Acme/Marketing",
  AWS_REGION: "eu-central-1",
  CLOUDWATCH_ENDPOINT: fake.url,
  CLOUDWATCH_ALARM_ACTIONS: "arn:aws:sns:eu-central-1:123456789012:oncall",
  AWS_ACCESS_KEY_ID: "AKIDTEST",
  AWS_SECRET_ACCESS_KEY: "secret",
});

describe("cloudwatch:apply", () => {
  it("creates the four alarms and the six-widget dashboard, and converges to the same state when run again", async () => {
    const first = await apply([], awsEnv());
    expect(first.stdout).toMatch(/dashboard Acme-Marketing: applied \(6 widgets\)/);
    const alarmsAfterFirst = structuredClone([...fake.alarms.entries()]);
    const dashboardAfterFirst = fake.dashboards.get("Acme-Marketing")!.DashboardBody;

    await apply([], awsEnv());
    expect(fake.ofOperation("PutMetricAlarm")).toHaveLength(8);
    expect(fake.ofOperation("PutDashboard")).toHaveLength(2);
    expect([...fake.alarms.entries()]).toEqual(alarmsAfterFirst);
    expect(fake.dashboards.size).toBe(1);
    expect(fake.dashboards.get("Acme-Marketing")!.DashboardBody).toBe(dashboardAfterFirst);

    expect([...fake.alarms.keys()].sort()).toEqual([
      "Acme/Marketing-AutomationFailures",
      "Acme/Marketing-BudgetOverspend",
      "Acme/Marketing-HighCampaignFailureRate",
      "Acme/Marketing-LowConversionRate",
    ]);
    const alarm = (name: string) => fake.alarms.get(`Acme/Marketing-${name}`)!;
    expect(alarm("HighCampaignFailureRate")).toMatchObject({
      ComparisonOperator: "GreaterThanThreshold",
      Threshold: 5,
      AlarmActions: ["arn:aws:sns:eu-central-1:123456789012:oncall"],
      ActionsEnabled: true,
    });
    expect(alarm("HighCampaignFailureRate").Metrics.find((m: any) => m.ReturnData).Expression).toBe("IF(requested > 0, 100 * (FILL(refused, 0) + FILL(failed, 0)) / requested)");
    expect(alarm("LowConversionRate")).toMatchObject({ ComparisonOperator: "LessThanThreshold", Threshold: 1 });
    expect(alarm("BudgetOverspend")).toMatchObject({ MetricName: "BudgetOverspends", Namespace: "Acme/Marketing", Statistic: "Sum", ComparisonOperator: "GreaterThanThreshold", Threshold: 0 });
    expect(alarm("AutomationFailures")).toMatchObject({ MetricName: "AutomationFailures", Period: 3600, Threshold: 10, Dimensions: [{ Name: "Service", Value: "automation" }] });

    const { widgets } = JSON.parse(dashboardAfterFirst);
    expect(widgets.map((w: any) => [w.properties.title, w.properties.view])).toEqual([
      ["Campaigns by status (status changes in range)", "pie"],
      ["Campaign performance over time", "timeSeries"],
      ["Top performing campaigns (revenue)", "table"],
      ["A/B test results", "bar"],
      ["Automation execution stats", "bar"],
      ["ROI by campaign type", "bar"],
    ]);
    for (const w of widgets) expect(w.properties.region).toBe("eu-central-1");
    expect(widgets[5].properties.metrics.map((m: string[]) => m[5])).toEqual(["ppv", "subscription", "promotion", "engagement", "retention"]);
  });

  it("--dry-run prints the request bodies as JSON without credentials or network", async () => {
    const before = fake.requests.length;
    const { stdout } = await apply(["--dry-run"], { CLOUDWATCH_NAMESPACE: "DryRun" });
    const plan = JSON.parse(stdout);
    expect(plan.PutMetricAlarm.map((a: any) => a.AlarmName)).toHaveLength(4);
    expect(plan.PutDashboard.DashboardName).toBe("DryRun");
    expect(plan.PutDashboard.DashboardBody.widgets).toHaveLength(6);
    expect(fake.requests.length).toBe(before);
  });

  it("refuses to apply without a namespace and region", async () => {
    await expect(apply([], {})).rejects.toMatchObject({ stderr: expect.stringMatching(/set CLOUDWATCH_NAMESPACE and AWS_REGION/) });
  });
});
