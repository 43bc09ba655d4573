/**
 * Infrastructure outages under load (`npm run test:reliability`, issue #6 items 3 and 4): the REST gateway
 * (api,grpc) and the services (campaigns, analytics) run as two processes over a NATS server and a
 * PostgreSQL cluster of this test's own, while ~60 requests a second mix event ingest, campaign reads,
 * lists and creates. Then NATS is killed for 10 s, and later PostgreSQL is stopped for 5 s.
 *
 * Each time: no request hangs (every answer within the request timeout plus a small margin), every failure
 * is a 503 with Retry-After (no 500, no 404), the same two processes serve 2xx again soon after the
 * dependency is back, and every event and campaign that got a 2xx is in the database.
 * See docs/reliability.md ("Infrastructure outages").
 */
import crypto from "node:crypto";
import { Client } from "pg";
import { freePort, TEST_JWT_SECRET, token } from "../helpers/env";
import { restClient } from "../helpers/http";
import { startNode, waitFor, type NodeProcess } from "../helpers/process";
import { OwnNats, OwnPostgres } from "./outages/infra";
import { figuresOf, isOk, RestLoad, timeline, type Figures, type Outcome, type OutageWindow } from "./outages/load";

jest.setTimeout(300_000);

const REQUEST_TIMEOUT_MS = 3_000;
/** What an answer may take beyond the request timeout: event-loop and scheduling delays on a busy machine. */
const LATENCY_MARGIN_MS = 1_500;
/** Beyond this the client gives up and counts a hang. */
const CLIENT_TIMEOUT_MS = REQUEST_TIMEOUT_MS + 5_000;
const RATE_PER_SECOND = 60;
const USERS = 5;
const WARMUP_MS = 5_000;
const AFTER_MS = 20_000;
/** From the dependency being back to every request succeeding again. */
const RECOVERY_LIMIT_MS = 12_000;

let nats: OwnNats;
let pg: OwnPostgres;
let databaseUrl: string;
let services: NodeProcess;
let gateway: NodeProcess;
let pids: { services: number; gateway: number };
let baseUrl: string;
const users: Array<{ token: string; campaignId: string }> = [];
const report: Array<{ scenario: string; figures: Figures; lost: number }> = [];

beforeAll(async () => {
  nats = new OwnNats(await freePort());
  pg = new OwnPostgres(await freePort());
  await Promise.all([nats.start(), pg.init()]);
  databaseUrl = await pg.createDatabase("outages");

  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const common = {
    NATS_URL: nats.url,
    NAMESPACE: `outage-${crypto.randomBytes(4).toString("hex")}`,
    JWT_SECRET: TEST_JWT_SECRET,
    REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    LOG_LEVEL: "warn",
  };
  [services, gateway] = await Promise.all([
    startNode({ ...common, SERVICES: "campaigns,analytics", DATABASE_URL: databaseUrl }),
    startNode({ ...common, SERVICES: "api,grpc", PORT: String(port), GRPC_PORT: String(await freePort()), HOST: "127.0.0.1" }),
  ]);
  pids = { services: services.child.pid!, gateway: gateway.child.pid! };

  for (let i = 0; i < USERS; i++) {
    const bearer = await token(`outage-user-${i}`);
    const api = restClient(baseUrl, bearer);
    // The gateway learns of the services node over NATS; the first calls may find nothing yet.
    await waitFor(async () => (await api("GET", "/api/campaigns")).status === 200, 60_000);
    const created = await api("POST", "/api/campaigns", { name: `Outage ${i}`, type: "ppv", platforms: ["onlyfans"] });
    expect(created.status).toBe(201);
    users.push({ token: bearer, campaignId: created.body.id });
  }
  const first = restClient(baseUrl, users[0].token);
  await waitFor(async () => (await first("POST", "/api/track", { type: "impression", campaignId: users[0].campaignId, platform: "onlyfans" })).status === 201);
});

