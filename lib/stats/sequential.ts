/**
 * Sequential (always-valid) inference for the difference in conversion rates, following
 * GrowthBook's sequential testing: the asymptotic confidence sequence of Waudby-Smith,
 * Arnold, Wu, Howard & Ramdas, "Time-uniform central limit theory and asymptotic
 * confidence sequences" (2021, arXiv:2103.06476), with the normal-mixture boundary
 * (their eq. 9, the two-sided "conjugate mixture" margin of Howard et al. 2021).
 * Unlike a fixed-horizon interval, it may be inspected after every observation: with
 * probability ≥ 1 − α (asymptotically) it covers the true difference at all N at once.
 */
import { unpooledStandardError } from "./frequentist";
import { assertOpenInterval, assertTwoArmCounts, TwoArmCounts } from "./validation";

export interface SequentialOptions {
  /** Two-sided error level of the confidence sequence (default 0.05). */
  alpha?: number;
  /** Total sample size N* at which the boundary is tightest (default 5000, as GrowthBook). */
  nStar?: number;
}

export interface SequentialResult {
  /** p2 − p1. */
  estimate: number;
  /** Unpooled standard error of the difference. */
  se: number;
  /** Always-valid (1 − α) confidence interval at the current N. */
  ci: [number, number];
  /** Always-valid p-value: the smallest α whose confidence sequence excludes 0. */
  pValue: number;
}

/**
 * Mixture tuning ρ that makes the boundary tightest at N = N* (Waudby-Smith et al.,
 * eq. 161 of arXiv v7):  ρ = √( (−2 ln α + ln(−2 ln α + 1)) / N* ).
 */
export function sequentialRho(alpha: number, nStar: number): number {
  const minusTwoLogAlpha = -2 * Math.log(alpha);
  return Math.sqrt((minusTwoLogAlpha + Math.log(minusTwoLogAlpha + 1)) / nStar);
}

/**
 * Half-width of the confidence sequence at total sample size N, where σ̂ = se·√N is the
 * per-observation standard deviation of the difference estimate:
 *   halfWidth = σ̂ · √( 2(Nρ² + 1)/(N²ρ²) · ln(√(Nρ² + 1)/α) ).
 */
export function sequentialHalfWidth(se: number, n: number, rho: number, alpha: number): number {
  const nRho2 = n * rho * rho;
  const sigma = se * Math.sqrt(n);
  return sigma * Math.sqrt(((2 * (nRho2 + 1)) / (n * nRho2)) * Math.log(Math.sqrt(nRho2 + 1) / alpha));
}

/**
 * Closed form of the always-valid p-value: the smallest α whose interval excludes 0, with ρ
 * held at the value tuned for the design α (as GrowthBook does). The interval excludes 0 iff
 * |estimate| > halfWidth(α); squaring and solving for α gives exclusion iff
 *   α > √(Nρ² + 1)·exp(−ρ²S/(2(Nρ² + 1))),  S = N·estimate²/se²,
 * so that threshold is the p-value (= 1/E for the normal-mixture e-value E). It is
 * evaluated in log space so a huge S underflows cleanly to 0 instead of overflowing E.
 */
function alwaysValidPValue(estimate: number, se: number, n: number, rho: number): number {
  if (estimate === 0) return 1;
  // se = 0 with a non-zero estimate (all-or-nothing rates in both arms): the degenerate
  // interval [estimate, estimate] excludes 0 at every α, so the infimum is 0.
  if (se === 0) return 0;
  const nRho2 = n * rho * rho;
  const s = (n * estimate * estimate) / (se * se);
  const logP = 0.5 * Math.log1p(nRho2) - (rho * rho * s) / (2 * (nRho2 + 1));
  return Math.min(1, Math.exp(logP));
}

/**
 * Always-valid inference for p2 − p1 with N = n1 + n2:
 *   ρ from N* (see `sequentialRho`), se = √(p1(1−p1)/n1 + p2(1−p2)/n2),
 *   ci = estimate ± se·√N·√( 2(Nρ² + 1)/(N²ρ²) · ln(√(Nρ² + 1)/α) ),
 *   pValue = min(1, √(Nρ² + 1)·exp(−ρ²·N·estimate²/se² / (2(Nρ² + 1)))).
 */
export function sequentialTest(counts: TwoArmCounts, options: SequentialOptions = {}): SequentialResult {
  assertTwoArmCounts(counts);
  const { alpha = 0.05, nStar = 5000 } = options;
  assertOpenInterval("alpha", alpha, 0, 1);
  if (!(Number.isFinite(nStar) && nStar > 0)) throw new RangeError(`nStar must be a positive number, got ${nStar}`);

  const n = counts.n1 + counts.n2;
  const estimate = counts.x2 / counts.n2 - counts.x1 / counts.n1;
  const se = unpooledStandardError(counts);
  const rho = sequentialRho(alpha, nStar);
  const halfWidth = sequentialHalfWidth(se, n, rho, alpha);
  return {
    estimate,
    se,
    ci: [estimate - halfWidth, estimate + halfWidth],
    pValue: alwaysValidPValue(estimate, se, n, rho),
  };
}
