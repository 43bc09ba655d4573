/** The publisher service on a real database against the fake platforms: actions, pipeline, retries, secrets. */
import crypto from "node:crypto";
import { Client } from "pg";
import type { ServiceBroker } from "moleculer";
import { startFakePlatforms, type FakePlatforms } from "../fakes/platforms";
import { as, createTestDatabase, startBroker, type TestDatabase } from "../helpers/env";
import { retryDelay } from "../../services/publisher/backoff";
import { PublisherStore } from "../../services/publisher/store";
import { CredentialCipher } from "../../services/publisher/credentials-crypto";
import { runtimeOf } from "../../lib/runtime";

let db: TestDatabase;
let broker: ServiceBroker;
let fakes: FakePlatforms;
const events: { name: string; params: any }[] = [];
const KEY_OLD = crypto.randomBytes(32).toString("base64");

beforeAll(async () => {
  db = await createTestDatabase();
  fakes = await startFakePlatforms();
  Object.assign(process.env, fakes.env, {
    CREDENTIALS_KEYS: `k1:${KEY_OLD}`,
    PUBLISH_BACKOFF_BASE_MS: "100",
    PUBLISH_BACKOFF_CAP_MS: "400",
    PUBLISH_HTTP_TIMEOUT_MS: "1500",
    PUBLISH_POLL_INTERVAL_MS: "5",
    PUBLISH_MAX_POLLS: "20",
    PUBLISH_MAX_ATTEMPTS: "3",
    PUBLISHER_RATE_LIMITS: "instagram=6000/100,tiktok=6000/100,reddit=6000/100,onlyfans=6000/100",
  });
  fakes.instagram.faults.hangMs = 2_500;
  fakes.tiktok.faults.hangMs = 2_500;
  broker = await startBroker({ databaseUrl: db.url, services: ["publisher"], jobsProcessEveryMs: 100 });
  await broker.createService({
    name: "event-spy",
    events: {
      "publisher.publish.*"(ctx: any) {
        events.push({ name: ctx.eventName, params: ctx.params });
      },
    },
  });
});

afterAll(async () => {
  await broker?.stop();
  await fakes?.close();
  await db?.drop();
});

const CREDS: Record<string, Record<string, string>> = {
  instagram: { accessToken: "ig-token-SECRET", igUserId: "17841400000000001" },
  tiktok: { accessToken: "tt-token-SECRET" },
  reddit: { accessToken: "rd-token-SECRET", username: "creator" },
  onlyfans: { apiKey: "of-key-SECRET", accountId: "acc-1" },
};

async function connect(user: string, platforms = Object.keys(CREDS)) {
  for (const platform of platforms) await broker.call("publisher.setCredentials", { platform, credentials: CREDS[platform] }, as(user));
}

const VID = "https://cdn.example.com/b.mp4";

async function publications(campaignId: string, user: string) {
  return (await broker.call<any, any>("publisher.publications", { id: campaignId }, as(user))).publications;
}

