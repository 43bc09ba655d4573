/**
 * Turns what clients write into the normalized criteria AST, or a 422 naming every bad part by path
 * (`criteria.all[2].op`). Accepted input:
 * - the AST itself: `{all:[…]}`, `{any:[…]}`, `{not:…}`, `{field, op, value}` (`operator` and the seed's
 *   operator words such as `equals` or `>=` are accepted too);
 * - the seed's shorthand map: `{ spendingLevel: "high", engagement: ">50", tags: ["vip", "whale"],
 *   lifetimeValue: { gte: 50, lt: 500 } }` — every key is one more condition that must hold;
 * - the seed's expressions: `"no_activity_days >= 14"`, `"engagement < 1 AND consent = true"`.
 */
import { UnprocessableError, type FieldProblem } from "../../../lib/errors";
import { OPS, type Criteria, type Leaf, type Op, type Scalar } from "./ast";
import { OPS_BY_KIND, resolveField, type FieldDef } from "./fields";

export const MAX_DEPTH = 10;
export const MAX_CONDITIONS = 100;
export const MAX_LIST = 1000;

/** Operator spellings of the seed and of common query languages → AST operators. */
const OP_ALIASES: Readonly<Record<string, Op>> = {
  "=": "eq",
  "==": "eq",
  equals: "eq",
  "!=": "neq",
  "<>": "neq",
  not_equals: "neq",
  ">": "gt",
  greater_than: "gt",
  ">=": "gte",
  "<": "lt",
  less_than: "lt",
  "<=": "lte",
  not_in: "nin",
  starts_with: "startsWith",
  within_last_days: "withinLastDays",
  older_than_days: "olderThanDays",
};

const COMPARISON = /^\s*(>=|<=|!=|<>|==|=|>|<)\s*(.*?)\s*$/s;
const EXPRESSION = /^\s*([A-Za-z_][\w.-]*)\s*(>=|<=|!=|<>|==|=|>|<)\s*(.+?)\s*$/s;

class Problems {
  readonly list: FieldProblem[] = [];
  conditions = 0;
  add(field: string, message: string, type: string): undefined {
    this.list.push({ field, message, type });
    return undefined;
  }
}

