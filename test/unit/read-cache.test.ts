/**
 * The read cache never answers a call a fresh call would refuse, and every write shows on the next read:
 * with the memory cacher (embedded) and the Redis cacher (REDIS_URL), through the REST gateway.
 * Regression for the Cacher running before the Validator (lib/middlewares.ts) and for cache keys in which
 * a bad value could look like a good one or which cleaning patterns did not match (lib/cache-keys.ts).
 */
import crypto from "node:crypto";
import type { ServiceBroker } from "moleculer";
import { createTestDatabase, freePort, startBroker, token, type TestDatabase } from "../helpers/env";
import { restClient } from "../helpers/http";

jest.setTimeout(60_000);

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

describe.each([
  ["memory cacher", undefined],
  ["Redis cacher", REDIS_URL],
])("%s", (_name, redisUrl) => {
  let broker: ServiceBroker;
  let asUser: ReturnType<typeof restClient>;

  beforeAll(async () => {
    const port = await freePort();
    broker = await startBroker({
      databaseUrl: db.url,
      port,
      redisUrl,
      // Keys and budgets of this run stay apart from other runs on the shared Redis.
      namespace: `t-${crypto.randomBytes(4).toString("hex")}`,
      services: ["api", "campaigns", "segmentation", "automation", "analytics"],
    });
    // A user of its own per run: cache keys carry the user, and the Redis cacher is shared by every run.
    asUser = restClient(`http://127.0.0.1:${port}`, await token(`cache-${crypto.randomBytes(4).toString("hex")}`));
  });

  afterAll(async () => {
    await broker?.stop();
  });

  describe("campaigns", () => {
    it("a cached template list still refuses parameters it does not declare or values it does not accept", async () => {
      const first = await asUser("GET", "/api/templates?niche=fitness");
      expect(first.status).toBe(200);
      expect(first.body.length).toBeGreaterThan(0);
      // Same cache key as the cached answer before the fix (the key only looks at niche and type).
      const unknown = await asUser("GET", "/api/templates?niche=fitness&bogus=1");
      expect(unknown.status).toBe(422);
      expect(unknown.body.error.data).toEqual([expect.objectContaining({ field: "bogus", type: "objectStrict" })]);
      const bad = await asUser("GET", "/api/templates?niche=fitness&type=nope");
      expect(bad.status).toBe(422);
      expect(bad.body.error.data).toEqual([expect.objectContaining({ field: "type" })]);
      // And the good one is still served.
      expect((await asUser("GET", "/api/templates?niche=fitness")).body).toEqual(first.body);
    });

    it("a saved template shows in the next (cached) template list; a change shows on the next get", async () => {
      const campaign = (await asUser("POST", "/api/campaigns", { name: "Spring", type: "promotion", platforms: ["reddit"], content: { title: "Hi" } })).body;
      const before = await asUser("GET", "/api/templates?niche=gaming");
      expect(before.status).toBe(200);
      expect(before.body.map((t: { name: string }) => t.name)).not.toContain("My spring template");
      expect((await asUser("POST", `/api/campaigns/${campaign.id}/save-as-template`, { name: "My spring template", niche: "gaming" })).status).toBe(201);
      const after = await asUser("GET", "/api/templates?niche=gaming");
      expect(after.body.map((t: { name: string }) => t.name)).toContain("My spring template");

      expect((await asUser("GET", `/api/campaigns/${campaign.id}`)).body.name).toBe("Spring");
      expect((await asUser("PATCH", `/api/campaigns/${campaign.id}`, { name: "Spring sale" })).status).toBe(200);
      expect((await asUser("GET", `/api/campaigns/${campaign.id}`)).body.name).toBe("Spring sale");
      expect((await asUser("GET", `/api/campaigns/${campaign.id}?bogus=1`)).status).toBe(422);
      expect((await asUser("DELETE", `/api/campaigns/${campaign.id}`)).status).toBe(200);
      expect((await asUser("GET", `/api/campaigns/${campaign.id}`)).status).toBe(404);
    });

    it("new events show in the next (cached) campaign metrics", async () => {
      const campaign = (await asUser("POST", "/api/campaigns", { name: "Tracked", type: "promotion", platforms: ["reddit"], content: { title: "Hi" } })).body;
      const metrics = () => asUser("GET", `/api/campaigns/${campaign.id}/metrics`);
      expect((await metrics()).body.impressions).toBe(0);
      expect((await asUser("GET", `/api/campaigns/${campaign.id}/metrics?bogus=1`)).status).toBe(422);
      expect((await asUser("POST", "/api/track", { type: "impression", campaignId: campaign.id, platform: "reddit" })).status).toBe(201);
      expect((await metrics()).body.impressions).toBe(1);
    });
  });

  describe("segments", () => {
    const criteria = { field: "spendingLevel", op: "eq", value: "high" };

    it("a cached size still refuses unknown parameters and criteria that only resemble the cached ones", async () => {
      expect((await asUser("POST", "/api/fans", { id: "whale", spendingLevel: "high" })).status).toBe(201);
      const size = await asUser("POST", "/api/segments/size", { criteria });
      expect(size.status).toBe(200);
      expect(size.body.size).toBe(1);
      const unknown = await asUser("POST", "/api/segments/size", { criteria, bogus: 1 });
      expect(unknown.status).toBe(422);
      expect(unknown.body.error.data).toEqual([expect.objectContaining({ field: "bogus" })]);
      // Moleculer's default key writes this object exactly as it writes `criteria` (key|value|key|value…).
      const lookalike = await asUser("POST", "/api/segments/size", { criteria: { 'field|"spendingLevel"|op': "eq", value: "high" } });
      expect(lookalike.status).toBe(422);
    });

    it("a change to a segment shows on the next get and list", async () => {
      const segment = (await asUser("POST", "/api/segments", { name: "Picked", type: "static" })).body;
      expect((await asUser("GET", `/api/segments/${segment.id}`)).body.name).toBe("Picked");
      expect((await asUser("PATCH", `/api/segments/${segment.id}`, { name: "Hand-picked" })).status).toBe(200);
      expect((await asUser("GET", `/api/segments/${segment.id}`)).body.name).toBe("Hand-picked");
      const listed = (await asUser("GET", "/api/segments?type=static")).body.items as Array<{ id: string; name: string }>;
      expect(listed.find((s) => s.id === segment.id)?.name).toBe("Hand-picked");
      expect((await asUser("GET", `/api/segments/${segment.id}?bogus=1`)).status).toBe(422);
    });
  });

  describe("automations", () => {
    it("a change to a workflow shows on the next get and list; bad parameters are refused", async () => {
      const trigger = { type: "event", event: "custom.ping" };
      const actions = [{ type: "send_message", template: "welcome_message" }];
      const created = await asUser("POST", "/api/automations", { name: "Ping flow", trigger, actions });
      expect(created.status).toBe(201);
      const id = created.body.id;
      expect((await asUser("GET", `/api/automations/${id}`)).body.name).toBe("Ping flow");
      expect((await asUser("PATCH", `/api/automations/${id}`, { name: "Pong flow" })).status).toBe(200);
      expect((await asUser("GET", `/api/automations/${id}`)).body.name).toBe("Pong flow");
      const listed = (await asUser("GET", "/api/automations")).body.items as Array<{ id: string; name: string }>;
      expect(listed.find((w) => w.id === id)?.name).toBe("Pong flow");
      expect((await asUser("GET", `/api/automations/${id}?bogus=1`)).status).toBe(422);
      expect((await asUser("GET", "/api/automations?status=nope")).status).toBe(422);
    });
  });
});
