/**
 * Patterns and recommendations: pure functions over summed counters (no I/O), so the rules can be tested
 * with plain numbers. Nothing is claimed from too little data: a group needs MIN_CLICKS clicks to be
 * judged on conversion rate, or MIN_IMPRESSIONS impressions to be judged on CTR, and a recommendation
 * needs its statistical test to clear MIN_CONFIDENCE.
 */
import { zTestTwoProportions } from "../../lib/stats";
import { derive, type Counters } from "./metrics";

export const MIN_CLICKS = 30;
export const MIN_IMPRESSIONS = 200;
export const MIN_CONFIDENCE = 0.9;
/** Least relative difference worth acting on. */
export const MIN_LIFT = 0.1;
/** Least spend before a campaign's ROI is judged. */
export const MIN_SPEND = 20;

export interface Group {
  key: string;
  label: string;
  counters: Counters;
}

export type RateName = "conversionRate" | "ctr";

export interface Pattern {
  kind: "hourOfWeek" | "platform" | "campaignType" | "template" | "templateNiche";
  key: string;
  label: string;
  metric: RateName;
  value: number;
  /** Clicks (conversionRate) or impressions (ctr) behind `value`. */
  sampleSize: number;
  /** The same rate over every other group, and its sample. */
  baseline: number | null;
  baselineSampleSize: number;
  groupsCompared: number;
  /** 1 − p of a two-proportion z-test of this group against the rest; null with no rest. */
  confidence: number | null;
}

/** Successes and trials of a rate, with conversions capped at clicks (a conversion may come without a click). */
function trials(c: Counters, metric: RateName): { n: number; x: number } {
  return metric === "conversionRate" ? { n: c.clicks, x: Math.min(c.conversions, c.clicks) } : { n: c.impressions, x: Math.min(c.clicks, c.impressions) };
}

function sum(groups: Group[]): Counters {
  return groups.reduce(
    (a, g) => ({
      impressions: a.impressions + g.counters.impressions,
      clicks: a.clicks + g.counters.clicks,
      conversions: a.conversions + g.counters.conversions,
      revenue: a.revenue + g.counters.revenue,
      spent: a.spent + g.counters.spent,
    }),
    { impressions: 0, clicks: 0, conversions: 0, revenue: 0, spent: 0 },
  );
}

/** The rate judged: conversion rate when enough clicks exist, else CTR when enough impressions, else none. */
function judgedMetric(groups: Group[]): RateName | undefined {
  if (groups.some((g) => g.counters.clicks >= MIN_CLICKS)) return "conversionRate";
  if (groups.some((g) => g.counters.impressions >= MIN_IMPRESSIONS)) return "ctr";
  return undefined;
}

/** The best group by the judged rate among groups with enough sample, compared with all the others. */
export function bestGroup(kind: Pattern["kind"], groups: Group[]): Pattern | undefined {
  const metric = judgedMetric(groups);
  if (!metric) return undefined;
  const minimum = metric === "conversionRate" ? MIN_CLICKS : MIN_IMPRESSIONS;
  const eligible = groups.filter((g) => trials(g.counters, metric).n >= minimum);
  const rate = (g: Group) => trials(g.counters, metric).x / trials(g.counters, metric).n;
  const best = eligible.reduce((a, b) => (rate(b) > rate(a) ? b : a));
  const best_ = trials(best.counters, metric);
  const rest = trials(sum(groups.filter((g) => g !== best)), metric);
  return {
    kind,
    key: best.key,
    label: best.label,
    metric,
    value: best_.x / best_.n,
    sampleSize: best_.n,
    baseline: rest.n > 0 ? rest.x / rest.n : null,
    baselineSampleSize: rest.n,
    groupsCompared: groups.length,
    confidence: rest.n > 0 ? 1 - zTestTwoProportions({ n1: rest.n, x1: rest.x, n2: best_.n, x2: best_.x }).pValue : null,
  };
}

