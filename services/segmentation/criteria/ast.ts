/**
 * The segment criteria language: a small JSON AST over a creator's fans. Both evaluators (SQL compiler and
 * in-memory `evaluateCriteria`) take the normalized form that `parseCriteria` returns, never raw input.
 *
 * Semantics shared by both evaluators:
 * - a comparison on a missing value (SQL NULL, absent attribute, JSON null) is false — `neq` and `nin`
 *   included; `exists` is the way to ask about presence;
 * - `{not: c}` is true exactly when `c` is not true;
 * - `{all: []}` is true, `{any: []}` is false;
 * - `noActivityDays` is floor((now - lastActiveAt) / 1 day), missing when the fan was never active;
 * - `withinLastDays: n` means at or after now - n days, `olderThanDays: n` strictly before it.
 */
export const OPS = [
  "eq",
  "neq",
  "gt",
  "gte",
  "lt",
  "lte",
  "in",
  "nin",
  "exists",
  "contains",
  "startsWith",
  "between",
  "withinLastDays",
  "olderThanDays",
] as const;

export type Op = (typeof OPS)[number];

export type Scalar = string | number | boolean;

export interface Leaf {
  /** A canonical field name (camelCase) or `attributes.<name>`. */
  field: string;
  op: Op;
  /** Dates are ISO strings; `between` is [low, high]; `in`/`nin` are non-empty lists; `exists` is a boolean. */
  value: Scalar | Scalar[];
}

export type Criteria = { all: Criteria[] } | { any: Criteria[] } | { not: Criteria } | Leaf;

export const DAY_MS = 86_400_000;

export function isAll(c: Criteria): c is { all: Criteria[] } {
  return "all" in c;
}
export function isAny(c: Criteria): c is { any: Criteria[] } {
  return "any" in c;
}
export function isNot(c: Criteria): c is { not: Criteria } {
  return "not" in c;
}

/** The instant `days` before `now`, rounded to the millisecond so both evaluators use the same bound. */
export function daysBefore(now: Date, days: number): Date {
  return new Date(now.getTime() - Math.round(days * DAY_MS));
}
