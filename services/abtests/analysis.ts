/**
 * The analysis of an A/B test from its counters: readiness against the design's minimum samples, the
 * sample-ratio-mismatch check, one comparison per variant against the control (Holm-corrected when there
 * are several), and the decision. Pure: the service feeds it rows and decides what to do with the result.
 *
 * Rate metrics (ctr = clicks/impressions, conversion_rate = conversions/impressions, as the design's
 * z-test) use lib/stats directly. revenue_per_impression is a mean of a continuous value, so it uses the
 * large-sample Welch z-test on the means (variances from Σ revenue², see store.revenueSquares) and the
 * same sequential boundary with that standard error.
 */
import {
  benjaminiHochberg,
  chanceToBeatControl,
  holm,
  sampleSizePerArm,
  sequentialTest,
  srmCheck,
  waldInterval,
  zTestTwoProportions,
  type SrmResult,
} from "../../lib/stats";
import { normalCdf, normalQuantile, normalSf } from "../../lib/stats/distributions";
import { sequentialHalfWidth, sequentialRho } from "../../lib/stats/sequential";
import type { ABTestMetric, ABTestMode } from "./schema";

/** The design's minimum samples per variant before a winner may be declared. */
export const MIN_SAMPLES = { impressions: 1000, clicks: 100, conversions: 30 } as const;
/** The design's minimum detectable effect (relative) and the usual power for planning. */
export const MDE = 0.1;
export const POWER = 0.8;

export interface VariantCounts {
  id: string;
  name: string;
  isControl: boolean;
  weight: number;
  initialWeight: number;
  impressions: number;
  clicks: number;
  conversions: number;
  revenue: number;
  revenueSquares: number;
}

export interface TestDesign {
  metric: ABTestMetric;
  mode: ABTestMode;
  minSampleSize: number;
  confidenceLevel: number;
}

export interface MissingSample {
  variantId: string;
  variantName: string;
  field: keyof typeof MIN_SAMPLES;
  have: number;
  need: number;
}

export interface Comparison {
  /** Variant − control, in the metric's unit. */
  difference: number;
  /** difference / control value; null when the control's value is 0. */
  relativeLift: number | null;
  z: number;
  pValue: number;
  /** Holm-adjusted over all variant-vs-control comparisons (equal to pValue with one comparison). */
  adjustedPValue: number;
  /** Benjamini–Hochberg q-value, for reference when many variants run. */
  qValue: number;
  /** Wald interval of the difference at the test's confidence level. */
  interval: [number, number];
  chanceToBeatControl: number;
  /** Always-valid p-value and interval: safe to look at after every update (N* = 5000). */
  sequential: { pValue: number; interval: [number, number] };
  significant: boolean;
}

export interface VariantResult extends Omit<VariantCounts, "revenueSquares"> {
  /** The metric's estimate for this variant. */
  value: number | null;
  comparison: Comparison | null;
  /** Impressions still needed for the 10% MDE (0 when reached); null when it cannot be planned yet. */
  impressionsNeededForMde: number | null;
}

export type Conclusion = "winner" | "no_significant_difference" | "srm_mismatch" | "insufficient_data" | "invalid_data";

export interface Analysis {
  metric: ABTestMetric;
  confidenceLevel: number;
  correction: "none" | "holm";
  ready: boolean;
  missing: MissingSample[];
  /** Counters that cannot be analysed (e.g. more clicks than impressions). */
  problems: { variantId: string; message: string }[];
  /** Null in bandit mode (the split moved on purpose) or before any impression. */
  srm: SrmResult | null;
  conclusion: Conclusion;
  winner: { variantId: string; name: string; isControl: boolean; significance: number } | null;
  message: string;
  sampleSize: { mde: number; power: number; alpha: number; perVariant: number | null };
  variants: VariantResult[];
}

/** Numerator of a rate metric. */
const SUCCESSES: Record<Exclude<ABTestMetric, "revenue_per_impression">, "clicks" | "conversions"> = {
  ctr: "clicks",
  conversion_rate: "conversions",
};

export function requiredSamples(design: Pick<TestDesign, "minSampleSize">): Record<keyof typeof MIN_SAMPLES, number> {
  return { ...MIN_SAMPLES, impressions: Math.max(MIN_SAMPLES.impressions, design.minSampleSize) };
}

export function missingSamples(design: Pick<TestDesign, "minSampleSize">, variants: readonly VariantCounts[]): MissingSample[] {
  const need = requiredSamples(design);
  return variants.flatMap((v) =>
    (Object.keys(need) as (keyof typeof MIN_SAMPLES)[])
      .filter((field) => v[field] < need[field])
      .map((field) => ({ variantId: v.id, variantName: v.name, field, have: v[field], need: need[field] })),
  );
}

