/**
 * Compiles normalized criteria to a parameterized SQL condition on the `fans` table (Drizzle `sql`
 * fragments: every value is a bound parameter, never text in the statement). The shapes are the ones the
 * planner can use indexes for: plain column comparisons, `IN` lists, `tags @>`/`&&` (GIN), attribute
 * equality through `attributes @>` (GIN, jsonb_path_ops), and `noActivityDays` rewritten as a range on
 * `last_active_at` instead of arithmetic on the column.
 *
 * NULL: in a WHERE clause an unknown condition filters the row out, which is what the in-memory evaluator's
 * "a comparison on a missing value is false" means — except under NOT, so `not` compiles to `IS NOT TRUE`.
 */
import { sql, type SQL } from "drizzle-orm";
import { fans } from "../schema";
import { daysBefore, DAY_MS, isAll, isAny, isNot, type Criteria, type Leaf, type Scalar } from "./ast";
import { attributeName, FIELDS } from "./fields";

const COLUMNS = {
  id: fans.id,
  platform: fans.platform,
  displayName: fans.displayName,
  subscriptionStatus: fans.subscriptionStatus,
  subscribedAt: fans.subscribedAt,
  lastActiveAt: fans.lastActiveAt,
  lifetimeValue: fans.lifetimeValue,
  spendingLevel: fans.spendingLevel,
  engagement: fans.engagement,
  tags: fans.tags,
  timezone: fans.timezone,
  consent: fans.consent,
  createdAt: fans.createdAt,
} as const;

const TRUE = sql`TRUE`;
const FALSE = sql`FALSE`;

export function compileCriteria(criteria: Criteria, now: Date): SQL {
  if (isAll(criteria)) return join(criteria.all.map((c) => compileCriteria(c, now)), "AND", TRUE);
  if (isAny(criteria)) return join(criteria.any.map((c) => compileCriteria(c, now)), "OR", FALSE);
  if (isNot(criteria)) return sql`((${compileCriteria(criteria.not, now)}) IS NOT TRUE)`;
  return compileLeaf(criteria, now);
}

function join(parts: SQL[], glue: "AND" | "OR", empty: SQL): SQL {
  if (!parts.length) return empty;
  return sql`(${sql.join(parts, sql.raw(` ${glue} `))})`;
}

function list(values: Scalar[], cast?: string): SQL {
  return sql.join(
    values.map((v) => (cast ? sql`${v}::${sql.raw(cast)}` : sql`${v}`)),
    sql`, `,
  );
}

function compileLeaf(leaf: Leaf, now: Date): SQL {
  const kind = FIELDS.get(leaf.field)?.kind ?? "attribute";
  if (kind === "attribute") return compileAttribute(attributeName(leaf.field), leaf);
  if (kind === "days") return compileNoActivityDays(leaf, now);
  if (kind === "tags") return compileTags(leaf);
  const col = COLUMNS[leaf.field as keyof typeof COLUMNS];
  const { op, value } = leaf;
  const param = (v: Scalar) => (kind === "date" ? sql`${new Date(v as string)}::timestamptz` : sql`${v}`);
  switch (op) {
    case "exists":
      return value ? sql`(${col} IS NOT NULL)` : sql`(${col} IS NULL)`;
    case "eq":
      return sql`(${col} = ${param(value as Scalar)})`;
    case "neq":
      return sql`(${col} <> ${param(value as Scalar)})`;
    case "in":
      return sql`(${col} IN (${list(value as Scalar[])}))`;
    case "nin":
      return sql`(${col} NOT IN (${list(value as Scalar[])}))`;
    case "gt":
      return sql`(${col} > ${param(value as Scalar)})`;
    case "gte":
      return sql`(${col} >= ${param(value as Scalar)})`;
    case "lt":
      return sql`(${col} < ${param(value as Scalar)})`;
    case "lte":
      return sql`(${col} <= ${param(value as Scalar)})`;
    case "between": {
      const [lo, hi] = value as Scalar[];
      return sql`(${col} BETWEEN ${param(lo)} AND ${param(hi)})`;
    }
    case "contains":
      return sql`(strpos(${col}, ${value}) > 0)`;
    case "startsWith":
      return sql`starts_with(${col}, ${value})`;
    case "withinLastDays":
      return sql`(${col} >= ${daysBefore(now, value as number)}::timestamptz)`;
    case "olderThanDays":
      return sql`(${col} < ${daysBefore(now, value as number)}::timestamptz)`;
  }
}

/**
 * noActivityDays = floor((now - last_active_at) / 1 day). For a whole number n:
 *   days >= n  ⇔  last_active_at <= now - n days        days <= n  ⇔  last_active_at > now - (n+1) days
 * so every comparison is a range on the indexed column.
 */
