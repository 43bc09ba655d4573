/**
 * The automation engine on a real database with segmentation, campaigns and the publisher against the
 * fake OnlyFans gateway (which counts messages): the two seed workflows end to end with the engine clock
 * moved forward, plus cycles, expression injection, retries, timeout, quiet hours and frequency caps.
 */
import type { ServiceBroker } from "moleculer";
import { startFakePlatforms, type FakePlatforms } from "../fakes/platforms";
import { as, createTestDatabase, startBroker, type TestDatabase } from "../helpers/env";
import { eventually } from "../helpers/process";

let db: TestDatabase;
let broker: ServiceBroker;
let fakes: FakePlatforms;
const failures: any[] = [];
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

beforeAll(async () => {
  db = await createTestDatabase();
  fakes = await startFakePlatforms();
  Object.assign(process.env, fakes.env, { AUTOMATION_RETRY_BASE_MS: "5", PUBLISHER_RATE_LIMITS: "onlyfans=6000/100" });
  broker = await startBroker({ databaseUrl: db.url, services: ["automation", "segmentation", "campaigns", "publisher"] }, [
    { name: "alert-spy", events: { "automation.run.failed"(ctx: any) { failures.push(ctx.params); } } },
  ]);
}, 30_000);

afterAll(async () => {
  await broker?.stop();
  await fakes?.close();
  await db?.drop();
});

const call = <T = any>(action: string, params: object, user: string) => broker.call<T, object>(action, params, as(user));
const messagesTo = (fanId: string) => fakes.onlyfans.messages.filter((m) => m.fanId === fanId);

async function creator(user: string) {
  await call("publisher.setCredentials", { platform: "onlyfans", credentials: { apiKey: `key-${user}`, accountId: `acc-${user}` } }, user);
}

async function runsOf(id: string, user: string) {
  return (await call("automation.executions", { id, limit: 100 }, user)).items as any[];
}

describe("seed workflow: New Fan Welcome Series", () => {
  it("sends welcome, showcase, and re-engagement only to fans with engagement < 1", async () => {
    const user = "cr-welcome";
    await creator(user);
    const wf = await call("automation.installTemplate", { id: "welcome_series", activate: true }, user);
    expect(wf).toMatchObject({ name: "New Fan Welcome Series", status: "active", templateId: "welcome_series" });

    await call("segmentation.upsertFan", { id: "w-quiet", platform: "onlyfans", displayName: "Ann", engagement: 0 }, user);
    await call("segmentation.upsertFan", { id: "w-engaged", platform: "onlyfans", displayName: "Bob", engagement: 0 }, user);
    await call("segmentation.recordActivity", { id: "w-quiet", type: "subscribed" }, user);
    await call("segmentation.recordActivity", { id: "w-engaged", type: "subscribed" }, user);
    await eventually(async () => (await runsOf(wf.id, user)).filter((r) => r.status === "waiting").length === 2);
    expect(messagesTo("w-quiet")).toHaveLength(0); // the first step waits 5 minutes

    await call("automation.advanceTime", { ms: 5 * MIN }, user);
    expect(messagesTo("w-quiet").map((m) => m.text)).toEqual([expect.stringContaining("Hi Ann, welcome")]);

    await call("automation.advanceTime", { ms: DAY }, user);
    expect(messagesTo("w-quiet")[1].text).toContain("a taste of what you can find");
    // Bob engages during the three days; Ann does not.
    await call("segmentation.upsertFan", { id: "w-engaged", engagement: 12 }, user);
    await call("automation.advanceTime", { ms: 3 * DAY }, user);

    expect(messagesTo("w-quiet")).toHaveLength(3);
    expect(messagesTo("w-quiet")[2].text).toContain("I haven't heard from you");
    expect(messagesTo("w-engaged")).toHaveLength(2);
    const runs = await runsOf(wf.id, user);
    expect(runs.map((r) => r.status)).toEqual(["success", "success"]);
    const ann = runs.find((r) => r.fanId === "w-quiet");
    expect(ann.executedActions.map((s: any) => `${s.path}:${s.status}`)).toEqual([
      "actions[0]:deferred",
      "actions[1]:success",
      "actions[2]:deferred",
      "actions[3]:success",
      "actions[4]:deferred",
      "actions[5]:success",
      "actions[5].ifTrue[0]:success",
    ]);

    // A second subscribe event does not re-enter (re-entry is off by default).
    await call("segmentation.recordActivity", { id: "w-quiet", type: "subscribed" }, user);
    await new Promise((r) => setTimeout(r, 300));
    expect(await runsOf(wf.id, user)).toHaveLength(2);

    const stats = await call("automation.stats", { id: wf.id }, user);
    expect(stats).toMatchObject({ total: 2, byStatus: { success: 2 }, successRate: 1 });
    expect(stats.durationMs.p95).toBeGreaterThanOrEqual(4 * DAY);
    expect(await call("automation.get", { id: wf.id }, user)).toMatchObject({ executionCount: 2, successCount: 2, failureCount: 0 });
  }, 30_000);
});

