/** The segmentation service on a real PostgreSQL database: fans, activity, GDPR, segments and membership. */
import type { Service, ServiceBroker } from "moleculer";
import { Errors } from "moleculer";
import { systemAudit } from "../../services/audit/context";
import { REFRESH_JOB } from "../../services/segmentation/jobs";
import type { SegmentationStore } from "../../services/segmentation/store";
import { as, createTestDatabase, startBroker, type TestDatabase } from "../helpers/env";

jest.setTimeout(60_000);

let db: TestDatabase;
let broker: ServiceBroker;
const DAY = 86_400_000;
const daysAgo = (n: number) => new Date(Date.now() - n * DAY);

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startBroker({ databaseUrl: db.url, services: ["segmentation"] });
});

afterAll(async () => {
  await broker?.stop();
  await db?.drop();
});

/** Records every event matching `pattern` until `stop()`. */
async function listen(pattern: string) {
  const seen: { name: string; payload: any }[] = [];
  const name = `spy-${Math.random().toString(36).slice(2)}`;
  const svc = await broker.createService({
    name,
    events: {
      [pattern](ctx: any) {
        seen.push({ name: ctx.eventName, payload: ctx.params });
      },
    },
  });
  await broker.waitForServices(name);
  return { seen, stop: () => broker.destroyService(svc), settle: () => new Promise((r) => setTimeout(r, 50)) };
}

const call = <T = any>(action: string, params: unknown, user: string, role?: any) => broker.call<T, any>(`segmentation.${action}`, params, as(user, role));

async function rejection(p: Promise<unknown>) {
  const err: any = await p.then(
    () => undefined,
    (e) => e,
  );
  expect(err).toBeDefined();
  return err;
}

