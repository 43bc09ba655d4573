/**
 * The design's metrics (design.md "Monitoring and Observability") plus the few counters the alarms need,
 * each with its CloudWatch unit, its dimensions and its Prometheus twin. One table so CloudWatch, Prometheus,
 * the alarms and the docs cannot drift apart.
 */
import type { StandardUnit } from "@aws-sdk/client-cloudwatch";

/** Dimensions a metric may carry besides `Service` (the domain service the event came from). */
export type DetailDimension = "CampaignType" | "Platform" | "Status" | "Mode";

export interface MetricDefinition {
  unit: StandardUnit;
  help: string;
  /** Extra dimensions of the detailed series; every datum is also published with `Service` alone (the rollup alarms use). */
  details: DetailDimension[];
  /** Counters add up; distributions keep sample count/sum/min/max (averages, percentiles). */
  kind: "counter" | "distribution";
  /**
   * Also publish a `Service, CampaignId` series to CloudWatch (for the "top campaigns" widget). One series per
   * campaign with data in a month is billed as one custom metric; Prometheus never gets this label.
   */
  perCampaign?: boolean;
}

export const METRICS = {
  CampaignsCreated: { unit: "Count", kind: "counter", details: ["CampaignType"], help: "Campaigns created (new, duplicated or from a template)" },
  CampaignsLaunched: { unit: "Count", kind: "counter", details: ["CampaignType"], help: "Campaigns launched" },
  CampaignStatusChanges: { unit: "Count", kind: "counter", details: ["Status"], help: "Campaigns entering a status (draft, scheduled, active, paused, completed, cancelled)" },
  CampaignConversions: { unit: "Count", kind: "counter", details: ["Platform"], perCampaign: true, help: "Conversions tracked by analytics" },
  CampaignRevenue: { unit: "None", kind: "counter", details: ["Platform"], perCampaign: true, help: "Revenue of tracked conversions (sum, in the campaign's currency)" },
  CampaignImpressions: { unit: "Count", kind: "counter", details: ["Platform"], help: "Impressions tracked by analytics (denominator of the conversion-rate alarm)" },
  CampaignROI: { unit: "None", kind: "distribution", details: ["CampaignType"], help: "ROI = (revenue − spent) / spent of each completed campaign (average)" },
  BudgetOverspends: { unit: "Count", kind: "counter", details: ["CampaignType"], help: "Campaigns whose spend crossed 110% of their budget" },
  PublishesRequested: { unit: "Count", kind: "counter", details: ["Platform"], help: "Platform publications a launch asked for" },
  PublishesSucceeded: { unit: "Count", kind: "counter", details: ["Platform"], help: "Publications that went live" },
  PublishesFailed: { unit: "Count", kind: "counter", details: ["Platform"], help: "Publications refused at launch or failed for good" },
  AutomationsExecuted: { unit: "Count", kind: "counter", details: ["Status"], help: "Automation runs finished (Status = completed | failed)" },
  AutomationFailures: { unit: "Count", kind: "counter", details: [], help: "Automation runs that failed" },
  AutomationSuccessRate: { unit: "Percent", kind: "distribution", details: [], help: "100 per successful run, 0 per failed one: the average is the success rate" },
  AutomationExecutionTime: { unit: "Milliseconds", kind: "distribution", details: [], help: "Duration of an automation run" },
  ABTestsCreated: { unit: "Count", kind: "counter", details: ["Mode"], help: "A/B tests created" },
  ABTestsCompleted: { unit: "Count", kind: "counter", details: [], help: "A/B tests completed with a winner applied" },
  WinnerDeterminationAccuracy: { unit: "Percent", kind: "distribution", details: [], help: "Confidence (1 − adjusted p-value, in %) of each applied winner" },
} as const satisfies Record<string, MetricDefinition>;

export type MetricName = keyof typeof METRICS;
export const METRIC_NAMES = Object.keys(METRICS) as MetricName[];

/** One observation derived from a domain event, before it becomes CloudWatch datums or Prometheus samples. */
export interface Observation {
  metric: MetricName;
  value: number;
  service: string;
  /** Values of the metric's detail dimensions; a missing one drops the detailed series for this observation. */
  details?: Partial<Record<DetailDimension, string>>;
  /** The campaign, for metrics published per campaign. */
  campaignId?: string;
  timestamp?: Date;
}

/** Prometheus name of a metric: `marketing_campaigns_created_total`, `marketing_automation_execution_time`. */
export function prometheusName(metric: MetricName): string {
  const snake = metric.replace(/ROI/g, "Roi").replace(/AB/g, "Ab").replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
  return `marketing_${snake}${METRICS[metric].kind === "counter" ? "_total" : ""}`;
}

/** Prometheus label of a dimension: `CampaignType` → `campaign_type`. */
export function prometheusLabel(dimension: DetailDimension | "Service"): string {
  return dimension.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}
