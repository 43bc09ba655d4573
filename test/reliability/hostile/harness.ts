/**
 * The hostile-input run: a real runner process with every service on a fresh PostgreSQL database, two
 * owners' data seeded through the API, a snapshot of every table, the generated requests sent with
 * bounded concurrency to 127.0.0.1, and the evidence the tests assert on.
 */
import crypto from "node:crypto";
import http from "node:http";
import { Client } from "pg";
import type { Role } from "../../../lib/auth";
import { createTestDatabase, freePort, TEST_JWT_SECRET, token, type TestDatabase } from "../../helpers/env";
import { restClient } from "../../helpers/http";
import { startNode, waitFor, type NodeProcess } from "../../helpers/process";
import type { HostileCase, SeedIds } from "./generator";

export interface Server {
  db: TestDatabase;
  node: NodeProcess;
  baseUrl: string;
  port: number;
  grpcPort: number;
  stop(): Promise<void>;
}

export async function startServer(): Promise<Server> {
  const db = await createTestDatabase();
  const [port, grpcPort] = [await freePort(), await freePort()];
  const node = await startNode({
    DATABASE_URL: db.url,
    JWT_SECRET: TEST_JWT_SECRET,
    PORT: String(port),
    GRPC_PORT: String(grpcPort),
    HOST: "127.0.0.1",
    DATA_DIR: `/tmp/hostile-${crypto.randomBytes(4).toString("hex")}`,
    LOG_LEVEL: "error",
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${baseUrl}/health/ready`)).status === 200);
  return {
    db,
    node,
    baseUrl,
    port,
    grpcPort,
    async stop() {
      await node.stop();
      await db.drop();
    },
  };
}

export const OWNER_A = "hostile-owner-a";
export const OWNER_B = "hostile-owner-b";
/** Sends the cases whose hostile value may be valid; its rows are left out of the comparison. */
export const THIRD = "hostile-third-owner";

function ok(res: { status: number; body: unknown }, what: string) {
  if (res.status >= 300) throw new Error(`seeding ${what} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Record<string, any>;
}

/**
 * A team created by `owner` through the API (the owner becomes its first owner), with `members` (user id →
 * role) added by the owner. Team tokens only work for members: membership decides the role.
 */
export async function createTeam(baseUrl: string, owner: string, name: string, members: Record<string, Role> = {}): Promise<string> {
  const call = restClient(baseUrl, await token(owner));
  const team = ok(await call("POST", "/api/teams", { name }), "team");
  await addMembers(baseUrl, owner, team.id, members);
  return team.id;
}

/** Adds members (user id → role) to a team, as `owner` (who must be one of its owners). */
export async function addMembers(baseUrl: string, owner: string, teamId: string, members: Record<string, Role>): Promise<void> {
  const call = restClient(baseUrl, await token(owner));
  for (const [userId, role] of Object.entries(members)) ok(await call("POST", `/api/teams/${teamId}/members`, { userId, role }), `member ${userId}`);
}

/**
 * One owner's data through the API, in a team of their own (`label` names it and their ids): fans, a
 * segment with members, a campaign, an A/B test, a template.
 */
async function seedOwner(baseUrl: string, owner: string, label: string): Promise<SeedIds> {
  const teamId = await createTeam(baseUrl, owner, label);
  const team = label;
  const call = restClient(baseUrl, await token(owner, { team: teamId }));
  // Ids that differ between owners, so another owner's id never names a row of one's own by accident.
  const fans = [1, 2, 3].map((n) => `fan-${team}-${n}`);
  const templateId = `welcome_${team.replace(/\W/g, "_")}`;
  for (const id of fans) {
    ok(await call("POST", "/api/fans", { id, platform: "onlyfans", displayName: `Fan ${id}`, tags: ["vip"], lifetimeValue: 120 }), "fan");
  }
  const segment = ok(await call("POST", "/api/segments", { name: "VIPs", type: "static" }), "segment");
  for (const id of fans) ok(await call("POST", `/api/segments/${segment.id}/members/${id}`), "segment member");
  const campaign = ok(
    await call("POST", "/api/campaigns", { name: "Spring drop", type: "promotion", platforms: ["instagram"], content: { title: "Hi" }, budget: 100 }),
    "campaign",
  );
  const abtest = ok(
    await call("POST", `/api/campaigns/${campaign.id}/ab-test`, {
      name: "Headline",
      variants: [
        { name: "A", isControl: true, content: { title: "A" } },
        { name: "B", content: { title: "B" } },
      ],
    }),
    "A/B test",
  );
  const variantId = abtest.variants?.[0]?.id ?? "unknown";
  ok(await call("PUT", `/api/message-templates/${templateId}`, { name: "Welcome", text: "Hello {{fanName}}" }), "message template");
  const automation = await call("POST", "/api/automations", {
    name: "Welcome flow",
    trigger: { type: "event", event: "fan.subscribed" },
    actions: [{ type: "add_tag", tag: "welcomed" }],
  });
  return {
    id: campaign.id,
    campaignId: campaign.id,
    segmentId: segment.id,
    abTestId: abtest.id,
    variantId,
    fanId: fans[0],
    automationId: automation.status < 300 ? (automation.body as { id: string }).id : "none",
    platform: "instagram",
    templateId,
    teamId,
    userId: owner,
  };
}

export async function seed(baseUrl: string): Promise<{ a: SeedIds; b: SeedIds }> {
  const a = await seedOwner(baseUrl, OWNER_A, "team-a");
  const b = await seedOwner(baseUrl, OWNER_B, "team-b");
  return { a: { ...a, otherOwner: OWNER_B }, b };
}

/**
 * The path parameter every hostile case gets for each `{name}` in a route: A's real ids, so a case that
 * is only broken in its body reaches the handler of a row that exists.
 */
export function pathIds(a: SeedIds, route: string): SeedIds {
  const byRoute: SeedIds = { ...a };
  if (route.startsWith("/api/ab-tests/")) byRoute.id = a.abTestId;
  else if (route.startsWith("/api/segments/")) byRoute.id = a.segmentId;
  else if (route.startsWith("/api/fans/")) byRoute.id = a.fanId;
  else if (route.startsWith("/api/automations/") && !route.includes("templates")) byRoute.id = a.automationId;
  else if (route.startsWith("/api/message-templates/")) byRoute.id = a.templateId;
  else if (route.startsWith("/api/teams/")) byRoute.id = a.teamId;
  return byRoute;
}

/**
 * Tables whose rows change with time rather than requests: the job scheduler's own bookkeeping
 * (lock and run timestamps of recurring jobs, its log) and the analytics roll-up watermark.
 */
const TIME_DRIVEN_TABLES = new Set(["agenda_logs", "analytics_rollup_state"]);
/**
 * Columns left out of the comparison: the scheduler's run bookkeeping of recurring jobs, and the refresh
 * time of analytics' read-through copy of campaign facts (every read that asks campaigns.get re-saves the
 * same facts, by design; the facts themselves are compared).
 */
const VOLATILE_COLUMNS: Record<string, string[]> = {
  agenda_jobs: ["locked_at", "last_run_at", "last_finished_at", "next_run_at", "updated_at", "last_modified_by", "progress", "fail_count", "fail_reason", "failed_at"],
  analytics_campaigns: ["updated_at"],
};

/** Every row of every table as text, sorted; rows that mention the third owner are left out. */
export async function snapshot(url: string): Promise<Record<string, string[]>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows: tables } = await client.query<{ schema: string; name: string }>(
      `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
       WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
    );
    const out: Record<string, string[]> = {};
    for (const { schema, name } of tables) {
      if (TIME_DRIVEN_TABLES.has(name)) continue;
      const { rows } = await client.query<{ row: Record<string, unknown> }>(`SELECT to_jsonb(t) AS row FROM "${schema}"."${name}" t`);
      out[`${schema}.${name}`] = rows
        .map(({ row }) => {
          for (const col of VOLATILE_COLUMNS[name] ?? []) delete row[col];
          return JSON.stringify(row, Object.keys(row).sort());
        })
        .filter((text) => !text.includes(THIRD))
        .sort();
    }
    return out;
  } finally {
    await client.end();
  }
}

export function diffSnapshots(before: Record<string, string[]>, after: Record<string, string[]>): string[] {
  const changes: string[] = [];
  for (const table of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = new Set(before[table] ?? []);
    const b = new Set(after[table] ?? []);
    for (const row of a) if (!b.has(row)) changes.push(`${table}: - ${row.slice(0, 400)}`);
    for (const row of b) if (!a.has(row)) changes.push(`${table}: + ${row.slice(0, 400)}`);
  }
  return changes;
}

export interface Outcome {
  case: HostileCase;
  /** HTTP status, or 0 when the connection failed without an answer. */
  status: number;
  body: string;
  error?: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

/** One raw HTTP/1.1 request: the target and body bytes go out exactly as generated. */
function send(port: number, c: HostileCase, authorization: string | undefined): Promise<Outcome> {
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = { ...c.headers };
    if (authorization && !("authorization" in headers)) headers.authorization = authorization;
    if (c.body) headers["content-length"] = c.body.length;
    let settled = false;
    const done = (o: Omit<Outcome, "case">) => {
      if (!settled) resolve({ case: c, ...o });
      settled = true;
    };
    let req: http.ClientRequest;
    try {
      req = http.request({ host: "127.0.0.1", port, method: c.method, path: c.path, headers, agent, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      });
    } catch (err) {
      // Node itself refuses some targets (e.g. a raw space): nothing reached the server.
      return done({ status: -1, body: "", error: (err as Error).message });
    }
    req.on("timeout", () => req.destroy(new Error("client timeout after 30 s")));
    req.on("error", (err) => done({ status: 0, body: "", error: err.message }));
    req.end(c.body);
  });
}

/** Sends every case with at most `concurrency` in flight. */
export async function runCases(port: number, cases: HostileCase[], bearer: Record<"owner" | "third", string>, concurrency = 20): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(cases.length);
  let next = 0;
  async function worker() {
    while (next < cases.length) {
      const i = next++;
      const c = cases[i];
      const auth = c.sender === "raw" ? undefined : `Bearer ${bearer[c.sender]}`;
      outcomes[i] = await send(port, c, auth);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outcomes;
}

export function statusClass(status: number): string {
  if (status <= 0) return status === 0 ? "conn-error" : "not-sent";
  return `${Math.floor(status / 100)}xx`;
}

/** Requests by category × status class, as printed at the end of a run. */
export function summaryTable(rows: Array<{ category: string; status: string }>): string {
  const classes = [...new Set(rows.map((r) => r.status))].sort();
  const counts = new Map<string, Map<string, number>>();
  for (const r of rows) {
    const byClass = counts.get(r.category) ?? new Map<string, number>();
    byClass.set(r.status, (byClass.get(r.status) ?? 0) + 1);
    counts.set(r.category, byClass);
  }
  const width = Math.max(10, ...[...counts.keys()].map((k) => k.length));
  const header = `${"category".padEnd(width)} | ${classes.map((c) => c.padStart(10)).join(" | ")} | ${"total".padStart(6)}`;
  const lines = [header, "-".repeat(header.length)];
  const totals = new Map<string, number>();
  for (const [category, byClass] of [...counts.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    let total = 0;
    const cells = classes.map((c) => {
      const n = byClass.get(c) ?? 0;
      total += n;
      totals.set(c, (totals.get(c) ?? 0) + n);
      return String(n).padStart(10);
    });
    lines.push(`${category.padEnd(width)} | ${cells.join(" | ")} | ${String(total).padStart(6)}`);
  }
  lines.push("-".repeat(header.length));
  lines.push(`${"TOTAL".padEnd(width)} | ${classes.map((c) => String(totals.get(c) ?? 0).padStart(10)).join(" | ")} | ${String(rows.length).padStart(6)}`);
  return lines.join("\n");
}

export function describeOffender(o: Outcome): string {
  const body = o.case.body ? o.case.body.subarray(0, 160).toString("utf8") : "";
  return `${o.case.method} ${o.case.path.slice(0, 160)} [${o.case.category}, ${o.case.sender}] body=${JSON.stringify(body)} → ${o.status} ${o.error ?? o.body.slice(0, 300)}`;
}

export function destroyAgent(): void {
  agent.destroy();
}