describe("fans", () => {
  it("upserts one fan: created with defaults and derived fields, then changed only where given", async () => {
    const ctx = as("fan-a");
    const created = await broker.call<any, any>("segmentation.upsertFan", { id: "of:123", platform: "onlyfans", displayName: "Ana", lifetimeValue: 75, lastActiveAt: daysAgo(3) }, ctx);
    expect(created).toMatchObject({
      id: "of:123",
      ownerId: "fan-a",
      platform: "onlyfans",
      displayName: "Ana",
      subscriptionStatus: "none",
      lifetimeValue: 75,
      spendingLevel: "medium", // 50 ≤ 75 < 200
      engagement: 0,
      tags: [],
      attributes: {},
      consent: false,
      noActivityDays: 3,
    });
    expect((ctx.meta as any).$statusCode).toBe(201);

    const again = as("fan-a");
    const updated = await broker.call<any, any>("segmentation.upsertFan", { id: "of:123", engagement: 80, tags: ["vip"] }, again);
    expect(updated).toMatchObject({ displayName: "Ana", lifetimeValue: 75, engagement: 80, tags: ["vip"], platform: "onlyfans" });
    expect((again.meta as any).$statusCode).toBeUndefined();
    await expect(call("getFan", { id: "of:123" }, "fan-a")).resolves.toMatchObject({ engagement: 80 });
  });

  it("upserts a batch of 1000 in one call, counting created and updated", async () => {
    const fans = Array.from({ length: 1000 }, (_, i) => ({ id: `b${i}`, engagement: i % 101 }));
    const first = await call("upsertFans", { fans }, "fan-batch");
    expect(first).toMatchObject({ created: 1000, updated: 0 });
    const second = await call("upsertFans", { fans: fans.slice(0, 10).map((f) => ({ ...f, engagement: 1 })) }, "fan-batch");
    expect(second).toMatchObject({ created: 0, updated: 10 });
    expect(second.fans.every((f: any) => f.engagement === 1)).toBe(true);
  });

  it.each([
    ["too many fans", { fans: Array.from({ length: 1001 }, (_, i) => ({ id: `x${i}` })) }, "fans"],
    ["a duplicate id", { fans: [{ id: "a" }, { id: "b" }, { id: "a" }] }, "fans[2].id"],
    ["engagement above 100", { fans: [{ id: "a", engagement: 101 }] }, "fans[0].engagement"],
    ["an unknown field", { fans: [{ id: "a", password: "x" }] }, "fans[0].password"],
    ["an unknown status", { fans: [{ id: "a", subscriptionStatus: "vip" }] }, "fans[0].subscriptionStatus"],
  ])("rejects a batch with %s (422 naming the field)", async (_label, params, field) => {
    const err = await rejection(call("upsertFans", params, "fan-bad"));
    expect(err).toBeInstanceOf(Errors.ValidationError);
    expect(err.data.map((d: any) => d.field)).toContain(field);
  });

  it("records activity: purchases add up and move the spending level, subscriptions set the status", async () => {
    const events = await listen("segmentation.fan.*");
    await call("recordActivity", { id: "act-1", type: "subscribed", at: daysAgo(1) }, "fan-act");
    let fan = await call("recordActivity", { id: "act-1", type: "purchased", amount: 40 }, "fan-act");
    expect(fan).toMatchObject({ subscriptionStatus: "active", lifetimeValue: 40, spendingLevel: "low", noActivityDays: 0 });
    await Promise.all([call("recordActivity", { id: "act-1", type: "purchased", amount: 100 }, "fan-act"), call("recordActivity", { id: "act-1", type: "purchased", amount: 100 }, "fan-act")]);
    fan = await call("getFan", { id: "act-1" }, "fan-act");
    expect(fan).toMatchObject({ lifetimeValue: 240, spendingLevel: "high" });
    fan = await call("recordActivity", { id: "act-1", type: "unsubscribed" }, "fan-act");
    expect(fan.subscriptionStatus).toBe("cancelled");
    // An older activity never moves lastActiveAt backwards.
    fan = await call("recordActivity", { id: "act-1", type: "active", at: daysAgo(30), engagement: 12 }, "fan-act");
    expect(fan).toMatchObject({ noActivityDays: 0, engagement: 12 });
    await events.settle();
    expect(events.seen.map((e) => e.name)).toEqual([
      "segmentation.fan.subscribed",
      "segmentation.fan.purchased",
      "segmentation.fan.purchased",
      "segmentation.fan.purchased",
      "segmentation.fan.unsubscribed",
      "segmentation.fan.active",
    ]);
    expect(events.seen[1].payload).toMatchObject({ ownerId: "fan-act", fanId: "act-1", amount: 40 });
    await events.stop();
  });

  it("refuses an amount on anything but a purchase", async () => {
    const err = await rejection(call("recordActivity", { id: "act-2", type: "active", amount: 5 }, "fan-act"));
    expect(err.code).toBe(422);
    expect(err.data[0].field).toBe("amount");
  });

  it("hides other owners' fans", async () => {
    await call("upsertFan", { id: "secret" }, "fan-owner");
    for (const action of ["getFan", "exportFan", "eraseFan"]) {
      await expect(call(action, { id: "secret" }, "fan-intruder")).rejects.toMatchObject({ code: 404 });
    }
    // Same external id, separate audiences.
    await call("upsertFan", { id: "secret", displayName: "mine" }, "fan-intruder");
    await expect(call("getFan", { id: "secret" }, "fan-owner")).resolves.toMatchObject({ displayName: null });
  });
});

