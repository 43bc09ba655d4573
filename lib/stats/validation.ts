/**
 * Shared input types and validation. Every public statistic validates its inputs up front
 * and throws a RangeError naming the offending field, so a bad query fails loudly instead
 * of producing NaN deep inside a formula.
 */

/** Conversion counts of a two-arm test: arm 1 is the control, arm 2 the variant. */
export interface TwoArmCounts {
  /** Control sample size (positive integer). */
  n1: number;
  /** Control conversions (integer, 0 ≤ x1 ≤ n1). */
  x1: number;
  /** Variant sample size (positive integer). */
  n2: number;
  /** Variant conversions (integer, 0 ≤ x2 ≤ n2). */
  x2: number;
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}

function assertConversions(name: string, value: number, sizeName: string, size: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > size) {
    throw new RangeError(`${name} must be an integer with 0 ≤ ${name} ≤ ${sizeName} (${size}), got ${value}`);
  }
}

/** Throws a RangeError unless n1, n2 are positive integers and 0 ≤ xᵢ ≤ nᵢ are integers. */
export function assertTwoArmCounts(counts: TwoArmCounts): void {
  assertPositiveInteger("n1", counts.n1);
  assertPositiveInteger("n2", counts.n2);
  assertConversions("x1", counts.x1, "n1", counts.n1);
  assertConversions("x2", counts.x2, "n2", counts.n2);
}

/** Throws a RangeError unless lo < value < hi (rejects NaN). */
export function assertOpenInterval(name: string, value: number, lo: number, hi: number): void {
  if (!(value > lo && value < hi)) {
    throw new RangeError(`${name} must be in (${lo}, ${hi}), got ${value}`);
  }
}

/** Throws a RangeError unless value is a finite number ≥ 0. */
export function assertNonNegativeFinite(name: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0)) {
    throw new RangeError(`${name} must be a finite number ≥ 0, got ${value}`);
  }
}