function compileNoActivityDays(leaf: Leaf, now: Date): SQL {
  const col = fans.lastActiveAt;
  const atLeast = (n: number) => sql`(${col} <= ${new Date(now.getTime() - n * DAY_MS)}::timestamptz)`;
  const atMost = (n: number) => sql`(${col} > ${new Date(now.getTime() - (n + 1) * DAY_MS)}::timestamptz)`;
  const exactly = (n: number) => sql`(${atLeast(n)} AND ${atMost(n)})`;
  const other = (n: number) => sql`(${atMost(n - 1)} OR ${atLeast(n + 1)})`;
  const n = leaf.value as number;
  switch (leaf.op) {
    case "exists":
      return leaf.value ? sql`(${col} IS NOT NULL)` : sql`(${col} IS NULL)`;
    case "gte":
      return atLeast(n);
    case "gt":
      return atLeast(n + 1);
    case "lte":
      return atMost(n);
    case "lt":
      return atMost(n - 1);
    case "eq":
      return exactly(n);
    case "neq":
      return other(n);
    case "between": {
      const [lo, hi] = leaf.value as number[];
      return sql`(${atLeast(lo)} AND ${atMost(hi)})`;
    }
    case "in":
      return join((leaf.value as number[]).map(exactly), "OR", FALSE);
    case "nin":
      return join((leaf.value as number[]).map(other), "AND", TRUE);
    default:
      throw new Error(`operator ${leaf.op} is not valid for noActivityDays`);
  }
}

function compileTags(leaf: Leaf): SQL {
  const wanted = (Array.isArray(leaf.value) ? leaf.value : [leaf.value]) as string[];
  const array = sql`ARRAY[${list(wanted)}]::text[]`;
  switch (leaf.op) {
    case "exists":
      return leaf.value ? sql`(cardinality(${fans.tags}) > 0)` : sql`(cardinality(${fans.tags}) = 0)`;
    case "contains":
      return sql`(${fans.tags} @> ${array})`;
    case "in":
      return sql`(${fans.tags} && ${array})`;
    default:
      return sql`(NOT (${fans.tags} && ${array}))`;
  }
}

/** A custom attribute: JSON null counts as missing, ordering only between numbers, text ops only on strings. */
function compileAttribute(name: string, leaf: Leaf): SQL {
  const raw = sql`(${fans.attributes} -> ${name}::text)`;
  const v = sql`NULLIF(${raw}, 'null'::jsonb)`;
  const json = (s: Scalar) => sql`${JSON.stringify(s)}::jsonb`;
  const asNumber = (cond: (x: SQL) => SQL) => sql`(CASE WHEN jsonb_typeof(${raw}) = 'number' THEN ${cond(sql`(${raw})::double precision`)} END)`;
  const asText = (cond: (x: SQL) => SQL) => sql`(CASE WHEN jsonb_typeof(${raw}) = 'string' THEN ${cond(sql`(${fans.attributes} ->> ${name}::text)`)} END)`;
  const num = (s: Scalar) => sql`${s}::double precision`;
  const { op, value } = leaf;
  switch (op) {
    case "exists":
      return value ? sql`(${v} IS NOT NULL)` : sql`(${v} IS NULL)`;
    case "eq":
      // The containment test lets the GIN index narrow the rows; the equality keeps the exact meaning.
      return sql`(${fans.attributes} @> ${JSON.stringify({ [name]: value })}::jsonb AND ${v} = ${json(value as Scalar)})`;
    case "neq":
      return sql`(${v} <> ${json(value as Scalar)})`;
    case "in":
      return sql`(${v} IN (${sql.join((value as Scalar[]).map(json), sql`, `)}))`;
    case "nin":
      return sql`(${v} NOT IN (${sql.join((value as Scalar[]).map(json), sql`, `)}))`;
    case "gt":
      return asNumber((x) => sql`${x} > ${num(value as Scalar)}`);
    case "gte":
      return asNumber((x) => sql`${x} >= ${num(value as Scalar)}`);
    case "lt":
      return asNumber((x) => sql`${x} < ${num(value as Scalar)}`);
    case "lte":
      return asNumber((x) => sql`${x} <= ${num(value as Scalar)}`);
    case "between": {
      const [lo, hi] = value as Scalar[];
      return asNumber((x) => sql`${x} BETWEEN ${num(lo)} AND ${num(hi)}`);
    }
    case "contains":
      return asText((x) => sql`strpos(${x}, ${value}) > 0`);
    case "startsWith":
      return asText((x) => sql`starts_with(${x}, ${value})`);
    default:
      throw new Error(`operator ${op} is not valid for attributes`);
  }
}
