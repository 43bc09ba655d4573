/**
 * The design's four alarms as PutMetricAlarm inputs. They read the `Service`-only rollup series (every
 * datum is published at that level too), so an alarm sees all platforms and campaign types at once.
 * PutMetricAlarm is an upsert by AlarmName: applying these twice leaves the same four alarms.
 */
import type { MetricDataQuery, PutMetricAlarmInput } from "@aws-sdk/client-cloudwatch";
import type { MetricName } from "./definitions";

const HOUR = 3600;

export interface AlarmOptions {
  namespace: string;
  /** SNS topic (or other action ARNs) notified on ALARM and OK; none → the alarms only change state. */
  actions?: string[];
}

function series(id: string, namespace: string, metric: MetricName, service: string, period: number): MetricDataQuery {
  return {
    Id: id,
    ReturnData: false,
    MetricStat: { Metric: { Namespace: namespace, MetricName: metric, Dimensions: [{ Name: "Service", Value: service }] }, Period: period, Stat: "Sum" },
  };
}

export function alarmDefinitions({ namespace, actions = [] }: AlarmOptions): PutMetricAlarmInput[] {
  const common = { ActionsEnabled: actions.length > 0, AlarmActions: actions, OKActions: actions, EvaluationPeriods: 1, DatapointsToAlarm: 1 };
  return [
    {
      ...common,
      AlarmName: `${namespace}-HighCampaignFailureRate`,
      AlarmDescription: "More than 5% of platform publications failed in the last hour (refused at launch or failed after retries).",
      // Failures come from two services: refusals at launch (campaigns) and attempts that failed for good (publisher).
      Metrics: [
        series("refused", namespace, "PublishesFailed", "campaigns", HOUR),
        series("failed", namespace, "PublishesFailed", "publisher", HOUR),
        series("requested", namespace, "PublishesRequested", "campaigns", HOUR),
        { Id: "failureRate", Label: "Publication failure rate (%)", ReturnData: true, Expression: "IF(requested > 0, 100 * (FILL(refused, 0) + FILL(failed, 0)) / requested)" },
      ],
      ComparisonOperator: "GreaterThanThreshold",
      Threshold: 5,
      TreatMissingData: "notBreaching",
    },
    {
      ...common,
      AlarmName: `${namespace}-LowConversionRate`,
      AlarmDescription: "Fewer than 1% of impressions converted in the last hour (only judged when there were impressions).",
      Metrics: [
        series("conversions", namespace, "CampaignConversions", "analytics", HOUR),
        series("impressions", namespace, "CampaignImpressions", "analytics", HOUR),
        { Id: "conversionRate", Label: "Conversion rate (%)", ReturnData: true, Expression: "IF(impressions > 0, 100 * FILL(conversions, 0) / impressions)" },
      ],
      ComparisonOperator: "LessThanThreshold",
      Threshold: 1,
      TreatMissingData: "notBreaching",
    },
    {
      ...common,
      AlarmName: `${namespace}-BudgetOverspend`,
      AlarmDescription: "A campaign's spend went over 110% of its budget (campaigns.budget.overspend).",
      Namespace: namespace,
      MetricName: "BudgetOverspends",
      Dimensions: [{ Name: "Service", Value: "campaigns" }],
      Statistic: "Sum",
      Period: 300,
      ComparisonOperator: "GreaterThanThreshold",
      Threshold: 0,
      TreatMissingData: "notBreaching",
    },
    {
      ...common,
      AlarmName: `${namespace}-AutomationFailures`,
      AlarmDescription: "More than 10 automation runs failed in the last hour.",
      Namespace: namespace,
      MetricName: "AutomationFailures",
      Dimensions: [{ Name: "Service", Value: "automation" }],
      Statistic: "Sum",
      Period: HOUR,
      ComparisonOperator: "GreaterThanThreshold",
      Threshold: 10,
      TreatMissingData: "notBreaching",
    },
  ];
}
