/**
 * The design's calculated metrics as pure functions of summed counters. A ratio with a zero denominator is
 * null ("not measurable yet"), never 0 or Infinity.
 */
export interface Counters {
  impressions: number;
  clicks: number;
  conversions: number;
  revenue: number;
  spent: number;
}

export interface DerivedMetrics {
  /** clicks / impressions */
  ctr: number | null;
  /** conversions / clicks */
  conversionRate: number | null;
  /** (revenue − spent) / spent */
  roi: number | null;
  /** spent / conversions (cost per acquisition) */
  cpa: number | null;
}

export type Metrics = Counters & DerivedMetrics;

const ratio = (num: number, den: number): number | null => (den > 0 ? num / den : null);

export function derive(c: Counters): DerivedMetrics {
  return {
    ctr: ratio(c.clicks, c.impressions),
    conversionRate: ratio(c.conversions, c.clicks),
    roi: c.spent > 0 ? (c.revenue - c.spent) / c.spent : null,
    cpa: ratio(c.spent, c.conversions),
  };
}

export function withDerived<T extends Counters>(c: T): T & DerivedMetrics {
  return { ...c, ...derive(c) };
}

export const ZERO: Counters = { impressions: 0, clicks: 0, conversions: 0, revenue: 0, spent: 0 };