describe("seed workflow: Win Back Inactive Fans", () => {
  it("creates the 25% offer, messages inactive valuable fans and moves non-engagers to at_risk_fans", async () => {
    const user = "cr-winback";
    await creator(user);
    const longAgo = new Date(Date.now() - 20 * DAY).toISOString();
    const base = { platform: "onlyfans", subscriptionStatus: "active", lastActiveAt: longAgo, engagement: 0 };
    await call("segmentation.upsertFans", {
      fans: [
        { ...base, id: "wb-lost", lifetimeValue: 120 },
        { ...base, id: "wb-back", lifetimeValue: 80 },
        { ...base, id: "wb-cheap", lifetimeValue: 10 },
        { ...base, id: "wb-recent", lifetimeValue: 500, lastActiveAt: new Date().toISOString() },
      ],
    }, user);
    const wf = await call("automation.installTemplate", { id: "win_back", activate: true }, user);
    const { runsStarted } = await call("automation.scanBehavior", {}, user);
    expect(runsStarted).toBe(2);

    const campaigns = (await call("campaigns.list", { limit: 100 }, user)).items;
    expect(campaigns).toHaveLength(2);
    for (const c of campaigns) expect(c).toMatchObject({ templateId: "win_back_offer", status: "draft", content: expect.objectContaining({ title: expect.stringContaining("25% Off") }) });
    expect(messagesTo("wb-lost")).toEqual([expect.objectContaining({ text: expect.stringContaining("25% Off") })]);
    expect(messagesTo("wb-cheap")).toHaveLength(0);
    expect(messagesTo("wb-recent")).toHaveLength(0);

    await call("segmentation.upsertFan", { id: "wb-back", engagement: 30 }, user);
    await call("automation.advanceTime", { ms: 7 * DAY }, user);
    const segments = (await call("segmentation.list", { type: "static", limit: 100 }, user)).items;
    const atRisk = segments.find((s: any) => s.name === "at_risk_fans");
    const members = (await call("segmentation.getSegmentMembers", { id: atRisk.id }, user)).items.map((f: any) => f.id);
    expect(members).toEqual(["wb-lost"]);
    expect((await runsOf(wf.id, user)).map((r) => r.status)).toEqual(["success", "success"]);
    // A second scan does not start the same fans again.
    expect((await call("automation.scanBehavior", {}, user)).runsStarted).toBe(0);
  }, 30_000);

  it("test mode runs every step without side effects", async () => {
    const user = "cr-testmode";
    await creator(user);
    await call("segmentation.upsertFan", { id: "tm-1", platform: "onlyfans", subscriptionStatus: "active", lifetimeValue: 90, engagement: 0 }, user);
    const wf = await call("automation.installTemplate", { id: "win_back" }, user);
    const run = await call("automation.execute", { id: wf.id, fanId: "tm-1", testMode: true }, user);
    expect(run).toMatchObject({ status: "success", testMode: true });
    expect(run.executedActions.map((s: any) => s.status)).toEqual(["simulated", "simulated", "simulated", "success", "simulated"]);
    expect(messagesTo("tm-1")).toHaveLength(0);
    expect((await call("campaigns.list", {}, user)).items).toHaveLength(0);
  });
});

describe("definitions", () => {
  const user = "cr-defs";
  const trigger = { type: "event", event: "custom.ping" };

  it("names the bad path and refuses expression injection with 422", async () => {
    const bad = await call("automation.create", { name: "x", trigger, actions: [{ type: "check_engagement", condition: "engagement < 1", ifTrue: { type: "send_message", template: 5 } }] }, user).catch((e) => e);
    expect(bad).toMatchObject({ code: 422, data: [expect.objectContaining({ field: "actions[0].ifTrue.template" })] });
    for (const condition of ['import({"x": 1}, {override: true})', "engagement = 5; 1", "f(x) = x", "constructor < 1", "__proto__ > 0", "engagement.constructor", 'evaluate("1")']) {
      const err = await call("automation.create", { name: "x", trigger, actions: [{ type: "check_engagement", condition, ifTrue: { type: "wait", duration: "1 hour" } }] }, user).catch((e) => e);
      expect(err).toMatchObject({ code: 422, data: [expect.objectContaining({ field: "actions[0].condition", type: "expression" })] });
    }
    const unknown = await call("automation.create", { name: "x", trigger, actions: [{ type: "teleport" }] }, user).catch((e) => e);
    expect(unknown).toMatchObject({ code: 422, data: [expect.objectContaining({ field: "actions[0].type" })] });
  });

  it("refuses activating a workflow in a trigger cycle, directly or through another workflow", async () => {
    const self = await call("automation.create", { name: "echo", trigger, actions: [{ type: "emit_event", event: "custom.ping" }] }, user);
    await expect(call("automation.activate", { id: self.id }, user)).rejects.toMatchObject({ code: 409, type: "WORKFLOW_CYCLE" });
    const a = await call("automation.create", { name: "A", trigger: { type: "event", event: "custom.a" }, actions: [{ type: "emit_event", event: "custom.b" }] }, user);
    const b = await call("automation.create", { name: "B", trigger: { type: "event", event: "custom.b" }, actions: [{ type: "emit_event", event: "custom.a" }] }, user);
    await call("automation.activate", { id: a.id }, user);
    const err = await call("automation.activate", { id: b.id }, user).catch((e) => e);
    expect(err).toMatchObject({ code: 409, data: { cycle: ["B", "A", "B"] } });
    await expect(call("automation.get", { id: a.id }, "someone-else")).rejects.toMatchObject({ code: 404 });
  });
});

