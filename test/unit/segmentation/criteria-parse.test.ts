/** The criteria parser: AST, the seed's shorthand and expressions, and 422s that point at the bad part. */
import { Errors } from "moleculer";
import { parseCriteria } from "../../../services/segmentation/criteria";

function problemsOf(input: unknown): { field: string; type?: string }[] {
  try {
    parseCriteria(input);
  } catch (err) {
    expect(err).toBeInstanceOf(Errors.ValidationError);
    expect((err as Errors.ValidationError).code).toBe(422);
    return (err as { data: { field: string; type?: string }[] }).data;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

describe("parseCriteria accepts", () => {
  it("the AST as is, with snake_case aliases mapped to canonical names", () => {
    expect(
      parseCriteria({
        all: [
          { field: "spending_level", op: "eq", value: "high" },
          { any: [{ field: "engagement", op: "gt", value: 50 }, { not: { field: "tags", op: "contains", value: "churned" } }] },
        ],
      }),
    ).toEqual({
      all: [
        { field: "spendingLevel", op: "eq", value: "high" },
        { any: [{ field: "engagement", op: "gt", value: 50 }, { not: { field: "tags", op: "contains", value: "churned" } }] },
      ],
    });
  });

  it("the seed's shorthand map", () => {
    expect(parseCriteria({ spendingLevel: "high", engagement: ">50" })).toEqual({
      all: [
        { field: "spendingLevel", op: "eq", value: "high" },
        { field: "engagement", op: "gt", value: 50 },
      ],
    });
    expect(parseCriteria({ lifetime_value: { gte: 50, lt: 500 }, platform: ["onlyfans", "reddit"], tags: "vip" })).toEqual({
      all: [
        { field: "lifetimeValue", op: "gte", value: 50 },
        { field: "lifetimeValue", op: "lt", value: 500 },
        { field: "platform", op: "in", value: ["onlyfans", "reddit"] },
        { field: "tags", op: "contains", value: "vip" },
      ],
    });
  });

  it("the seed's expressions, alone or joined with AND", () => {
    expect(parseCriteria("no_activity_days >= 14")).toEqual({ field: "noActivityDays", op: "gte", value: 14 });
    expect(parseCriteria("engagement < 1 AND subscription_status = 'active' and consent == true")).toEqual({
      all: [
        { field: "engagement", op: "lt", value: 1 },
        { field: "subscriptionStatus", op: "eq", value: "active" },
        { field: "consent", op: "eq", value: true },
      ],
    });
  });

  it("the seed's condition objects ({field, operator: 'equals' | '>='})", () => {
    expect(parseCriteria({ all: [{ field: "lifetime_value", operator: ">=", value: 50 }, { field: "subscription_status", operator: "equals", value: "active" }] })).toEqual({
      all: [
        { field: "lifetimeValue", op: "gte", value: 50 },
        { field: "subscriptionStatus", op: "eq", value: "active" },
      ],
    });
  });

  it("custom attributes, dates normalized to ISO, exists defaulting to true", () => {
    expect(
      parseCriteria({
        all: [
          { field: "attributes.favourite_color", op: "eq", value: "red" },
          { field: "subscribedAt", op: "between", value: ["2024-01-01", "2024-02-01T00:00:00Z"] },
          { field: "timezone", op: "exists" },
        ],
      }),
    ).toEqual({
      all: [
        { field: "attributes.favourite_color", op: "eq", value: "red" },
        { field: "subscribedAt", op: "between", value: ["2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z"] },
        { field: "timezone", op: "exists", value: true },
      ],
    });
  });
});

describe("parseCriteria rejects with the path of the bad part", () => {
  it.each([
    ["an unknown operator", { all: [{ field: "engagement", op: "gt", value: 1 }, { field: "engagement", op: "gt", value: 2 }, { field: "engagement", op: "like", value: 3 }] }, "criteria.all[2].op"],
    ["an unknown field", { any: [{ field: "password", op: "eq", value: "x" }] }, "criteria.any[0].field"],
    ["an operator that does not fit the field", { field: "spendingLevel", op: "gt", value: "low" }, "criteria.op"],
    ["a value of the wrong type", { field: "engagement", op: "gt", value: "fifty" }, "criteria.value"],
    ["an enum value that does not exist", { spendingLevel: "whale" }, "criteria.spendingLevel"],
    ["an unknown shorthand key", { spendingLevel: "high", hacker: 1 }, "criteria.hacker"],
    ["a bad expression", "engagement is big", "criteria"],
    ["a bad date", { field: "lastActiveAt", op: "gte", value: "yesterday-ish" }, "criteria.value"],
    ["an inverted range", { field: "engagement", op: "between", value: [60, 10] }, "criteria.value"],
    ["fractional days", { field: "no_activity_days", op: "gte", value: 1.5 }, "criteria.value"],
    ["a bad list item", { field: "platform", op: "in", value: ["onlyfans", "myspace"] }, "criteria.value[1]"],
    ["an empty list", { field: "platform", op: "in", value: [] }, "criteria.value"],
    ["extra keys on a condition", { field: "engagement", op: "gt", value: 1, $where: "1=1" }, "criteria.$where"],
    ["attribute names with path syntax", { field: "attributes.a.b", op: "eq", value: 1 }, "criteria.field"],
    ["a non-object", 42, "criteria"],
    ["all that is not a list", { all: { field: "engagement", op: "gt", value: 1 } }, "criteria.all"],
  ])("%s", (_label, input, path) => {
    expect(problemsOf(input).map((p) => p.field)).toContain(path);
  });

  it("too deep and too large criteria", () => {
    let deep: unknown = { field: "engagement", op: "gt", value: 1 };
    for (let i = 0; i < 12; i++) deep = { not: deep };
    expect(problemsOf(deep).map((p) => p.type)).toContain("criteriaTooDeep");
    const wide = { any: Array.from({ length: 101 }, () => ({ field: "engagement", op: "gt", value: 1 })) };
    expect(problemsOf(wide).map((p) => p.type)).toContain("criteriaTooLarge");
  });

  it("lists every problem, not only the first", () => {
    const fields = problemsOf({ all: [{ field: "nope", op: "eq", value: 1 }, { field: "engagement", op: "nope", value: 1 }] }).map((p) => p.field);
    expect(fields).toEqual(["criteria.all[0].field", "criteria.all[1].op"]);
  });
});