function dataProblems(metric: ABTestMetric, variants: readonly VariantCounts[]) {
  const field = metric === "revenue_per_impression" ? undefined : SUCCESSES[metric];
  return variants.flatMap((v) => {
    if (field && v[field] > v.impressions) {
      return [{ variantId: v.id, message: `${v.name}: ${field} (${v[field]}) exceed impressions (${v.impressions})` }];
    }
    return [];
  });
}

interface ArmStats {
  value: number;
  compare(control: VariantCounts, variant: VariantCounts, confidence: number): Omit<Comparison, "adjustedPValue" | "qValue" | "significant">;
  impressionsForMde(control: VariantCounts, alpha: number): number | null;
}

/** Rate metrics: successes / impressions with lib/stats' two-proportion machinery. */
function rateMetric(field: "clicks" | "conversions"): Omit<ArmStats, "value"> & { valueOf(v: VariantCounts): number } {
  const counts = (c: VariantCounts, v: VariantCounts) => ({ n1: c.impressions, x1: c[field], n2: v.impressions, x2: v[field] });
  return {
    valueOf: (v) => v[field] / v.impressions,
    compare(control, variant, confidence) {
      const c = counts(control, variant);
      const z = zTestTwoProportions(c);
      const seq = sequentialTest(c, { alpha: 1 - confidence });
      const difference = z.p2 - z.p1;
      return {
        difference,
        relativeLift: z.p1 === 0 ? null : difference / z.p1,
        z: z.z,
        pValue: z.pValue,
        interval: waldInterval(c, confidence),
        chanceToBeatControl: chanceToBeatControl(c),
        sequential: { pValue: seq.pValue, interval: seq.ci },
      };
    },
    impressionsForMde(control, alpha) {
      const baseline = control[field] / control.impressions;
      if (!(baseline > 0 && baseline * (1 + MDE) < 1)) return null;
      return sampleSizePerArm({ baseline, mde: MDE, relative: true, alpha, power: POWER });
    },
  };
}

function meanAndVariance(v: VariantCounts): { mean: number; variance: number } {
  const mean = v.revenue / v.impressions;
  const n = v.impressions;
  // Sample variance from Σx and Σx²; clamped because Σx² is an estimate and rounding may dip below 0.
  const variance = n > 1 ? Math.max(0, (v.revenueSquares - n * mean * mean) / (n - 1)) : 0;
  return { mean, variance };
}

/**
 * Smallest α at which the sequential interval excludes 0, by bisection on ln α (the half-width falls as
 * α grows, with ρ held at the design α's value as lib/stats does).
 */
function sequentialPValue(difference: number, se: number, n: number, rho: number): number {
  if (difference === 0) return 1;
  if (se === 0) return 0;
  const excludes = (alpha: number) => sequentialHalfWidth(se, n, rho, alpha) < Math.abs(difference);
  if (!excludes(1)) return 1;
  let lo = Math.log(Number.MIN_VALUE);
  let hi = 0;
  if (excludes(Math.exp(lo))) return 0;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (excludes(Math.exp(mid))) hi = mid;
    else lo = mid;
  }
  return Math.exp(hi);
}

/** revenue_per_impression: Welch z-test on means (large samples), normal posterior for chance to win. */
const revenueMetric: Omit<ArmStats, "value"> & { valueOf(v: VariantCounts): number } = {
  valueOf: (v) => v.revenue / v.impressions,
  compare(control, variant, confidence) {
    const c = meanAndVariance(control);
    const t = meanAndVariance(variant);
    const difference = t.mean - c.mean;
    const se = Math.sqrt(c.variance / control.impressions + t.variance / variant.impressions);
    const z = se === 0 ? 0 : difference / se;
    const critical = -normalQuantile((1 - confidence) / 2);
    const alpha = 1 - confidence;
    const n = control.impressions + variant.impressions;
    const rho = sequentialRho(alpha, 5000);
    const half = sequentialHalfWidth(se, n, rho, alpha);
    return {
      difference,
      relativeLift: c.mean === 0 ? null : difference / c.mean,
      z,
      pValue: se === 0 ? 1 : 2 * normalSf(Math.abs(z)),
      interval: [difference - critical * se, difference + critical * se],
      chanceToBeatControl: se === 0 ? (difference > 0 ? 1 : difference < 0 ? 0 : 0.5) : normalCdf(z),
      sequential: { pValue: sequentialPValue(difference, se, n, rho), interval: [difference - half, difference + half] },
    };
  },
  /** n = (z₁₋α/₂ + z₁₋β)²·2σ²/(MDE·μ)², with the control's σ² for both arms. */
  impressionsForMde(control, alpha) {
    const { mean, variance } = meanAndVariance(control);
    if (!(mean > 0 && variance > 0)) return null;
    const zSum = -normalQuantile(alpha / 2) - normalQuantile(1 - POWER);
    return Math.ceil((zSum * zSum * 2 * variance) / (MDE * mean) ** 2);
  },
};