/** Parses and validates criteria; throws UnprocessableError listing every problem. */
export function parseCriteria(input: unknown, path = "criteria"): Criteria {
  const problems = new Problems();
  const result = parseNode(input, path, 0, problems);
  if (problems.conditions > MAX_CONDITIONS) problems.add(path, `at most ${MAX_CONDITIONS} conditions are allowed`, "criteriaTooLarge");
  if (problems.list.length || !result) throw new UnprocessableError("The segment criteria are not valid", problems.list);
  return result;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function parseNode(input: unknown, path: string, depth: number, p: Problems): Criteria | undefined {
  if (depth > MAX_DEPTH) return p.add(path, `criteria may nest at most ${MAX_DEPTH} levels`, "criteriaTooDeep");
  if (typeof input === "string") return parseExpressions(input, path, p);
  if (!isPlainObject(input)) return p.add(path, "expected an object such as {all:[…]}, {field, op, value} or a shorthand map", "criteria");
  const keys = Object.keys(input);
  if (keys.length === 1 && (keys[0] === "all" || keys[0] === "any")) {
    const key = keys[0];
    const children = input[key];
    if (!Array.isArray(children)) return p.add(`${path}.${key}`, "expected a list of criteria", "array");
    const parsed = children.map((child, i) => parseNode(child, `${path}.${key}[${i}]`, depth + 1, p));
    return parsed.every(Boolean) ? ({ [key]: parsed as Criteria[] } as Criteria) : undefined;
  }
  if (keys.length === 1 && keys[0] === "not") {
    const inner = parseNode(input.not, `${path}.not`, depth + 1, p);
    return inner && { not: inner };
  }
  if ("field" in input) return parseLeafObject(input, path, p);
  return parseShorthand(input, path, p);
}

function parseLeafObject(input: Record<string, unknown>, path: string, p: Problems): Leaf | undefined {
  const extra = Object.keys(input).filter((k) => !["field", "op", "operator", "value"].includes(k));
  extra.forEach((k) => p.add(`${path}.${k}`, "a condition has only field, op and value", "unknownKey"));
  const opKey = "op" in input ? "op" : "operator";
  const { field } = input;
  if (typeof field !== "string") return p.add(`${path}.field`, "expected a field name", "string");
  const def = fieldOrProblem(field, `${path}.field`, p);
  const op = opOrProblem(input[opKey], `${path}.${opKey}`, p);
  if (!def || !op || extra.length) return undefined;
  return leaf(def, op, input.value, path, `${path}.value`, `${path}.${opKey}`, p);
}

/** `{ spendingLevel: "high", engagement: ">50", lifetimeValue: {gte: 50} }`: every key must hold. */
function parseShorthand(input: Record<string, unknown>, path: string, p: Problems): Criteria | undefined {
  const keys = Object.keys(input);
  if (!keys.length) return p.add(path, "empty criteria: use {all: []} to match every fan", "criteria");
  const leaves: (Leaf | undefined)[] = [];
  for (const key of keys) {
    const at = `${path}.${key}`;
    const def = fieldOrProblem(key, at, p);
    if (!def) continue;
    const value = input[key];
    if (isPlainObject(value)) {
      const ops = Object.keys(value);
      if (!ops.length) p.add(at, "expected at least one operator such as {gte: 10}", "criteria");
      for (const name of ops) {
        const op = opOrProblem(name, `${at}.${name}`, p);
        if (op) leaves.push(leaf(def, op, value[name], at, `${at}.${name}`, `${at}.${name}`, p));
      }
    } else if (typeof value === "string" && COMPARISON.test(value) && def.kind !== "string") {
      const [, sym, literal] = COMPARISON.exec(value)!;
      leaves.push(leaf(def, OP_ALIASES[sym], parseLiteral(literal), at, at, at, p));
    } else {
      leaves.push(leaf(def, Array.isArray(value) ? "in" : def.kind === "tags" ? "contains" : "eq", value, at, at, at, p));
    }
  }
  if (leaves.some((l) => !l)) return undefined;
  return leaves.length === 1 ? leaves[0] : { all: leaves as Leaf[] };
}

/** `"no_activity_days >= 14 AND consent = true"` → leaves joined by all. */
function parseExpressions(input: string, path: string, p: Problems): Criteria | undefined {
  const parts = input.split(/\s+(?:AND|and|&&)\s+/);
  const leaves = parts.map((part) => {
    const m = EXPRESSION.exec(part);
    if (!m) return p.add(path, `"${part.trim()}" is not a condition like "engagement > 50"`, "expression");
    const def = fieldOrProblem(m[1], path, p);
    return def && leaf(def, OP_ALIASES[m[2]], parseLiteral(m[3]), path, path, path, p);
  });
  if (leaves.some((l) => !l)) return undefined;
  return leaves.length === 1 ? leaves[0] : { all: leaves as Leaf[] };
}

/** An expression's right-hand side: a number, true/false, a quoted string, or a bare word. */
function parseLiteral(text: string): Scalar {
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === "true" || text === "false") return text === "true";
  const quoted = /^(['"])(.*)\1$/s.exec(text);
  return quoted ? quoted[2] : text;
}

function fieldOrProblem(written: string, path: string, p: Problems): FieldDef | undefined {
  const def = resolveField(written);
  if (!def) p.add(path, `unknown field "${written}": use a fan field or attributes.<name>`, "field");
  return def;
}

function opOrProblem(written: unknown, path: string, p: Problems): Op | undefined {
  if (typeof written === "string") {
    if ((OPS as readonly string[]).includes(written)) return written as Op;
    if (OP_ALIASES[written]) return OP_ALIASES[written];
  }
  return p.add(path, `unknown operator ${JSON.stringify(written)}: one of ${OPS.join(", ")}`, "op");
}

/** Checks that `op` suits the field and `value` suits both, and normalizes the value. */
function leaf(def: FieldDef, op: Op, raw: unknown, path: string, valuePath: string, opPath: string, p: Problems): Leaf | undefined {
  p.conditions++;
  if (!OPS_BY_KIND[def.kind].includes(op)) {
    return p.add(opPath, `"${op}" does not apply to ${def.name}: use ${OPS_BY_KIND[def.kind].join(", ")}`, "op");
  }
  const value = leafValue(def, op, raw === undefined && op === "exists" ? true : raw, valuePath, p);
  return value === undefined ? undefined : { field: def.name, op, value };
}

function leafValue(def: FieldDef, op: Op, raw: unknown, path: string, p: Problems): Leaf["value"] | undefined {
  switch (op) {
    case "exists":
      return typeof raw === "boolean" ? raw : p.add(path, "expected true or false", "boolean");
    case "withinLastDays":
    case "olderThanDays":
      return typeof raw === "number" && Number.isFinite(raw) && raw >= 0 ? raw : p.add(path, "expected a number of days ≥ 0", "number");
    case "in":
    case "nin":
      if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_LIST) {
        return p.add(path, `expected a list of 1 to ${MAX_LIST} values`, "array");
      }
      return collect(raw.map((v, i) => scalarFor(def, v, `${path}[${i}]`, p)));
    case "between": {
      if (!Array.isArray(raw) || raw.length !== 2) return p.add(path, "expected [low, high]", "array");
      const bounds = collect(raw.map((v, i) => orderedFor(def, v, `${path}[${i}]`, p)));
      if (bounds && bounds[0] > bounds[1]) return p.add(path, "low is greater than high", "between");
      return bounds;
    }
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return orderedFor(def, raw, path, p);
    case "contains":
      if (def.kind === "tags" && Array.isArray(raw)) {
        if (!raw.length || raw.length > MAX_LIST) return p.add(path, `expected 1 to ${MAX_LIST} tags`, "array");
        return collect(raw.map((v, i) => (typeof v === "string" ? v : p.add(`${path}[${i}]`, "expected a tag", "string"))));
      }
      return typeof raw === "string" ? raw : p.add(path, "expected a string", "string");
    case "startsWith":
      return typeof raw === "string" ? raw : p.add(path, "expected a string", "string");
    default:
      return scalarFor(def, raw, path, p);
  }
}

function collect<T>(values: (T | undefined)[]): T[] | undefined {
  return values.every((v) => v !== undefined) ? (values as T[]) : undefined;
}

/** A value an equality (or list) compares with: the field's own type. */
function scalarFor(def: FieldDef, raw: unknown, path: string, p: Problems): Scalar | undefined {
  switch (def.kind) {
    case "number":
      return typeof raw === "number" && Number.isFinite(raw) ? raw : p.add(path, "expected a number", "number");
    case "days":
      return Number.isInteger(raw) ? (raw as number) : p.add(path, "expected a whole number of days", "number");
    case "boolean":
      return typeof raw === "boolean" ? raw : p.add(path, "expected true or false", "boolean");
    case "enum":
      return typeof raw === "string" && def.values!.includes(raw) ? raw : p.add(path, `expected one of ${def.values!.join(", ")}`, "enum");
    case "attribute":
      return typeof raw === "string" || typeof raw === "boolean" || (typeof raw === "number" && Number.isFinite(raw))
        ? raw
        : p.add(path, "expected a string, number or boolean", "scalar");
    default:
      return typeof raw === "string" ? raw : p.add(path, "expected a string", "string");
  }
}

/** A value an ordering operator compares with: numbers, whole days, or dates (normalized to ISO). */
function orderedFor(def: FieldDef, raw: unknown, path: string, p: Problems): number | string | undefined {
  if (def.kind === "date") {
    const date = raw instanceof Date ? raw : typeof raw === "string" ? new Date(raw) : undefined;
    return date && !Number.isNaN(date.getTime()) ? date.toISOString() : p.add(path, "expected an ISO date", "date");
  }
  if (def.kind === "days") return Number.isInteger(raw) ? (raw as number) : p.add(path, "expected a whole number of days", "number");
  return typeof raw === "number" && Number.isFinite(raw) ? raw : p.add(path, "expected a number", "number");
}
