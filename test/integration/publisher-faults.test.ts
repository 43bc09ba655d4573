/**
 * The fault run: 200 publishes (50 campaigns × 4 platforms) against fakes where ~30% of post-creating
 * requests fail with mixed faults (5xx, 429 + Retry-After, accepted-then-timeout, accepted-then-reset,
 * slow). Every post must exist exactly once on the fake's side and every attempt must end published.
 */
import type { ServiceBroker } from "moleculer";
import { seeded, startFakePlatforms, type Fault, type FakePlatforms } from "../fakes/platforms";
import { as, createTestDatabase, startBroker, type TestDatabase } from "../helpers/env";

const CAMPAIGNS = 50;
const OWNERS = 10;
const PLATFORMS = ["instagram", "tiktok", "reddit", "onlyfans"] as const;
const MIX: Fault[] = ["5xx", "429", "accept-timeout", "accept-reset", "slow"];

let db: TestDatabase;
let fakes: FakePlatforms;
let broker: ServiceBroker;

beforeAll(async () => {
  db = await createTestDatabase();
  fakes = await startFakePlatforms();
  Object.assign(process.env, fakes.env, {
    CREDENTIALS_KEYS: "k1:" + Buffer.alloc(32, 9).toString("base64"),
    PUBLISH_BACKOFF_BASE_MS: "50",
    PUBLISH_BACKOFF_CAP_MS: "1000",
    PUBLISH_HTTP_TIMEOUT_MS: "600",
    PUBLISH_POLL_INTERVAL_MS: "5",
    PUBLISH_MAX_ATTEMPTS: "10",
    PUBLISHER_RATE_LIMITS: PLATFORMS.map((p) => `${p}=60000/1000`).join(","),
  });
  [fakes.instagram, fakes.tiktok, fakes.reddit, fakes.onlyfans].forEach((f, i) => {
    f.faults = { rate: 0.3, mix: MIX, retryAfterSeconds: 1, slowMs: 150, hangMs: 1_200 };
    f.random = seeded(42 + i);
  });
  broker = await startBroker({ databaseUrl: db.url, services: ["publisher"], jobsProcessEveryMs: 100 });
});

afterAll(async () => {
  await broker?.stop();
  await fakes?.close();
  await db?.drop();
});

const owner = (i: number) => `fault-owner-${i % OWNERS}`;

it("publishes every post exactly once despite ~30% mixed faults", async () => {
  for (let o = 0; o < OWNERS; o++) {
    const user = as(owner(o));
    await broker.call("publisher.setCredentials", { platform: "instagram", credentials: { accessToken: `ig-${o}`, igUserId: `1784140000000${o}` } }, user);
    await broker.call("publisher.setCredentials", { platform: "tiktok", credentials: { accessToken: `tt-${o}` } }, user);
    await broker.call("publisher.setCredentials", { platform: "reddit", credentials: { accessToken: `rd-${o}`, username: `creator${o}` } }, user);
    await broker.call("publisher.setCredentials", { platform: "onlyfans", credentials: { apiKey: `of-${o}`, accountId: `acc-${o}` } }, user);
    fakes.reddit.users.set(`rd-${o}`, `creator${o}`);
  }
  const started = Date.now();
  for (let c = 0; c < CAMPAIGNS; c++) {
    await broker.call(
      "publisher.publish",
      { campaignId: `fault-${c}`, platforms: [...PLATFORMS], content: { title: `Fault run post ${c}`, description: "Tested under faults", subreddit: "creators" }, mediaUrls: ["https://cdn.example.com/v.mp4"] },
      as(owner(c)),
    );
  }

  let rows: any[] = [];
  const until = Date.now() + 120_000;
  for (;;) {
    rows = [];
    for (let c = 0; c < CAMPAIGNS; c++) rows.push(...(await broker.call<any, any>("publisher.publications", { id: `fault-${c}` }, as(owner(c)))).publications);
    if (rows.every((r) => ["published", "failed", "dead_letter"].includes(r.state)) || Date.now() > until) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const elapsed = Date.now() - started;

  const onFake = (c: number) => ({
    instagram: fakes.instagram.posts.filter((p) => p.caption.startsWith(`Fault run post ${c}\n`)).length,
    tiktok: fakes.tiktok.posts.filter((p) => p.title.startsWith(`Fault run post ${c}\n`)).length,
    reddit: fakes.reddit.posts.filter((p) => p.title === `Fault run post ${c}`).length,
    onlyfans: fakes.onlyfans.posts.filter((p) => p.text.startsWith(`Fault run post ${c}\n`)).length,
  });
  const counts = Array.from({ length: CAMPAIGNS }, (_, c) => onFake(c));
  const perPost = counts.flatMap((c) => Object.values(c));
  const faults = [fakes.instagram, fakes.tiktok, fakes.reddit, fakes.onlyfans].reduce<Record<string, number>>((acc, f) => {
    for (const [k, v] of Object.entries(f.faultsInjected)) acc[k] = (acc[k] ?? 0) + v;
    return acc;
  }, {});
  const creatingRequests = [fakes.instagram, fakes.tiktok, fakes.reddit, fakes.onlyfans]
    .map((f) => f.requests.filter((r) => /media_publish|\/init\/|\/api\/submit|\/v1\/posts$/.test(r.path) && r.method !== "GET").length)
    .reduce((a, b) => a + b, 0);
  const states = rows.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.state]: (acc[r.state] ?? 0) + 1 }), {});
  const tries = rows.reduce((a, r) => a + r.attempts, 0);
  const recovered = rows.filter((r) => r.errors.some((e: any) => e.kind === "unknown_outcome")).length;

  console.log(
    [
      `fault run: ${rows.length} publishes (${CAMPAIGNS} campaigns × ${PLATFORMS.length} platforms, ${OWNERS} accounts each) in ${(elapsed / 1000).toFixed(1)} s`,
      `  post-creating requests sent: ${creatingRequests}; faults injected: ${Object.values(faults).reduce((a, b) => a + b, 0)} (${Object.entries(faults).map(([k, v]) => `${k} ${v}`).join(", ")}) = ${((100 * Object.values(faults).reduce((a, b) => a + b, 0)) / creatingRequests).toFixed(1)}%`,
      `  final states: ${JSON.stringify(states)}; tries in total: ${tries}; publishes whose answer was lost and were found by lookup: ${recovered}`,
      `  posts on the fakes: ${perPost.reduce((a, b) => a + b, 0)}; exactly once: ${perPost.filter((n) => n === 1).length}; duplicated: ${perPost.filter((n) => n > 1).length}; missing: ${perPost.filter((n) => n === 0).length}`,
    ].join("\n"),
  );

  expect(rows).toHaveLength(CAMPAIGNS * PLATFORMS.length);
  expect(states).toEqual({ published: CAMPAIGNS * PLATFORMS.length });
  expect(perPost.every((n) => n === 1)).toBe(true);
  expect(faults["accept-timeout"] + faults["accept-reset"]).toBeGreaterThan(0);
}, 180_000);
