/**
 * Bayesian "chance to beat control" for conversion rates with uniform Beta(1, 1) priors:
 * θᵢ | data ~ Beta(αᵢ, βᵢ) with αᵢ = 1 + xᵢ, βᵢ = 1 + nᵢ − xᵢ, and we want P(θ₂ > θ₁).
 *
 * Exact method (Evan Miller, "Formulas for Bayesian A/B testing", 2015): for X ~ Beta(a, b),
 * Y ~ Beta(c, d) with integer c,
 *   P(Y > X) = Σ_{i=0}^{c−1} T(i),  T(i) = B(a + i, b + d) / ((d + i)·B(1 + i, d)·B(a, b)).
 * Two observations make this fast and accurate for any realistic sample size:
 *  1. T(i+1)/T(i) = (a + i)(d + i) / ((a + b + d + i)(1 + i)), and T(i+1) ≥ T(i) exactly when
 *     i ≤ (ad − a − b − d)/(b + 1): T is unimodal (it is a Beta-negative-binomial pmf).
 *     So we evaluate one term in log space (log-beta) at the mode, reach the others by the
 *     ratio recurrence, and stop in each direction once the remaining terms — each smaller
 *     than the current one — cannot add 1e-17 of the sum. Only the O(√n) terms that matter
 *     are visited instead of all c.
 *  2. By symmetry the same probability is a sum over whichever of α₁, β₁, α₂, β₂ is smallest
 *     ("the smaller side"), which keeps the truncation range and the work minimal.
 * The only term computed from special functions is ln T(mode); it is a difference of
 * quantities of size up to ~x·ln(n/x), so its rounding error is ≈ ε·(those sizes) with
 * ε = 2.2e-16. We evaluate it in the cheaper-to-round of two equal forms (see
 * logTermWithError) and keep that error estimate to decide between the two methods.
 *
 * Fallback (very large counts): the normal approximation of the Beta posteriors, using the
 * exact Beta means and variances, plus the first Edgeworth (skewness) term. The plain normal
 * approximation errs by ≈ 0.067·|skewness| ≈ 0.13/√min(α, β) when the arms are unbalanced
 * (still ~1e-6 at min(α, β) = 1e10); the skewness term removes that, leaving an O(1/min(α, β))
 * error that we bound by 0.1/min(α, β) (measured ≤ 0.05/min against 50-digit references).
 * The fallback is used when that bound is smaller than the exact path's rounding estimate,
 * or when the exact sum would visit more than MAX_EXACT_TERMS terms. For balanced arms it
 * takes over around n ≈ 1e8 (p = 0.5) to 1e9 (p = 0.01).
 *
 * Measured against 50-digit references on 4500 random experiments (seeded stress runs):
 * max error 2e-12 for n ≤ 1e4 (mathjs lgamma's own error at small arguments), 1e-8 for
 * n ≤ 1e8 (typically < 1e-9) and 5e-8 for n ≤ 1e10: comfortably inside the 1e-6 target.
 */
import { logBeta, logGammaRatio, logGammaRatioScale, normalCdf, normalPdf } from "./distributions";
import { assertTwoArmCounts, TwoArmCounts } from "./validation";

/** Most terms the exact sum may visit before falling back (a few ms of arithmetic). */
export const MAX_EXACT_TERMS = 1_000_000;

/** Stop summing once the neglected tail is provably below this fraction of the sum. */
const TAIL_TOLERANCE = 1e-17;

export type WinProbabilityMethod = "exact-sum" | "normal-approximation";

export interface WinProbability {
  /** P(θ₂ > θ₁). */
  probability: number;
  /** Which evaluation path produced it. */
  method: WinProbabilityMethod;
}

/** Parameters of a Beta distribution. */
interface BetaParams {
  alpha: number;
  beta: number;
}

/** X ~ Beta(a, b), Y ~ Beta(c, d): the Evan Miller sum for P(Y > X) over i = 0..c−1. */
interface EvanMillerSum {
  a: number;
  b: number;
  c: number;
  d: number;
  /** Whether the sum evaluates P(θ₁ > θ₂) (a "flipped" orientation) rather than P(θ₂ > θ₁). */
  complement: boolean;
}

