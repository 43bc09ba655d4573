/** Analytics through the REST gateway (in-process broker, real HTTP): tracking routes and report downloads. */
import type { ServiceBroker } from "moleculer";
import { createTestDatabase, freePort, startBroker, token, type TestDatabase } from "../helpers/env";
import { restClient } from "../helpers/http";

jest.setTimeout(60_000);

let db: TestDatabase;
let broker: ServiceBroker;
let asA: ReturnType<typeof restClient>;
let asB: ReturnType<typeof restClient>;
let baseUrl: string;
let campaignId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  broker = await startBroker({ databaseUrl: db.url, services: ["campaigns", "analytics", "api"], port, grpcPort: await freePort() });
  asA = restClient(baseUrl, await token("rest-an-a"));
  asB = restClient(baseUrl, await token("rest-an-b"));
  campaignId = (await asA("POST", "/api/campaigns", { name: "REST analytics", type: "ppv" })).body.id;
});

afterAll(async () => {
  await broker?.stop();
  await db?.drop();
});

it("tracks one event (201, then 200 for the retry) and batches with new/duplicate counts", async () => {
  const one = { type: "click", campaignId, platform: "tiktok", fanId: "f1", eventId: "r-1" };
  expect((await asA("POST", "/api/track", one)).status).toBe(201);
  const retry = await asA("POST", "/api/track", one);
  expect(retry).toMatchObject({ status: 200, body: { eventId: "r-1", duplicate: true } });
  const batch = await asA("POST", "/api/track/batch", { events: [one, { ...one, eventId: "r-2", type: "conversion", value: 12 }] });
  expect(batch).toMatchObject({ status: 200, body: { accepted: 2, new: 1, duplicates: 1 } });
  const metrics = await asA("GET", `/api/campaigns/${campaignId}/metrics`);
  expect(metrics.body).toMatchObject({ clicks: 1, conversions: 1, revenue: 12 });
});

it("answers 422 with field details for bad events and 404 for another owner's campaign", async () => {
  const bad = await asA("POST", "/api/track/batch", { events: [{ type: "click", campaignId, platform: "x" }] });
  expect(bad.status).toBe(422);
  expect(bad.body.error.data[0].field).toBe("events[0].platform");
  expect((await asB("GET", `/api/campaigns/${campaignId}/roi`)).status).toBe(404);
  expect((await asB("POST", "/api/track", { type: "click", campaignId, platform: "tiktok" })).status).toBe(404);
});

it("downloads reports with the right content type", async () => {
  const pdf = await fetch(`${baseUrl}/api/campaigns/${campaignId}/report?format=pdf`, { headers: { authorization: `Bearer ${await token("rest-an-a")}` } });
  expect(pdf.status).toBe(200);
  expect(pdf.headers.get("content-type")).toBe("application/pdf");
  expect(Buffer.from(await pdf.arrayBuffer()).subarray(0, 5).toString()).toBe("%PDF-");
  const csv = await asA("GET", `/api/campaigns/${campaignId}/report?format=csv`);
  expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8");
  expect(csv.headers.get("content-disposition")).toContain(".csv");
  expect(String(csv.body)).toMatch(/^section,key,impressions/);
  expect((await asA("GET", `/api/campaigns/${campaignId}/report?format=doc`)).status).toBe(422);
});

it("serves the owner-wide routes", async () => {
  for (const path of ["/api/analytics/trends?timeframe=hour", "/api/analytics/top?limit=5", "/api/analytics/patterns", "/api/analytics/recommendations", `/api/campaigns/${campaignId}/funnel`, `/api/campaigns/${campaignId}/platforms`]) {
    expect([path, (await asA("GET", path)).status]).toEqual([path, 200]);
  }
  const other = (await asA("POST", "/api/campaigns", { name: "Other", type: "promotion" })).body.id;
  const compare = await asA("POST", "/api/analytics/compare", { campaignIds: [campaignId, other] });
  expect(compare.status).toBe(200);
  expect(compare.body.campaigns).toHaveLength(2);
});
