/**
 * Campaign lifecycle, scheduler, throttling, budget guard, templates and duplication on a real database.
 * The publisher is stood in for by a recording service with the publisher's action name (the real one is
 * tested on its own); everything else is the production code.
 */
import type { ServiceBroker, ServiceSchema } from "moleculer";
import { TRANSITIONS, type LifecycleAction } from "../../services/campaigns/lifecycle";
import { SYSTEM_TEMPLATES } from "../../services/campaigns/templates";
import type { CampaignStatus } from "../../services/campaigns/schema";
import { UnprocessableError } from "../../lib/errors";
import { as, createTestDatabase, startBroker, type TestDatabase } from "../helpers/env";

jest.setTimeout(60_000);

let db: TestDatabase;
let broker: ServiceBroker;
const published: Array<{ campaignId: string; platforms: string[] }> = [];
const events: Array<{ name: string; params: any }> = [];

const recordingPublisher: ServiceSchema = {
  name: "publisher",
  actions: {
    publish: {
      permission: "write",
      handler(ctx: any) {
        published.push({ campaignId: ctx.params.campaignId, platforms: ctx.params.platforms });
        if (ctx.params.content.title === "unpublishable") {
          throw new UnprocessableError("reddit cannot take this", [{ field: "reddit.title", message: "too long", type: "platform" }]);
        }
        return { publications: ctx.params.platforms.map((p: string) => ({ platform: p, id: `att-${p}`, state: "pending" })) };
      },
    },
  },
} as ServiceSchema;

const eventRecorder: ServiceSchema = {
  name: "event-recorder",
  events: {
    "campaigns.**"(ctx: any) {
      events.push({ name: ctx.eventName, params: ctx.params });
    },
  },
};

async function boot(overrides = {}) {
  return startBroker({ databaseUrl: db.url, services: ["campaigns"], jobsProcessEveryMs: 200, ...overrides }, [recordingPublisher, eventRecorder]);
}

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await boot({ launchesPerMinute: 1000 });
});

afterAll(async () => {
  await broker?.stop();
  await db?.drop();
});

const launchable = { name: "Launchable", type: "ppv", platforms: ["onlyfans", "reddit"], content: { title: "New set", description: "Out now" } };
const inFuture = (ms: number) => new Date(Date.now() + ms).toISOString();

async function campaignIn(status: CampaignStatus, owner = "life") {
  const u = as(owner);
  const c: any = await broker.call("campaigns.create", launchable, u);
  if (status === "draft") return c;
  if (status === "scheduled") return (await broker.call<any, any>("campaigns.schedule", { id: c.id, scheduledFor: inFuture(3_600_000) }, u)).campaign;
  if (status === "cancelled") return broker.call("campaigns.cancel", { id: c.id }, u);
  await broker.call("campaigns.launch", { id: c.id }, u);
  if (status === "active") return c;
  if (status === "paused") return broker.call("campaigns.pause", { id: c.id }, u);
  return broker.call("campaigns.complete", { id: c.id }, u);
}

function callFor(action: LifecycleAction, id: string): [string, Record<string, unknown>] {
  return action === "schedule" ? ["campaigns.schedule", { id, scheduledFor: inFuture(7_200_000) }] : [`campaigns.${action}`, { id }];
}

describe("transition table", () => {
  const statuses: CampaignStatus[] = ["draft", "scheduled", "active", "paused", "completed", "cancelled"];
  const actions = Object.keys(TRANSITIONS) as LifecycleAction[];
  const pairs = statuses.flatMap((s) => actions.map((a) => [s, a] as const));

  it.each(pairs)("from %s, %s", async (status, action) => {
    const c: any = await campaignIn(status);
    const [name, params] = callFor(action, c.id);
    const allowed = TRANSITIONS[action].from.includes(status);
    const outcome: any = await broker.call(name, params, as("life")).then(
      (r) => ({ ok: true, r }),
      (e) => ({ ok: false, e }),
    );
    if (allowed) {
      expect(outcome.ok).toBe(true);
      const after: any = await broker.call("campaigns.get", { id: c.id }, as("life"));
      expect(after.status).toBe(TRANSITIONS[action].to);
    } else {
      expect(outcome.ok).toBe(false);
      expect(outcome.e.code).toBe(409);
      expect(outcome.e.data.currentStatus).toBe(status);
      expect(outcome.e.message).toContain(status);
      const after: any = await broker.call("campaigns.get", { id: c.id }, as("life"));
      expect(after.status).toBe(status);
    }
  });

  it("another owner gets 404 from every lifecycle route", async () => {
    const c: any = await campaignIn("active");
    for (const action of actions) {
      const [name, params] = callFor(action, c.id);
      await expect(broker.call(name, params, as("intruder"))).rejects.toMatchObject({ code: 404 });
    }
  });
});

