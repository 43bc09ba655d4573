/**
 * Time triggers (`at` and `cron` with a time zone) on a real database and Agenda: validation, the job
 * Agenda keeps per upcoming fire, fires forced by moving the engine clock, one run per (workflow, scheduled
 * time) however often a fire is processed, and unscheduling on deactivate, update and delete. Also the
 * other duplicates a crash or a retry could cause: a create_campaign / launch_campaign step re-executed
 * after a crash makes and launches its campaign once, and one event delivered many times at once starts
 * one run per fan.
 */
import type { ServiceBroker } from "moleculer";
import { runtimeOf } from "../../lib/runtime";
import { as, createTestDatabase, startBroker, type TestDatabase } from "../helpers/env";
import { eventually } from "../helpers/process";

let db: TestDatabase;
let broker: ServiceBroker;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const TIME_JOB = "automation.time-trigger";

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startBroker({ databaseUrl: db.url, services: ["automation", "campaigns", "segmentation"], jobsProcessEveryMs: 100 });
}, 30_000);

afterAll(async () => {
  await broker?.stop();
  await db?.drop();
});

const call = <T = any>(action: string, params: object, user: string) => broker.call<T, object>(action, params, as(user));
const automation = () => broker.getLocalService("automation") as any;
const engineNow = async (user = "clock") => new Date((await call("automation.advanceTime", { ms: 0 }, user)).now).getTime();

async function fireTimesOf(workflowId: string): Promise<string[]> {
  const agenda = await runtimeOf(broker).agenda();
  const { jobs } = await agenda.queryJobs({ name: TIME_JOB, data: { workflowId } });
  return jobs.map((j) => (j.data as { fireAt: string }).fireAt).sort();
}
async function runsOf(id: string, user: string): Promise<any[]> {
  return (await call("automation.executions", { id, limit: 100, order: "asc" }, user)).items;
}
async function campaignsOf(user: string): Promise<any[]> {
  return (await call("campaigns.list", { limit: 100 }, user)).items;
}
/** Weekday, hour and minute of an instant in a time zone, e.g. "Mon 09:00". */
function localTime(iso: string, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date(iso));
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return `${get("weekday")} ${get("hour")}:${get("minute")}`;
}

const campaignStep = { type: "create_campaign", template: "win_back_offer", discount: 0.2 };

describe("validation", () => {
  const user = "tt-valid";
  const create = (trigger: object) => call("automation.create", { name: "t", trigger, actions: [campaignStep] }, user).catch((e) => e);

  it.each([
    [{ type: "time", cron: "61 9 * * 1" }, "trigger.cron"],
    [{ type: "time", cron: "0 9 * *" }, "trigger.cron"],
    [{ type: "time", cron: "0 9 * * 1 2027" }, "trigger.cron"],
    [{ type: "time", cron: "0 0 30 2 *" }, "trigger.cron"],
    [{ type: "time", cron: "every monday" }, "trigger.cron"],
    [{ type: "time", cron: 5 }, "trigger.cron"],
    [{ type: "time", cron: "0 9 * * 1", timezone: "Mars/Olympus" }, "trigger.timezone"],
    [{ type: "time", at: "2030-01-01T00:00:00Z", timezone: "Europe/Berlin" }, "trigger.timezone"],
    [{ type: "time", cron: "0 9 * * 1", at: "2030-01-01T00:00:00Z" }, "trigger.at"],
    [{ type: "time" }, "trigger.cron"],
    [{ type: "time", at: "next tuesday" }, "trigger.at"],
  ])("%j is a 422 naming %s", async (trigger, field) => {
    const err = await create(trigger);
    expect(err).toMatchObject({ code: 422, data: [expect.objectContaining({ field })] });
  });

  it("takes a 5-field cron with or without a time zone", async () => {
    for (const trigger of [{ type: "time", cron: "0 9 * * 1", timezone: "Europe/Berlin" }, { type: "time", cron: "*/15 8-18 * * MON-FRI" }]) {
      expect(await create(trigger)).toMatchObject({ status: "paused", trigger });
    }
  });
});

