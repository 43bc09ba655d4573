/** The publisher's REST routes through the gateway: plugins, preview, credentials (write-only), publish, publications. */
import type { ServiceBroker } from "moleculer";
import { startFakePlatforms, type FakePlatforms } from "../fakes/platforms";
import { restClient } from "../helpers/http";
import { createTestDatabase, freePort, startBroker, token, type TestDatabase } from "../helpers/env";

let db: TestDatabase;
let fakes: FakePlatforms;
let broker: ServiceBroker;
let api: ReturnType<typeof restClient>;
let viewer: ReturnType<typeof restClient>;

beforeAll(async () => {
  db = await createTestDatabase();
  fakes = await startFakePlatforms();
  Object.assign(process.env, fakes.env, { CREDENTIALS_KEYS: "k1:" + Buffer.alloc(32, 5).toString("base64"), PUBLISH_POLL_INTERVAL_MS: "5" });
  const port = await freePort();
  broker = await startBroker({ databaseUrl: db.url, port, services: ["campaigns", "publisher", "api"], jobsProcessEveryMs: 100 });
  api = restClient(`http://127.0.0.1:${port}`, await token("rest-pub"));
  viewer = restClient(`http://127.0.0.1:${port}`, await token("rest-viewer", { role: "viewer" }));
});

afterAll(async () => {
  await broker?.stop();
  await fakes?.close();
  await db?.drop();
});

it("serves plugins and previews", async () => {
  const plugins = await api("GET", "/api/plugins");
  expect(plugins.status).toBe(200);
  expect(plugins.body.plugins).toHaveLength(4);
  const preview = await api("POST", "/api/publisher/preview", { content: { title: "T", subreddit: "pics" }, platforms: ["reddit", "instagram"] });
  expect(preview.status).toBe(200);
  expect(preview.body.reddit.payload).toMatchObject({ sr: "pics", title: "T", kind: "self" });
  expect(preview.body.instagram.problems[0]).toMatchObject({ field: "mediaUrls", type: "mediaRequired" });
  const bad = await api("POST", "/api/publisher/preview", { content: { price: -1 }, platforms: ["reddit"] });
  expect(bad.status).toBe(422);
});

it("stores credentials write-only and publishes a campaign", async () => {
  expect((await viewer("PUT", "/api/credentials/reddit", { credentials: { accessToken: "a", username: "u" } })).status).toBe(403);
  const put = await api("PUT", "/api/credentials/reddit", { credentials: { accessToken: "rest-SECRET", username: "restuser" } });
  expect(put.status).toBe(200);
  expect(JSON.stringify(put.body)).not.toContain("SECRET");
  fakes.reddit.users.set("rest-SECRET", "restuser");

  const created = await api("POST", "/api/campaigns", { name: "REST", type: "promotion", platforms: ["reddit"], content: { title: "Via REST", subreddit: "pics", description: "Hi" } });
  const published = await api("POST", `/api/campaigns/${created.body.id}/publish`, {});
  expect(published.status).toBe(202);
  let rows: any[] = [];
  for (let i = 0; i < 100 && rows[0]?.state !== "published"; i++) {
    rows = (await api("GET", `/api/campaigns/${created.body.id}/publications`)).body.publications;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(rows[0]).toMatchObject({ platform: "reddit", state: "published", attempts: 1 });
  expect(fakes.reddit.posts.filter((p) => p.title === "Via REST")).toHaveLength(1);
  expect((await viewer("GET", `/api/campaigns/${created.body.id}/publications`)).status).toBe(404);
  expect((await api("DELETE", "/api/credentials/reddit")).status).toBe(200);
});