describe("GDPR", () => {
  it("exports a fan with their memberships, then erases fan and memberships and announces it", async () => {
    const owner = "gdpr";
    await call("upsertFan", { id: "g1", engagement: 90, attributes: { email: "g1@example.com" } }, owner);
    await call("upsertFan", { id: "g2", engagement: 95 }, owner);
    const dyn = await call("create", { name: "Engaged", type: "dynamic", criteria: { engagement: ">50" } }, owner);
    const stat = await call("create", { name: "Hand-picked", type: "static" }, owner);
    await call("addUserToSegment", { id: stat.id, fanId: "g1" }, owner);

    const exported = await call("exportFan", { id: "g1" }, owner);
    expect(exported.fan).toMatchObject({ id: "g1", attributes: { email: "g1@example.com" } });
    expect(exported.memberships.map((m: any) => m.segmentId).sort()).toEqual([dyn.id, stat.id].sort());

    const events = await listen("segmentation.fan.erased");
    await expect(call("eraseFan", { id: "g1" }, owner)).resolves.toMatchObject({ id: "g1", erased: true });
    await events.settle();
    expect(events.seen).toHaveLength(1);
    expect(events.seen[0].payload).toMatchObject({ ownerId: owner, fanId: "g1" });
    expect(events.seen[0].payload.segmentIds.sort()).toEqual([dyn.id, stat.id].sort());
    await events.stop();

    await expect(call("getFan", { id: "g1" }, owner)).rejects.toMatchObject({ code: 404 });
    await expect(call("exportFan", { id: "g1" }, owner)).rejects.toMatchObject({ code: 404 });
    expect(await call("get", { id: dyn.id }, owner)).toMatchObject({ memberCount: 1 });
    expect(await call("get", { id: stat.id }, owner)).toMatchObject({ memberCount: 0 });
    const members = await call("getSegmentMembers", { id: dyn.id }, owner);
    expect(members.items.map((f: any) => f.id)).toEqual(["g2"]);
  });
});

