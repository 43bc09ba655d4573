/**
 * The audit trail over real HTTP and gRPC on PostgreSQL: for a representative change of each service a
 * success writes exactly one record per changed row (actor, action, target, diff, request id, no secrets);
 * a failed change (422, 409, 404, a database error inside the transaction, a failed commit) writes none
 * and leaves the row as it was; jobs record as `system`; the list pages newest first and shows a caller
 * only the records of rows they may see.
 */
import crypto from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { Client } from "pg";
import type { ServiceBroker } from "moleculer";
import type { GrpcServiceInstance } from "../../services/grpc.service";
import { GatewayClient } from "../../services/grpc/client";
import { startFakePlatforms, type FakePlatforms } from "../fakes/platforms";
import { createTestDatabase, freePort, startBroker, token, type TestDatabase } from "../helpers/env";
import { restClient } from "../helpers/http";
import { waitFor } from "../helpers/process";

jest.setTimeout(60_000);

let db: TestDatabase;
let fakes: FakePlatforms;
let broker: ServiceBroker;
let pg: Client;
let baseUrl: string;
let grpcAddress: string;
let alice: ReturnType<typeof restClient>;
let bob: ReturnType<typeof restClient>;

beforeAll(async () => {
  db = await createTestDatabase();
  fakes = await startFakePlatforms();
  Object.assign(process.env, fakes.env, { CREDENTIALS_KEYS: "k1:" + Buffer.alloc(32, 9).toString("base64"), PUBLISH_POLL_INTERVAL_MS: "5" });
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  broker = await startBroker({
    databaseUrl: db.url,
    port,
    grpcPort: 0,
    jobsProcessEveryMs: 100,
    services: ["campaigns", "abtests", "segmentation", "publisher", "automation", "teams", "audit", "api", "grpc"],
  });
  grpcAddress = `127.0.0.1:${(broker.getLocalService("grpc") as unknown as GrpcServiceInstance).boundPort}`;
  alice = restClient(baseUrl, await token("au-alice"));
  bob = restClient(baseUrl, await token("au-bob"));
  pg = new Client({ connectionString: db.url });
  await pg.connect();
});

afterAll(async () => {
  await pg?.end();
  await broker?.stop();
  await fakes?.close();
  await db?.drop();
});

interface Row {
  seq: string;
  actor_id: string;
  actor_role: string | null;
  owner_id: string;
  team_id: string | null;
  action: string;
  target_type: string;
  target_id: string;
  request_id: string | null;
  changes: Record<string, { from?: unknown; to?: unknown }>;
}

const run = crypto.randomBytes(3).toString("hex");
let n = 0;
/** A fresh request id; the records of one request are found by it. */
const rid = (label: string) => `${label}-${run}-${++n}`;
const withId = (id: string) => ({ "x-request-id": id });

/** Every record of a request, straight from the table (whoever may read them). */
async function recordsOf(requestId: string): Promise<Row[]> {
  return (await pg.query<Row>("SELECT * FROM audit_log WHERE request_id = $1 ORDER BY seq", [requestId])).rows;
}

async function recordsOfTarget(targetId: string): Promise<Row[]> {
  return (await pg.query<Row>("SELECT * FROM audit_log WHERE target_id = $1 ORDER BY seq", [targetId])).rows;
}