describe("launch", () => {
  it("publishes to every platform, sets startedAt, emits launched and returns per-platform outcomes", async () => {
    const c: any = await broker.call("campaigns.create", launchable, as("launcher"));
    const result: any = await broker.call("campaigns.launch", { id: c.id }, as("launcher"));
    expect(result.campaign.status).toBe("active");
    expect(result.campaign.startedAt).toBeInstanceOf(Date);
    expect(result.outcomes).toEqual([
      { platform: "onlyfans", status: "queued", attemptId: "att-onlyfans" },
      { platform: "reddit", status: "queued", attemptId: "att-reddit" },
    ]);
    expect(published.filter((p) => p.campaignId === c.id)).toEqual([{ campaignId: c.id, platforms: ["onlyfans", "reddit"] }]);
    await new Promise((r) => setTimeout(r, 50));
    expect(events.some((e) => e.name === "campaigns.campaign.launched" && e.params.campaign.id === c.id)).toBe(true);
  });

  it("refuses a campaign without content or platforms, or that a platform cannot take (422), changing nothing", async () => {
    const noContent: any = await broker.call("campaigns.create", { name: "x", type: "ppv", platforms: ["tiktok"], content: {} }, as("launcher"));
    const err: any = await broker.call("campaigns.launch", { id: noContent.id }, as("launcher")).catch((e) => e);
    expect(err.code).toBe(422);
    expect(err.data.map((d: any) => d.field)).toEqual(["content"]);
    const noPlatforms: any = await broker.call("campaigns.create", { name: "x", type: "ppv", content: { title: "t" } }, as("launcher"));
    await expect(broker.call("campaigns.launch", { id: noPlatforms.id }, as("launcher"))).rejects.toMatchObject({ code: 422 });
    // The publisher's own 422 (a platform cannot take the content) stops the launch too.
    const refused: any = await broker.call("campaigns.create", { name: "x", type: "ppv", platforms: ["reddit"], content: { title: "unpublishable" } }, as("launcher"));
    const pubErr: any = await broker.call("campaigns.launch", { id: refused.id }, as("launcher")).catch((e) => e);
    expect(pubErr.code).toBe(422);
    expect(pubErr.data[0].field).toBe("reddit.title");
    for (const c of [noContent, noPlatforms, refused]) {
      expect(((await broker.call("campaigns.get", { id: c.id }, as("launcher"))) as any).status).toBe("draft");
    }
  });

  it("throttles launches per owner per minute with 429 and a retry-after", async () => {
    const throttled = await boot({ launchesPerMinute: 2, nodeId: "throttle-node" });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(((await throttled.call("campaigns.create", launchable, as("busy"))) as any).id);
      await throttled.call("campaigns.launch", { id: ids[0] }, as("busy"));
      await throttled.call("campaigns.launch", { id: ids[1] }, as("busy"));
      const err: any = await throttled.call("campaigns.launch", { id: ids[2] }, as("busy")).catch((e) => e);
      expect(err.code).toBe(429);
      expect(err.data.retryAfter).toBeGreaterThanOrEqual(1);
      expect(err.data.retryAfter).toBeLessThanOrEqual(60);
      expect(((await throttled.call("campaigns.get", { id: ids[2] }, as("busy"))) as any).status).toBe("draft");
      // Another owner has their own budget of launches.
      const other: any = await throttled.call("campaigns.create", launchable, as("calm"));
      await expect(throttled.call("campaigns.launch", { id: other.id }, as("calm"))).resolves.toMatchObject({ campaign: { status: "active" } });
    } finally {
      await throttled.stop();
    }
  });
});

