/**
 * The platform fault storm: campaigns launched over REST (as the product does it) on the real runner
 * (`bin/start.ts`, every service, PostgreSQL), each publishing to all four fake platforms while the fakes
 * answer a share of their post-creating requests with 5xx, 429 + Retry-After or "accepted, then no answer"
 * (the post is recorded, the response never arrives and the client times out). Every publish must end
 * published, and every post must exist exactly once on the fake's side.
 * Shared by `fault-storm.rel.ts` (500 publishes) and `test/integration/publisher-fault-storm.test.ts` (100).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startFakePlatforms, type FakePlatforms, type Fault } from "../../fakes/platforms";
import { createTestDatabase, freePort, TEST_JWT_SECRET, token, type TestDatabase } from "../../helpers/env";
import { restClient } from "../../helpers/http";
import { startNode, waitFor, type NodeProcess } from "../../helpers/process";

const PLATFORMS = ["instagram", "tiktok", "reddit", "onlyfans"] as const;
type Platform = (typeof PLATFORMS)[number];
const TERMINAL = ["published", "failed", "dead_letter"];

export interface StormOptions {
  /** Campaigns launched; each publishes to the four platforms. */
  campaigns: number;
  /** Creators (accounts on every platform) the campaigns are spread over. */
  owners: number;
  /** Share of post-creating requests that meet a fault (0–1). */
  faultRate: number;
  mix: Fault[];
  seed: number;
  /** Launch requests in flight at once. */
  launchConcurrency: number;
  /** How long publishing may take after the last launch before the run fails. */
  settleMs: number;
}

export interface StormResult {
  publishes: number;
  seconds: { launch: number; total: number };
  states: Record<string, number>;
  tries: number;
  /** Tries beyond the first per publish, by the kind of error that caused them. */
  retriesByKind: Record<string, number>;
  /** Retries after a 429 scheduled sooner than the Retry-After the fake sent (must be 0). */
  retryAfterIgnored: number;
  /** Publishes that ended published after at least one try whose answer was lost (unknown outcome). */
  lostAnswers: number;
  /**
   * Tries that sent no post because the lookup found the one whose answer was lost: every try sends exactly
   * one post-creating request unless `findExisting` finds the post first (faults hit only those requests).
   */
  foundByLookup: number;
  faults: Record<Fault, number>;
  creatingRequests: number;
  perPlatform: Record<Platform, { posts: number; once: number; duplicated: number; missing: number }>;
  launchStatuses: Record<number, number>;
  /** What each launch answered per platform (queued: a durable publish attempt exists). */
  launchOutcomes: Record<string, number>;
}

const HTTP_TIMEOUT_MS = 800;
const RETRY_AFTER_S = 1;

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

const count = <K extends string | number>(keys: K[]) => keys.reduce<Record<K, number>>((acc, k) => ({ ...acc, [k]: (acc[k] ?? 0) + 1 }), {} as Record<K, number>);