async function total(): Promise<number> {
  return (await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log")).rows[0].n;
}

/** Makes inserts into audit_log (or, deferred, commits touching `table`) fail where `when` holds. */
async function withFailure<T>(sql: string, body: () => Promise<T>): Promise<T> {
  await pg.query(`CREATE OR REPLACE FUNCTION audit_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'forced failure'; END $$`);
  await pg.query(sql);
  try {
    return await body();
  } finally {
    await pg.query("DROP TRIGGER IF EXISTS audit_test_fail ON audit_log");
    await pg.query("DROP TRIGGER IF EXISTS audit_test_late ON campaigns");
  }
}

async function newCampaign(body: Record<string, unknown> = {}) {
  const created = await alice("POST", "/api/campaigns", { name: "Audited", type: "ppv", ...body });
  expect(created.status).toBe(201);
  return created.body as { id: string; name: string };
}

describe("campaigns", () => {
  it("records a create and an update with actor, action, target, diff and request id", async () => {
    const createId = rid("create");
    const created = await alice("POST", "/api/campaigns", { name: "Audit me", type: "ppv" }, withId(createId));
    expect(created.status).toBe(201);
    const [createRecord, ...moreCreates] = await recordsOf(createId);
    expect(moreCreates).toEqual([]);
    expect(createRecord).toMatchObject({ actor_id: "au-alice", actor_role: "owner", owner_id: "au-alice", team_id: null, action: "campaigns.create", target_type: "campaign", target_id: created.body.id });
    expect(createRecord.changes.name).toEqual({ to: "Audit me" });
    expect(createRecord.changes.status).toEqual({ to: "draft" });

    const updateId = rid("update");
    expect((await alice("PATCH", `/api/campaigns/${created.body.id}`, { name: "Renamed", budget: 100 }, withId(updateId))).status).toBe(200);
    const records = await recordsOf(updateId);
    expect(records).toEqual([
      expect.objectContaining({ actor_id: "au-alice", action: "campaigns.update", target_type: "campaign", target_id: created.body.id, request_id: updateId }),
    ]);
    expect(records[0].changes).toEqual({ name: { from: "Audit me", to: "Renamed" }, budget: { from: null, to: 100 } });

    // The API shows the same records, newest first.
    const listed = await alice("GET", `/api/audit?target=${created.body.id}`);
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((r: { action: string }) => r.action)).toEqual(["campaigns.update", "campaigns.create"]);
    expect(listed.body.items[0]).toMatchObject({ actorId: "au-alice", actorRole: "owner", requestId: updateId, changes: records[0].changes });
  });

  it("leaves no record and no change when the change fails: 422, 409, 404, a database error, a failed commit", async () => {
    const campaign = await newCampaign({ name: "Untouched" });
    const before = await total();
    const tries: [string, number | "5xx"][] = [];

    let id = rid("invalid");
    tries.push([id, (await alice("PATCH", `/api/campaigns/${campaign.id}`, { type: "bogus" }, withId(id))).status]);
    id = rid("transition");
    tries.push([id, (await alice("POST", `/api/campaigns/${campaign.id}/pause`, {}, withId(id))).status]);
    id = rid("foreign");
    tries.push([id, (await bob("PATCH", `/api/campaigns/${campaign.id}`, { name: "Stolen" }, withId(id))).status]);
    id = rid("missing");
    tries.push([id, (await alice("DELETE", "/api/campaigns/no-such-campaign", undefined, withId(id))).status]);

    // The audit insert fails: the UPDATE before it in the same transaction is rolled back.
    id = rid("db-failure");
    const failing = `CREATE TRIGGER audit_test_fail BEFORE INSERT ON audit_log FOR EACH ROW WHEN (NEW.changes->'name'->>'to' = 'boom') EXECUTE FUNCTION audit_test_fail()`;
    const dbFailure = await withFailure(failing, () => alice("PATCH", `/api/campaigns/${campaign.id}`, { name: "boom" }, withId(id)));
    tries.push([id, dbFailure.status >= 500 ? "5xx" : dbFailure.status]);

    // The change and its record were both written, then the commit fails (a deferred constraint): neither stays.
    id = rid("commit-failure");
    const late = `CREATE CONSTRAINT TRIGGER audit_test_late AFTER UPDATE ON campaigns DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.name = 'late boom') EXECUTE FUNCTION audit_test_fail()`;
    const commitFailure = await withFailure(late, () => alice("PATCH", `/api/campaigns/${campaign.id}`, { name: "late boom" }, withId(id)));
    tries.push([id, commitFailure.status >= 500 ? "5xx" : commitFailure.status]);

    expect(tries.map(([, status]) => status)).toEqual([422, 409, 404, 404, "5xx", "5xx"]);
    for (const [requestId] of tries) expect(await recordsOf(requestId)).toEqual([]);
    expect(await total()).toBe(before);
    expect((await alice("GET", `/api/campaigns/${campaign.id}`)).body).toMatchObject({ name: "Untouched", status: "draft" });
  });

  it("records a scheduled launch, the publish and its outcome, and the budget guard's pause as system", async () => {
    expect((await alice("PUT", "/api/credentials/onlyfans", { credentials: { apiKey: "of-SECRET-key", accountId: "acc-au" } })).status).toBe(200);
    const campaign = await newCampaign({ platforms: ["onlyfans"], content: { title: "Scheduled", description: "Drop" }, budget: 10 });
    const scheduleId = rid("schedule");
    const scheduled = await alice("POST", `/api/campaigns/${campaign.id}/schedule`, { scheduledFor: new Date(Date.now() + 1_500).toISOString() }, withId(scheduleId));
    expect(scheduled.status).toBe(200);
    expect((await recordsOf(scheduleId)).map((r) => [r.actor_id, r.action, r.changes.status])).toEqual([["au-alice", "campaigns.schedule", { from: "draft", to: "scheduled" }]]);

    await waitFor(async () => (await alice("GET", `/api/campaigns/${campaign.id}`)).body.status === "active", 15_000);
    await waitFor(async () => (await recordsOfTarget(campaign.id)).some((r) => r.action === "publisher.attempt"), 15_000);
    const byAction = Object.fromEntries((await recordsOfTarget(campaign.id)).map((r) => [r.action, r]));
    expect(byAction["campaigns.launch"]).toMatchObject({ actor_id: "system", actor_role: null, owner_id: "au-alice", changes: { status: { from: "scheduled", to: "active" } } });
    expect(byAction["publisher.publish"]).toMatchObject({ actor_id: "system", changes: { "publications.onlyfans": { from: null, to: "pending" } } });
    expect(byAction["publisher.attempt"]).toMatchObject({ actor_id: "system", changes: { "publications.onlyfans": { from: "running", to: "published" } } });
    // The launch and the publish it asked for belong to one (job) request.
    expect(byAction["publisher.publish"].request_id).toBe(byAction["campaigns.launch"].request_id);

    const spendId = rid("spend");
    const spent = await alice("POST", `/api/campaigns/${campaign.id}/spend`, { amount: 15, eventId: `spend-${run}` }, withId(spendId));
    expect(spent.body.campaign.status).toBe("paused");
    const spendRecords = await recordsOf(spendId);
    expect(spendRecords.map((r) => [r.actor_id, r.action])).toEqual([
      ["au-alice", "campaigns.recordSpend"],
      ["system", "campaigns.autoPause"],
    ]);
    expect(spendRecords[0].changes.spent).toEqual({ from: 0, to: 15 });
    expect(spendRecords[1].changes).toMatchObject({ status: { from: "active", to: "paused" }, statusReason: { from: null, to: "budget_exhausted" } });

    // A replayed event id changes nothing and records nothing.
    const replayId = rid("replay");
    expect((await alice("POST", `/api/campaigns/${campaign.id}/spend`, { amount: 15, eventId: `spend-${run}` }, withId(replayId))).body.applied).toBe(false);
    expect(await recordsOf(replayId)).toEqual([]);
  });
});

