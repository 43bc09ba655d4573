/**
 * The design's dashboard (six widgets) as a PutDashboard body. PutDashboard replaces the whole dashboard
 * of that name, so applying it again is harmless.
 */
import type { PutDashboardInput } from "@aws-sdk/client-cloudwatch";
import { CAMPAIGN_STATUSES, CAMPAIGN_TYPES } from "../campaigns/schema";
import type { MetricName } from "./definitions";

type MetricLine = Array<string | Record<string, unknown>>;

interface Widget {
  type: "metric";
  x: number;
  y: number;
  width: number;
  height: number;
  properties: Record<string, unknown>;
}

function line(namespace: string, metric: MetricName, service: string, extra: Record<string, string> = {}, options: Record<string, unknown> = {}): MetricLine {
  const dims = Object.entries(extra).flat();
  return [namespace, metric, "Service", service, ...dims, ...(Object.keys(options).length ? [options] : [])];
}

/** Widgets laid out two per row on CloudWatch's 24-column grid. */
function place(widgets: Array<Widget["properties"]>): Widget[] {
  return widgets.map((properties, i) => ({ type: "metric", x: (i % 2) * 12, y: Math.floor(i / 2) * 6, width: 12, height: 6, properties }));
}

export function dashboardBody(namespace: string, region: string): string {
  const ns = namespace;
  const widgets = place([
    {
      title: "Campaigns by status (status changes in range)",
      view: "pie",
      stat: "Sum",
      setPeriodToTimeRange: true,
      metrics: CAMPAIGN_STATUSES.map((s) => line(ns, "CampaignStatusChanges", "campaigns", { Status: s }, { label: s })),
    },
    {
      title: "Campaign performance over time",
      view: "timeSeries",
      stat: "Sum",
      period: 3600,
      metrics: [
        line(ns, "CampaignsLaunched", "campaigns", {}, { label: "Launched" }),
        line(ns, "CampaignConversions", "analytics", {}, { label: "Conversions" }),
        line(ns, "CampaignRevenue", "analytics", {}, { label: "Revenue", yAxis: "right" }),
        line(ns, "PublishesFailed", "publisher", {}, { label: "Failed publications" }),
      ],
    },
    {
      title: "Top performing campaigns (revenue)",
      view: "table",
      setPeriodToTimeRange: true,
      // Metrics Insights over the per-campaign series: the ten campaigns with the most revenue in range.
      metrics: [[{ expression: `SELECT SUM(CampaignRevenue) FROM SCHEMA("${ns}", CampaignId, Service) GROUP BY CampaignId ORDER BY SUM() DESC LIMIT 10`, label: "Revenue", id: "top" }]],
    },
    {
      title: "A/B test results",
      view: "bar",
      setPeriodToTimeRange: true,
      metrics: [
        line(ns, "ABTestsCreated", "abtests", {}, { label: "Created", stat: "Sum" }),
        line(ns, "ABTestsCompleted", "abtests", {}, { label: "Completed with a winner", stat: "Sum" }),
        line(ns, "WinnerDeterminationAccuracy", "abtests", {}, { label: "Winner confidence (avg %)", stat: "Average", yAxis: "right" }),
      ],
    },
    {
      title: "Automation execution stats",
      view: "bar",
      setPeriodToTimeRange: true,
      metrics: [
        line(ns, "AutomationsExecuted", "automation", { Status: "completed" }, { label: "Completed", stat: "Sum" }),
        line(ns, "AutomationsExecuted", "automation", { Status: "failed" }, { label: "Failed", stat: "Sum" }),
        line(ns, "AutomationSuccessRate", "automation", {}, { label: "Success rate (%)", stat: "Average", yAxis: "right" }),
        line(ns, "AutomationExecutionTime", "automation", {}, { label: "p95 duration (ms)", stat: "p95", yAxis: "right" }),
      ],
    },
    {
      title: "ROI by campaign type",
      view: "bar",
      stat: "Average",
      setPeriodToTimeRange: true,
      metrics: CAMPAIGN_TYPES.map((t) => line(ns, "CampaignROI", "analytics", { CampaignType: t }, { label: t })),
    },
  ]);
  for (const w of widgets) w.properties.region = region;
  return JSON.stringify({ widgets });
}

export function dashboardDefinition(namespace: string, region: string): PutDashboardInput {
  // Dashboard names allow letters, digits, - and _ only; a namespace like "Acme/Marketing" becomes "Acme-Marketing".
  return { DashboardName: namespace.replace(/[^A-Za-z0-9_-]/g, "-"), DashboardBody: dashboardBody(namespace, region) };
}
