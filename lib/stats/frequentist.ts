/**
 * Fixed-horizon frequentist statistics for conversion-rate A/B tests.
 * Differences are always variant − control (arm 2 − arm 1); tests are two-sided.
 */
import { normalQuantile, normalSf } from "./distributions";
import { assertOpenInterval, assertTwoArmCounts, TwoArmCounts } from "./validation";

export interface ZTestResult {
  /** Control conversion rate x1/n1. */
  p1: number;
  /** Variant conversion rate x2/n2. */
  p2: number;
  /** Pooled rate (x1 + x2)/(n1 + n2), the common rate under H0: p1 = p2. */
  pooledP: number;
  /** Pooled standard error √(p̄(1 − p̄)(1/n1 + 1/n2)). */
  se: number;
  /** z = (p2 − p1)/se. */
  z: number;
  /** Two-sided p-value 2·(1 − Φ(|z|)). */
  pValue: number;
}

/**
 * Two-proportion z-test of H0: p1 = p2 with the pooled standard error
 *   p̄ = (x1 + x2)/(n1 + n2),  se = √(p̄(1 − p̄)(1/n1 + 1/n2)),  z = (p2 − p1)/se,
 *   p-value = 2·sf(|z|).
 * The survival function is erfc-based, so p-values as small as 1e-300 keep ~1e-14
 * relative precision (2·(1 − Φ) would round to 0 beyond |z| ≈ 8.3).
 * When se = 0 (no conversions at all, or every unit converted) both arms are identical
 * and there is no evidence of a difference: z = 0, p-value = 1.
 */
export function zTestTwoProportions(counts: TwoArmCounts): ZTestResult {
  assertTwoArmCounts(counts);
  const { n1, x1, n2, x2 } = counts;
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const pooledP = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooledP * (1 - pooledP) * (1 / n1 + 1 / n2));
  if (se === 0) return { p1, p2, pooledP, se, z: 0, pValue: 1 };
  const z = (p2 - p1) / se;
  const pValue = Math.min(1, 2 * normalSf(Math.abs(z)));
  return { p1, p2, pooledP, se, z, pValue };
}

/** Unpooled (Wald) standard error of p2 − p1: √(p1(1 − p1)/n1 + p2(1 − p2)/n2). */
export function unpooledStandardError(counts: TwoArmCounts): number {
  const p1 = counts.x1 / counts.n1;
  const p2 = counts.x2 / counts.n2;
  return Math.sqrt((p1 * (1 - p1)) / counts.n1 + (p2 * (1 - p2)) / counts.n2);
}

/**
 * Wald confidence interval for the absolute difference p2 − p1:
 *   (p2 − p1) ± z₁₋α/₂ · √(p1(1 − p1)/n1 + p2(1 − p2)/n2),  α = 1 − confidence.
 * The critical value is taken as −Φ⁻¹(α/2), evaluated in the lower tail where the
 * quantile is most precise. Like every Wald interval it collapses to a point when both
 * observed rates are 0 or 1.
 */
export function waldInterval(counts: TwoArmCounts, confidence: number): [number, number] {
  assertTwoArmCounts(counts);
  assertOpenInterval("confidence", confidence, 0, 1);
  const diff = counts.x2 / counts.n2 - counts.x1 / counts.n1;
  const halfWidth = -normalQuantile((1 - confidence) / 2) * unpooledStandardError(counts);
  return [diff - halfWidth, diff + halfWidth];
}

export interface SampleSizeInput {
  /** Baseline (control) conversion rate p1, in (0, 1). */
  baseline: number;
  /** Minimum detectable effect: relative lift if `relative`, else absolute difference. */
  mde: number;
  /** Interpret `mde` as a relative lift (default true). */
  relative?: boolean;
  /** Two-sided significance level (default 0.05). */
  alpha?: number;
  /** Power 1 − β (default 0.8). */
  power?: number;
}

/**
 * Sample size per arm for a two-sided two-proportion z-test (equal allocation):
 *   n = ( z₁₋α/₂·√(2p̄(1 − p̄)) + z₁₋β·√(p1(1 − p1) + p2(1 − p2)) )² / (p2 − p1)²,
 *   p̄ = (p1 + p2)/2, p1 = baseline, p2 = baseline·(1 + mde) if relative else baseline + mde.
 * The first term is the null-hypothesis spread (pooled), the second the alternative's
 * (unpooled), as in Fleiss' formula without continuity correction. Returns ⌈n⌉.
 */
export function sampleSizePerArm(input: SampleSizeInput): number {
  const { baseline, mde, relative = true, alpha = 0.05, power = 0.8 } = input;
  assertOpenInterval("baseline", baseline, 0, 1);
  assertOpenInterval("alpha", alpha, 0, 1);
  assertOpenInterval("power", power, 0, 1);
  if (!Number.isFinite(mde) || mde === 0) throw new RangeError(`mde must be a finite non-zero number, got ${mde}`);
  const p1 = baseline;
  const p2 = relative ? baseline * (1 + mde) : baseline + mde;
  assertOpenInterval("variant rate implied by baseline and mde", p2, 0, 1);

  const zAlpha = -normalQuantile(alpha / 2);
  const zBeta = -normalQuantile(1 - power);
  const pBar = (p1 + p2) / 2;
  const nullSpread = zAlpha * Math.sqrt(2 * pBar * (1 - pBar));
  const alternativeSpread = zBeta * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2));
  const n = (nullSpread + alternativeSpread) ** 2 / (p2 - p1) ** 2;
  return Math.ceil(n);
}