describe("scheduling", () => {
  it("refuses a date in the past", async () => {
    const c: any = await broker.call("campaigns.create", launchable, as("sched"));
    const err: any = await broker.call("campaigns.schedule", { id: c.id, scheduledFor: new Date(Date.now() - 1000).toISOString() }, as("sched")).catch((e) => e);
    expect(err.code).toBe(422);
    expect(err.data[0].field).toBe("scheduledFor");
  });

  it("reports conflicts on a shared platform within the window and emits an event", async () => {
    const u = as("conflicted");
    const at = Date.now() + 3_600_000;
    const a: any = await broker.call("campaigns.create", { ...launchable, name: "A", platforms: ["reddit"] }, u);
    const b: any = await broker.call("campaigns.create", { ...launchable, name: "B", platforms: ["reddit", "tiktok"] }, u);
    const far: any = await broker.call("campaigns.create", { ...launchable, name: "Far", platforms: ["reddit"] }, u);
    const other: any = await broker.call("campaigns.create", { ...launchable, name: "Other platform", platforms: ["instagram"] }, u);
    await broker.call("campaigns.schedule", { id: far.id, scheduledFor: new Date(at + 2 * 3_600_000).toISOString() }, u);
    await broker.call("campaigns.schedule", { id: other.id, scheduledFor: new Date(at).toISOString() }, u);
    const first: any = await broker.call("campaigns.schedule", { id: a.id, scheduledFor: new Date(at).toISOString() }, u);
    expect(first.conflicts).toEqual([]);
    const second: any = await broker.call("campaigns.schedule", { id: b.id, scheduledFor: new Date(at + 10 * 60_000).toISOString() }, u);
    expect(second.campaign.status).toBe("scheduled");
    expect(second.conflicts).toEqual([{ id: a.id, name: "A", scheduledFor: new Date(at), platforms: ["reddit"] }]);
    await new Promise((r) => setTimeout(r, 50));
    expect(events.some((e) => e.name === "campaigns.schedule.conflict" && e.params.campaign.id === b.id)).toBe(true);
  });

  it("launches at the scheduled time exactly once, even across a broker restart", async () => {
    const u = as("durable");
    const c: any = await broker.call("campaigns.create", launchable, u);
    await broker.call("campaigns.schedule", { id: c.id, scheduledFor: inFuture(2_000) }, u);
    await broker.stop();
    // Nothing runs while no broker is up; the job waits in the database.
    await new Promise((r) => setTimeout(r, 2_500));
    broker = await boot({ launchesPerMinute: 1000 });
    const deadline = Date.now() + 15_000;
    let status = "scheduled";
    while (Date.now() < deadline && status !== "active") {
      await new Promise((r) => setTimeout(r, 200));
      status = ((await broker.call("campaigns.get", { id: c.id }, u)) as any).status;
    }
    expect(status).toBe("active");
    await new Promise((r) => setTimeout(r, 1_000));
    expect(published.filter((p) => p.campaignId === c.id)).toHaveLength(1);
  });

  it("rescheduling replaces the job and cancelling removes it", async () => {
    const u = as("resched");
    const c: any = await broker.call("campaigns.create", launchable, u);
    await broker.call("campaigns.schedule", { id: c.id, scheduledFor: inFuture(800) }, u);
    await broker.call("campaigns.schedule", { id: c.id, scheduledFor: inFuture(3_600_000) }, u);
    const d: any = await broker.call("campaigns.create", launchable, u);
    await broker.call("campaigns.schedule", { id: d.id, scheduledFor: inFuture(800) }, u);
    await broker.call("campaigns.cancel", { id: d.id }, u);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(((await broker.call("campaigns.get", { id: c.id }, u)) as any).status).toBe("scheduled");
    expect(((await broker.call("campaigns.get", { id: d.id }, u)) as any).status).toBe("cancelled");
    expect(published.filter((p) => p.campaignId === c.id || p.campaignId === d.id)).toHaveLength(0);
  });
});

