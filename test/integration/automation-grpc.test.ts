/**
 * The automation RPCs through the real gRPC gateway, with automation, segmentation, campaigns and the
 * publisher on PostgreSQL in one broker: a workflow's life (create, activate, test-mode run, history,
 * stats, change, deactivate, delete), templates, message templates, tenancy and bad definitions.
 */
import * as grpc from "@grpc/grpc-js";
import type { ServiceBroker } from "moleculer";
import type { GrpcServiceInstance } from "../../services/grpc.service";
import { GatewayClient, type Message } from "../../services/grpc/client";
import { createTestDatabase, startBroker, token, type TestDatabase } from "../helpers/env";
import { fromList, fromStruct, list, struct, type Json } from "../helpers/protobuf-json";

jest.setTimeout(60_000);

let db: TestDatabase;
let broker: ServiceBroker;
let automation: GatewayClient;
let fans: GatewayClient;
let tokenA: string;
let tokenB: string;

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startBroker({ databaseUrl: db.url, grpcPort: 0, services: ["automation", "segmentation", "campaigns", "publisher", "grpc"] });
  const address = `127.0.0.1:${(broker.getLocalService("grpc") as unknown as GrpcServiceInstance).boundPort}`;
  automation = new GatewayClient(address, "marketing.v1.AutomationService");
  fans = new GatewayClient(address, "marketing.v1.FanService");
  [tokenA, tokenB] = await Promise.all([token("grpc-auto-a"), token("grpc-auto-b")]);
});

afterAll(async () => {
  automation?.close();
  fans?.close();
  await broker?.stop();
  await db?.drop();
});

const rpc = (method: string, request: Message, t = tokenA) => automation.unary(method, request, { token: t });

async function failure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await call;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error("expected the call to fail");
}

function problemFields(err: grpc.ServiceError): string[] {
  const [raw] = err.metadata.get("error-details-bin");
  return (JSON.parse((raw as Buffer).toString("utf8")).data ?? []).map((p: { field: string }) => p.field);
}

const trigger = { type: "event", event: "custom.ping" };
const actions: Json[] = [
  { type: "send_message", template: "welcome_message", personalize: true },
  { type: "wait", duration: "1 hour" },
  { type: "check_engagement", condition: "engagement < 1", ifTrue: { type: "send_message", template: "re_engagement" } },
];

it("creates and activates a workflow, runs it in test mode, and reports its executions and stats", async () => {
  await fans.unary("UpsertFan", { id: "ann", displayName: "Ann", platform: "PLATFORM_ONLYFANS", engagement: 0 }, { token: tokenA });
  const created = await rpc("CreateWorkflow", { name: "Ping flow", description: "d", trigger: struct(trigger), actions: list(actions), settings: struct({ reentry: true }) });
  expect(created).toMatchObject({ name: "Ping flow", status: "WORKFLOW_STATUS_PAUSED", ownerId: "grpc-auto-a" });
  expect(fromStruct(created.trigger)).toEqual(trigger);
  expect(fromList(created.actions)).toEqual(actions);
  expect(fromStruct(created.settings)).toEqual({ reentry: true });

  const active = await rpc("ActivateWorkflow", { id: created.id });
  expect(active.status).toBe("WORKFLOW_STATUS_ACTIVE");
  const listed = await rpc("ListWorkflows", { status: "WORKFLOW_STATUS_ACTIVE" });
  expect(listed.items.map((w: Message) => w.id)).toEqual([created.id]);

  const run = await rpc("ExecuteWorkflow", { id: created.id, fanId: "ann", testMode: true, data: struct({ source: "grpc" }) });
  expect(run).toMatchObject({ automationId: created.id, fanId: "ann", status: "RUN_STATUS_SUCCESS", testMode: true });
  expect(fromStruct(run.triggerData)).toEqual({ trigger: "manual", source: "grpc" });
  // Waits are skipped and every side effect simulated; Ann's engagement 0 takes the ifTrue branch.
  expect(run.executedActions.map((s: Message) => [s.path, s.status])).toEqual([
    ["actions[0]", "STEP_STATUS_SIMULATED"],
    ["actions[1]", "STEP_STATUS_SIMULATED"],
    ["actions[2]", "STEP_STATUS_SUCCESS"],
    ["actions[2].ifTrue[0]", "STEP_STATUS_SIMULATED"],
  ]);

  const history = await rpc("ListExecutions", { id: created.id, status: "RUN_STATUS_SUCCESS" });
  expect(history.items.map((r: Message) => r.id)).toEqual([run.id]);
  expect(history.nextCursor).toBeUndefined();
  const stats = await rpc("GetWorkflowStats", { id: created.id });
  expect(stats).toMatchObject({ automationId: created.id, total: 1, byStatus: { success: 1 }, successRate: 1 });

  const changed = await rpc("UpdateWorkflow", { id: created.id, name: "Ping flow 2", clearFields: ["description", "settings"] });
  expect(changed).toMatchObject({ name: "Ping flow 2", status: "WORKFLOW_STATUS_ACTIVE" });
  expect(changed.description).toBeUndefined();
  expect(fromStruct(changed.settings)).toEqual({});

  const paused = await rpc("DeactivateWorkflow", { id: created.id, cancelRuns: true });
  expect(paused).toMatchObject({ status: "WORKFLOW_STATUS_PAUSED", cancelledRuns: 0 });
  expect(await rpc("DeleteWorkflow", { id: created.id })).toEqual({ id: created.id, deleted: true });
  expect((await failure(rpc("GetWorkflow", { id: created.id }))).code).toBe(grpc.status.NOT_FOUND);
});

