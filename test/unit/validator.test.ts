/**
 * lib/validator.ts: the hostile-input suite (test/reliability/) found `null` passing required rules and
 * `convert` turning booleans and arrays into numbers and dates. Each case here was a request that reached
 * a handler (a 500 or a silent write) before the fix.
 */
import { ApiValidator } from "../../lib/validator";

const validator = new ApiValidator();

function check(schema: object, params: Record<string, unknown>) {
  return validator.compile(schema)(params) as true | Array<{ field: string; type: string }>;
}

describe("null", () => {
  it("is refused by a required rule that does not say nullable", () => {
    expect(check({ names: { type: "array", items: "string" } }, { names: null })).toEqual([expect.objectContaining({ field: "names", type: "required" })]);
    expect(check({ at: { type: "date", convert: true } }, { at: null })).toEqual([expect.objectContaining({ field: "at", type: "required" })]);
  });

  it("passes where the rule says nullable, and stands for the default where there is one", () => {
    expect(check({ note: { type: "string", nullable: true } }, { note: null })).toBe(true);
    const params: Record<string, unknown> = { revenue: null };
    expect(check({ revenue: { type: "number", default: 0 } }, params)).toBe(true);
    expect(params.revenue).toBe(0);
  });
});

describe("convert", () => {
  const count = { n: { type: "number", convert: true, integer: true, min: 0 } };

  it("turns numeric strings into numbers (query strings) and nothing else", () => {
    const params: Record<string, unknown> = { n: "12" };
    expect(check(count, params)).toBe(true);
    expect(params.n).toBe(12);
    for (const bad of [true, false, [5], "", " ", "abc", {}]) {
      expect(check(count, { n: bad })).toEqual([expect.objectContaining({ field: "n", type: "number" })]);
    }
  });

  it("turns strings and epoch milliseconds into dates and nothing else", () => {
    const date = { at: { type: "date", convert: true } };
    const params: Record<string, unknown> = { at: "2030-01-01T00:00:00.000Z" };
    expect(check(date, params)).toBe(true);
    expect(params.at).toEqual(new Date("2030-01-01T00:00:00.000Z"));
    expect(check(date, { at: 1_900_000_000_000 })).toBe(true);
    for (const bad of [true, false, [1], {}, "garbage"]) {
      expect(check(date, { at: bad })).toEqual([expect.objectContaining({ field: "at", type: "date" })]);
    }
  });
});