describe("segments", () => {
  const owner = "seg";
  beforeAll(async () => {
    await call(
      "upsertFans",
      {
        fans: [
          { id: "whale", spendingLevel: "high", engagement: 80, lifetimeValue: 900, lastActiveAt: daysAgo(2), tags: ["vip"], subscriptionStatus: "active" },
          { id: "fan", spendingLevel: "high", engagement: 40, lifetimeValue: 300, lastActiveAt: daysAgo(1), subscriptionStatus: "active" },
          { id: "sleepy", spendingLevel: "high", engagement: 70, lifetimeValue: 400, lastActiveAt: daysAgo(20), subscriptionStatus: "active" },
          { id: "low", spendingLevel: "low", engagement: 99, lifetimeValue: 5, lastActiveAt: daysAgo(1), subscriptionStatus: "expired" },
          { id: "new", spendingLevel: "high", engagement: 60, lifetimeValue: 250, lastActiveAt: daysAgo(5), subscriptionStatus: "active" },
        ],
      },
      owner,
    );
  });

  const HOT = { spendingLevel: "high", engagement: ">50", lastActiveAt: { withinLastDays: 14 } };

  it("creates a dynamic segment materialized at once, with its stats", async () => {
    const s = await call("create", { name: "Hot", type: "dynamic", criteria: HOT }, owner);
    expect(s).toMatchObject({ type: "dynamic", memberCount: 2, avgEngagement: 70, avgRevenue: 575 });
    expect(s.lastRefreshedAt).toBeInstanceOf(Date);
    expect(s.criteria).toEqual({
      all: [
        { field: "spendingLevel", op: "eq", value: "high" },
        { field: "engagement", op: "gt", value: 50 },
        { field: "lastActiveAt", op: "withinLastDays", value: 14 },
      ],
    });
    const members = await call("getSegmentMembers", { id: s.id }, owner);
    expect(members.items.map((f: any) => f.id)).toEqual(["new", "whale"]);
  });

  it("sizes criteria like the segment counts them, and caches the size for the user", async () => {
    await expect(call("calculateSegmentSize", { criteria: HOT }, owner)).resolves.toMatchObject({ size: 2 });
    await expect(call("calculateSegmentSize", { criteria: "no_activity_days >= 14" }, owner)).resolves.toMatchObject({ size: 1 });
    await expect(call("calculateSegmentSize", { criteria: HOT }, "seg-other")).resolves.toMatchObject({ size: 0 });
    await call("upsertFan", { id: "late", spendingLevel: "high", engagement: 90, lastActiveAt: new Date() }, owner);
    await expect(call("calculateSegmentSize", { criteria: HOT }, owner)).resolves.toMatchObject({ size: 2 }); // cached
    const fresh = await broker.call<any, any>("segmentation.calculateSegmentSize", { criteria: HOT }, { meta: { ...as(owner).meta, $cache: false } });
    expect(fresh.size).toBe(3);
    await call("eraseFan", { id: "late" }, owner);
  });

  it("answers 422 with the path of a bad criterion", async () => {
    const err = await rejection(call("create", { name: "x", type: "dynamic", criteria: { all: [{ field: "engagement", op: "gt", value: 1 }, { field: "engagement", op: "~", value: 1 }] } }, owner));
    expect(err.code).toBe(422);
    expect(err.data).toEqual([expect.objectContaining({ field: "criteria.all[1].op" })]);
    await expect(call("create", { name: "x", type: "dynamic" }, owner)).rejects.toMatchObject({ code: 422, data: [expect.objectContaining({ field: "criteria" })] });
    await expect(call("create", { name: "x", type: "static", criteria: HOT }, owner)).rejects.toMatchObject({ code: 422 });
    await expect(call("calculateSegmentSize", { criteria: { nope: 1 } }, owner)).rejects.toMatchObject({ code: 422, data: [expect.objectContaining({ field: "criteria.nope" })] });
  });

  it("re-evaluates a changed fan at once and announces entering and leaving", async () => {
    const s = await call("create", { name: "Hot 2", type: "dynamic", criteria: HOT }, owner);
    const events = await listen("segmentation.segment.*");
    await call("upsertFan", { id: "fan", engagement: 75 }, owner);
    await events.settle();
    const entered = events.seen.filter((e) => e.name === "segmentation.segment.entered" && e.payload.segmentId === s.id);
    expect(entered.map((e) => e.payload)).toEqual([{ segmentId: s.id, ownerId: owner, fans: [{ ownerId: owner, fanId: "fan" }], reason: "fan-change" }]);
    expect(await call("get", { id: s.id }, owner)).toMatchObject({ memberCount: 3 });

    await call("recordActivity", { id: "fan", type: "active", engagement: 10 }, owner);
    await events.settle();
    const exited = events.seen.filter((e) => e.name === "segmentation.segment.exited" && e.payload.segmentId === s.id);
    expect(exited.map((e) => e.payload.fans)).toEqual([[{ ownerId: owner, fanId: "fan" }]]);
    expect(await call("get", { id: s.id }, owner)).toMatchObject({ memberCount: 2 });
    await events.stop();
  });

  it("refresh materializes changes made behind its back and recomputes the stats", async () => {
    const s = await call("create", { name: "Dormant", type: "dynamic", criteria: "no_activity_days >= 14" }, owner);
    expect(s.memberCount).toBe(1);
    const events = await listen("segmentation.segment.*");
    // The criteria change; the refresh that follows swaps the members in one transaction.
    const updated = await call("update", { id: s.id, criteria: { subscriptionStatus: "expired" } }, owner);
    expect(updated).toMatchObject({ memberCount: 1, avgRevenue: 5, avgEngagement: 99 });
    await events.settle();
    const names = events.seen.filter((e) => e.payload.segmentId === s.id || e.payload.segment?.id === s.id).map((e) => [e.name, e.payload.fans]);
    expect(names).toEqual([
      ["segmentation.segment.entered", [{ ownerId: owner, fanId: "low" }]],
      ["segmentation.segment.exited", [{ ownerId: owner, fanId: "sleepy" }]],
      ["segmentation.segment.refreshed", undefined],
      ["segmentation.segment.updated", undefined],
    ]);
    const again = await call("refreshSegment", { id: s.id }, owner);
    expect(again.memberCount).toBe(1);
    expect(again.lastRefreshedAt.getTime()).toBeGreaterThanOrEqual(updated.lastRefreshedAt.getTime());
    await events.stop();
  });

  it("pages members with a cursor", async () => {
    const s = await call("create", { name: "Everyone", type: "dynamic", criteria: { all: [] } }, owner);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await call("getSegmentMembers", { id: s.id, limit: 2, cursor }, owner);
      seen.push(...page.items.map((f: any) => f.id));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(["fan", "low", "new", "sleepy", "whale"]);
    await expect(call("getSegmentMembers", { id: s.id, cursor: "garbage" }, owner)).rejects.toMatchObject({ code: 422 });
  });

  it("adds and removes static members; refuses it on dynamic segments (409)", async () => {
    const stat = await call("create", { name: "Picked", type: "static" }, owner);
    await expect(call("addUserToSegment", { id: stat.id, fanId: "whale" }, owner)).resolves.toMatchObject({ member: true, changed: true });
    await expect(call("addUserToSegment", { id: stat.id, fanId: "whale" }, owner)).resolves.toMatchObject({ member: true, changed: false });
    await expect(call("addUserToSegment", { id: stat.id, fanId: "ghost" }, owner)).rejects.toMatchObject({ code: 404 });
    expect(await call("refreshSegment", { id: stat.id }, owner)).toMatchObject({ memberCount: 1, avgRevenue: 900 });
    await expect(call("removeUserFromSegment", { id: stat.id, fanId: "whale" }, owner)).resolves.toMatchObject({ member: false, changed: true });
    expect(await call("get", { id: stat.id }, owner)).toMatchObject({ memberCount: 0 });
    await expect(call("update", { id: stat.id, criteria: HOT }, owner)).rejects.toMatchObject({ code: 409 });

    const dyn = await call("create", { name: "Dyn", type: "dynamic", criteria: HOT }, owner);
    await expect(call("addUserToSegment", { id: dyn.id, fanId: "low" }, owner)).rejects.toMatchObject({ code: 409 });
    await expect(call("removeUserFromSegment", { id: dyn.id, fanId: "whale" }, owner)).rejects.toMatchObject({ code: 409 });
  });

  it("evaluates one fan against criteria", async () => {
    await expect(call("evaluateCriteria", { fanId: "whale", criteria: HOT }, owner)).resolves.toMatchObject({ fanId: "whale", matches: true });
    await expect(call("evaluateCriteria", { fanId: "low", criteria: HOT }, owner)).resolves.toMatchObject({ matches: false });
    await expect(call("evaluateCriteria", { fanId: "whale", criteria: HOT }, "seg-other")).rejects.toMatchObject({ code: 404 });
  });

  it("compares segments: sizes, averages and overlaps", async () => {
    const a = await call("create", { name: "High", type: "dynamic", criteria: { spendingLevel: "high" } }, owner);
    const b = await call("create", { name: "Engaged", type: "dynamic", criteria: { engagement: { gte: 60 } } }, owner);
    const result = await call("compareSegments", { ids: [a.id, b.id] }, owner);
    expect(result.segments.map((s: any) => [s.name, s.memberCount])).toEqual([
      ["High", 4],
      ["Engaged", 4],
    ]);
    const [x, y] = [a.id, b.id].sort();
    expect(result.overlaps).toEqual([{ a: x, b: y, shared: 3 }]); // whale, sleepy, new
    await expect(call("compareSegments", { ids: [a.id, "nope"] }, owner)).rejects.toMatchObject({ code: 404 });
    await expect(call("compareSegments", { ids: [a.id] }, owner)).rejects.toMatchObject({ code: 422 });
  });

  it("reports performance as unavailable when no analytics service runs", async () => {
    const s = await call("create", { name: "Perf", type: "static" }, owner);
    await expect(call("getSegmentPerformance", { id: s.id }, owner)).resolves.toEqual({
      segmentId: s.id,
      memberCount: 0,
      campaigns: 0,
      conversions: 0,
      revenue: 0,
      conversionRate: 0,
      source: "unavailable",
    });
  });

  it("asks analytics for performance when it offers segmentPerformance", async () => {
    const s = await call("create", { name: "Perf 2", type: "static" }, owner);
    const asked: unknown[] = [];
    // Stands in for the analytics service's contract (its own issue implements the action).
    const analytics = await broker.createService({
      name: "analytics",
      actions: {
        segmentPerformance(ctx: any) {
          asked.push(ctx.params);
          return { campaigns: 2, conversions: 7, revenue: 140, conversionRate: 0.07 };
        },
      },
    });
    await broker.waitForServices("analytics");
    await expect(call("getSegmentPerformance", { id: s.id }, owner)).resolves.toMatchObject({ conversions: 7, revenue: 140, source: "analytics" });
    expect(asked).toEqual([{ segmentId: s.id }]);
    await broker.destroyService(analytics);
  });

  it("hides other owners' segments (404) and keeps viewers from writing (403)", async () => {
    const s = await call("create", { name: "Mine", type: "static" }, owner);
    for (const [action, params] of [
      ["get", { id: s.id }],
      ["update", { id: s.id, name: "x" }],
      ["remove", { id: s.id }],
      ["refreshSegment", { id: s.id }],
      ["getSegmentMembers", { id: s.id }],
      ["addUserToSegment", { id: s.id, fanId: "whale" }],
    ] as const) {
      await expect(call(action, params, "seg-other")).rejects.toMatchObject({ code: 404 });
    }
    await expect(call("create", { name: "v", type: "static" }, "seg-viewer", "viewer")).rejects.toMatchObject({ code: 403 });
    const listed = await call("list", {}, "seg-other");
    expect(listed.items).toHaveLength(0);
  });

  it("lists, renames and deletes segments", async () => {
    const page = await call("list", { type: "static", limit: 2, sort: "name", order: "asc" }, owner);
    expect(page.items).toHaveLength(2);
    expect(page.nextCursor).toEqual(expect.any(String));
    const s = await call("create", { name: "Temp", type: "dynamic", criteria: HOT }, owner);
    await expect(call("update", { id: s.id, name: "Temp 2" }, owner)).resolves.toMatchObject({ name: "Temp 2", memberCount: 2 });
    await expect(call("remove", { id: s.id }, owner)).resolves.toEqual({ id: s.id, deleted: true });
    await expect(call("get", { id: s.id }, owner)).rejects.toMatchObject({ code: 404 });
  });
});