describe("abtests", () => {
  const variants = [
    { name: "A", isControl: true, content: { title: "Control" } },
    { name: "B", content: { title: "Challenger" } },
  ];

  it("records the test and the campaign it flags, one record each; a second test (409) records nothing", async () => {
    const campaign = await newCampaign({ content: { title: "Base" } });
    const createId = rid("abtest");
    const created = await alice("POST", `/api/campaigns/${campaign.id}/ab-test`, { variants }, withId(createId));
    expect(created.status).toBe(201);
    const records = await recordsOf(createId);
    expect(records.map((r) => [r.action, r.target_type, r.target_id])).toEqual([
      ["abtests.create", "ab_test", created.body.id],
      ["campaigns.update", "campaign", campaign.id],
    ]);
    expect(records[0]).toMatchObject({ actor_id: "au-alice", changes: { status: { to: "running" }, campaignId: { to: campaign.id } } });
    expect(records[0].changes.variants.to).toEqual([
      { name: "A", isControl: true, weight: 50, content: { title: "Control" } },
      { name: "B", isControl: false, weight: 50, content: { title: "Challenger" } },
    ]);
    expect(records[1].changes).toEqual({ isABTest: { from: false, to: true } });

    const againId = rid("abtest-again");
    expect((await alice("POST", `/api/campaigns/${campaign.id}/ab-test`, { variants }, withId(againId))).status).toBe(409);
    expect(await recordsOf(againId)).toEqual([]);
  });

  it("leaves neither the test nor its record when flagging the campaign fails (the compensation)", async () => {
    const campaign = await newCampaign({ content: { title: "Base" } });
    const id = rid("abtest-compensated");
    const failing = `CREATE TRIGGER audit_test_fail BEFORE INSERT ON audit_log FOR EACH ROW WHEN (NEW.action = 'campaigns.update' AND NEW.changes ? 'isABTest') EXECUTE FUNCTION audit_test_fail()`;
    const res = await withFailure(failing, () => alice("POST", `/api/campaigns/${campaign.id}/ab-test`, { variants }, withId(id)));
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(await recordsOf(id)).toEqual([]);
    expect((await pg.query("SELECT id FROM ab_tests WHERE campaign_id = $1", [campaign.id])).rows).toEqual([]);
  });
});

