/**
 * The campaign lifecycle, templates, spend and duplication over gRPC, against the real campaigns service
 * (the publisher is a recording stand-in with the publisher's action; it is tested on its own).
 */
import * as grpc from "@grpc/grpc-js";
import type { ServiceBroker, ServiceSchema } from "moleculer";
import type { GrpcServiceInstance } from "../../services/grpc.service";
import { GatewayClient, type Message } from "../../services/grpc/client";
import { createTestDatabase, startBroker, token, type TestDatabase } from "../helpers/env";

jest.setTimeout(60_000);

let db: TestDatabase;
let broker: ServiceBroker;
let client: GatewayClient;
let owner: string;
let stranger: string;

const publisher: ServiceSchema = {
  name: "publisher",
  actions: {
    publish: {
      permission: "write",
      handler: (ctx: any) => ({ publications: ctx.params.platforms.map((platform: string) => ({ platform, id: `a-${platform}`, state: "pending" })) }),
    },
  },
} as ServiceSchema;

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startBroker({ databaseUrl: db.url, grpcPort: 0, services: ["campaigns", "grpc"] }, [publisher]);
  const port = (broker.getLocalService("grpc") as unknown as GrpcServiceInstance).boundPort;
  client = new GatewayClient(`127.0.0.1:${port}`);
  [owner, stranger] = await Promise.all([token("grpc-life-owner"), token("grpc-life-stranger")]);
});

afterAll(async () => {
  client?.close();
  await broker?.stop();
  await db?.drop();
});

const call = (method: string, request: Message, bearer = owner) => client.unary(method, request, { token: bearer });
const content = { fields: { title: { stringValue: "New set" }, description: { stringValue: "Out now" } } };

async function create(name = "Lifecycle") {
  return call("CreateCampaign", { name, type: "CAMPAIGN_TYPE_PPV", platforms: ["PLATFORM_REDDIT", "PLATFORM_ONLYFANS"], content, budget: 20 });
}

it("schedules, launches, pauses, resumes and completes", async () => {
  const c = await create();
  const scheduled = await call("ScheduleCampaign", { id: c.id, scheduledFor: new Date(Date.now() + 3_600_000).toISOString() });
  expect(scheduled.campaign.status).toBe("CAMPAIGN_STATUS_SCHEDULED");
  expect(scheduled.conflicts ?? []).toEqual([]);

  const launched = await call("LaunchCampaign", { id: c.id });
  expect(launched.campaign.status).toBe("CAMPAIGN_STATUS_ACTIVE");
  expect(launched.outcomes.map((o: Message) => [o.platform, o.status, o.attemptId])).toEqual([
    ["PLATFORM_REDDIT", "queued", "a-reddit"],
    ["PLATFORM_ONLYFANS", "queued", "a-onlyfans"],
  ]);

  expect((await call("PauseCampaign", { id: c.id, reason: "weekend" })).statusReason).toBe("weekend");
  expect((await call("ResumeCampaign", { id: c.id })).status).toBe("CAMPAIGN_STATUS_ACTIVE");
  expect((await call("CompleteCampaign", { id: c.id })).status).toBe("CAMPAIGN_STATUS_COMPLETED");
});

it("answers FAILED_PRECONDITION for an illegal transition, naming the current status", async () => {
  const c = await create();
  const err: any = await call("PauseCampaign", { id: c.id }).catch((e) => e);
  expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
  expect(err.details).toContain("draft");
  const details = JSON.parse(err.metadata.get("error-details-bin")[0].toString("utf8"));
  expect(details.data).toMatchObject({ currentStatus: "draft", allowedActions: ["schedule", "launch", "cancel"] });
});

it("records spend once per event id and pauses on an exhausted budget", async () => {
  const c = await create("Spender");
  await call("LaunchCampaign", { id: c.id });
  const first = await call("RecordSpend", { id: c.id, amount: 15, eventId: "g1" });
  expect(first.applied).toBe(true);
  const replay = await call("RecordSpend", { id: c.id, amount: 15, eventId: "g1" });
  expect(replay.applied).toBe(false);
  const last = await call("RecordSpend", { id: c.id, amount: 6, eventId: "g2" });
  expect(last.campaign).toMatchObject({ spent: 21, status: "CAMPAIGN_STATUS_PAUSED", statusReason: "budget_exhausted" });
});

it("lists templates, creates from one with variables, saves one, and duplicates", async () => {
  const { templates } = await call("ListTemplates", { niche: "gaming" });
  expect(templates.map((t: Message) => t.name).sort()).toEqual(["Exclusive Stream Access", "Game Tutorial Series"]);
  const missing: any = await call("CreateCampaignFromTemplate", { id: "gaming-game-tutorial-series" }).catch((e) => e);
  expect(missing.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(missing.details).toContain("customization.variables.gameName");
  const made = await call("CreateCampaignFromTemplate", { id: "gaming-game-tutorial-series", variables: { "Game Name": "Hades" }, platforms: ["PLATFORM_REDDIT"] });
  expect(made.content.fields.title.stringValue).toBe("Master Hades - Pro Tips 🏆");
  const saved = await call("SaveAsTemplate", { id: made.id, name: "My Hades formula", niche: "gaming" });
  expect(saved).toMatchObject({ name: "My Hades formula", niche: "gaming", ownerId: "grpc-life-owner" });
  const copy = await call("DuplicateCampaign", { id: made.id });
  expect(copy).toMatchObject({ name: "Game Tutorial Series (copy)", status: "CAMPAIGN_STATUS_DRAFT" });
});

it("hides another owner's campaign from every lifecycle RPC (NOT_FOUND)", async () => {
  const c = await create("Private");
  for (const [method, request] of [
    ["ScheduleCampaign", { id: c.id, scheduledFor: new Date(Date.now() + 3_600_000).toISOString() }],
    ["LaunchCampaign", { id: c.id }],
    ["PauseCampaign", { id: c.id }],
    ["ResumeCampaign", { id: c.id }],
    ["CompleteCampaign", { id: c.id }],
    ["CancelCampaign", { id: c.id }],
    ["DuplicateCampaign", { id: c.id }],
    ["RecordSpend", { id: c.id, amount: 1 }],
    ["SaveAsTemplate", { id: c.id, name: "x" }],
  ] as const) {
    const err: any = await call(method, request, stranger).catch((e) => e);
    expect([method, err.code]).toEqual([method, grpc.status.NOT_FOUND]);
  }
});