describe("execution rules", () => {
  const trigger = { type: "event", event: "custom.go" };

  it("cancels a run that outlives the workflow timeout", async () => {
    const user = "cr-timeout";
    await call("segmentation.upsertFan", { id: "t-1" }, user);
    const wf = await call("automation.create", { name: "t", trigger, settings: { timeoutMinutes: 60 }, actions: [{ type: "wait", duration: "2 hours" }, { type: "update_fan", set: { tags: ["late"] } }] }, user);
    await call("automation.activate", { id: wf.id }, user);
    await call("automation.ingestEvent", { name: "custom.go", fanId: "t-1" }, user);
    await call("automation.advanceTime", { ms: 61 * MIN }, user);
    const [run] = await runsOf(wf.id, user);
    expect(run).toMatchObject({ status: "cancelled", errors: [expect.objectContaining({ message: "workflow timeout" })] });
    expect((await call("segmentation.getFan", { id: "t-1" }, user)).tags).toEqual([]);
  });

  it("holds messages during the fan's quiet hours and delivers at their end", async () => {
    const user = "cr-quiet";
    await creator(user);
    // Other tests moved the engine clock: quiet hours are decided on its time.
    const hour = new Date((await call("automation.advanceTime", { ms: 0 }, user)).now).getUTCHours();
    await call("segmentation.upsertFan", { id: "q-1", platform: "onlyfans", timezone: "UTC" }, user);
    const wf = await call("automation.create", { name: "q", trigger, settings: { quietHours: { start: hour, end: (hour + 2) % 24 } }, actions: [{ type: "send_message", text: "good morning" }] }, user);
    await call("automation.activate", { id: wf.id }, user);
    await call("automation.ingestEvent", { name: "custom.go", fanId: "q-1" }, user);
    expect((await runsOf(wf.id, user))[0]).toMatchObject({ status: "waiting" });
    expect(messagesTo("q-1")).toHaveLength(0);
    await call("automation.advanceTime", { ms: 2 * HOUR }, user);
    expect(messagesTo("q-1")).toHaveLength(1);
    expect((await runsOf(wf.id, user))[0]).toMatchObject({ status: "success" });
  });

  it("caps messages per fan per period across workflows", async () => {
    const user = "cr-cap";
    await creator(user);
    await call("segmentation.upsertFan", { id: "c-1", platform: "onlyfans" }, user);
    const settings = { frequencyCap: { messages: 2, periodHours: 24 } };
    const one = await call("automation.create", { name: "one", trigger, settings, actions: [{ type: "send_message", text: "first" }, { type: "send_message", text: "second" }] }, user);
    const two = await call("automation.create", { name: "two", trigger, settings, actions: [{ type: "send_message", text: "third" }] }, user);
    await call("automation.activate", { id: one.id }, user);
    await call("automation.ingestEvent", { name: "custom.go", fanId: "c-1" }, user);
    await call("automation.activate", { id: two.id }, user);
    await call("automation.ingestEvent", { name: "custom.go", fanId: "c-1" }, user);
    const [first] = await runsOf(one.id, user);
    expect(first.errors).toEqual([]);
    expect(messagesTo("c-1").map((m) => m.text)).toEqual(["first", "second"]);
    const [run] = await runsOf(two.id, user);
    expect(run.executedActions[0]).toMatchObject({ status: "skipped", output: expect.objectContaining({ reason: "frequency cap" }) });
  });

  // Last: the failures it provokes open the broker's circuit breaker on publisher.sendMessage for a while.
  it("retries a failing send 3 times, then fails the run and alerts", async () => {
    const user = "cr-retry";
    await creator(user);
    await call("segmentation.upsertFan", { id: "r-1", platform: "onlyfans" }, user);
    const wf = await call("automation.create", { name: "r", trigger, actions: [{ type: "send_message", text: "hello" }] }, user);
    await call("automation.activate", { id: wf.id }, user);
    // The plugin retries inside each attempt too: enough faults that every attempt fails.
    fakes.onlyfans.queue(...Array(40).fill("5xx"));
    await call("automation.ingestEvent", { name: "custom.go", fanId: "r-1" }, user);
    fakes.onlyfans.faultsQueued.length = 0;
    const [run] = await runsOf(wf.id, user);
    expect(run).toMatchObject({ status: "failure", errors: [expect.objectContaining({ path: "actions[0]" })] });
    expect(run.executedActions[0]).toMatchObject({ status: "failure", attempts: 4 });
    expect(messagesTo("r-1")).toHaveLength(0);
    expect(failures).toContainEqual(expect.objectContaining({ automationId: wf.id, step: "actions[0]", status: "failure" }));
  });
});