// Before the clock moves: Agenda itself runs this job (its time is real time).
describe("at", () => {
  it("fires once through Agenda, however often the workflow is activated again", async () => {
    const user = "tt-at";
    const at = new Date((await engineNow()) - 1000).toISOString();
    const wf = await call("automation.create", { name: "at", trigger: { type: "time", at }, actions: [campaignStep] }, user);
    await call("automation.activate", { id: wf.id }, user);
    const [run] = await eventually(async () => (await runsOf(wf.id, user)).filter((r) => r.status === "success").length === 1 && runsOf(wf.id, user), 8_000);
    expect(run).toMatchObject({ fanId: null, triggerData: { trigger: "time", scheduledAt: at } });
    expect(run.executedActions).toEqual([expect.objectContaining({ type: "create_campaign", status: "success" })]);

    await call("automation.deactivate", { id: wf.id }, user);
    expect(await fireTimesOf(wf.id)).toEqual([]);
    await call("automation.activate", { id: wf.id }, user);
    // The job is made again and runs again; the fire key (workflow, at) keeps it to one run.
    await eventually(async () => (await fireTimesOf(wf.id)).length === 1, 8_000);
    await new Promise((r) => setTimeout(r, 1000));
    await call("automation.advanceTime", { ms: 0 }, user);
    expect(await runsOf(wf.id, user)).toHaveLength(1);
    expect(await campaignsOf(user)).toHaveLength(1);
  });
});

describe("cron", () => {
  const user = "tt-cron";
  const trigger = { type: "time", cron: "0 9 * * 1", timezone: "Europe/Berlin" };

  it("fires every Monday 09:00 Berlin time, one run per scheduled time", async () => {
    const wf = await call("automation.create", { name: "weekly offer", trigger, actions: [campaignStep] }, user);
    expect(await fireTimesOf(wf.id)).toEqual([]); // paused: nothing scheduled
    await call("automation.activate", { id: wf.id }, user);
    const now = await engineNow();
    const [first] = await fireTimesOf(wf.id);
    expect(localTime(first, "Europe/Berlin")).toBe("Mon 09:00");
    expect(Date.parse(first) - now).toBeGreaterThan(0);
    expect(Date.parse(first) - now).toBeLessThanOrEqual(7 * DAY);

    // A minute early: nothing.
    expect((await call("automation.advanceTime", { ms: Date.parse(first) - now - MIN }, user)).fired).toBe(0);
    expect(await runsOf(wf.id, user)).toHaveLength(0);
    // Due: one run, scheduled for the occurrence, and the next Monday is scheduled.
    expect((await call("automation.advanceTime", { ms: 2 * MIN }, user)).fired).toBe(1);
    const [run] = await runsOf(wf.id, user);
    expect(run).toMatchObject({ status: "success", fanId: null, triggerData: { trigger: "time", scheduledAt: first } });
    const upcoming = (await fireTimesOf(wf.id)).filter((t) => t > first);
    expect(upcoming).toHaveLength(1);
    expect(localTime(upcoming[0], "Europe/Berlin")).toBe("Mon 09:00");
    expect(Date.parse(upcoming[0]) - Date.parse(first)).toBeGreaterThanOrEqual(7 * DAY - HOUR); // DST moves it by an hour at most
    expect(Date.parse(upcoming[0]) - Date.parse(first)).toBeLessThanOrEqual(7 * DAY + HOUR);

    // The same fire processed again (a job retried after a crash, the sweep racing the job): no new run.
    expect(await automation().fireTimeTrigger(wf.id, new Date(first))).toBe(false);
    expect((await call("automation.advanceTime", { ms: 0 }, user)).fired).toBe(0);
    expect(await runsOf(wf.id, user)).toHaveLength(1);
    expect(await campaignsOf(user)).toHaveLength(1);

    // A week later: the second fire; the first fire's job is cleaned away.
    expect((await call("automation.advanceTime", { ms: 7 * DAY }, user)).fired).toBe(1);
    const runs = await runsOf(wf.id, user);
    expect(runs.map((r) => r.triggerData.scheduledAt)).toEqual([first, upcoming[0]]);
    expect(await campaignsOf(user)).toHaveLength(2);
    expect((await fireTimesOf(wf.id)).every((t) => t >= upcoming[0])).toBe(true);

    // Deactivated: unscheduled, and a month passes without runs. Activated again: the next Monday after now.
    await call("automation.deactivate", { id: wf.id }, user);
    expect(await fireTimesOf(wf.id)).toEqual([]);
    await call("automation.advanceTime", { ms: 30 * DAY }, user);
    expect(await runsOf(wf.id, user)).toHaveLength(2);
    await call("automation.activate", { id: wf.id }, user);
    const [next] = await fireTimesOf(wf.id);
    expect(Date.parse(next)).toBeGreaterThan(await engineNow());
    expect(localTime(next, "Europe/Berlin")).toBe("Mon 09:00");

    await call("automation.remove", { id: wf.id }, user);
    expect(await fireTimesOf(wf.id)).toEqual([]);
  });

  it("reschedules when an active workflow's trigger changes, and stops when it is archived", async () => {
    const wf = await call("automation.create", { name: "changing", trigger, actions: [campaignStep] }, user);
    await call("automation.activate", { id: wf.id }, user);
    await call("automation.update", { id: wf.id, trigger: { type: "time", cron: "30 18 * * 5", timezone: "America/New_York" } }, user);
    const times = await fireTimesOf(wf.id);
    expect(times).toHaveLength(1);
    expect(localTime(times[0], "America/New_York")).toBe("Fri 18:30");
    // A job made for the old definition does nothing.
    expect(await automation().fireTimeTrigger(wf.id, new Date(Date.parse(times[0]) - DAY))).toBe(false);

    await call("automation.update", { id: wf.id, trigger: { type: "event", event: "custom.ping" } }, user);
    expect(await fireTimesOf(wf.id)).toEqual([]);
    await call("automation.update", { id: wf.id, trigger }, user);
    expect(await fireTimesOf(wf.id)).toHaveLength(1);
    await call("automation.update", { id: wf.id, status: "archived" }, user);
    expect(await fireTimesOf(wf.id)).toEqual([]);
  });
});

