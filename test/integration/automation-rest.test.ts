/**
 * Automation over HTTP across two OS processes on real NATS: the REST gateway in one; automation,
 * segmentation, campaigns and the publisher (PostgreSQL) in the other. A workflow's life, tenancy, bad
 * definitions → 422 with paths, message templates, and the seed's welcome series started by a fan
 * subscribing through the segmentation route.
 */
import crypto from "node:crypto";
import { createTestDatabase, freePort, NATS_URL, TEST_JWT_SECRET, token, type TestDatabase } from "../helpers/env";
import { restClient } from "../helpers/http";
import { startNode, waitFor, type NodeProcess } from "../helpers/process";

jest.setTimeout(120_000);

let db: TestDatabase;
let gateway: NodeProcess;
let worker: NodeProcess;
let asA: ReturnType<typeof restClient>;
let asB: ReturnType<typeof restClient>;

beforeAll(async () => {
  db = await createTestDatabase();
  const common = { NATS_URL, NAMESPACE: `t-${crypto.randomBytes(4).toString("hex")}`, JWT_SECRET: TEST_JWT_SECRET };
  const port = await freePort();
  [worker, gateway] = await Promise.all([
    startNode({ ...common, SERVICES: "automation,segmentation,campaigns,publisher", DATABASE_URL: db.url }),
    startNode({ ...common, SERVICES: "api", PORT: String(port), HOST: "127.0.0.1" }),
  ]);
  asA = restClient(`http://127.0.0.1:${port}`, await token("auto-rest-a"));
  asB = restClient(`http://127.0.0.1:${port}`, await token("auto-rest-b"));
  // The gateway learns about the remote services over NATS.
  await waitFor(async () => (await asA("GET", "/api/automations")).status === 200 && (await asA("GET", "/api/segments")).status === 200);
});

afterAll(async () => {
  await Promise.all([gateway?.stop(), worker?.stop()]);
  await db?.drop();
});

const trigger = { type: "event", event: "custom.ping" };
const actions = [
  { type: "send_message", template: "welcome_message", personalize: true },
  { type: "wait", duration: "1 hour" },
  { type: "check_engagement", condition: "engagement < 1", ifTrue: { type: "send_message", template: "re_engagement" } },
];

it("runs the gateway and the services in two processes", () => {
  expect(gateway.child.pid).not.toBe(worker.child.pid);
  expect(worker.output()).toMatch(/services: .*automation/);
});

it("workflows: create, activate, test-mode execute, executions, stats, update, deactivate, delete", async () => {
  expect((await asA("POST", "/api/fans", { id: "ann", displayName: "Ann", engagement: 0 })).status).toBe(201);
  const created = await asA("POST", "/api/automations", { name: "Ping flow", description: "d", trigger, actions });
  expect(created.status).toBe(201);
  expect(created.headers.get("location")).toBe(`/api/automations/${created.body.id}`);
  expect(created.body).toMatchObject({ name: "Ping flow", status: "paused", trigger, actions, conditions: [], settings: {} });
  const id = created.body.id;

  const active = await asA("POST", `/api/automations/${id}/activate`);
  expect(active.status).toBe(200);
  expect(active.body.status).toBe("active");
  expect((await asA("GET", "/api/automations?status=active")).body.items.map((w: { id: string }) => w.id)).toEqual([id]);

  const run = await asA("POST", `/api/automations/${id}/execute`, { fanId: "ann", testMode: true, data: { source: "rest" } });
  expect(run.status).toBe(201);
  expect(run.body).toMatchObject({ automationId: id, fanId: "ann", status: "success", testMode: true, triggerData: { trigger: "manual", source: "rest" } });
  expect(run.body.executedActions.map((s: { path: string; status: string }) => [s.path, s.status])).toEqual([
    ["actions[0]", "simulated"],
    ["actions[1]", "simulated"],
    ["actions[2]", "success"],
    ["actions[2].ifTrue[0]", "simulated"],
  ]);
  expect(run.body.cursor).toBeUndefined(); // internal

  const history = await asA("GET", `/api/automations/${id}/executions?status=success&limit=5`);
  expect(history.status).toBe(200);
  expect(history.body).toMatchObject({ items: [expect.objectContaining({ id: run.body.id })], nextCursor: null });
  const stats = await asA("GET", `/api/automations/${id}/stats`);
  expect(stats.body).toMatchObject({ automationId: id, total: 1, byStatus: { success: 1, failure: 0 }, successRate: 1 });

  const patched = await asA("PATCH", `/api/automations/${id}`, { name: "Ping flow 2", settings: { reentry: true } });
  expect(patched.body).toMatchObject({ name: "Ping flow 2", status: "active", settings: { reentry: true }, description: "d" });
  const paused = await asA("POST", `/api/automations/${id}/deactivate`, { cancelRuns: true });
  expect(paused.body).toMatchObject({ status: "paused", cancelledRuns: 0 });
  expect((await asA("DELETE", `/api/automations/${id}`)).body).toEqual({ id, deleted: true });
  expect((await asA("GET", `/api/automations/${id}`)).status).toBe(404);
});

