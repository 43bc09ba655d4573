import type { ServiceBroker } from "moleculer";
import { Errors } from "moleculer";
import { as, createTestDatabase, startBroker, type TestDatabase } from "../helpers/env";

let db: TestDatabase;
let broker: ServiceBroker;

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startBroker({ databaseUrl: db.url, services: ["campaigns"] });
});

afterAll(async () => {
  await broker?.stop();
  await db?.drop();
});

const base = { name: "Summer PPV", type: "ppv", platforms: ["onlyfans", "reddit"], content: { title: "Hi", price: 9.99 } };

describe("campaigns CRUD", () => {
  it("creates a draft with the seed's fields and defaults", async () => {
    const c = await broker.call<any, any>("campaigns.create", { ...base, budget: 100, goals: { conversions: 10 } }, as("crud-a"));
    expect(c).toMatchObject({
      name: "Summer PPV",
      type: "ppv",
      status: "draft",
      platforms: ["onlyfans", "reddit"],
      segmentIds: [],
      content: { title: "Hi", price: 9.99 },
      mediaUrls: [],
      budget: 100,
      spent: 0,
      goals: { conversions: 10 },
      isABTest: false,
      ownerId: "crud-a",
    });
    expect(c.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(c.createdAt).toBeInstanceOf(Date);
  });

  it("gets, updates only the given fields, and deletes", async () => {
    const c = await broker.call<any, any>("campaigns.create", base, as("crud-b"));
    const got = await broker.call<any, any>("campaigns.get", { id: c.id }, as("crud-b"));
    expect(got.name).toBe("Summer PPV");

    const updated = await broker.call<any, any>("campaigns.update", { id: c.id, description: "new", budget: 50 }, as("crud-b"));
    expect(updated).toMatchObject({ name: "Summer PPV", description: "new", budget: 50, type: "ppv" });
    expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(c.updatedAt.getTime());

    // The cached get sees the write at once.
    const again = await broker.call<any, any>("campaigns.get", { id: c.id }, as("crud-b"));
    expect(again.description).toBe("new");

    await expect(broker.call("campaigns.remove", { id: c.id }, as("crud-b"))).resolves.toEqual({ id: c.id, deleted: true });
    await expect(broker.call("campaigns.get", { id: c.id }, as("crud-b"))).rejects.toMatchObject({ code: 404, type: "NOT_FOUND" });
    await expect(broker.call("campaigns.remove", { id: c.id }, as("crud-b"))).rejects.toMatchObject({ code: 404 });
  });

  it("emits created, updated and deleted events", async () => {
    const seen: string[] = [];
    const spy = await broker.createService({
      name: "spy",
      events: {
        "campaigns.campaign.*"(ctx: any) {
          seen.push(ctx.eventName);
        },
      },
    });
    await broker.waitForServices("spy");
    const c = await broker.call<any, any>("campaigns.create", base, as("crud-e"));
    await broker.call("campaigns.update", { id: c.id, name: "x" }, as("crud-e"));
    await broker.call("campaigns.remove", { id: c.id }, as("crud-e"));
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual(["campaigns.campaign.created", "campaigns.campaign.updated", "campaigns.campaign.deleted"]);
    await broker.destroyService(spy);
  });
});

describe("validation", () => {
  it.each([
    ["missing name", { type: "ppv" }, "name"],
    ["empty name", { name: "  ", type: "ppv" }, "name"],
    ["unknown type", { name: "x", type: "spam" }, "type"],
    ["operator object as name", { name: { $gt: "" }, type: "ppv" }, "name"],
    ["unknown platform", { name: "x", type: "ppv", platforms: ["myspace"] }, "platforms[0]"],
    ["negative budget", { name: "x", type: "ppv", budget: -1 }, "budget"],
    ["string budget", { name: "x", type: "ppv", budget: "lots" }, "budget"],
    ["bad date", { name: "x", type: "ppv", scheduledFor: "tomorrow-ish" }, "scheduledFor"],
    ["unknown field", { name: "x", type: "ppv", status: "active" }, "status"],
    ["null for a non-nullable field", { name: "x", type: "ppv", platforms: null }, "platforms"],
  ])("rejects %s with 422 naming the field", async (_label, params, field) => {
    const err: any = await broker.call("campaigns.create", params, as("val")).catch((e) => e);
    expect(err).toBeInstanceOf(Errors.ValidationError);
    expect(err.code).toBe(422);
    expect(err.data.map((d: { field: string }) => d.field)).toContain(field);
  });

  it("stores nothing for a rejected create", async () => {
    await broker.call("campaigns.create", { name: "x", type: "nope" }, as("val-empty")).catch(() => undefined);
    const page = await broker.call<any, any>("campaigns.list", {}, as("val-empty"));
    expect(page.items).toHaveLength(0);
  });
});

describe("ownership", () => {
  it("hides other owners' campaigns (404 on every action) and lists only one's own", async () => {
    const mine = await broker.call<any, any>("campaigns.create", base, as("own-a"));
    for (const [action, params] of [
      ["campaigns.get", { id: mine.id }],
      ["campaigns.update", { id: mine.id, name: "stolen" }],
      ["campaigns.remove", { id: mine.id }],
    ] as const) {
      await expect(broker.call(action, params, as("own-b"))).rejects.toMatchObject({ code: 404 });
    }
    const theirs = await broker.call<any, any>("campaigns.list", {}, as("own-b"));
    expect(theirs.items).toHaveLength(0);
    const still = await broker.call<any, any>("campaigns.get", { id: mine.id }, as("own-a"));
    expect(still.name).toBe("Summer PPV");
  });

  it("lets team members see team campaigns; viewers may not change them", async () => {
    const c = await broker.call<any, any>("campaigns.create", base, as("team-owner", "owner", "team-1"));
    const viewer = as("team-viewer", "viewer", "team-1");
    const editor = as("team-editor", "editor", "team-1");
    await expect(broker.call("campaigns.get", { id: c.id }, viewer)).resolves.toMatchObject({ id: c.id });
    await expect(broker.call("campaigns.update", { id: c.id, name: "v" }, viewer)).rejects.toMatchObject({ code: 403 });
    await expect(broker.call("campaigns.update", { id: c.id, name: "e" }, editor)).resolves.toMatchObject({ name: "e" });
    await expect(broker.call("campaigns.get", { id: c.id }, as("outsider", "owner", "team-2"))).rejects.toMatchObject({ code: 404 });
  });

  it("refuses calls without a user (401)", async () => {
    await expect(broker.call("campaigns.list", {})).rejects.toMatchObject({ code: 401 });
  });
});

describe("listing", () => {
  const owner = as("list-owner");
  beforeAll(async () => {
    const specs = [
      { name: "Alpha fitness", type: "ppv", platforms: ["instagram"] },
      { name: "Beta gaming", type: "subscription", platforms: ["tiktok", "reddit"] },
      { name: "Gamma 100%_off", type: "promotion", platforms: ["reddit"] },
      { name: "Delta", type: "ppv", platforms: ["onlyfans"] },
      { name: "Epsilon fitness", type: "retention", platforms: [] },
    ];
    for (const s of specs) {
      await broker.call("campaigns.create", s, owner);
      await new Promise((r) => setTimeout(r, 3));
    }
  });

  it("filters by type, platform, text and created range", async () => {
    const byType = await broker.call<any, any>("campaigns.list", { type: ["ppv"] }, owner);
    expect(byType.items.map((c: any) => c.name).sort()).toEqual(["Alpha fitness", "Delta"]);
    const byPlatform = await broker.call<any, any>("campaigns.list", { platform: "reddit" }, owner);
    expect(byPlatform.items.map((c: any) => c.name).sort()).toEqual(["Beta gaming", "Gamma 100%_off"]);
    const byText = await broker.call<any, any>("campaigns.list", { q: "FITNESS" }, owner);
    expect(byText.items).toHaveLength(2);
    // LIKE wildcards in the search text match literally.
    const literal = await broker.call<any, any>("campaigns.list", { q: "%_" }, owner);
    expect(literal.items.map((c: any) => c.name)).toEqual(["Gamma 100%_off"]);
    const future = await broker.call<any, any>("campaigns.list", { createdFrom: new Date(Date.now() + 60_000).toISOString() }, owner);
    expect(future.items).toHaveLength(0);
    const byStatus = await broker.call<any, any>("campaigns.list", { status: ["draft"] }, owner);
    expect(byStatus.items).toHaveLength(5);
  });

  it("sorts and pages with cursors without gaps or repeats", async () => {
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page: any = await broker.call("campaigns.list", { sort: "name", order: "asc", limit: 2, cursor }, owner);
      expect(page.items.length).toBeLessThanOrEqual(2);
      names.push(...page.items.map((c: any) => c.name));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(names).toEqual(["Alpha fitness", "Beta gaming", "Delta", "Epsilon fitness", "Gamma 100%_off"]);

    const newest: string[] = [];
    cursor = undefined;
    do {
      const page: any = await broker.call("campaigns.list", { limit: 3, cursor }, owner);
      newest.push(...page.items.map((c: any) => c.name));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(newest).toEqual(["Epsilon fitness", "Delta", "Gamma 100%_off", "Beta gaming", "Alpha fitness"]);
  });

  it("rejects a cursor from another sort order or a forged one", async () => {
    const page: any = await broker.call("campaigns.list", { sort: "name", limit: 1 }, owner);
    await expect(broker.call("campaigns.list", { sort: "createdAt", cursor: page.nextCursor }, owner)).rejects.toMatchObject({ code: 422 });
    await expect(broker.call("campaigns.list", { cursor: "not-a-cursor" }, owner)).rejects.toMatchObject({ code: 422 });
  });
});