export async function runFaultStorm(opts: StormOptions): Promise<StormResult> {
  let db: TestDatabase | undefined;
  let fakes: FakePlatforms | undefined;
  let node: NodeProcess | undefined;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "fault-storm-"));
  try {
    db = await createTestDatabase();
    fakes = await startFakePlatforms();
    // The client gives up after HTTP_TIMEOUT_MS; the fake holds an accepted request three times as long,
    // so "accept-timeout" is a real client-side timeout, not a reset.
    fakes.injectFaults({ rate: opts.faultRate, mix: opts.mix, retryAfterSeconds: RETRY_AFTER_S, hangMs: 3 * HTTP_TIMEOUT_MS }, opts.seed);
    const port = await freePort();
    node = await startNode({
      ...fakes.env,
      DATABASE_URL: db.url,
      JWT_SECRET: TEST_JWT_SECRET,
      PORT: String(port),
      GRPC_PORT: String(await freePort()),
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      LOG_LEVEL: "error",
      CREDENTIALS_KEYS: "k1:" + Buffer.alloc(32, 5).toString("base64"),
      LAUNCHES_PER_MINUTE: "100000",
      JOBS_PROCESS_EVERY: "200 milliseconds",
      PUBLISH_BACKOFF_BASE_MS: "100",
      PUBLISH_BACKOFF_CAP_MS: "2000",
      PUBLISH_HTTP_TIMEOUT_MS: String(HTTP_TIMEOUT_MS),
      PUBLISH_POLL_INTERVAL_MS: "10",
      PUBLISH_MAX_ATTEMPTS: "10",
      // The storm is about platform faults, not our own rate limiter (it has its own tests).
      PUBLISHER_RATE_LIMITS: PLATFORMS.map((p) => `${p}=600000/10000`).join(","),
    });
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${baseUrl}/health/ready`)).status === 200);

    const owners = await Promise.all(
      Array.from({ length: opts.owners }, async (_, o) => {
        const id = `storm-owner-${o}`;
        return { id, api: restClient(baseUrl, await token(id)), o };
      }),
    );
    for (const { api, o } of owners) {
      const creds: Record<Platform, Record<string, string>> = {
        instagram: { accessToken: `ig-${o}`, igUserId: `1784150000000${o}` },
        tiktok: { accessToken: `tt-${o}` },
        reddit: { accessToken: `rd-${o}`, username: `stormer${o}` },
        onlyfans: { apiKey: `of-${o}`, accountId: `acc-${o}` },
      };
      for (const p of PLATFORMS) {
        const res = await api("PUT", `/api/credentials/${p}`, { credentials: creds[p] });
        if (res.status !== 200) throw new Error(`credentials ${p}: ${res.status} ${JSON.stringify(res.body)}`);
      }
      fakes.reddit.users.set(`rd-${o}`, `stormer${o}`);
    }

    // Titles are unique per campaign: the fakes are counted by content, and lookups match by content.
    const run = crypto.randomBytes(3).toString("hex");
    const titleOf = (c: number) => `Storm ${run} post ${c}`;
    const campaigns: { id: string; c: number; owner: (typeof owners)[number] }[] = [];
    for (let c = 0; c < opts.campaigns; c++) {
      const owner = owners[c % owners.length];
      const res = await owner.api("POST", "/api/campaigns", {
        name: `Storm ${c}`,
        type: "promotion",
        platforms: [...PLATFORMS],
        content: { title: titleOf(c), description: "Launched during a platform fault storm", subreddit: "creators" },
        mediaUrls: ["https://cdn.example.com/storm.mp4"],
      });
      if (res.status !== 201) throw new Error(`create campaign: ${res.status} ${JSON.stringify(res.body)}`);
      campaigns.push({ id: res.body.id, c, owner });
    }

    const started = Date.now();
    const launchStatuses: number[] = [];
    const launchOutcomes: string[] = [];
    await pool(campaigns, opts.launchConcurrency, async ({ id, owner }) => {
      const res = await owner.api("POST", `/api/campaigns/${id}/launch`);
      launchStatuses.push(res.status);
      if (res.status >= 300) throw new Error(`launch ${id}: ${res.status} ${JSON.stringify(res.body)}`);
      launchOutcomes.push(...res.body.outcomes.map((o: { status: string }) => o.status));
    });
    const launched = Date.now();

    let rows: any[] = [];
    const until = Date.now() + opts.settleMs;
    for (;;) {
      rows = [];
      await pool(campaigns, 8, async ({ id, owner }) => {
        const res = await owner.api("GET", `/api/campaigns/${id}/publications`);
        if (res.status !== 200) throw new Error(`publications ${id}: ${res.status}`);
        rows.push(...res.body.publications);
      });
      if (rows.every((r) => TERMINAL.includes(r.state)) || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const finished = Date.now();

    const titles = new Set(campaigns.map(({ c }) => titleOf(c)));
    // Each fake's posts by the campaign title they carry (captions start with the title paragraph).
    const titleIn = (text: string | undefined) => (text ?? "").split("\n")[0];
    const onFake: Record<Platform, string[]> = {
      instagram: fakes.instagram.posts.map((p) => titleIn(p.caption)),
      tiktok: fakes.tiktok.posts.map((p) => titleIn(p.title)),
      reddit: fakes.reddit.posts.map((p) => p.title),
      onlyfans: fakes.onlyfans.posts.map((p) => titleIn(p.text)),
    };
    const perPlatform = {} as StormResult["perPlatform"];
    for (const p of PLATFORMS) {
      const n = count(onFake[p].filter((t) => titles.has(t)));
      const values = [...titles].map((t) => n[t] ?? 0);
      perPlatform[p] = { posts: values.reduce((a, b) => a + b, 0), once: values.filter((v) => v === 1).length, duplicated: values.filter((v) => v > 1).length, missing: values.filter((v) => v === 0).length };
    }
    const creatingRequests = [fakes.instagram, fakes.tiktok, fakes.reddit, fakes.onlyfans]
      .map((f) => f.requests.filter((r) => r.method === "POST" && /media_publish$|\/init\/$|^\/api\/submit$|^\/v1\/posts$/.test(r.path)).length)
      .reduce((a, b) => a + b, 0);
    // A publish records one error per failed try; when it ends published, each of them caused a retry.
    const retriesByKind = count(rows.flatMap((r) => (r.errors as { kind: string }[]).map((e) => e.kind)));

    return {
      publishes: rows.length,
      seconds: { launch: (launched - started) / 1000, total: (finished - started) / 1000 },
      states: count(rows.map((r) => r.state as string)),
      tries: rows.reduce((a, r) => a + r.attempts, 0),
      retriesByKind,
      retryAfterIgnored: rows.flatMap((r) => r.errors as { kind: string; retryInMs?: number }[]).filter((e) => e.kind === "rate_limited" && (e.retryInMs ?? 0) < RETRY_AFTER_S * 1000).length,
      lostAnswers: rows.filter((r) => r.state === "published" && r.errors.some((e: { kind: string }) => e.kind === "unknown_outcome")).length,
      foundByLookup: rows.reduce((a, r) => a + r.attempts, 0) - creatingRequests,
      faults: fakes.faultsInjected(),
      creatingRequests,
      perPlatform,
      launchStatuses: count(launchStatuses),
      launchOutcomes: count(launchOutcomes),
    };
  } catch (err) {
    if (node) console.error(`runner output:\n${node.output().slice(-4000)}`);
    throw err;
  } finally {
    await node?.stop();
    await fakes?.close();
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export function describeStorm(opts: StormOptions, r: StormResult): string {
  const faultTotal = Object.values(r.faults).reduce((a, b) => a + b, 0);
  const posts = Object.values(r.perPlatform);
  const sum = (k: "posts" | "once" | "duplicated" | "missing") => posts.reduce((a, p) => a + p[k], 0);
  return [
    `fault storm: ${r.publishes} publishes (${opts.campaigns} campaigns launched over REST × 4 platforms, ${opts.owners} creators), seed ${opts.seed}`,
    `  time: launches answered in ${r.seconds.launch.toFixed(1)} s, all publishes settled ${r.seconds.total.toFixed(1)} s after the first launch; launch answers ${JSON.stringify(r.launchStatuses)}, per platform ${JSON.stringify(r.launchOutcomes)}`,
    `  post-creating requests: ${r.creatingRequests}; faults injected: ${faultTotal} = ${((100 * faultTotal) / Math.max(1, r.creatingRequests)).toFixed(1)}% (${Object.entries(r.faults).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(", ")})`,
    `  tries: ${r.tries} for ${r.publishes} publishes (${r.tries - r.publishes} retries); errors recorded by kind: ${JSON.stringify(r.retriesByKind)}; retries sooner than Retry-After: ${r.retryAfterIgnored}`,
    `  publishes whose answer was lost at least once: ${r.lostAnswers}; tries that found the post by lookup instead of posting again: ${r.foundByLookup}`,
    `  final states: ${JSON.stringify(r.states)}`,
    `  posts on the fakes: ${sum("posts")}; exactly once: ${sum("once")}; duplicated: ${sum("duplicated")}; missing: ${sum("missing")}`,
    ...Object.entries(r.perPlatform).map(([p, v]) => `    ${p.padEnd(9)} ${JSON.stringify(v)}`),
  ].join("\n");
}

export function defineFaultStorm(opts: StormOptions): void {
  it(`publishes ${opts.campaigns * 4} posts exactly once through a storm of platform faults`, async () => {
    const r = await runFaultStorm(opts);
    console.log(describeStorm(opts, r));
    const publishes = opts.campaigns * PLATFORMS.length;
    // A launch answers 202: the campaign is active and one durable attempt per platform is queued.
    expect(r.launchStatuses).toEqual({ 202: opts.campaigns });
    expect(r.launchOutcomes).toEqual({ queued: publishes });
    expect(r.publishes).toBe(publishes);
    expect(r.states).toEqual({ published: publishes });
    expect(r.retryAfterIgnored).toBe(0);
    for (const p of PLATFORMS) expect({ platform: p, ...r.perPlatform[p] }).toEqual({ platform: p, posts: opts.campaigns, once: opts.campaigns, duplicated: 0, missing: 0 });
    // The storm really stormed: each kind of fault was met, and lost answers were resolved by lookup.
    for (const f of opts.mix) expect(r.faults[f]).toBeGreaterThan(0);
    if (opts.mix.includes("accept-timeout")) {
      expect(r.lostAnswers).toBeGreaterThan(0);
      expect(r.foundByLookup).toBeGreaterThan(0);
    }
  });
}
