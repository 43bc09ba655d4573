/**
 * Sample-ratio-mismatch (SRM) check: are the observed arm sizes consistent with the
 * configured traffic split? A mismatch usually means broken assignment or logging, which
 * invalidates every other statistic of the experiment.
 */
import { chiSquareSf } from "./distributions";
import { assertNonNegativeFinite } from "./validation";

/** p-value below which the split is declared mismatched (GrowthBook's default SRM threshold). */
export const SRM_P_THRESHOLD = 0.001;

export interface SrmResult {
  /** Pearson statistic Σ (Oᵢ − Eᵢ)²/Eᵢ. */
  chi2: number;
  /** P(χ²_{k−1} ≥ chi2). */
  pValue: number;
  /** True when pValue < 0.001. */
  mismatch: boolean;
}

function assertSrmInputs(observedCounts: readonly number[], expectedWeights: readonly number[]): void {
  if (observedCounts.length !== expectedWeights.length) {
    throw new RangeError(
      `srmCheck: ${observedCounts.length} observed counts but ${expectedWeights.length} expected weights`,
    );
  }
  if (observedCounts.length < 2) throw new RangeError("srmCheck: need at least 2 arms");
  observedCounts.forEach((count, i) => {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(`srmCheck: observedCounts[${i}] must be a non-negative integer, got ${count}`);
    }
  });
  expectedWeights.forEach((weight, i) => {
    assertNonNegativeFinite(`srmCheck: expectedWeights[${i}]`, weight);
    // A zero weight would make Eᵢ = 0 and the statistic undefined; such an arm should not be listed.
    if (weight === 0) throw new RangeError(`srmCheck: expectedWeights[${i}] must be positive, got 0`);
  });
  if (observedCounts.every((count) => count === 0)) throw new RangeError("srmCheck: total observed count is 0");
}

/**
 * Pearson chi-square goodness-of-fit test of observed arm sizes against expected weights:
 *   Eᵢ = N·wᵢ/Σw,  χ² = Σ (Oᵢ − Eᵢ)²/Eᵢ,  p = P(χ²_{k−1} ≥ χ²),  mismatch ⇔ p < 0.001.
 * Weights are normalized, so [1, 1] and [0.5, 0.5] mean the same split.
 */
export function srmCheck(observedCounts: readonly number[], expectedWeights: readonly number[]): SrmResult {
  assertSrmInputs(observedCounts, expectedWeights);
  const total = observedCounts.reduce((sum, count) => sum + count, 0);
  const weightSum = expectedWeights.reduce((sum, weight) => sum + weight, 0);
  const chi2 = observedCounts.reduce((sum, observed, i) => {
    const expected = (total * expectedWeights[i]) / weightSum;
    return sum + (observed - expected) ** 2 / expected;
  }, 0);
  const pValue = chiSquareSf(chi2, observedCounts.length - 1);
  return { chi2, pValue, mismatch: pValue < SRM_P_THRESHOLD };
}
