/**
 * The design's first end-to-end flow over REST, every service real (campaigns, publisher, analytics on
 * PostgreSQL; Reddit is the fake platform): create from a template → schedule → the scheduler launches it
 * and it is published once → track impressions, clicks and conversions with cost → metrics and ROI →
 * spend reaches the campaign's budget guard → complete → the template learns the campaign's ROI.
 */
import type { ServiceBroker } from "moleculer";
import { startFakePlatforms, type FakePlatforms } from "../fakes/platforms";
import { restClient } from "../helpers/http";
import { createTestDatabase, freePort, startBroker, token, type TestDatabase } from "../helpers/env";
import { waitFor } from "../helpers/process";

jest.setTimeout(60_000);

let db: TestDatabase;
let fakes: FakePlatforms;
let broker: ServiceBroker;
let api: ReturnType<typeof restClient>;

beforeAll(async () => {
  db = await createTestDatabase();
  fakes = await startFakePlatforms();
  Object.assign(process.env, fakes.env, { CREDENTIALS_KEYS: "k1:" + Buffer.alloc(32, 7).toString("base64"), PUBLISH_POLL_INTERVAL_MS: "5" });
  const port = await freePort();
  broker = await startBroker({ databaseUrl: db.url, port, services: ["campaigns", "publisher", "analytics", "api"], jobsProcessEveryMs: 200 });
  api = restClient(`http://127.0.0.1:${port}`, await token("flow-creator"));
});

afterAll(async () => {
  await broker?.stop();
  await fakes?.close();
  await db?.drop();
});

it("create → schedule → launch → publish → track → metrics → budget → complete", async () => {
  expect((await api("PUT", "/api/credentials/reddit", { credentials: { accessToken: "flow-token", username: "flowuser" } })).status).toBe(200);
  fakes.reddit.users.set("flow-token", "flowuser");

  const created = await api("POST", "/api/templates/gaming-game-tutorial-series/campaigns", {
    variables: { gameName: "Hollow Knight" },
    platforms: ["reddit"],
    budget: 50,
    content: { subreddit: "pics" },
  });
  expect(created.status).toBe(201);
  const id = created.body.id;
  expect(created.body.content.title).toBe("Master Hollow Knight - Pro Tips 🏆");

  const scheduled = await api("POST", `/api/campaigns/${id}/schedule`, { scheduledFor: new Date(Date.now() + 1_500).toISOString() });
  expect(scheduled.status).toBe(200);
  expect(scheduled.body.campaign.status).toBe("scheduled");

  await waitFor(async () => (await api("GET", `/api/campaigns/${id}`)).body.status === "active", 20_000);
  await waitFor(async () => (await api("GET", `/api/campaigns/${id}/publications`)).body.publications[0]?.state === "published", 20_000);
  expect(fakes.reddit.posts.filter((p) => p.title.includes("Hollow Knight"))).toHaveLength(1);

  const events = [
    ...Array.from({ length: 40 }, (_, i) => ({ type: "impression", fanId: `fan-${i}`, eventId: `imp-${i}`, cost: 0.5 })),
    ...Array.from({ length: 10 }, (_, i) => ({ type: "click", fanId: `fan-${i}`, eventId: `clk-${i}` })),
    ...Array.from({ length: 4 }, (_, i) => ({ type: "conversion", fanId: `fan-${i}`, eventId: `cnv-${i}`, value: 14.99 })),
  ].map((e) => ({ ...e, campaignId: id, platform: "reddit" }));
  const tracked = await api("POST", "/api/track/batch", { events });
  expect(tracked.status).toBe(200);
  expect(tracked.body).toMatchObject({ new: 54, duplicates: 0 });
  // Retrying the same batch changes nothing.
  expect((await api("POST", "/api/track/batch", { events })).body).toMatchObject({ new: 0, duplicates: 54 });

  const metrics = await api("GET", `/api/campaigns/${id}/metrics`);
  expect(metrics.status).toBe(200);
  expect(JSON.stringify(metrics.body)).toContain('"impressions":40');
  const roi = await api("GET", `/api/campaigns/${id}/roi`);
  expect(roi.body).toMatchObject({ revenue: 59.96, spent: 20, conversions: 4 });
  expect(roi.body.roi).toBeCloseTo((59.96 - 20) / 20, 6);

  // The spend reached the campaign through the bus (once per event), under the budget: still active.
  await waitFor(async () => (await api("GET", `/api/campaigns/${id}`)).body.spent === 20, 10_000);
  expect((await api("GET", `/api/campaigns/${id}`)).body.status).toBe("active");

  // More spend past the budget pauses the campaign.
  const costly = Array.from({ length: 70 }, (_, i) => ({ type: "impression", campaignId: id, platform: "reddit", eventId: `imp2-${i}`, cost: 0.5 }));
  expect((await api("POST", "/api/track/batch", { events: costly })).body.new).toBe(70);
  await waitFor(async () => {
    const c = (await api("GET", `/api/campaigns/${id}`)).body;
    return c.status === "paused" && c.spent === 55;
  }, 10_000);
  const paused = (await api("GET", `/api/campaigns/${id}`)).body;
  expect(paused).toMatchObject({ spent: 55, statusReason: "budget_exhausted" });

  const completed = await api("POST", `/api/campaigns/${id}/complete`, {});
  expect(completed.body.status).toBe("completed");
  const templates = (await api("GET", "/api/templates?niche=gaming")).body;
  const template = templates.find((t: { id: string }) => t.id === "gaming-game-tutorial-series");
  expect(template.usageCount).toBe(1);
  expect(template.avgPerformance).toBeCloseTo((59.96 - 55) / 55, 6);
});
