/**
 * Moleculer's fastest-validator with two changes:
 * - `null` is a value: it passes only where a rule says `nullable: true` (fastest-validator's default lets
 *   `null` through every `optional` field, which would reach NOT NULL columns as a 500);
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

/** Marks every optional rule that does not say `nullable` as not nullable, at any depth. */
function nullIsNotAbsent(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(nullIsNotAbsent);
  // Only plain objects are rules; RegExp patterns, functions and the like pass through untouched.
  if (!schema || typeof schema !== "object" || Object.getPrototypeOf(schema) !== Object.prototype) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) out[key] = nullIsNotAbsent(value);
  if (out.optional === true && out.nullable === undefined && typeof out.type === "string") out.nullable = false;
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

const Fastest = Validators.Fastest as unknown as new (opts: object) => { compile(schema: object): Checker };

export class ApiValidator extends Fastest {
  constructor() {
    super({ useNewCustomCheckerFunction: true, considerNullAsAValue: true, messages: MESSAGES });
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