/**
 * Picks the orientation that sums over the smallest posterior parameter, using
 * P(θ₂ > θ₁) = 1 − P(θ₁ > θ₂) and P(θ₂ > θ₁) = P(1 − θ₁ > 1 − θ₂) with 1 − θ ~ Beta(β, α).
 */
function smallestSideSum(control: BetaParams, variant: BetaParams): EvanMillerSum {
  const { alpha: a1, beta: b1 } = control;
  const { alpha: a2, beta: b2 } = variant;
  const smallest = Math.min(a1, b1, a2, b2);
  if (smallest === a2) return { a: a1, b: b1, c: a2, d: b2, complement: false };
  if (smallest === b1) return { a: b2, b: a2, c: b1, d: a1, complement: false };
  if (smallest === a1) return { a: a2, b: b2, c: a1, d: b1, complement: true };
  return { a: b1, b: a1, c: b2, d: a2, complement: true };
}

/** T(i+1)/T(i) of the Evan Miller sum. */
function termRatio({ a, b, d }: EvanMillerSum, i: number): number {
  return ((a + i) * (d + i)) / ((a + b + d + i) * (1 + i));
}

/**
 * ln T(i) = ln B(a+i, b+d) − ln B(a, b) − ln B(1+i, d) − ln(d+i), with an estimate of its
 * rounding error. The first difference is evaluated in whichever of two equal forms rounds
 * less: directly as two log-betas (error ~ ε·|ln B(a, b)|), or as log-gamma ratios
 *   ln B(a+i, b+d) − ln B(a, b) = [lnΓ(a+i) − lnΓ(a)] + [lnΓ(b+d) − lnΓ(b)] − [lnΓ(a+b+i+d) − lnΓ(a+b)]
 * (error ~ ε·(i+d)·ln(a+b)), which wins when one arm is far larger than the other.
 */
function logTermWithError({ a, b, d }: EvanMillerSum, i: number): { value: number; roundingError: number } {
  const successTerm = logBeta(1 + i, d);
  const shifted = logBeta(a + i, b + d);
  const base = logBeta(a, b);
  const viaLogBeta = { value: shifted - base, scale: Math.abs(shifted) + Math.abs(base) };
  const viaRatios = {
    value: logGammaRatio(a, i) + logGammaRatio(b, d) - logGammaRatio(a + b, i + d),
    scale: logGammaRatioScale(a, i) + logGammaRatioScale(b, d) + logGammaRatioScale(a + b, i + d),
  };
  const best = viaRatios.scale < viaLogBeta.scale ? viaRatios : viaLogBeta;
  return {
    value: best.value - successTerm - Math.log(d + i),
    roundingError: Number.EPSILON * (best.scale + Math.abs(successTerm)),
  };
}

/** Index of the largest T(i) in 0..c−1 (from the sign change of T(i+1)/T(i) − 1). */
function modeIndex({ a, b, c, d }: EvanMillerSum): number {
  const lastIncreasing = (a * d - a - b - d) / (b + 1);
  if (lastIncreasing < 0) return 0;
  return Math.min(c - 1, Math.floor(lastIncreasing) + 1);
}

/**
 * Σ T(i) / T(mode), summed outward from the mode via the ratio recurrence.
 * Returns null when more than `budget` terms would be needed.
 */
function relativeSumAroundMode(sum: EvanMillerSum, mode: number, budget: number): number | null {
  let relativeSum = 1;
  let visited = 1;

  // Upward from the mode the terms decrease, so the c−2−i terms left are each ≤ the current one.
  let term = 1;
  for (let i = mode; i < sum.c - 1; i += 1) {
    term *= termRatio(sum, i);
    relativeSum += term;
    visited += 1;
    if (term * (sum.c - 2 - i) <= TAIL_TOLERANCE * relativeSum) break;
    if (visited > budget) return null;
  }

  // Downward from the mode the terms also decrease, with i−1 terms left below index i−1.
  term = 1;
  for (let i = mode; i > 0; i -= 1) {
    term /= termRatio(sum, i - 1);
    relativeSum += term;
    visited += 1;
    if (term * (i - 1) <= TAIL_TOLERANCE * relativeSum) break;
    if (visited > budget) return null;
  }
  return relativeSum;
}