describe("segmentation", () => {
  it("records fan upserts per fan with their diff, and nothing for a refused batch or an unknown segment", async () => {
    const createId = rid("fan");
    expect((await alice("POST", "/api/fans", { id: "au-fan-1", displayName: "First", engagement: 10 }, withId(createId))).status).toBe(201);
    expect((await recordsOf(createId)).map((r) => [r.action, r.target_type, r.target_id, r.changes.displayName])).toEqual([["segmentation.upsertFan", "fan", "au-fan-1", { to: "First" }]]);

    const updateId = rid("fan-update");
    await alice("POST", "/api/fans", { id: "au-fan-1", displayName: "Second", engagement: 10 }, withId(updateId));
    const [update, ...more] = await recordsOf(updateId);
    expect(more).toEqual([]);
    expect(update.changes).toEqual({ displayName: { from: "First", to: "Second" } });

    const batchId = rid("fan-batch");
    expect((await alice("POST", "/api/fans/batch", { fans: [{ id: "au-b1" }, { id: "au-b2" }, { id: "au-fan-1", engagement: 20 }] }, withId(batchId))).status).toBe(200);
    const batch = await recordsOf(batchId);
    expect(batch.map((r) => r.target_id).sort()).toEqual(["au-b1", "au-b2", "au-fan-1"]);
    expect(batch.find((r) => r.target_id === "au-fan-1")!.changes).toEqual({ engagement: { from: 10, to: 20 } });

    const refusedId = rid("fan-batch-dup");
    expect((await alice("POST", "/api/fans/batch", { fans: [{ id: "au-b1" }, { id: "au-b1" }] }, withId(refusedId))).status).toBe(422);
    const unknownId = rid("member-404");
    expect((await alice("POST", "/api/segments/no-such-segment/members/au-b1", {}, withId(unknownId))).status).toBe(404);
    expect([...(await recordsOf(refusedId)), ...(await recordsOf(unknownId))]).toEqual([]);
  });

  it("records a manual membership change on the fan, and an erase clears the fan's values from the trail", async () => {
    const segment = await alice("POST", "/api/segments", { name: "VIPs", type: "static" });
    expect(segment.status).toBe(201);
    await alice("POST", "/api/fans", { id: "au-gdpr", displayName: "Jane Privatename", attributes: { city: "Privatetown" } });
    const addId = rid("member");
    expect((await alice("POST", `/api/segments/${segment.body.id}/members/au-gdpr`, {}, withId(addId))).status).toBe(200);
    expect((await recordsOf(addId)).map((r) => [r.action, r.target_type, r.target_id, r.changes])).toEqual([
      ["segmentation.addUserToSegment", "fan", "au-gdpr", { [`segments.${segment.body.id}`]: { from: false, to: true } }],
    ]);
    // Adding again changes nothing and records nothing.
    const againId = rid("member-again");
    expect((await alice("POST", `/api/segments/${segment.body.id}/members/au-gdpr`, {}, withId(againId))).body.changed).toBe(false);
    expect(await recordsOf(againId)).toEqual([]);

    expect(JSON.stringify(await recordsOfTarget("au-gdpr"))).toContain("Privatename");
    const eraseId = rid("erase");
    expect((await alice("DELETE", "/api/fans/au-gdpr", undefined, withId(eraseId))).status).toBe(200);
    const trail = await recordsOfTarget("au-gdpr");
    expect(JSON.stringify(trail)).not.toMatch(/Privatename|Privatetown/);
    expect(trail.find((r) => r.action === "segmentation.upsertFan")!.changes).toMatchObject({ displayName: {}, attributes: {} });
    expect((await recordsOf(eraseId)).map((r) => [r.action, r.changes])).toEqual([
      ["segmentation.eraseFan", { erased: { from: false, to: true }, segmentIds: { from: [segment.body.id], to: [] } }],
    ]);
  });
});