describe("steps re-executed after a crash", () => {
  /** Puts the run back as a crashed worker leaves it: running at the step, lease expired, progress lost. */
  async function crashBefore(runId: string, cursor: (number | string)[]) {
    await automation().store.saveProgress(runId, { status: "running", cursor, leaseUntil: new Date(0), wakeAt: null });
  }

  it("create_campaign makes its campaign once per (run, step)", async () => {
    const user = "tt-crash-create";
    const wf = await call("automation.create", { name: "c", trigger: { type: "event", event: "custom.c" }, actions: [campaignStep, { type: "wait", duration: "1 hour" }] }, user);
    const run = await call("automation.execute", { id: wf.id }, user);
    expect(run.status).toBe("waiting");
    const [campaign] = await campaignsOf(user);
    expect(campaign.idempotencyKey).toBe(`${run.id}:actions[0]`);

    await crashBefore(run.id, [0]);
    expect((await call("automation.runDueWakeups", {}, user)).resumed).toBe(1);
    const again = (await runsOf(wf.id, user))[0];
    const creates = again.executedActions.filter((s: any) => s.type === "create_campaign");
    expect(creates.map((s: any) => s.output.campaignId)).toEqual([campaign.id, campaign.id]);
    expect(await campaignsOf(user)).toHaveLength(1);
    expect(again.context.campaign.id).toBe(campaign.id);
  });

  it("launch_campaign finds its campaign launched and goes on", async () => {
    const user = "tt-crash-launch";
    const campaign = await call("campaigns.create", { name: "To launch", type: "promotion", platforms: ["onlyfans"], content: { title: "Hi" } }, user);
    const wf = await call("automation.create", { name: "l", trigger: { type: "event", event: "custom.l" }, actions: [{ type: "launch_campaign", campaignId: campaign.id }, { type: "wait", duration: "1 hour" }] }, user);
    const run = await call("automation.execute", { id: wf.id }, user);
    expect(run.status).toBe("waiting");
    expect((await call("campaigns.get", { id: campaign.id }, user)).status).toBe("active");

    await crashBefore(run.id, [0]);
    await call("automation.runDueWakeups", {}, user);
    const again = (await runsOf(wf.id, user))[0];
    expect(again.status).toBe("waiting");
    expect(again.executedActions.filter((s: any) => s.type === "launch_campaign").map((s: any) => [s.status, s.output.alreadyLaunched ?? false])).toEqual([
      ["success", false],
      ["success", true],
    ]);
  });
});

describe("duplicate deliveries", () => {
  it("the same event for a fan delivered 10 times at once starts one run", async () => {
    const user = "tt-dup-event";
    await call("segmentation.upsertFans", { fans: [{ id: "dup-1" }, { id: "dup-2" }] }, user);
    const wf = await call("automation.create", { name: "d", trigger: { type: "event", event: "custom.dup" }, actions: [{ type: "wait", duration: "1 day" }] }, user);
    await call("automation.activate", { id: wf.id }, user);
    const answers = await Promise.all(["dup-1", "dup-2"].flatMap((fanId) => Array.from({ length: 10 }, () => call("automation.ingestEvent", { name: "custom.dup", fanId }, user))));
    expect(answers.reduce((n, a) => n + a.runsStarted, 0)).toBe(2);
    expect((await runsOf(wf.id, user)).map((r) => r.fanId).sort()).toEqual(["dup-1", "dup-2"]);
  });
});