const DAYS = ["", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

export function hourOfWeekLabel(dayOfWeek: number, hourOfDay: number): string {
  return `${DAYS[dayOfWeek]} ${String(hourOfDay).padStart(2, "0")}:00 UTC`;
}

export interface Recommendation {
  kind: "schedule" | "platform" | "campaignType" | "template" | "templateNiche" | "pauseCampaign" | "refreshCreative";
  message: string;
  confidence: number;
  evidence: Record<string, number | string | null>;
}

const RATE_WORDS: Record<RateName, string> = { conversionRate: "conversion rate", ctr: "click-through rate" };
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** A pattern becomes advice only when it clearly beats the rest: enough lift and enough confidence. */
function fromPattern(p: Pattern): Recommendation | undefined {
  if (p.baseline === null || p.confidence === null || p.confidence < MIN_CONFIDENCE) return undefined;
  if (p.baseline > 0 && (p.value - p.baseline) / p.baseline < MIN_LIFT) return undefined;
  const what = { hourOfWeek: `Schedule posts for ${p.label}`, platform: `Put more of your budget on ${p.label}`, campaignType: `Run more ${p.label} campaigns`, template: `Reuse the template ${p.label}`, templateNiche: `Pick more ${p.label} templates` }[p.kind];
  const kind = ({ hourOfWeek: "schedule", platform: "platform", campaignType: "campaignType", template: "template", templateNiche: "templateNiche" } as const)[p.kind];
  return {
    kind,
    message: `${what}: its ${RATE_WORDS[p.metric]} is ${pct(p.value)} against ${pct(p.baseline)} elsewhere.`,
    confidence: p.confidence,
    evidence: { metric: p.metric, value: p.value, sampleSize: p.sampleSize, baseline: p.baseline, baselineSampleSize: p.baselineSampleSize },
  };
}

/**
 * Campaign-level rules: a campaign losing money on a real sample (ROI < 0 after MIN_SPEND spent and
 * MIN_CLICKS clicks; confidence 1 − 1/√clicks, a sample-size heuristic), and a campaign whose CTR is
 * significantly below the owner's other campaigns (z-test).
 */
function fromCampaigns(campaigns: Group[]): Recommendation[] {
  const out: Recommendation[] = [];
  for (const c of campaigns) {
    const m = derive(c.counters);
    if (c.counters.spent >= MIN_SPEND && c.counters.clicks >= MIN_CLICKS && m.roi !== null && m.roi < 0) {
      out.push({
        kind: "pauseCampaign",
        message: `Pause or rework "${c.label}": it returned ${c.counters.revenue.toFixed(2)} on ${c.counters.spent.toFixed(2)} spent (ROI ${pct(m.roi)}).`,
        confidence: 1 - 1 / Math.sqrt(c.counters.clicks),
        evidence: { campaignId: c.key, spent: c.counters.spent, revenue: c.counters.revenue, roi: m.roi, clicks: c.counters.clicks, conversions: c.counters.conversions },
      });
    }
    const rest = sum(campaigns.filter((o) => o !== c));
    if (c.counters.impressions >= MIN_IMPRESSIONS && rest.impressions >= MIN_IMPRESSIONS) {
      const own = trials(c.counters, "ctr");
      const others = trials(rest, "ctr");
      const test = zTestTwoProportions({ n1: others.n, x1: others.x, n2: own.n, x2: own.x });
      const confidence = 1 - test.pValue;
      if (test.p2 < test.p1 * (1 - MIN_LIFT) && confidence >= MIN_CONFIDENCE) {
        out.push({
          kind: "refreshCreative",
          message: `Refresh the creative of "${c.label}": its click-through rate is ${pct(test.p2)} against ${pct(test.p1)} on your other campaigns.`,
          confidence,
          evidence: { campaignId: c.key, ctr: test.p2, impressions: own.n, baselineCtr: test.p1, baselineImpressions: others.n },
        });
      }
    }
  }
  return out;
}

export function recommend(patterns: Pattern[], campaigns: Group[]): Recommendation[] {
  const fromPatterns = patterns.map(fromPattern).filter((r): r is Recommendation => r !== undefined);
  return [...fromPatterns, ...fromCampaigns(campaigns)].sort((a, b) => b.confidence - a.confidence);
}