afterAll(async () => {
  await Promise.all([gateway?.stop(), services?.stop()]);
  await Promise.all([nats?.kill(), pg?.destroy()]);
  if (report.length) console.log(figuresTable());
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ScenarioResult {
  outcomes: Outcome[];
  window: OutageWindow;
  figures: Figures;
  readiness: Array<{ at: number; status: number; body: string }>;
  lost: { events: string[]; campaigns: string[] };
  t0: number;
}

/** Warm-up under load, the outage, then load until well after the dependency is back. */
async function underLoad(scenario: string, outage: () => Promise<OutageWindow>): Promise<ScenarioResult> {
  const load = new RestLoad({ baseUrl, users, ratePerSecond: RATE_PER_SECOND, clientTimeoutMs: CLIENT_TIMEOUT_MS, prefix: `${scenario}-${crypto.randomBytes(3).toString("hex")}` });
  const readiness: ScenarioResult["readiness"] = [];
  let probing = true;
  const probe = (async () => {
    while (probing) {
      const at = Date.now();
      const res = await fetch(`${baseUrl}/health/ready`, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) }).catch(() => undefined);
      readiness.push({ at, status: res?.status ?? -1, body: res ? await res.text() : "" });
      await sleep(250);
    }
  })();
  const t0 = Date.now();
  load.start();
  await sleep(WARMUP_MS);
  const window = await outage();
  await sleep(AFTER_MS);
  await load.stop();
  probing = false;
  await probe;

  const outcomes = load.outcomes;
  const figures = figuresOf(outcomes, window);
  const lost = await lostAccepted(outcomes);
  report.push({ scenario, figures, lost: lost.events.length + lost.campaigns.length });
  return { outcomes, window, figures, readiness, lost, t0 };
}

/** Event ids and campaign ids that got a 2xx but are not in the database. */
async function lostAccepted(outcomes: Outcome[]): Promise<{ events: string[]; campaigns: string[] }> {
  const events = outcomes.filter((o) => o.kind === "track" && isOk(o)).map((o) => o.key!);
  const campaigns = outcomes.filter((o) => o.kind === "create" && isOk(o)).map((o) => o.createdId!);
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const storedEvents = new Set((await db.query<{ event_id: string }>("SELECT event_id FROM analytics_events WHERE event_id = ANY($1)", [events])).rows.map((r) => r.event_id));
    const storedCampaigns = new Set((await db.query<{ id: string }>("SELECT id FROM campaigns WHERE id = ANY($1)", [campaigns])).rows.map((r) => r.id));
    return { events: events.filter((e) => !storedEvents.has(e)), campaigns: campaigns.filter((c) => !storedCampaigns.has(c)) };
  } finally {
    await db.end();
  }
}

/** What every scenario must show, with enough context in the message to see what went wrong. */
function expectCleanOutage(r: ScenarioResult) {
  const { figures, outcomes, window } = r;
  const context = () =>
    `figures: ${JSON.stringify(figures)}\nper second (0 = load start; down at ${Math.round((window.downAt - r.t0) / 1000)}s, up at ${Math.round((window.upAt - r.t0) / 1000)}s):\n${timeline(outcomes, r.t0)}\n` +
    `samples: ${JSON.stringify(outcomes.filter((o) => !isOk(o) && o.status !== 503).slice(0, 5))}\n` +
    `services output:\n${services.output().slice(-3000)}\ngateway output:\n${gateway.output().slice(-3000)}`;
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`${what}\n${context()}`);
  };

  // No hangs, no 500s, no 404s: every failure is a clear 503 with Retry-After, in time.
  check(Object.keys(figures.other).length === 0, `answers other than 2xx and 503 (-1 = hang, 0 = connection error): ${JSON.stringify(figures.other)}`);
  check(figures.unavailableWithoutRetryAfter === 0, `${figures.unavailableWithoutRetryAfter} answers 503 without Retry-After`);
  check(figures.maxLatencyMs <= REQUEST_TIMEOUT_MS + LATENCY_MARGIN_MS, `slowest answer ${figures.maxLatencyMs} ms > ${REQUEST_TIMEOUT_MS} + ${LATENCY_MARGIN_MS} ms`);
  // The system was healthy before the outage, and the outage was felt.
  const before = outcomes.filter((o) => o.sentAt < window.downAt);
  check(before.length > 0 && before.every(isOk), "not every request before the outage succeeded");
  check(figures.unavailable > 0, "no request failed: the outage was not exercised");
  // Recovery without restarting anything.
  check(figures.recovered && figures.timeToRecoverMs <= RECOVERY_LIMIT_MS, `not recovered within ${RECOVERY_LIMIT_MS} ms (${figures.timeToRecoverMs} ms)`);
  check(services.child.exitCode === null && services.child.signalCode === null && services.child.pid === pids.services, "the services process died");
  check(gateway.child.exitCode === null && gateway.child.signalCode === null && gateway.child.pid === pids.gateway, "the gateway process died");
  // Nothing accepted is lost.
  check(r.lost.events.length === 0, `${r.lost.events.length} events answered 2xx are not in the database: ${r.lost.events.slice(0, 10).join(", ")}`);
  check(r.lost.campaigns.length === 0, `${r.lost.campaigns.length} campaigns answered 2xx are not in the database: ${r.lost.campaigns.slice(0, 10).join(", ")}`);
}