describe("publisher", () => {
  it("records credential changes without a value; a malformed set and a second delete record nothing", async () => {
    const setId = rid("credentials");
    expect((await alice("PUT", "/api/credentials/reddit", { credentials: { accessToken: "tok-SECRET-1", username: "au" } }, withId(setId))).status).toBe(200);
    expect((await recordsOf(setId)).map((r) => [r.action, r.target_type, r.target_id, r.changes])).toEqual([
      ["publisher.setCredentials", "credentials", "reddit", { credentials: { to: "[redacted]" }, fields: { to: ["accessToken", "username"] } }],
    ]);
    const replaceId = rid("credentials-replace");
    await alice("PUT", "/api/credentials/reddit", { credentials: { accessToken: "tok-SECRET-2", username: "au" } }, withId(replaceId));
    expect((await recordsOf(replaceId))[0].changes.credentials).toEqual({ from: "[redacted]", to: "[redacted]" });

    const badId = rid("credentials-bad");
    expect((await alice("PUT", "/api/credentials/reddit", { credentials: { username: "au" } }, withId(badId))).status).toBe(422);
    const deleteId = rid("credentials-delete");
    expect((await alice("DELETE", "/api/credentials/reddit", undefined, withId(deleteId))).status).toBe(200);
    const deleteAgainId = rid("credentials-delete-again");
    expect((await alice("DELETE", "/api/credentials/reddit", undefined, withId(deleteAgainId))).status).toBe(404);
    expect((await recordsOf(deleteId)).map((r) => r.changes)).toEqual([{ credentials: { from: "[redacted]" } }]);
    expect([...(await recordsOf(badId)), ...(await recordsOf(deleteAgainId))]).toEqual([]);

    const everything = (await pg.query("SELECT changes::text AS c FROM audit_log")).rows.map((r) => r.c).join("\n");
    expect(everything).not.toContain("SECRET");
  });
});