it("another owner's workflow is 404; a bad definition is 422 naming the path", async () => {
  const { body: wf } = await asA("POST", "/api/automations", { name: "Mine", trigger, actions });
  for (const [method, path] of [
    ["GET", `/api/automations/${wf.id}`],
    ["PUT", `/api/automations/${wf.id}`],
    ["POST", `/api/automations/${wf.id}/activate`],
    ["POST", `/api/automations/${wf.id}/execute`],
    ["GET", `/api/automations/${wf.id}/executions`],
    ["GET", `/api/automations/${wf.id}/stats`],
    ["DELETE", `/api/automations/${wf.id}`],
  ]) {
    const res = await asB(method, path, method === "PUT" ? { name: "theirs" } : method === "POST" ? {} : undefined);
    expect([method, path, res.status]).toEqual([method, path, 404]);
  }

  const nested = [{ type: "check_engagement", condition: "engagement < 1", ifTrue: { type: "send_message", template: 5 } }];
  const bad = await asA("POST", "/api/automations", { name: "bad", trigger, actions: nested });
  expect(bad.status).toBe(422);
  expect(bad.body.error.data).toEqual([expect.objectContaining({ field: "actions[0].ifTrue.template" })]);
  const injected = await asA("PUT", `/api/automations/${wf.id}`, { conditions: ["constructor < 1"] });
  expect(injected.status).toBe(422);
  expect(injected.body.error.data.map((p: { field: string }) => p.field)).toEqual(["conditions[0]"]);
  expect((await asA("GET", `/api/automations/${wf.id}`)).body.conditions).toEqual([]);
});

it("installs the New Fan Welcome Series active; a fan subscribing through segmentation starts a run", async () => {
  const templates = await asA("GET", "/api/automation-templates");
  expect(templates.body.templates.map((t: { name: string }) => t.name)).toContain("New Fan Welcome Series");

  const installed = await asA("POST", "/api/automations/templates/welcome_series/install", { activate: true });
  expect(installed.status).toBe(201);
  expect(installed.body).toMatchObject({ name: "New Fan Welcome Series", status: "active", templateId: "welcome_series" });
  expect((await asA("POST", "/api/automations/templates/nope/install", {})).status).toBe(404);

  const before = Date.now();
  const subscribed = await asA("POST", "/api/fans/zoe/activity", { type: "subscribed" });
  expect(subscribed.status).toBe(200);
  expect(subscribed.body.subscriptionStatus).toBe("active");

  // The bus event reaches automation after the answer: the run appears shortly after.
  const executions = `/api/automations/${installed.body.id}/executions`;
  await waitFor(async () => (await asA("GET", executions)).body.items.length > 0, 10_000, 100);
  const [run] = (await asA("GET", executions)).body.items;
  // Parked at the first step, a 5-minute wait, with the subscription event as its trigger data.
  expect(run).toMatchObject({ fanId: "zoe", status: "waiting", testMode: false, triggerData: { event: "segmentation.fan.subscribed" } });
  expect(Date.parse(run.wakeAt) - before).toBeGreaterThanOrEqual(5 * 60_000 - 1000);
  expect(Date.parse(run.wakeAt) - Date.now()).toBeLessThanOrEqual(5 * 60_000);

  // The same fan subscribing again does not enter twice (no re-entry by default); B's fan starts nothing of A's.
  await asA("POST", "/api/fans/zoe/activity", { type: "subscribed" });
  await asB("POST", "/api/fans/zoe/activity", { type: "subscribed" });
  await new Promise((r) => setTimeout(r, 500));
  expect((await asA("GET", executions)).body.items).toHaveLength(1);
});

it("message templates: list, save a copy, refuse unknown variables, render for a fan", async () => {
  const list = await asA("GET", "/api/message-templates");
  expect(list.body.variables).toEqual(expect.arrayContaining(["fanName", "offer"]));
  expect(list.body.templates.find((t: { id: string }) => t.id === "welcome_message")).toMatchObject({ custom: false });

  const saved = await asA("PUT", "/api/message-templates/welcome_message", { name: "My welcome", text: "Hey {{fanName}}! {{offer}}" });
  expect(saved.status).toBe(200);
  const bad = await asA("PUT", "/api/message-templates/x", { name: "x", text: "Hi {{password}}" });
  expect(bad.status).toBe(422);
  expect(bad.body.error.data).toEqual([expect.objectContaining({ field: "text", type: "variable" })]);
  expect((await asA("GET", "/api/message-templates")).body.templates.find((t: { id: string }) => t.id === "welcome_message")).toMatchObject({ custom: true, name: "My welcome" });

  await asA("POST", "/api/fans", { id: "cat", displayName: "Cat" });
  const rendered = await asA("POST", "/api/message-templates/welcome_message/render", { fanId: "cat", variables: { offer: "20% off today" } });
  expect(rendered.status).toBe(200);
  expect(rendered.body).toMatchObject({ id: "welcome_message", text: "Hey Cat! 20% off today" });
  expect((await asA("POST", "/api/message-templates/nope/render", {})).status).toBe(404);
  expect((await asB("POST", "/api/message-templates/welcome_message/render", { fanId: "cat" })).status).toBe(404);
});
