/**
 * Creates or updates the CloudWatch alarms and dashboard: `npm run cloudwatch:apply [-- --dry-run]`.
 * Reads CLOUDWATCH_NAMESPACE, AWS_REGION, CLOUDWATCH_ENDPOINT and CLOUDWATCH_ALARM_ACTIONS; credentials come
 * from the AWS SDK's default chain. PutMetricAlarm and PutDashboard are upserts, so running it again after
 * a change (or for no reason) converges on the same resources. `--dry-run` prints the request bodies as
 * JSON and needs no credentials.
 */
import { parseArgs } from "node:util";
import { CloudWatchClient, PutDashboardCommand, PutMetricAlarmCommand } from "@aws-sdk/client-cloudwatch";
import { loadMetricsConfig } from "../lib/config";
import { alarmDefinitions } from "../services/metrics/alarms";
import { dashboardDefinition } from "../services/metrics/dashboard";

/** What a dry run shows when no namespace/region is configured yet. */
const EXAMPLE_NAMESPACE = "CreatorMarketing";
const EXAMPLE_REGION = "us-east-1";

async function main() {
  const { values } = parseArgs({ options: { "dry-run": { type: "boolean", default: false } } });
  const dryRun = values["dry-run"] ?? false;
  const config = loadMetricsConfig();
  if (!dryRun && (!config.namespace || !config.region)) {
    throw new Error("set CLOUDWATCH_NAMESPACE and AWS_REGION (or run with --dry-run to see what would be applied)");
  }
  const namespace = config.namespace ?? EXAMPLE_NAMESPACE;
  const region = config.region ?? EXAMPLE_REGION;
  const alarms = alarmDefinitions({ namespace, actions: config.alarmActions });
  const dashboard = dashboardDefinition(namespace, region);

  if (dryRun) {
    const dashboardShown = { ...dashboard, DashboardBody: JSON.parse(dashboard.DashboardBody!) };
    console.log(JSON.stringify({ namespace, region, PutMetricAlarm: alarms, PutDashboard: dashboardShown }, null, 2));
    return;
  }

  const client = new CloudWatchClient({ region, endpoint: config.endpoint });
  for (const alarm of alarms) {
    await client.send(new PutMetricAlarmCommand(alarm));
    console.log(`alarm ${alarm.AlarmName}: applied`);
  }
  const answer = await client.send(new PutDashboardCommand(dashboard));
  for (const m of answer.DashboardValidationMessages ?? []) console.warn(`dashboard ${dashboard.DashboardName}: ${m.DataPath}: ${m.Message}`);
  console.log(`dashboard ${dashboard.DashboardName}: applied (${JSON.parse(dashboard.DashboardBody!).widgets.length} widgets)`);
}

main().catch((err) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
  process.exit(1);
});