it("NATS killed for 10 s under load: 503s in time, recovery without restarts, no accepted event lost", async () => {
  const r = await underLoad("nats", async () => {
    const downAt = Date.now();
    await nats.kill();
    await sleep(10_000);
    await nats.start();
    return { downAt, upAt: Date.now() };
  });
  expectCleanOutage(r);
  // The gateway said it was not ready while NATS was away, and ready again afterwards.
  const during = r.readiness.filter((p) => p.at > r.window.downAt + 1_000 && p.at < r.window.upAt);
  expect(during.length).toBeGreaterThan(0);
  expect(during.every((p) => p.status === 503 && /"transporter":"disconnected"/.test(p.body))).toBe(true);
  expect(r.readiness[r.readiness.length - 1].status).toBe(200);
});

it("PostgreSQL stopped for 5 s under load: 503s in time, recovery without restarts, no accepted event lost", async () => {
  const r = await underLoad("postgres", async () => {
    const downAt = Date.now();
    await pg.stop();
    await sleep(5_000);
    await pg.start();
    return { downAt, upAt: Date.now() };
  });
  expectCleanOutage(r);

  // Agenda in the services process came back too: its LISTEN session is open again, and its job loop
  // runs a job made due now (the hourly analytics rollup; idempotent).
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await waitFor(async () => {
      const { rows } = await db.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()");
      return rows.length > 0;
    }, 15_000);
    const { rows } = await db.query<{ now: Date }>("UPDATE agenda_jobs SET next_run_at = now() WHERE name = 'analytics.rollup' RETURNING now() AS now");
    expect(rows).toHaveLength(1);
    await waitFor(async () => {
      const done = await db.query<{ last_finished_at: Date | null }>("SELECT last_finished_at FROM agenda_jobs WHERE name = 'analytics.rollup'");
      return (done.rows[0]?.last_finished_at?.getTime() ?? 0) >= rows[0].now.getTime();
    }, 15_000);
  } finally {
    await db.end();
  }
});

function figuresTable(): string {
  const ms = (n: number) => (Number.isFinite(n) ? `${(n / 1000).toFixed(1)} s` : "never");
  const rows = report.map(({ scenario, figures: f, lost }) =>
    [
      scenario,
      f.requests,
      f.ok,
      f.unavailable,
      Object.entries(f.other).map(([s, n]) => `${s}×${n}`).join(" ") || "0",
      f.sentDuringOutage,
      ms(f.failingMs),
      `${f.maxLatencyDuringOutageMs} ms`,
      `${f.maxLatencyMs} ms`,
      ms(f.timeToRecoverMs),
      lost,
    ].join(" | "),
  );
  return [
    `outage figures (${RATE_PER_SECOND} req/s, REQUEST_TIMEOUT_MS=${REQUEST_TIMEOUT_MS})`,
    "scenario | requests | 2xx | 503 | other | sent during outage | failing for | max latency during outage | max latency | time to recover | lost accepted",
    ...rows,
  ].join("\n");
}