describe("automation", () => {
  const workflow = {
    name: "Notify",
    trigger: { type: "event", event: `custom.audit.${run}` },
    actions: [{ type: "webhook", url: "https://user:hook-PASS@hooks.example/x", secret: "hook-SECRET-123" }],
  };

  it("records a workflow without its webhook secret and its activation; invalid and foreign changes record nothing", async () => {
    const createId = rid("workflow");
    const created = await alice("POST", "/api/automations", workflow, withId(createId));
    expect(created.status).toBe(201);
    const [record, ...more] = await recordsOf(createId);
    expect(more).toEqual([]);
    expect(record).toMatchObject({ action: "automation.create", target_type: "automation", target_id: created.body.id });
    expect(record.changes.actions.to).toEqual([{ type: "webhook", url: "https://[redacted]@hooks.example/x", secret: "[redacted]" }]);
    expect(JSON.stringify(record)).not.toMatch(/hook-SECRET|hook-PASS/);

    const activateId = rid("activate");
    expect((await alice("POST", `/api/automations/${created.body.id}/activate`, {}, withId(activateId))).status).toBe(200);
    expect((await recordsOf(activateId)).map((r) => r.changes.status)).toEqual([{ from: "paused", to: "active" }]);

    const invalidId = rid("workflow-invalid");
    expect((await alice("PATCH", `/api/automations/${created.body.id}`, { actions: [{ type: "teleport" }] }, withId(invalidId))).status).toBe(422);
    const foreignId = rid("workflow-foreign");
    expect((await bob("POST", `/api/automations/${created.body.id}/deactivate`, {}, withId(foreignId))).status).toBe(404);
    expect([...(await recordsOf(invalidId)), ...(await recordsOf(foreignId))]).toEqual([]);

    const templateId = rid("message-template");
    expect((await alice("PUT", "/api/message-templates/au_hello", { name: "Hello", text: "Hi {{fanName}}" }, withId(templateId))).status).toBe(200);
    expect((await recordsOf(templateId)).map((r) => [r.target_type, r.target_id, r.changes.text])).toEqual([["message_template", "au_hello", { to: "Hi {{fanName}}" }]]);
  });
});

