/**
 * Deterministic variant assignment: a fan's bucket is SHA-256("<testId>:<fanId>") read as a number in
 * [0, 1), placed against the cumulative split. The same fan gets the same variant in every process and
 * after restarts, with no stored assignment; different tests bucket independently.
 */
import crypto from "node:crypto";

export interface WeightedArm {
  id: string;
  /** Share in percent; arms are taken in the given order. */
  weight: number;
}

/** The fan's position in [0, 1): the first 52 bits of the digest over 2⁵² (exact in a double). */
export function bucketOf(testId: string, fanId: string): number {
  const digest = crypto.createHash("sha256").update(`${testId}:${fanId}`).digest();
  const high = digest.readUInt32BE(0) >>> 12; // 20 bits
  const low = digest.readUInt32BE(4); // 32 bits
  return (high * 2 ** 32 + low) / 2 ** 52;
}

/** The arm whose cumulative share interval contains `bucket`. */
export function armForBucket<T extends WeightedArm>(arms: readonly T[], bucket: number): T {
  const total = arms.reduce((sum, arm) => sum + arm.weight, 0);
  let upTo = 0;
  for (const arm of arms) {
    upTo += arm.weight / total;
    if (bucket < upTo) return arm;
  }
  // Rounding can leave the running sum a hair under 1: the last arm with any weight takes the remainder.
  return [...arms].reverse().find((arm) => arm.weight > 0) ?? arms[arms.length - 1];
}

export function assignVariant<T extends WeightedArm>(testId: string, fanId: string, arms: readonly T[]): { arm: T; bucket: number } {
  const bucket = bucketOf(testId, fanId);
  return { arm: armForBucket(arms, bucket), bucket };
}
