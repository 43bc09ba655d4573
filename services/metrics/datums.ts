/**
 * Observations → PutMetricData datums, and datums → requests within CloudWatch's limits
 * (1,000 datums per request, 30 dimensions per datum; each datum carries a Value or StatisticValues).
 * Same metric + dimensions + minute fold into one StatisticValues datum: CloudWatch stores standard-resolution
 * metrics per minute anyway, so this loses nothing and cuts requests by orders of magnitude under load.
 */
import type { Dimension, MetricDatum } from "@aws-sdk/client-cloudwatch";
import { METRICS, type Observation } from "./definitions";

export const MAX_DATUMS_PER_REQUEST = 1000;

/** The rollup datum (`Service` only, what alarms read) and, when its details are known, the detailed one. */
export function datumsFor(o: Observation, now = new Date()): MetricDatum[] {
  const def = METRICS[o.metric];
  const base = { MetricName: o.metric, Unit: def.unit, Value: o.value, Timestamp: o.timestamp ?? now };
  const service: Dimension = { Name: "Service", Value: o.service };
  const out: MetricDatum[] = [{ ...base, Dimensions: [service] }];
  const details = def.details.map((name) => ({ Name: name, Value: o.details?.[name] }));
  if (details.length && details.every((d) => d.Value)) out.push({ ...base, Dimensions: [service, ...(details as Dimension[])] });
  if ("perCampaign" in def && def.perCampaign && o.campaignId) out.push({ ...base, Dimensions: [service, { Name: "CampaignId", Value: o.campaignId }] });
  return out;
}

function keyOf(d: MetricDatum): string {
  const dims = [...(d.Dimensions ?? [])].sort((a, b) => a.Name!.localeCompare(b.Name!)).map((x) => `${x.Name}=${x.Value}`);
  const minute = Math.floor((d.Timestamp ?? new Date()).getTime() / 60_000);
  return `${d.MetricName}|${d.Unit}|${minute}|${dims.join(",")}`;
}

/** Statistics of a datum whether it is a single value or already a set. */
type Stats = { SampleCount: number; Sum: number; Minimum: number; Maximum: number };

function statsOf(d: MetricDatum): Stats {
  if (d.StatisticValues) return d.StatisticValues as Stats;
  const v = d.Value ?? 0;
  return { SampleCount: 1, Sum: v, Minimum: v, Maximum: v };
}

/** Folds datums of one series and minute into StatisticValues; order of first appearance is kept. */
export function aggregate(datums: MetricDatum[]): MetricDatum[] {
  const byKey = new Map<string, MetricDatum>();
  for (const d of datums) {
    const key = keyOf(d);
    const seen = byKey.get(key);
    if (!seen) {
      byKey.set(key, d);
      continue;
    }
    const a = statsOf(seen);
    const b = statsOf(d);
    const { Value: _value, ...rest } = seen;
    byKey.set(key, {
      ...rest,
      StatisticValues: { SampleCount: a.SampleCount + b.SampleCount, Sum: a.Sum + b.Sum, Minimum: Math.min(a.Minimum, b.Minimum), Maximum: Math.max(a.Maximum, b.Maximum) },
    });
  }
  return [...byKey.values()];
}

/** Splits datums into PutMetricData-sized batches. */
export function batches(datums: MetricDatum[], size = MAX_DATUMS_PER_REQUEST): MetricDatum[][] {
  const out: MetricDatum[][] = [];
  for (let i = 0; i < datums.length; i += size) out.push(datums.slice(i, i + size));
  return out;
}
