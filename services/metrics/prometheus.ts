/**
 * The same metrics in the broker's metric registry, so the REST gateway's `/metrics` shows them without AWS.
 * Counters become Prometheus counters (`_total`), distributions histograms with quantiles (`_sum`/`_count` give the average).
 * Labels are `service` plus the metric's detail dimensions, empty when an event did not carry them.
 */
import type { ServiceBroker } from "moleculer";
import { METRICS, METRIC_NAMES, prometheusLabel, prometheusName, type MetricName, type Observation } from "./definitions";

const BUCKETS: Partial<Record<MetricName, number[]>> = {
  AutomationExecutionTime: [10, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000],
  AutomationSuccessRate: [0, 50, 100],
  WinnerDeterminationAccuracy: [80, 90, 95, 99, 100],
  CampaignROI: [-1, -0.5, 0, 0.5, 1, 2, 5, 10],
};

/** Extra counters about the CloudWatch sink itself. */
export const SINK_DROPPED = "marketing_cloudwatch_datums_dropped_total";

function labelsOf(o: Observation): Record<string, string> {
  const labels: Record<string, string> = { service: o.service };
  for (const d of METRICS[o.metric].details) labels[prometheusLabel(d)] = o.details?.[d] ?? "";
  return labels;
}

export function registerPrometheusMetrics(broker: ServiceBroker): void {
  const registry = broker.metrics;
  if (!registry.isEnabled()) return;
  for (const name of METRIC_NAMES) {
    const def = METRICS[name];
    const promName = prometheusName(name);
    // A second metrics service on the same broker (or a restart) keeps the values already counted.
    if (registry.getMetric(promName)) continue;
    const labelNames = ["service", ...def.details.map(prometheusLabel)];
    if (def.kind === "counter") registry.register({ type: "counter", name: promName, labelNames, description: def.help, unit: def.unit.toLowerCase() });
    // Quantiles make Moleculer's reporter print `_sum`/`_count` too (the average the CloudWatch statistic shows).
    else registry.register({ type: "histogram", name: promName, labelNames, description: def.help, unit: def.unit.toLowerCase(), buckets: BUCKETS[name], quantiles: [0.5, 0.95, 0.99] });
  }
  if (!registry.getMetric(SINK_DROPPED)) {
    registry.register({ type: "counter", name: SINK_DROPPED, description: "CloudWatch datums dropped because the queue was full or CloudWatch refused them" });
  }
}

export function observePrometheus(broker: ServiceBroker, observations: Observation[]): void {
  const registry = broker.metrics;
  if (!registry.isEnabled()) return;
  for (const o of observations) {
    const name = prometheusName(o.metric);
    if (METRICS[o.metric].kind === "counter") registry.increment(name, labelsOf(o), o.value);
    else registry.observe(name, o.value, labelsOf(o));
  }
}