describe("reading the trail", () => {
  it("pages newest first with a stable cursor and filters by action, actor and time", async () => {
    const campaign = await newCampaign({ name: "v0" });
    for (let i = 1; i <= 5; i++) expect((await alice("PATCH", `/api/campaigns/${campaign.id}`, { name: `v${i}` })).status).toBe(200);

    const seen: { seq: number; action: string; changes: Record<string, { to?: unknown }> }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `/api/audit?target=${campaign.id}&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await alice("GET", query);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items);
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen.map((r) => r.seq)).toEqual([...seen.map((r) => r.seq)].sort((a, b) => b - a));
    expect(new Set(seen.map((r) => r.seq)).size).toBe(6);
    expect(seen.map((r) => r.changes.name.to)).toEqual(["v5", "v4", "v3", "v2", "v1", "v0"]);

    const updates = await alice("GET", `/api/audit?target=${campaign.id}&action=campaigns.update&actor=au-alice&targetType=campaign`);
    expect(updates.body.items).toHaveLength(5);
    expect((await alice("GET", `/api/audit?target=${campaign.id}&actor=system`)).body.items).toEqual([]);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await alice("GET", `/api/audit?target=${campaign.id}&from=${future}`)).body.items).toEqual([]);
    expect((await alice("GET", `/api/audit?target=${campaign.id}&to=${future}`)).body.items).toHaveLength(6);

    expect((await alice("GET", "/api/audit?cursor=not-a-cursor")).status).toBe(422);
    expect((await alice("GET", `/api/audit?from=${future}&to=2020-01-01T00:00:00Z`)).status).toBe(422);
    expect((await alice("GET", "/api/audit?limit=1000")).status).toBe(422);
  });

  it("shows another owner nothing of the records, over REST and gRPC", async () => {
    const campaign = await newCampaign({ name: "Private" });
    expect((await alice("GET", `/api/audit?target=${campaign.id}`)).body.items).toHaveLength(1);
    expect((await bob("GET", `/api/audit?target=${campaign.id}`)).body).toEqual({ items: [], nextCursor: null });
    const bobsView = await bob("GET", "/api/audit?limit=100");
    expect(bobsView.body.items.filter((r: { ownerId: string }) => r.ownerId !== "au-bob")).toEqual([]);

    const client = new GatewayClient(grpcAddress, "marketing.v1.AuditService");
    try {
      const mine = await client.unary("ListAuditRecords", { target: campaign.id }, { token: await token("au-alice") });
      expect(mine.items).toHaveLength(1);
      expect(mine.items[0]).toMatchObject({ actorId: "au-alice", action: "campaigns.create", targetType: "campaign", targetId: campaign.id });
      expect(Number(mine.items[0].seq)).toBeGreaterThan(0);
      const theirs = await client.unary("ListAuditRecords", { target: campaign.id }, { token: await token("au-bob") });
      expect(theirs.items ?? []).toEqual([]);
      // A change over gRPC is recorded with the caller's x-request-id, as over REST.
      const renameId = rid("grpc-rename");
      const campaigns = new GatewayClient(grpcAddress, "marketing.v1.CampaignService");
      try {
        await campaigns.unary("UpdateCampaign", { id: campaign.id, name: "Renamed over gRPC" }, { token: await token("au-alice"), requestId: renameId });
      } finally {
        campaigns.close();
      }
      expect((await recordsOf(renameId)).map((r) => [r.action, r.target_id, r.changes])).toEqual([
        ["campaigns.update", campaign.id, { name: { from: "Private", to: "Renamed over gRPC" } }],
      ]);
      const bad = await client.unary("ListAuditRecords", { limit: 0 }, { token: await token("au-alice") }).catch((err: grpc.ServiceError) => err);
      expect((bad as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
    } finally {
      client.close();
    }
  });

  it("records team membership changes and shows a team's records to its members, whatever their role, and not to others", async () => {
    const team = await alice("POST", "/api/teams", { name: "Audit team" });
    expect(team.status).toBe(201);
    const addId = rid("team-member");
    expect((await alice("POST", `/api/teams/${team.body.id}/members`, { userId: "au-carol", role: "viewer" }, withId(addId))).status).toBe(201);
    expect((await recordsOf(addId)).map((r) => [r.action, r.target_type, r.target_id, r.owner_id, r.team_id, r.changes])).toEqual([
      ["teams.addMember", "team", team.body.id, "au-alice", team.body.id, { "members.au-carol": { from: null, to: "viewer" } }],
    ]);
    const duplicateId = rid("team-member-again");
    expect((await alice("POST", `/api/teams/${team.body.id}/members`, { userId: "au-carol", role: "editor" }, withId(duplicateId))).status).toBe(409);
    expect(await recordsOf(duplicateId)).toEqual([]);
    expect((await alice("GET", `/api/audit?target=${team.body.id}`)).body.items.map((r: { action: string }) => r.action)).toEqual(["teams.addMember", "teams.create"]);
    const aliceInTeam = restClient(baseUrl, await token("au-alice", { team: team.body.id }));
    const carolInTeam = restClient(baseUrl, await token("au-carol", { team: team.body.id }));
    const created = await aliceInTeam("POST", "/api/campaigns", { name: "Team drop", type: "ppv" });
    expect(created.body.teamId).toBe(team.body.id);

    const carols = await carolInTeam("GET", `/api/audit?target=${created.body.id}`);
    expect(carols.body.items).toEqual([expect.objectContaining({ action: "campaigns.create", ownerId: "au-alice", teamId: team.body.id })]);
    expect((await restClient(baseUrl, await token("au-carol"))("GET", `/api/audit?target=${created.body.id}`)).body.items).toEqual([]);
    expect((await bob("GET", `/api/audit?target=${created.body.id}`)).body.items).toEqual([]);
  });
});