it("installs the welcome series active, and a custom event starts the workflows it triggers", async () => {
  const templates = await rpc("ListAutomationTemplates", {});
  const welcome = templates.templates.find((t: Message) => t.id === "welcome_series");
  expect(welcome.name).toBe("New Fan Welcome Series");
  expect(fromStruct(welcome.trigger)).toEqual({ type: "event", event: "fan.subscribed" });

  const installed = await rpc("InstallAutomationTemplate", { id: "welcome_series", activate: true });
  expect(installed).toMatchObject({ name: "New Fan Welcome Series", status: "WORKFLOW_STATUS_ACTIVE", templateId: "welcome_series" });
  expect(fromList(installed.actions)).toEqual(fromList(welcome.actions));
  expect((await failure(rpc("InstallAutomationTemplate", { id: "no_such_template" }))).code).toBe(grpc.status.NOT_FOUND);

  const pinged = await rpc("CreateWorkflow", { name: "On ping", trigger: struct(trigger), actions: list([{ type: "wait", duration: "1 day" }]) });
  await rpc("ActivateWorkflow", { id: pinged.id });
  await fans.unary("UpsertFan", { id: "bea" }, { token: tokenA });
  expect(await rpc("IngestEvent", { name: "custom.ping", fanId: "bea" })).toEqual({ accepted: true, name: "custom.ping", runsStarted: 1 });
  const runs = (await rpc("ListExecutions", { id: pinged.id })).items;
  expect(runs).toEqual([expect.objectContaining({ fanId: "bea", status: "RUN_STATUS_WAITING", wakeAt: expect.any(String) })]);
});

it("saves, lists and renders message templates", async () => {
  const saved = await rpc("SaveMessageTemplate", { id: "welcome_message", name: "My welcome", text: "Hey {{fanName}}! {{offer}}" });
  expect(saved).toMatchObject({ id: "welcome_message", name: "My welcome", updatedAt: expect.any(String) });
  const bad = await failure(rpc("SaveMessageTemplate", { id: "x", name: "x", text: "Hi {{password}}" }));
  expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(problemFields(bad)).toEqual(["text"]);

  const all = await rpc("ListMessageTemplates", {});
  expect(all.variables).toEqual(expect.arrayContaining(["fanName", "offer"]));
  expect(all.templates.find((t: Message) => t.id === "welcome_message")).toMatchObject({ name: "My welcome", custom: true });
  expect(all.templates.find((t: Message) => t.id === "re_engagement").custom ?? false).toBe(false);

  await fans.unary("UpsertFan", { id: "cat", displayName: "Cat" }, { token: tokenA });
  const rendered = await rpc("RenderMessageTemplate", { id: "welcome_message", fanId: "cat", variables: struct({ offer: "20% off today" }) });
  expect(rendered).toMatchObject({ id: "welcome_message", text: "Hey Cat! 20% off today" });
  expect(fromStruct(rendered.variables)).toMatchObject({ fanName: "Cat", offer: "20% off today" });
  // Another creator sees the built-in template, not A's copy.
  expect((await rpc("RenderMessageTemplate", { id: "welcome_message" }, tokenB)).text).toContain("welcome!");
});

it("answers NOT_FOUND for another owner's workflow and INVALID_ARGUMENT naming the bad path", async () => {
  const wf = await rpc("CreateWorkflow", { name: "Mine", trigger: struct(trigger), actions: list(actions) });
  for (const [method, request] of [
    ["GetWorkflow", { id: wf.id }],
    ["ActivateWorkflow", { id: wf.id }],
    ["ExecuteWorkflow", { id: wf.id, testMode: true }],
    ["ListExecutions", { id: wf.id }],
    ["GetWorkflowStats", { id: wf.id }],
    ["UpdateWorkflow", { id: wf.id, name: "theirs" }],
    ["DeleteWorkflow", { id: wf.id }],
  ] as const) {
    expect([method, (await failure(rpc(method, request, tokenB))).code]).toEqual([method, grpc.status.NOT_FOUND]);
  }
  expect((await rpc("ListWorkflows", {}, tokenB)).items).toBeUndefined();

  const nested = [{ type: "check_engagement", condition: "engagement < 1", ifTrue: { type: "send_message", template: 5 } }];
  const bad = await failure(rpc("CreateWorkflow", { name: "bad", trigger: struct(trigger), actions: list(nested) }));
  expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(problemFields(bad)).toContain("actions[0].ifTrue.template");
  expect(bad.details).toContain("actions[0].ifTrue.template");

  const badUpdate = await failure(rpc("UpdateWorkflow", { id: wf.id, actions: list([{ type: "teleport" }]) }));
  expect(problemFields(badUpdate)).toContain("actions[0].type");
  expect(problemFields(await failure(rpc("UpdateWorkflow", { id: wf.id, clearFields: ["nope"] })))).toEqual(["clearFields[0]"]);
  expect(fromList((await rpc("GetWorkflow", { id: wf.id })).actions)).toEqual(actions);
});