describe("budget", () => {
  it("keeps spent exact under 200 concurrent spends and pauses exactly once", async () => {
    const u = as("spender");
    const c: any = await broker.call("campaigns.create", { ...launchable, budget: 100 }, u);
    await broker.call("campaigns.launch", { id: c.id }, u);
    events.length = 0;
    await Promise.all(Array.from({ length: 200 }, (_, i) => broker.call("campaigns.recordSpend", { id: c.id, amount: 0.75, eventId: `e${i}` }, u)));
    const after: any = await broker.call("campaigns.get", { id: c.id }, u);
    expect(after.spent).toBeCloseTo(150, 9);
    expect(after.status).toBe("paused");
    expect(after.statusReason).toBe("budget_exhausted");
    await new Promise((r) => setTimeout(r, 100));
    const mine = (name: string) => events.filter((e) => e.name === name && e.params.campaign.id === c.id);
    expect(mine("campaigns.budget.exhausted")).toHaveLength(1);
    expect(mine("campaigns.campaign.paused")).toHaveLength(1);
    // 150 > 110: the overspend alarm event fired once, when the line was crossed.
    expect(mine("campaigns.budget.overspend")).toHaveLength(1);
  });

  it("applies a spend event once however often it arrives, and refuses to resume an exhausted campaign", async () => {
    const u = as("spender2");
    const c: any = await broker.call("campaigns.create", { ...launchable, budget: 10 }, u);
    await broker.call("campaigns.launch", { id: c.id }, u);
    for (let i = 0; i < 3; i++) await broker.call("campaigns.recordSpend", { id: c.id, amount: 4, eventId: "same" }, u);
    expect(((await broker.call("campaigns.get", { id: c.id }, u)) as any).spent).toBe(4);
    // Spend arriving from analytics on the bus, replayed twice.
    broker.emit("analytics.spend.recorded", { campaignId: c.id, amount: 7, eventId: "bus-1", ownerId: "spender2" });
    broker.emit("analytics.spend.recorded", { campaignId: c.id, amount: 7, eventId: "bus-1", ownerId: "spender2" });
    await new Promise((r) => setTimeout(r, 300));
    const after: any = await broker.call("campaigns.get", { id: c.id }, u);
    expect(after.spent).toBe(11);
    expect(after.status).toBe("paused");
    await expect(broker.call("campaigns.resume", { id: c.id }, u)).rejects.toMatchObject({ code: 409, type: "BUDGET_EXHAUSTED" });
    await broker.call("campaigns.update", { id: c.id, budget: 50 }, u);
    await expect(broker.call("campaigns.resume", { id: c.id }, u)).resolves.toMatchObject({ status: "active" });
  });

  it("refuses to launch with an exhausted budget", async () => {
    const u = as("spender3");
    const c: any = await broker.call("campaigns.create", { ...launchable, budget: 5 }, u);
    await broker.call("campaigns.recordSpend", { id: c.id, amount: 5 }, u);
    const err: any = await broker.call("campaigns.launch", { id: c.id }, u).catch((e) => e);
    expect(err.code).toBe(422);
    expect(err.data[0].field).toBe("budget");
  });
});