describe("daily refresh job", () => {
  it("is scheduled once a day and re-materializes dynamic segments when it runs", async () => {
    const owner = "job";
    await call("upsertFan", { id: "j1", lastActiveAt: daysAgo(13.5) }, owner);
    const s = await call("create", { name: "Dormant", type: "dynamic", criteria: "no_activity_days >= 14" }, owner);
    expect(s.memberCount).toBe(0);
    const svc = broker.getLocalService("segmentation") as Service & { agenda: any; store: SegmentationStore };
    // Time passes: written straight to the store, so no incremental re-evaluation sees it — only the job.
    await svc.store.upsertFans({ id: owner, teamId: null, role: "owner" }, [{ id: "j1", lastActiveAt: daysAgo(15) }], { medium: 50, high: 200 }, systemAudit("test.seed"));
    expect(await call("get", { id: s.id }, owner)).toMatchObject({ memberCount: 0 });
    const scheduled = await svc.agenda.queryJobs({ name: REFRESH_JOB });
    expect(scheduled.jobs).toHaveLength(1);
    expect(scheduled.jobs[0].repeatInterval).toBe("1 day");

    await svc.agenda.now(REFRESH_JOB);
    const deadline = Date.now() + 15_000;
    let current = await call("get", { id: s.id }, owner);
    while (current.lastRefreshedAt.getTime() === s.lastRefreshedAt.getTime() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      current = await call("get", { id: s.id }, owner);
    }
    expect(current.lastRefreshedAt.getTime()).toBeGreaterThan(s.lastRefreshedAt.getTime());
    expect(current.memberCount).toBe(1);
  });
});