/**
 * Exact P(θ₂ > θ₁), or null when the sum is too long or its rounding error estimate
 * at the mode (see logTermWithError) exceeds `maxRoundingError`.
 */
function exactWinProbability(
  control: BetaParams,
  variant: BetaParams,
  maxRoundingError: number,
  budget: number,
): number | null {
  const sum = smallestSideSum(control, variant);
  const mode = modeIndex(sum);
  const logPeak = logTermWithError(sum, mode);
  if (logPeak.roundingError > maxRoundingError) return null;
  const relativeSum = relativeSumAroundMode(sum, mode, budget);
  if (relativeSum === null) return null;
  const value = Math.exp(logPeak.value) * relativeSum;
  return sum.complement ? 1 - value : value;
}

/** Mean, variance and third cumulant of a Beta distribution. */
function betaCumulants({ alpha, beta }: BetaParams): { mean: number; variance: number; thirdCumulant: number } {
  const total = alpha + beta;
  return {
    mean: alpha / total,
    variance: (alpha * beta) / (total * total * (total + 1)),
    thirdCumulant: (2 * alpha * beta * (beta - alpha)) / (total ** 3 * (total + 1) * (total + 2)),
  };
}

/**
 * Normal approximation of θ₂ − θ₁ with its exact mean μ, s.d. σ and skewness γ, plus the
 * first Edgeworth term:  P(θ₂ > θ₁) ≈ Φ(z) + (γ/6)(z² − 1)φ(z),  z = μ/σ.
 * Without the correction the error is ≈ 0.067·|γ| ~ 0.13/√min(α, β) for unbalanced arms;
 * with it the error is second order, O(1/min(α, β)) (measured ≤ 0.05/min).
 */
function normalApproximateWinProbability(control: BetaParams, variant: BetaParams): number {
  const c1 = betaCumulants(control);
  const c2 = betaCumulants(variant);
  const sd = Math.sqrt(c1.variance + c2.variance);
  const z = (c2.mean - c1.mean) / sd;
  const skewness = (c2.thirdCumulant - c1.thirdCumulant) / sd ** 3;
  return normalCdf(z) + (skewness / 6) * (z * z - 1) * normalPdf(z);
}

/** Conservative error bound of the corrected normal approximation (twice the measured 0.05/min). */
function normalApproximationError(control: BetaParams, variant: BetaParams): number {
  return 0.1 / Math.min(control.alpha, control.beta, variant.alpha, variant.beta);
}

/**
 * P(θ₂ > θ₁) for θ₁ ~ Beta(α₁, β₁), θ₂ ~ Beta(α₂, β₂) with positive integer parameters,
 * reporting which method was used: the exact sum, unless the corrected normal approximation
 * has the smaller error estimate or the sum would need more than `budget` terms.
 */
export function betaWinProbability(
  control: BetaParams,
  variant: BetaParams,
  budget: number = MAX_EXACT_TERMS,
): WinProbability {
  const params = { a1: control.alpha, b1: control.beta, a2: variant.alpha, b2: variant.beta };
  for (const [name, value] of Object.entries(params)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  const exact = exactWinProbability(control, variant, normalApproximationError(control, variant), budget);
  const method: WinProbabilityMethod = exact === null ? "normal-approximation" : "exact-sum";
  const probability = exact ?? normalApproximateWinProbability(control, variant);
  return { probability: clampProbability(probability), method };
}

function clampProbability(p: number): number {
  return Math.min(1, Math.max(0, p));
}

/** Beta(1 + x, 1 + n − x) posterior of a conversion rate under a uniform prior. */
function posterior(n: number, x: number): BetaParams {
  return { alpha: 1 + x, beta: 1 + n - x };
}

/**
 * Chance to beat control, P(θ₂ > θ₁), with θᵢ ~ Beta(1 + xᵢ, 1 + nᵢ − xᵢ).
 * Exact (Evan Miller's closed-form sum) for ordinary sample sizes; skewness-corrected normal
 * approximation for very large counts (see the module comment for the switch and accuracy).
 */
export function chanceToBeatControl(counts: TwoArmCounts): number {
  assertTwoArmCounts(counts);
  return betaWinProbability(posterior(counts.n1, counts.x1), posterior(counts.n2, counts.x2)).probability;
}
