/**
 * Rejects request bodies that are valid JSON but hostile to a JavaScript server: keys that reach object
 * prototypes (`__proto__`, `constructor`, `prototype`) and nesting deep enough to exhaust the stack.
 * Gateways run it on every decoded body before anything merges it into params.
 */
import { UnprocessableError } from "./errors";

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
export const MAX_JSON_DEPTH = 32;

export function assertSafeJson(value: unknown, path = "body"): void {
  const stack: Array<{ v: unknown; p: string; d: number }> = [{ v: value, p: path, d: 0 }];
  while (stack.length) {
    const { v, p, d } = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (d > MAX_JSON_DEPTH) {
      throw new UnprocessableError("The body is nested too deeply", [
        { field: p, message: `nesting deeper than ${MAX_JSON_DEPTH} levels`, type: "depth" },
      ]);
    }
    if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push({ v: item, p: `${p}[${i}]`, d: d + 1 }));
      continue;
    }
    for (const key of Object.keys(v)) {
      if (FORBIDDEN_KEYS.has(key)) {
        throw new UnprocessableError(`The key "${key}" is not allowed`, [
          { field: `${p}.${key}`, message: `"${key}" is a reserved key`, type: "forbiddenKey" },
        ]);
      }
      stack.push({ v: (v as Record<string, unknown>)[key], p: `${p}.${key}`, d: d + 1 });
    }
  }
}

/**
 * A request body must be a JSON object: gateways merge it into the action's params, and a top-level
 * array, string, number or `null` would be silently dropped (the request then ran as if it had no body).
 */
export function assertJsonObject(value: unknown, path = "body"): void {
  if (value === undefined) return;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const actual = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
    throw new UnprocessableError("The body must be a JSON object", [{ field: path, message: `expected an object, got ${actual}`, type: "object" }]);
  }
}
