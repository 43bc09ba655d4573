/**
 * Moleculer's fastest-validator with two changes:
 * - `null` is a value: it passes only where a rule says `nullable: true` (fastest-validator lets `null`
 *   through every `optional` field by default, and through required ones with `considerNullAsAValue`;
 *   either way it would reach handlers and NOT NULL columns as a 500);
 * - `date` with `convert` turns only strings and finite numbers into dates, and `number` with `convert`
 *   only strings into numbers (fastest-validator converts anything: `true` became the count 1 and the
 *   date 1970-01-01, `[5]` the number 5);
 * - an unknown field (strict objects) is reported under its own name rather than its parent's, so
 *   `data[].field` always points at the culprit.
 */
import { Validators } from "moleculer";

type Problem = { type: string; field?: string; actual?: unknown; message?: string };
type Checker = ((params: unknown, opts?: unknown) => true | Problem[] | Promise<true | Problem[]>) & { async?: boolean };

const MESSAGES = {
  enumValue: "The '{field}' field must be one of: {expected}.",
  objectStrict: "The '{field}' field is not allowed.",
  date: "The '{field}' field must be an ISO 8601 date.",
  required: "The '{field}' field is required (and may not be null).",
};

/** Marks every rule that does not say `nullable` as not nullable, at any depth. */
function nullIsNotAbsent(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(nullIsNotAbsent);
  // Only plain objects are rules; RegExp patterns, functions and the like pass through untouched.
  if (!schema || typeof schema !== "object" || Object.getPrototypeOf(schema) !== Object.prototype) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) out[key] = nullIsNotAbsent(value);
  // Required rules too: with `considerNullAsAValue` a required rule without `nullable` lets `null` through.
  if (out.nullable === undefined && typeof out.type === "string") out.nullable = false;
  return out;
}

function pointAtUnknownFields(result: true | Problem[]): true | Problem[] {
  if (result === true) return result;
  return result.flatMap((p) => {
    if (p.type !== "objectStrict" || typeof p.actual !== "string") return [p];
    return p.actual.split(", ").map((key) => {
      const field = p.field ? `${p.field}.${key}` : key;
      return { ...p, field, actual: key, message: MESSAGES.objectStrict.replace("{field}", field) };
    });
  });
}

type RuleFactory = (ctx: { schema: { convert?: boolean }; messages: object }, path: string, context: unknown) => { sanitized?: boolean; source: string };
type RuleHost = { makeError(opts: { type: string; actual: string; messages: object }): string };
const Fastest = Validators.Fastest as unknown as new (opts: object) => {
  compile(schema: object): Checker;
  /** The fastest-validator instance Moleculer wraps. */
  validator: { add(type: string, rule: RuleFactory): void };
};

// eslint-disable-next-line @typescript-eslint/no-require-imports
const fastestNumberRule = require("fastest-validator/lib/rules/number") as RuleFactory;

/** fastest-validator's number rule, converting only strings (query-string values). */
function numberRule(this: RuleHost, ctx: Parameters<RuleFactory>[0], path: string, context: unknown): ReturnType<RuleFactory> {
  const rule = fastestNumberRule.call(this, { ...ctx, schema: { ...ctx.schema, convert: false } }, path, context);
  if (ctx.schema.convert !== true) return rule;
  return {
    sanitized: true,
    source: rule.source.replace(
      "var origValue = value;",
      `var origValue = value;
       if (typeof value === "string" && value.trim() !== "") value = Number(value);`,
    ),
  };
}

/** fastest-validator's date rule, converting only values that denote a date (a string or epoch ms). */
function dateRule(this: RuleHost, { schema, messages }: Parameters<RuleFactory>[0]): ReturnType<RuleFactory> {
  const convert = schema.convert === true
    ? `if (typeof value === "string") value = new Date(value.length && !isNaN(+value) ? +value : value);
       else if (typeof value === "number" && Number.isFinite(value)) value = new Date(value);`
    : "";
  return {
    sanitized: schema.convert === true,
    source: `
      var origValue = value;
      ${convert}
      if (!(value instanceof Date) || isNaN(value.getTime()))
        ${this.makeError({ type: "date", actual: "origValue", messages })}
      return value;`,
  };
}

export class ApiValidator extends Fastest {
  constructor() {
    super({ useNewCustomCheckerFunction: true, considerNullAsAValue: true, messages: MESSAGES });
    this.validator.add("date", dateRule);
    this.validator.add("number", numberRule);
  }

  compile(schema: object): Checker {
    const check = super.compile(nullIsNotAbsent(schema) as object);
    const wrapped: Checker = (params, opts) => {
      const result = check(params, opts);
      return result instanceof Promise ? result.then(pointAtUnknownFields) : pointAtUnknownFields(result);
    };
    wrapped.async = check.async;
    return wrapped;
  }
}