function metricOf(metric: ABTestMetric) {
  return metric === "revenue_per_impression" ? revenueMetric : rateMetric(SUCCESSES[metric]);
}

/** Runs the whole analysis. `variants` holds exactly one control. */
export function analyzeTest(design: TestDesign, variants: readonly VariantCounts[]): Analysis {
  const alpha = 1 - design.confidenceLevel;
  const control = variants.find((v) => v.isControl)!;
  const treatments = variants.filter((v) => !v.isControl);
  const stats = metricOf(design.metric);
  const missing = missingSamples(design, variants);
  const problems = dataProblems(design.metric, variants);
  const comparable = problems.length === 0 && variants.every((v) => v.impressions > 0);

  // Planning for several comparisons uses Bonferroni's α/k: Holm is never stricter than that.
  const planningAlpha = alpha / Math.max(1, treatments.length);
  const perVariant = comparable ? stats.impressionsForMde(control, planningAlpha) : null;

  const raw = comparable ? treatments.map((t) => stats.compare(control, t, design.confidenceLevel)) : [];
  const pValues = raw.map((r) => r.pValue);
  const adjusted = treatments.length > 1 ? holm(pValues) : pValues;
  const qValues = treatments.length > 1 ? benjaminiHochberg(pValues) : pValues;
  const comparisons = new Map(
    treatments.map((t, i) => [
      t.id,
      raw[i] ? ({ ...raw[i], adjustedPValue: adjusted[i], qValue: qValues[i], significant: adjusted[i] < alpha } as Comparison) : null,
    ]),
  );

  const totalImpressions = variants.reduce((sum, v) => sum + v.impressions, 0);
  const srm =
    design.mode === "bandit" || totalImpressions === 0
      ? null
      : srmCheck(
          variants.map((v) => v.impressions),
          variants.map((v) => v.initialWeight),
        );

  const base = {
    metric: design.metric,
    confidenceLevel: design.confidenceLevel,
    correction: treatments.length > 1 ? ("holm" as const) : ("none" as const),
    ready: missing.length === 0 && problems.length === 0,
    missing,
    problems,
    srm,
    sampleSize: { mde: MDE, power: POWER, alpha: planningAlpha, perVariant },
    variants: variants.map(({ revenueSquares: _squares, ...v }, i) => ({
      ...v,
      value: v.impressions > 0 ? stats.valueOf(variants[i]) : null,
      comparison: comparisons.get(v.id) ?? null,
      impressionsNeededForMde: perVariant === null ? null : Math.max(0, perVariant - v.impressions),
    })),
  };
  return { ...base, ...decide(base.ready, problems.length > 0, srm, control, treatments, comparisons, stats) };
}

function decide(
  ready: boolean,
  invalid: boolean,
  srm: SrmResult | null,
  control: VariantCounts,
  treatments: readonly VariantCounts[],
  comparisons: Map<string, Comparison | null>,
  stats: { valueOf(v: VariantCounts): number },
): Pick<Analysis, "conclusion" | "winner" | "message"> {
  if (invalid) return { conclusion: "invalid_data", winner: null, message: "Some counters are inconsistent; see problems" };
  if (!ready) return { conclusion: "insufficient_data", winner: null, message: "Not every variant has the minimum samples yet; see missing" };
  if (srm?.mismatch) {
    return {
      conclusion: "srm_mismatch",
      winner: null,
      message: `Sample ratio mismatch (p = ${srm.pValue.toExponential(2)}): the observed split does not match the configured one, so no result is trustworthy`,
    };
  }
  const results = treatments.map((t) => ({ t, c: comparisons.get(t.id)! }));
  const better = results.filter(({ c }) => c.significant && c.difference > 0);
  if (better.length) {
    const best = better.reduce((a, b) => (stats.valueOf(b.t) > stats.valueOf(a.t) ? b : a));
    return {
      conclusion: "winner",
      winner: { variantId: best.t.id, name: best.t.name, isControl: false, significance: 1 - best.c.adjustedPValue },
      message: `${best.t.name} beats the control`,
    };
  }
  if (results.every(({ c }) => c.significant && c.difference < 0)) {
    const weakest = Math.max(...results.map(({ c }) => c.adjustedPValue));
    return {
      conclusion: "winner",
      winner: { variantId: control.id, name: control.name, isControl: true, significance: 1 - weakest },
      message: `The control ${control.name} beats every variant`,
    };
  }
  return { conclusion: "no_significant_difference", winner: null, message: "No significant difference" };
}
