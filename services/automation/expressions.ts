/**
 * Workflow conditions (`engagement < 1`, `lifetime_value >= 50 and subscription_status == "active"`):
 * parsed with mathjs into an AST, checked against a whitelist of node kinds, operators, functions and
 * symbols, then evaluated by our own walker over a plain scope. Nothing is ever handed to mathjs'
 * `evaluate`, so assignment, function definition, `import` or unknown names cannot run: they are 422s.
 */
import { parse, type MathNode } from "mathjs";
import { UnprocessableError } from "../../lib/errors";

/** Fan fields a condition may read, both in the seed's snake_case and in camelCase. */
export const FAN_SYMBOLS: Record<string, string> = {
  engagement: "engagement",
  lifetime_value: "lifetimeValue",
  lifetimeValue: "lifetimeValue",
  no_activity_days: "noActivityDays",
  noActivityDays: "noActivityDays",
  subscription_status: "subscriptionStatus",
  subscriptionStatus: "subscriptionStatus",
  spending_level: "spendingLevel",
  spendingLevel: "spendingLevel",
  platform: "platform",
  consent: "consent",
  tags: "tags",
  opened: "opened",
  clicked: "clicked",
  purchased: "purchased",
};
const CONSTANTS: Record<string, unknown> = { true: true, false: false, null: null };
/** Own keys only: `constructor`, `__proto__` and friends are inherited names, never symbols. */
const known = (table: object, name: string) => Object.hasOwn(table, name);

type Value = number | string | boolean | null | undefined | unknown[];

const BINARY: Record<string, (a: Value, b: Value) => Value> = {
  smaller: (a, b) => cmp(a, b, (x, y) => x < y),
  smallerEq: (a, b) => cmp(a, b, (x, y) => x <= y),
  larger: (a, b) => cmp(a, b, (x, y) => x > y),
  largerEq: (a, b) => cmp(a, b, (x, y) => x >= y),
  equal: (a, b) => a === b,
  unequal: (a, b) => a !== b,
  add: (a, b) => num(a) + num(b),
  subtract: (a, b) => num(a) - num(b),
  multiply: (a, b) => num(a) * num(b),
  divide: (a, b) => num(a) / num(b),
};
const UNARY: Record<string, (a: Value) => Value> = { unaryMinus: (a) => -num(a), not: (a) => !a };
const FUNCTIONS: Record<string, (...args: Value[]) => Value> = {
  contains: (list, item) => Array.isArray(list) && list.includes(item),
  min: (...xs) => Math.min(...xs.map(num)),
  max: (...xs) => Math.max(...xs.map(num)),
};

/** Missing values (a fan never active has no `no_activity_days`) make a comparison false, not an error. */
function cmp(a: Value, b: Value, op: (x: number | string, y: number | string) => boolean): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return false;
  return op(a as number, b as number);
}
function num(v: Value): number {
  return typeof v === "number" ? v : Number.NaN;
}

export interface CompiledExpression {
  source: string;
  evaluate(scope: Record<string, unknown>): boolean;
}

function refuse(field: string, message: string): never {
  throw new UnprocessableError(`The condition at ${field} is not allowed: ${message}`, [{ field, message, type: "expression" }]);
}

/** Walks the AST once at compile time so a bad expression fails when the workflow is saved. */
function check(node: MathNode, field: string): void {
  const n = node as MathNode & Record<string, any>;
  switch (n.type) {
    case "ConstantNode":
      if (!["number", "string", "boolean"].includes(typeof n.value) && n.value !== null) refuse(field, "unsupported constant");
      return;
    case "SymbolNode":
      if (!known(FAN_SYMBOLS, n.name) && !known(CONSTANTS, n.name)) refuse(field, `unknown symbol "${n.name}"`);
      return;
    case "ParenthesisNode":
      return check(n.content, field);
    case "OperatorNode":
      if (n.args.length === 2 ? !known(BINARY, n.fn) && n.fn !== "and" && n.fn !== "or" : !known(UNARY, n.fn)) refuse(field, `operator "${n.op}" is not allowed`);
      for (const a of n.args) check(a, field);
      return;
    case "FunctionNode":
      if (n.fn?.type !== "SymbolNode" || !known(FUNCTIONS, n.fn.name)) refuse(field, `function "${n.fn?.name ?? "?"}" is not allowed`);
      for (const a of n.args) check(a, field);
      return;
    default:
      // AssignmentNode, FunctionAssignmentNode, AccessorNode, BlockNode, ObjectNode, … : never.
      refuse(field, `${n.type} is not allowed`);
  }
}

function evaluateNode(node: MathNode, scope: Record<string, unknown>): Value {
  const n = node as MathNode & Record<string, any>;
  switch (n.type) {
    case "ConstantNode":
      return n.value;
    case "SymbolNode":
      return known(CONSTANTS, n.name) ? (CONSTANTS[n.name] as Value) : (scope[FAN_SYMBOLS[n.name]] as Value);
    case "ParenthesisNode":
      return evaluateNode(n.content, scope);
    case "OperatorNode":
      if (n.fn === "and") return Boolean(evaluateNode(n.args[0], scope)) && Boolean(evaluateNode(n.args[1], scope));
      if (n.fn === "or") return Boolean(evaluateNode(n.args[0], scope)) || Boolean(evaluateNode(n.args[1], scope));
      if (n.args.length === 1) return UNARY[n.fn](evaluateNode(n.args[0], scope));
      return BINARY[n.fn](evaluateNode(n.args[0], scope), evaluateNode(n.args[1], scope));
    case "FunctionNode":
      return FUNCTIONS[n.fn.name](...n.args.map((a: MathNode) => evaluateNode(a, scope)));
    default:
      throw new Error(`unchecked node ${n.type}`);
  }
}

/** The seed also writes `AND`/`OR` and `=`; mathjs spells them `and`/`or`/`==`. */
function normalize(source: string): string {
  return source.replace(/\bAND\b/g, "and").replace(/\bOR\b/g, "or").replace(/\bNOT\b/g, "not").replace(/(?<![<>=!])=(?!=)/g, "==");
}

export function compileExpression(source: string, field: string): CompiledExpression {
  if (typeof source !== "string" || !source.trim() || source.length > 500) refuse(field, "must be a non-empty expression of at most 500 characters");
  let ast: MathNode;
  try {
    ast = parse(normalize(source));
  } catch (err) {
    return refuse(field, `does not parse (${(err as Error).message})`);
  }
  check(ast, field);
  return { source, evaluate: (scope) => Boolean(evaluateNode(ast, scope)) };
}

/** The design's `{ field, operator, value }` conditions become the same expressions. */
const OPERATORS: Record<string, string> = { equals: "==", not_equals: "!=", "==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", gt: ">", gte: ">=", lt: "<", lte: "<=" };

export function conditionToExpression(c: unknown, field: string): string {
  if (typeof c === "string") return c;
  const o = c as { field?: unknown; operator?: unknown; value?: unknown };
  if (!o || typeof o !== "object") refuse(field, "a condition is an expression or {field, operator, value}");
  if (typeof o.field !== "string" || !known(FAN_SYMBOLS, o.field)) refuse(`${field}.field`, `unknown field "${String(o.field)}"`);
  if (typeof o.operator !== "string" || !known(OPERATORS, o.operator)) refuse(`${field}.operator`, `unknown operator "${String(o.operator)}"`);
  if (!["number", "string", "boolean"].includes(typeof o.value)) refuse(`${field}.value`, "must be a number, string or boolean");
  return `${o.field} ${OPERATORS[o.operator as string]} ${JSON.stringify(o.value)}`;
}
