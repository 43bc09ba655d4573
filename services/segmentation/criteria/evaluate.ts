/**
 * The in-memory evaluator: decides one fan against normalized criteria. It must agree with the SQL
 * compiler (./sql.ts) on every fan and criteria — the property test in test/unit/segmentation/ checks it
 * against the real database. Used for incremental re-evaluation when one fan changes.
 */
import { daysBefore, DAY_MS, isAll, isAny, isNot, type Criteria, type Leaf, type Scalar } from "./ast";
import { attributeName, FIELDS } from "./fields";

/** The fan fields criteria read (the API shape of a fan). */
export interface EvaluableFan {
  id: string;
  platform: string | null;
  displayName: string | null;
  subscriptionStatus: string;
  subscribedAt: Date | null;
  lastActiveAt: Date | null;
  lifetimeValue: number;
  spendingLevel: string;
  engagement: number;
  tags: string[];
  attributes: Record<string, unknown>;
  timezone: string | null;
  consent: boolean;
  createdAt: Date;
}

export function noActivityDays(fan: Pick<EvaluableFan, "lastActiveAt">, now: Date): number | null {
  return fan.lastActiveAt ? Math.floor((now.getTime() - fan.lastActiveAt.getTime()) / DAY_MS) : null;
}

export function evaluateCriteria(fan: EvaluableFan, criteria: Criteria, now: Date = new Date()): boolean {
  if (isAll(criteria)) return criteria.all.every((c) => evaluateCriteria(fan, c, now));
  if (isAny(criteria)) return criteria.any.some((c) => evaluateCriteria(fan, c, now));
  if (isNot(criteria)) return !evaluateCriteria(fan, criteria.not, now);
  return evaluateLeaf(fan, criteria, now);
}

function fieldValue(fan: EvaluableFan, field: string, now: Date): unknown {
  if (field === "noActivityDays") return noActivityDays(fan, now);
  if (FIELDS.has(field)) return fan[field as keyof EvaluableFan];
  return fan.attributes?.[attributeName(field)];
}

function evaluateLeaf(fan: EvaluableFan, leaf: Leaf, now: Date): boolean {
  const actual = fieldValue(fan, leaf.field, now);
  if (FIELDS.get(leaf.field)?.kind === "tags") return evaluateTags(actual as string[], leaf);
  const present = actual !== null && actual !== undefined;
  if (leaf.op === "exists") return present === leaf.value;
  if (!present) return false;
  const { op, value } = leaf;
  switch (op) {
    case "eq":
      return actual === value;
    case "neq":
      return actual !== value;
    case "in":
      return (value as Scalar[]).includes(actual as Scalar);
    case "nin":
      return !(value as Scalar[]).includes(actual as Scalar);
    case "contains":
      return typeof actual === "string" && actual.includes(value as string);
    case "startsWith":
      return typeof actual === "string" && actual.startsWith(value as string);
    case "withinLastDays":
      return (actual as Date).getTime() >= daysBefore(now, value as number).getTime();
    case "olderThanDays":
      return (actual as Date).getTime() < daysBefore(now, value as number).getTime();
    default:
      return compareOrdered(actual, op, value);
  }
}

/** gt/gte/lt/lte/between on numbers or dates; an attribute that is not a number never compares. */
function compareOrdered(actual: unknown, op: Leaf["op"], value: Leaf["value"]): boolean {
  let a: number;
  if (actual instanceof Date) a = actual.getTime();
  else if (typeof actual === "number") a = actual;
  else return false;
  const num = (v: Scalar) => (typeof v === "string" ? new Date(v).getTime() : (v as number));
  if (op === "between") {
    const [lo, hi] = value as Scalar[];
    return a >= num(lo) && a <= num(hi);
  }
  const b = num(value as Scalar);
  return op === "gt" ? a > b : op === "gte" ? a >= b : op === "lt" ? a < b : a <= b;
}

function evaluateTags(tags: string[], leaf: Leaf): boolean {
  const wanted = Array.isArray(leaf.value) ? (leaf.value as string[]) : [leaf.value as string];
  switch (leaf.op) {
    case "exists":
      return tags.length > 0 === leaf.value;
    case "contains":
      return wanted.every((t) => tags.includes(t));
    case "in":
      return wanted.some((t) => tags.includes(t));
    default:
      return !wanted.some((t) => tags.includes(t));
  }
}
