/** A retry scheduled by one broker is carried out by the next one on the same database (process restart). */
import type { ServiceBroker } from "moleculer";
import { startFakePlatforms, type FakePlatforms } from "../fakes/platforms";
import { as, createTestDatabase, startBroker, type TestDatabase } from "../helpers/env";

let db: TestDatabase;
let fakes: FakePlatforms;
let broker: ServiceBroker | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  fakes = await startFakePlatforms();
  Object.assign(process.env, fakes.env, {
    CREDENTIALS_KEYS: "k1:" + Buffer.alloc(32, 7).toString("base64"),
    PUBLISH_BACKOFF_BASE_MS: "100",
    PUBLISH_HTTP_TIMEOUT_MS: "500",
  });
});

afterAll(async () => {
  await broker?.stop();
  await fakes?.close();
  await db?.drop();
});

const start = () => startBroker({ databaseUrl: db.url, services: ["publisher"], jobsProcessEveryMs: 100 });

async function attempt(b: ServiceBroker) {
  return (await b.call<any, any>("publisher.publications", { id: "camp-restart" }, as("restart-user"))).publications[0];
}

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`timed out; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

it("resumes a pending retry after the broker is replaced, and posts exactly once", async () => {
  broker = await start();
  await broker.call("publisher.setCredentials", { platform: "reddit", credentials: { accessToken: "t", username: "restarter" } }, as("restart-user"));
  fakes.reddit.users.set("t", "restarter");
  fakes.reddit.faults.retryAfterSeconds = 2;
  fakes.reddit.queue("429");
  await broker.call("publisher.publish", { campaignId: "camp-restart", platforms: ["reddit"], content: { title: "Survives restarts", subreddit: "pics" } }, as("restart-user"));

  const waiting = await waitFor(() => attempt(broker!), (a) => a.state === "retrying");
  expect(waiting).toMatchObject({ attempts: 1, errors: [expect.objectContaining({ kind: "rate_limited" })] });
  await broker.stop();
  broker = undefined;
  expect(fakes.reddit.posts).toHaveLength(0);

  broker = await start();
  const done = await waitFor(() => attempt(broker!), (a) => a.state === "published");
  expect(done.attempts).toBe(2);
  // The second try came no sooner than the Retry-After, although a different broker made it.
  const submits = fakes.reddit.requests.filter((r) => r.path === "/api/submit");
  expect(submits).toHaveLength(2);
  expect(submits[1].at - submits[0].at).toBeGreaterThanOrEqual(2000);
  expect(fakes.reddit.posts.filter((p) => p.title === "Survives restarts")).toHaveLength(1);
});
