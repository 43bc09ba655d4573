/**
 * The broker's middleware order (lib/middlewares.ts) and cache keys (lib/cache-keys.ts): a cached answer
 * only goes to a call that passed validation and the access check, and keys are built from validated
 * params without ambiguity.
 */
import { Errors, ServiceBroker, type Context } from "moleculer";
import { brokerOptions } from "../../moleculer.config";
import { cacheKey, cacheKeyPart } from "../../lib/cache-keys";
import { MOLECULER_MIDDLEWARES, middlewareOptions } from "../../lib/middlewares";
import { as, testConfig } from "../helpers/env";

describe("middleware order", () => {
  it("registers every middleware Moleculer registers by itself (fails when an upgrade adds one)", () => {
    const plain = new ServiceBroker({ logger: false, cacher: "Memory" });
    const ours = new ServiceBroker({ ...brokerOptions(testConfig()), logger: false });
    const names = (b: ServiceBroker) => (b.middlewares as unknown as { list: Array<{ name?: string }> }).list.map((m) => m.name);
    expect(new Set(names(ours))).toEqual(new Set([...names(plain), "Access", "DataErrors"]));
    expect([...MOLECULER_MIDDLEWARES, "Cacher"].sort()).toEqual([...names(plain)].sort());
    // Innermost first: the Cacher wraps the handler only, the Validator sits outside the access check.
    const order = middlewareOptions().middlewares!.map((m) => (typeof m === "string" ? m : (m as { name: string }).name));
    expect(order.slice(0, 5)).toEqual(["Cacher", "Access", "DataErrors", "ActionHook", "Validator"]);
  });

  describe("a cached action", () => {
    const broker = new ServiceBroker({ ...brokerOptions(testConfig()), logger: false });
    let runs = 0;
    broker.createService({
      name: "probe",
      actions: {
        count: {
          permission: "analytics",
          params: { $$strict: true, n: { type: "number", convert: true } },
          cache: { keys: ["n", "#user.id"] },
          handler(ctx: Context<{ n: number }>) {
            runs++;
            return { n: ctx.params.n, run: runs };
          },
        },
      },
    } as never);

    beforeAll(() => broker.start());
    afterAll(() => broker.stop());

    it("keys validated params: a string the validator converts hits the number's entry", async () => {
      const first = await broker.call("probe.count", { n: 5 }, as("u1"));
      expect(await broker.call("probe.count", { n: "5" }, as("u1"))).toEqual(first);
      expect(runs).toBe(1);
    });

    it("refuses bad params even when their key would have matched a cached entry", async () => {
      await expect(broker.call("probe.count", { n: 5, extra: true }, as("u1"))).rejects.toBeInstanceOf(Errors.ValidationError);
      await expect(broker.call("probe.count", { n: "five" }, as("u1"))).rejects.toBeInstanceOf(Errors.ValidationError);
    });

    it("checks access before answering from the cache", async () => {
      await expect(broker.call("probe.count", { n: 5 }, as("u1", "viewer"))).rejects.toMatchObject({ code: 403 });
      await expect(broker.call("probe.count", { n: 5 })).rejects.toMatchObject({ code: 401 });
      expect(runs).toBe(1);
    });
  });
});

describe("cache keys", () => {
  it("tells apart values Moleculer's default key confuses", () => {
    const parts = [null, undefined, "null", 5, "5", true, "true", "", "a|b", "~0", new Date(0), 0, { a: { b: 1 } }, { "a|b": 1 }, ["a"], "a"];
    expect(new Set(parts.map(cacheKeyPart)).size).toBe(parts.length);
    const ctx = (params: object) => ({ params, meta: { user: { id: "u1" } } });
    expect(cacheKey({ name: "x.y" }, { keys: ["a", "b"] }, ctx({ a: "p|q", b: "r" }))).not.toBe(cacheKey({ name: "x.y" }, { keys: ["a", "b"] }, ctx({ a: "p", b: "q|r" })));
  });

  it("writes ids as they are, in key order, so cleaning patterns like `analytics.*:<id>|**` match", () => {
    const key = cacheKey({ name: "analytics.getCampaignMetrics" }, { keys: ["id", "#user.id", "#user.teamId", "#user.role"] }, {
      params: { id: "0b6f9c1e-3f53-4f0e-9a53-1f2d3c4b5a69" },
      meta: { user: { id: "creator-1", teamId: null, role: "owner" } },
    });
    expect(key).toBe("analytics.getCampaignMetrics:0b6f9c1e-3f53-4f0e-9a53-1f2d3c4b5a69|creator-1|~0|owner");
  });

  it("hashes objects and long strings", () => {
    expect(cacheKeyPart({ field: "tier", op: "eq", value: "vip" })).toMatch(/^~j[\w-]{43}$/);
    expect(cacheKeyPart("x".repeat(500))).toMatch(/^~s[\w-]{43}$/);
  });
});