/** Waits until every publication of the campaign is final. */
async function settled(campaignId: string, user: string, timeoutMs = 25_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const rows = await publications(campaignId, user);
    if (rows.length && rows.every((r: any) => ["published", "failed", "dead_letter"].includes(r.state))) return rows;
    if (Date.now() > until) throw new Error(`not settled: ${JSON.stringify(rows.map((r: any) => [r.platform, r.state, r.attempts]))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("plugins and preview", () => {
  it("lists the loaded plugins with their limits", async () => {
    const res = await broker.call<any, any>("publisher.plugins", {}, as("p-list"));
    expect(res.plugins.map((p: any) => p.id).sort()).toEqual(["instagram", "onlyfans", "reddit", "tiktok"]);
    expect(res.plugins.find((p: any) => p.id === "instagram")).toMatchObject({ displayName: "Instagram", apiVersion: 1, limits: { captionLength: 2200, hashtags: 30 } });
    expect(res.refused).toEqual([]);
  });

  it("previews each platform's payload in its own field names, with problems", async () => {
    const res = await broker.call<any, any>(
      "publisher.preview",
      { content: { title: "Drop", description: "New set", cta: "Unlock", price: 9.99, subreddit: "creators", extra: "ignored" }, mediaUrls: [VID], platforms: ["instagram", "reddit", "tiktok", "onlyfans", "myspace"] },
      as("p-prev"),
    );
    expect(res.instagram.payload).toMatchObject({ caption: "Drop\n\nNew set\n\nUnlock · $9.99", media_type: "REELS" });
    expect(res.reddit.payload).toMatchObject({ sr: "creators", title: "Drop", kind: "link" });
    expect(res.tiktok.payload.post_info.title).toBe("Drop\n\nNew set\n\nUnlock · $9.99");
    expect(res.onlyfans.payload).toMatchObject({ price: 9.99 });
    expect(res.myspace.problems[0]).toMatchObject({ field: "platforms", type: "unknownPlatform" });
  });

  it("rejects malformed input with 422 naming the field", async () => {
    for (const [params, field] of [
      [{ content: {}, platforms: [] }, "platforms"],
      [{ content: { price: "free" }, platforms: ["reddit"] }, "content.price"],
      [{ content: {}, platforms: ["reddit"], mediaUrls: ["not a url"] }, "mediaUrls[0]"],
    ] as const) {
      const err: any = await broker.call("publisher.preview", params, as("p-val")).catch((e) => e);
      expect(err.code).toBe(422);
      expect(err.data.map((d: any) => d.field)).toContain(field);
    }
  });
});

describe("credentials", () => {
  it("stores them encrypted (no plaintext in the row) and never returns them", async () => {
    const res = await broker.call<any, any>("publisher.setCredentials", { platform: "instagram", credentials: CREDS.instagram }, as("c-own"));
    expect(res).toEqual({ platform: "instagram", fields: ["accessToken", "igUserId"], stored: true });
    expect(JSON.stringify(res)).not.toContain("SECRET");
    const listed = await broker.call<any, any>("publisher.credentials", {}, as("c-own"));
    expect(JSON.stringify(listed)).not.toContain("SECRET");
    expect(listed.credentials.map((c: any) => c.platform)).toEqual(["instagram"]);

    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    const { rows } = await pg.query("SELECT * FROM platform_credentials WHERE owner_id = 'c-own'");
    await pg.end();
    expect(rows).toHaveLength(1);
    const raw = JSON.stringify(rows[0]);
    expect(raw).not.toContain("ig-token-SECRET");
    expect(raw).not.toContain("17841400000000001");
    expect(raw).not.toContain(Buffer.from("ig-token-SECRET").toString("base64").slice(0, 12));
    expect(rows[0].key_id).toBe("k1");
  });

  it("refuses missing fields without echoing values, needs 'manage', and deletes", async () => {
    const err: any = await broker.call("publisher.setCredentials", { platform: "reddit", credentials: { accessToken: "x-SECRET" } }, as("c-val")).catch((e) => e);
    expect(err.code).toBe(422);
    expect(err.data).toEqual([{ field: "credentials.username", message: "is required (a non-empty string)", type: "required" }]);
    expect(JSON.stringify(err.data)).not.toContain("SECRET");
    await expect(broker.call("publisher.setCredentials", { platform: "reddit", credentials: CREDS.reddit }, as("c-ed", "editor"))).rejects.toMatchObject({ code: 403 });
    await expect(broker.call("publisher.setCredentials", { platform: "myspace", credentials: { a: "b" } }, as("c-val"))).rejects.toMatchObject({ code: 404 });
    await broker.call("publisher.setCredentials", { platform: "reddit", credentials: CREDS.reddit }, as("c-val"));
    await expect(broker.call("publisher.removeCredentials", { platform: "reddit" }, as("c-val"))).resolves.toEqual({ platform: "reddit", deleted: true });
    await expect(broker.call("publisher.removeCredentials", { platform: "reddit" }, as("c-val"))).rejects.toMatchObject({ code: 404 });
  });

  it("rotates keys: old rows still open and are re-sealed with the new key on use", async () => {
    await connect("c-rot", ["onlyfans"]);
    const service: any = broker.getLocalService("publisher");
    const rotated = new CredentialCipher([{ id: "k2", key: crypto.randomBytes(32) }, { id: "k1", key: Buffer.from(KEY_OLD, "base64") }]);
    const previous = service.pipeline.deps.cipher;
    service.pipeline.deps.cipher = rotated;
    try {
      await expect(service.pipeline.credentialsFor("c-rot", "onlyfans")).resolves.toEqual(CREDS.onlyfans);
      const store = new PublisherStore((await runtimeOf(broker).database()).db);
      expect((await store.sealedCredentials("c-rot", "onlyfans"))!.keyId).toBe("k2");
      await expect(service.pipeline.credentialsFor("c-rot", "onlyfans")).resolves.toEqual(CREDS.onlyfans);
    } finally {
      service.pipeline.deps.cipher = previous;
    }
  });
});

describe("publishing", () => {
  const content = { title: "Launch", description: "Fresh set", cta: "Unlock", price: 9.99, subreddit: "creators", hashtags: ["new"] };

  it("publishes to all four platforms once, and a second request makes no new attempt", async () => {
    await connect("pub-a");
    const first = await broker.call<any, any>("publisher.publish", { campaignId: "camp-a", platforms: ["instagram", "tiktok", "reddit", "onlyfans"], content, mediaUrls: [VID] }, as("pub-a"));
    expect(first.publications.map((p: any) => [p.platform, p.state, p.created])).toEqual([
      ["instagram", "pending", true],
      ["tiktok", "pending", true],
      ["reddit", "pending", true],
      ["onlyfans", "pending", true],
    ]);
    const again = await broker.call<any, any>("publisher.publish", { campaignId: "camp-a", platforms: ["instagram"], content, mediaUrls: [VID] }, as("pub-a"));
    expect(again.publications[0]).toMatchObject({ id: first.publications[0].id, created: false });

    const rows = await settled("camp-a", "pub-a");
    expect(rows.map((r: any) => [r.platform, r.state, r.attempts])).toEqual([
      ["instagram", "published", 1],
      ["onlyfans", "published", 1],
      ["reddit", "published", 1],
      ["tiktok", "published", 1],
    ]);
    expect(rows.every((r: any) => r.externalId)).toBe(true);
    expect(fakes.instagram.posts.filter((p) => p.caption.startsWith("Launch"))).toHaveLength(1);
    expect(fakes.onlyfans.posts.filter((p) => p.idempotencyKey === "camp-a:onlyfans:-")).toHaveLength(1);
    expect(fakes.reddit.posts.filter((p) => p.title === "Launch")).toHaveLength(1);
    expect(fakes.tiktok.posts.filter((p) => p.title.startsWith("Launch"))).toHaveLength(1);
    expect(events.filter((e) => e.name === "publisher.publish.succeeded" && e.params.attempt.campaignId === "camp-a")).toHaveLength(4);
  });

  it("refuses the whole request with 422 reasons when a platform cannot take the content or is not connected", async () => {
    await connect("pub-b", ["instagram"]);
    const err: any = await broker.call("publisher.publish", { campaignId: "camp-b", platforms: ["instagram", "reddit"], content: { title: "x", nsfw: true } }, as("pub-b")).catch((e) => e);
    expect(err.code).toBe(422);
    expect(err.data.map((d: any) => d.field).sort()).toEqual(["instagram.content.nsfw", "instagram.mediaUrls", "reddit.content.subreddit"]);
    const err2: any = await broker.call("publisher.publish", { campaignId: "camp-b", platforms: ["reddit"], content: { title: "x", subreddit: "pics" } }, as("pub-b")).catch((e) => e);
    expect(err2.data).toEqual([expect.objectContaining({ field: "reddit.credentials", type: "credentialsMissing" })]);
    expect(await publications("camp-b", "pub-b")).toEqual([]);
  });

  it("hides another owner's publications", async () => {
    expect(await publications("camp-a", "someone-else")).toEqual([]);
  });

  it("retries a 5xx and a 429, waiting at least the Retry-After", async () => {
    await connect("pub-c", ["reddit"]);
    fakes.reddit.faults.retryAfterSeconds = 1;
    fakes.reddit.queue("5xx", "429");
    const started = Date.now();
    await broker.call("publisher.publish", { campaignId: "camp-c", platforms: ["reddit"], content: { title: "Retry me", subreddit: "pics" } }, as("pub-c"));
    const [row] = await settled("camp-c", "pub-c");
    expect(row).toMatchObject({ state: "published", attempts: 3 });
    expect(row.errors.map((e: any) => e.kind)).toEqual(["retryable", "rate_limited"]);
    expect(row.errors[1].retryInMs).toBeGreaterThanOrEqual(1000);
    const submits = fakes.reddit.requests.filter((r) => r.path === "/api/submit" && r.at >= started);
    expect(submits).toHaveLength(3);
    expect(submits[2].at - submits[1].at).toBeGreaterThanOrEqual(1000);
    expect(fakes.reddit.posts.filter((p) => p.title === "Retry me")).toHaveLength(1);
  });

  it("tries an attempt again soon when its job itself failed (not the platform)", async () => {
    await connect("pub-job", ["reddit"]);
    const pipeline = (broker.getLocalService("publisher") as any).pipeline;
    const run = pipeline.run;
    let failures = 0;
    pipeline.run = async function (this: unknown, id: string) {
      if (failures++ === 0) throw new Error("connection terminated unexpectedly");
      return run.call(this, id);
    };
    try {
      const started = Date.now();
      await broker.call("publisher.publish", { campaignId: "camp-job", platforms: ["reddit"], content: { title: "After a job failure", subreddit: "pics" } }, as("pub-job"));
      const [row] = await settled("camp-job", "pub-job", 10_000);
      expect(row).toMatchObject({ state: "published", attempts: 1 });
      expect(failures).toBeGreaterThanOrEqual(2);
      // Long before the sweep (every minute, for attempts stranded 2 minutes) would have found it.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(fakes.reddit.posts.filter((p) => p.title === "After a job failure")).toHaveLength(1);
    } finally {
      pipeline.run = run;
    }
  });

  it("looks up a post whose answer was lost instead of posting it again", async () => {
    await connect("pub-d", ["instagram", "tiktok"]);
    fakes.instagram.queue("accept-timeout");
    fakes.tiktok.queue("accept-reset");
    await broker.call("publisher.publish", { campaignId: "camp-d", platforms: ["instagram", "tiktok"], content: { title: "Lost answer" }, mediaUrls: [VID] }, as("pub-d"));
    const rows = await settled("camp-d", "pub-d");
    expect(rows.map((r: any) => [r.platform, r.state, r.attempts, r.errors.map((e: any) => e.kind)])).toEqual([
      ["instagram", "published", 2, ["unknown_outcome"]],
      ["tiktok", "published", 2, ["unknown_outcome"]],
    ]);
    expect(fakes.instagram.posts.filter((p) => p.caption === "Lost answer")).toHaveLength(1);
    expect(fakes.tiktok.posts.filter((p) => p.title === "Lost answer")).toHaveLength(1);
    expect(events.find((e) => e.params.attempt?.campaignId === "camp-d")?.params.recovered).toBe(true);
  });

  it("fails at once on expired auth and dead-letters after max attempts, emitting publisher.publish.failed", async () => {
    await connect("pub-e", ["onlyfans", "reddit"]);
    fakes.onlyfans.queue("auth-expired");
    fakes.reddit.queue("5xx", "5xx", "5xx");
    await broker.call("publisher.publish", { campaignId: "camp-e", platforms: ["onlyfans", "reddit"], content: { title: "Doomed", subreddit: "pics" } }, as("pub-e"));
    const rows = await settled("camp-e", "pub-e");
    expect(rows.map((r: any) => [r.platform, r.state, r.attempts])).toEqual([
      ["onlyfans", "failed", 1],
      ["reddit", "dead_letter", 3],
    ]);
    await new Promise((r) => setTimeout(r, 50));
    const failed = events.filter((e) => e.name === "publisher.publish.failed" && e.params.attempt.campaignId === "camp-e");
    expect(failed.map((e) => [e.params.attempt.platform, e.params.reason]).sort()).toEqual([
      ["onlyfans", "auth_expired"],
      ["reddit", "retryable"],
    ]);
    expect(fakes.reddit.posts.filter((p) => p.title === "Doomed")).toHaveLength(0);
  });
});

describe("direct messages", () => {
  it("sends once per idempotency key and says so on a repeat", async () => {
    await connect("dm-a", ["onlyfans", "reddit"]);
    const params = { platform: "onlyfans", fanId: "fan-1", idempotencyKey: "welcome-fan-1", message: { text: "Hi **there**", price: 5 } };
    const first = await broker.call<any, any>("publisher.sendMessage", params, as("dm-a"));
    const second = await broker.call<any, any>("publisher.sendMessage", params, as("dm-a"));
    expect(first).toMatchObject({ sent: true, duplicate: false });
    expect(second).toMatchObject({ externalId: first.externalId, duplicate: true });
    expect(fakes.onlyfans.messages.filter((m) => m.fanId === "fan-1")).toEqual([expect.objectContaining({ text: "Hi there", price: 5 })]);
    await expect(broker.call("publisher.sendMessage", { ...params, platform: "reddit", idempotencyKey: "k-reddit-1" }, as("dm-a"))).rejects.toMatchObject({ code: 422 });
    await expect(broker.call("publisher.sendMessage", { ...params, idempotencyKey: "k-price-1", message: { text: "x", price: 1 } }, as("dm-a"))).rejects.toMatchObject({ code: 422 });
  });
});

describe("retry schedule and rate limits", () => {
  it("backs off exponentially with full jitter, capped, and never sooner than Retry-After", () => {
    const policy = { baseMs: 1000, capMs: 30_000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelay(n, policy, undefined, () => 0.999))).toEqual([999, 1998, 3996, 7992, 15984, 29970]);
    expect(retryDelay(3, policy, undefined, () => 0)).toBe(0);
    expect(retryDelay(1, policy, 5000, () => 0.5)).toBe(5000);
    expect(retryDelay(6, policy, 5000, () => 0.5)).toBe(15000);
  });

  it("shares a token bucket in the database: burst then refill", async () => {
    const store = new PublisherStore((await runtimeOf(broker).database()).db);
    const key = `test:${crypto.randomUUID()}`;
    const waits = [];
    for (let i = 0; i < 4; i++) waits.push(await store.takeToken(key, 60, 3));
    expect(waits.slice(0, 3)).toEqual([0, 0, 0]);
    expect(waits[3]).toBeGreaterThan(900);
    expect(waits[3]).toBeLessThanOrEqual(1000);
  });
});
