/**
 * Multiple-comparison corrections for experiments with several variants or metrics.
 * Both return adjusted p-values in the caller's order, capped at 1, and match
 * statsmodels' `multipletests` methods 'holm' and 'fdr_bh'.
 */

function assertPValues(pValues: readonly number[]): void {
  pValues.forEach((p, i) => {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`pValues[${i}] must be in [0, 1], got ${p}`);
  });
}

/** Indices that sort pValues ascending (stable, so ties keep their input order). */
function ascendingOrder(pValues: readonly number[]): number[] {
  return pValues.map((_, i) => i).sort((a, b) => pValues[a] - pValues[b] || a - b);
}

/**
 * Holm–Bonferroni step-down adjustment (controls the family-wise error rate).
 * With p₍₁₎ ≤ … ≤ p₍ₘ₎: adj₍ᵢ₎ = min(1, max_{j ≤ i} (m − j + 1)·p₍ⱼ₎).
 * The running maximum enforces monotonicity: a hypothesis cannot be rejected unless all
 * hypotheses with smaller p-values are.
 */
export function holm(pValues: readonly number[]): number[] {
  assertPValues(pValues);
  const m = pValues.length;
  const adjusted = new Array<number>(m);
  let runningMax = 0;
  ascendingOrder(pValues).forEach((index, rank) => {
    runningMax = Math.max(runningMax, Math.min(1, (m - rank) * pValues[index]));
    adjusted[index] = runningMax;
  });
  return adjusted;
}

/**
 * Benjamini–Hochberg step-up adjustment (controls the false discovery rate).
 * With p₍₁₎ ≤ … ≤ p₍ₘ₎: adj₍ᵢ₎ = min(1, min_{j ≥ i} m·p₍ⱼ₎/j).
 * The running minimum from the largest p-value down enforces monotonicity.
 */
export function benjaminiHochberg(pValues: readonly number[]): number[] {
  assertPValues(pValues);
  const m = pValues.length;
  const adjusted = new Array<number>(m);
  const order = ascendingOrder(pValues);
  let runningMin = 1;
  for (let rank = m - 1; rank >= 0; rank -= 1) {
    const index = order[rank];
    runningMin = Math.min(runningMin, (m * pValues[index]) / (rank + 1));
    adjusted[index] = runningMin;
  }
  return adjusted;
}