describe("templates", () => {
  it("seeds the library once, however many times the service starts", async () => {
    const all: any[] = await broker.call("campaigns.listTemplates", {}, as("tpl"));
    expect(all).toHaveLength(SYSTEM_TEMPLATES.length);
    const again = await boot({ nodeId: "second-start" });
    await again.stop();
    const count = await broker.call<any[], any>("campaigns.listTemplates", {}, as("tpl-2"));
    expect(count).toHaveLength(SYSTEM_TEMPLATES.length);
    const fitness: any[] = await broker.call("campaigns.listTemplates", { niche: "fitness" }, as("tpl"));
    expect(fitness.map((t) => t.name).sort()).toEqual(["30-Day Workout Challenge", "Meal Plan Bundle"]);
    const workout = fitness.find((t) => t.name === "30-Day Workout Challenge");
    expect(workout).toMatchObject({ type: "ppv", content: { price: 49.99, cta: "Start Your Transformation" }, defaultSettings: { goals: { conversions: 50, revenue: 2500 }, estimatedROI: 3.2 } });
    for (const niche of ["fashion", "general"]) {
      expect(((await broker.call("campaigns.listTemplates", { niche }, as("tpl"))) as any[]).length).toBeGreaterThanOrEqual(2);
    }
  });

  it("fills placeholders in either spelling, counts usage atomically, and names a missing placeholder", async () => {
    const u = as("tpl-user");
    const missing: any = await broker.call("campaigns.createFromTemplate", { id: "gaming-game-tutorial-series" }, u).catch((e) => e);
    expect(missing.code).toBe(422);
    expect(missing.data[0].field).toBe("customization.variables.gameName");

    const results = await Promise.all(
      ["Game Name", "gameName"].flatMap((key) =>
        Array.from({ length: 5 }, () => broker.call<any, any>("campaigns.createFromTemplate", { id: "gaming-game-tutorial-series", variables: { [key]: "Elden Ring" }, platforms: ["reddit"] }, u)),
      ),
    );
    expect(results[0].content.title).toBe("Master Elden Ring - Pro Tips 🏆");
    expect(results[9].content.title).toBe("Master Elden Ring - Pro Tips 🏆");
    expect(results[0]).toMatchObject({ status: "draft", type: "ppv", templateId: "gaming-game-tutorial-series", goals: { conversions: 150, revenue: 2250 } });
    const tpl = ((await broker.call("campaigns.listTemplates", { niche: "gaming" }, u)) as any[]).find((t) => t.id === "gaming-game-tutorial-series");
    expect(tpl.usageCount).toBe(10);
  });

  it("applies a discount to the win-back offer", async () => {
    const c: any = await broker.call("campaigns.createFromTemplate", { id: "win_back_offer", discount: 0.25 }, as("tpl-user"));
    expect(c.content).toMatchObject({ title: "We Miss You — 25% Off to Come Back", price: 14.99, originalPrice: 19.99, discount: 0.25 });
  });

  it("saves a campaign as a private template", async () => {
    const c: any = await broker.call("campaigns.create", { ...launchable, name: "Mine" }, as("saver"));
    const t: any = await broker.call("campaigns.saveAsTemplate", { id: c.id, name: "My formula", niche: "adult" }, as("saver"));
    expect(t).toMatchObject({ name: "My formula", niche: "adult", type: "ppv", content: launchable.content, ownerId: "saver" });
    const mine: any[] = await broker.call("campaigns.listTemplates", { niche: "adult" }, as("saver"));
    expect(mine.map((x) => x.name)).toContain("My formula");
    const theirs: any[] = await broker.call("campaigns.listTemplates", { niche: "adult" }, as("someone-else"));
    expect(theirs.map((x) => x.name)).not.toContain("My formula");
    await expect(broker.call("campaigns.createFromTemplate", { id: t.id }, as("someone-else"))).rejects.toMatchObject({ code: 404 });
  });
});

describe("duplication", () => {
  it("copies as a new draft without schedule or spend, with (copy) or the given name", async () => {
    const u = as("dup");
    const c: any = await broker.call("campaigns.create", { ...launchable, budget: 40, goals: { conversions: 5 } }, u);
    await broker.call("campaigns.launch", { id: c.id }, u);
    await broker.call("campaigns.recordSpend", { id: c.id, amount: 3 }, u);
    const copy: any = await broker.call("campaigns.duplicate", { id: c.id }, u);
    expect(copy.id).not.toBe(c.id);
    expect(copy).toMatchObject({ name: "Launchable (copy)", status: "draft", spent: 0, scheduledFor: null, startedAt: null, budget: 40, goals: { conversions: 5 }, content: launchable.content });
    const renamed: any = await broker.call("campaigns.duplicate", { id: c.id, name: "Round two", budget: 80 }, u);
    expect(renamed).toMatchObject({ name: "Round two", budget: 80 });
    await expect(broker.call("campaigns.duplicate", { id: c.id }, as("not-dup"))).rejects.toMatchObject({ code: 404 });
  });
});
