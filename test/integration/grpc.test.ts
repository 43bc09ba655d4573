/**
 * The gRPC gateway against the real campaigns service on PostgreSQL, through a grpc-js client loaded from
 * the same .proto files: CRUD, listing, watching, tenancy, auth, hostile input, deadlines, health and
 * reflection. The last block runs two gateway nodes and the campaigns service on a third over NATS.
 */
import crypto from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { service as healthService } from "grpc-health-check";
import type { ServiceBroker } from "moleculer";
import { createBroker } from "../../lib/broker";
import type { GrpcServiceInstance } from "../../services/grpc.service";
import { GatewayClient, type Message } from "../../services/grpc/client";
import { createTestDatabase, NATS_URL, startBroker, testConfig, token, type TestDatabase } from "../helpers/env";

jest.setTimeout(60_000);

let db: TestDatabase;
let broker: ServiceBroker;
let address: string;
let client: GatewayClient;
let tokenA: string;
let tokenB: string;

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startBroker({ databaseUrl: db.url, grpcPort: 0, services: ["campaigns", "grpc"] });
  address = `127.0.0.1:${boundPort(broker)}`;
  client = new GatewayClient(address);
  [tokenA, tokenB] = await Promise.all([token("userA"), token("userB")]);
});

afterAll(async () => {
  client?.close();
  await broker?.stop();
  await db?.drop();
});

function boundPort(b: ServiceBroker): number {
  return (b.getLocalService("grpc") as unknown as GrpcServiceInstance).boundPort;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Plain JSON → google.protobuf.Struct as a client writes it (independent of the gateway's codec). */
function struct(json: { [key: string]: Json }): Message {
  return { fields: Object.fromEntries(Object.entries(json).map(([k, v]) => [k, value(v)])) };
}
function value(v: Json): Message {
  if (v === null) return { nullValue: "NULL_VALUE" };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(value) } };
  return { structValue: struct(v) };
}
/** google.protobuf.Struct as a client reads it → plain JSON. */
function json(s: Message | undefined): Json {
  return Object.fromEntries(Object.entries(s?.fields ?? {}).map(([k, v]) => [k, fromValue(v as Message)]));
}
function fromValue(v: Message): Json {
  if ("structValue" in v) return json(v.structValue);
  if ("listValue" in v) return (v.listValue.values ?? []).map(fromValue);
  if ("nullValue" in v) return null;
  return v.numberValue ?? v.stringValue ?? v.boolValue;
}

async function failure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await call;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error("expected the call to fail");
}

function errorDetails(err: grpc.ServiceError): { type: string; code: number; data?: { field: string; message: string }[] } {
  const [raw] = err.metadata.get("error-details-bin");
  return JSON.parse((raw as Buffer).toString("utf8"));
}

const asA = (method: string, request: Message) => client.unary(method, request, { token: tokenA });
const asB = (method: string, request: Message) => client.unary(method, request, { token: tokenB });

async function createAsA(fields: Message = {}): Promise<Message> {
  return asA("CreateCampaign", { name: `c-${crypto.randomBytes(3).toString("hex")}`, type: "CAMPAIGN_TYPE_PPV", ...fields });
}

/** Collects a server stream's messages; `next()` waits for the next one, `status` for the end. */
function collect(stream: grpc.ClientReadableStream<Message>) {
  const messages: Message[] = [];
  const waiters: (() => void)[] = [];
  stream.on("data", (m: Message) => {
    messages.push(m);
    waiters.splice(0).forEach((w) => w());
  });
  const status = new Promise<grpc.StatusObject>((resolve) => stream.on("status", resolve));
  // The client reports non-OK statuses as 'error' too; 'status' carries them all.
  stream.on("error", () => undefined);
  let read = 0;
  return {
    status,
    async next(): Promise<Message> {
      while (messages.length <= read) await new Promise<void>((resolve) => waiters.push(resolve));
      return messages[read++];
    },
  };
}

describe("CampaignService CRUD", () => {
  it("creates, reads, updates and deletes a campaign with JSON content", async () => {
    const content = { caption: "New drop", variants: [{ text: "A", weight: 0.5 }, null, true], meta: { deep: { list: [1, "x"] } } };
    const created = await asA("CreateCampaign", {
      name: "Launch week",
      type: "CAMPAIGN_TYPE_PROMOTION",
      platforms: ["PLATFORM_INSTAGRAM", "PLATFORM_TIKTOK"],
      segmentIds: ["s1"],
      content: struct(content),
      goals: struct({ subscribers: 100 }),
      budget: 0,
      isAbTest: true,
      templateId: "tpl-1",
    });
    expect(created).toMatchObject({
      name: "Launch week",
      ownerId: "userA",
      type: "CAMPAIGN_TYPE_PROMOTION",
      status: "CAMPAIGN_STATUS_DRAFT",
      platforms: ["PLATFORM_INSTAGRAM", "PLATFORM_TIKTOK"],
      segmentIds: ["s1"],
      // proto3 `optional`: a budget of 0 is there, not "no budget".
      budget: 0,
      isAbTest: true,
      templateId: "tpl-1",
    });
    expect(json(created.content)).toEqual(content);
    expect(json(created.goals)).toEqual({ subscribers: 100 });
    expect(new Date(created.createdAt).toISOString()).toBe(created.createdAt);

    const got = await asA("GetCampaign", { id: created.id });
    expect(got).toEqual(created);

    const updated = await asA("UpdateCampaign", {
      id: created.id,
      name: "Launch week 2",
      description: "",
      content: struct({ caption: "Changed" }),
      clearFields: ["budget", "platforms", "template_id"],
    });
    expect(updated).toMatchObject({ name: "Launch week 2", description: "", segmentIds: ["s1"], isAbTest: true });
    expect(updated.budget).toBeUndefined();
    expect(updated.platforms).toBeUndefined();
    expect(updated.templateId).toBeUndefined();
    expect(json(updated.content)).toEqual({ caption: "Changed" });
    expect(json(updated.goals)).toEqual({ subscribers: 100 });

    expect(await asA("DeleteCampaign", { id: created.id })).toEqual({ id: created.id, deleted: true });
    const gone = await failure(asA("GetCampaign", { id: created.id }));
    expect(gone.code).toBe(grpc.status.NOT_FOUND);
    expect(errorDetails(gone)).toMatchObject({ type: "NOT_FOUND", code: 404 });
  });
});

describe("ListCampaigns", () => {
  const owner = `lister-${crypto.randomBytes(3).toString("hex")}`;
  let bearer: string;
  const list = (request: Message) => client.unary("ListCampaigns", request, { token: bearer });

  beforeAll(async () => {
    bearer = await token(owner);
    const specs = [
      { name: "alpha", type: "CAMPAIGN_TYPE_PPV", platforms: ["PLATFORM_ONLYFANS"] },
      { name: "bravo", type: "CAMPAIGN_TYPE_PPV", platforms: ["PLATFORM_REDDIT"] },
      { name: "charlie", type: "CAMPAIGN_TYPE_RETENTION", platforms: ["PLATFORM_ONLYFANS"] },
      { name: "delta", type: "CAMPAIGN_TYPE_PPV", platforms: ["PLATFORM_ONLYFANS", "PLATFORM_TIKTOK"] },
      { name: "echo", type: "CAMPAIGN_TYPE_ENGAGEMENT" },
    ];
    for (const spec of specs) await client.unary("CreateCampaign", spec, { token: bearer });
  });

  it("filters by type, platform and name text", async () => {
    const ppvOnOnlyFans = await list({ type: ["CAMPAIGN_TYPE_PPV"], platform: "PLATFORM_ONLYFANS", sort: "CAMPAIGN_SORT_NAME", order: "SORT_ORDER_ASC" });
    expect(ppvOnOnlyFans.items.map((c: Message) => c.name)).toEqual(["alpha", "delta"]);
    expect(ppvOnOnlyFans.nextCursor).toBeUndefined();

    const byText = await list({ q: "ch" });
    expect(byText.items.map((c: Message) => c.name)).toEqual(["echo", "charlie"]);

    const drafts = await list({ status: ["CAMPAIGN_STATUS_DRAFT"], type: ["CAMPAIGN_TYPE_RETENTION", "CAMPAIGN_TYPE_ENGAGEMENT"] });
    expect(drafts.items.map((c: Message) => c.name).sort()).toEqual(["charlie", "echo"]);

    const future = await list({ createdFrom: "2999-01-01T00:00:00Z" });
    expect(future.items ?? []).toEqual([]);
  });

  it("pages through every campaign with the cursor", async () => {
    const names: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await list({ sort: "CAMPAIGN_SORT_NAME", order: "SORT_ORDER_DESC", limit: 2, ...(cursor ? { cursor } : {}) });
      names.push(...page.items.map((c: Message) => c.name));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(names).toEqual(["echo", "delta", "charlie", "bravo", "alpha"]);
  });

  it("sees none of another owner's campaigns", async () => {
    const others = await client.unary("ListCampaigns", { q: "alpha" }, { token: tokenB });
    expect(others.items ?? []).toEqual([]);
  });
});

describe("WatchCampaign", () => {
  it("streams the current state, an update, then the deletion, and ends", async () => {
    const campaign = await createAsA({ name: "watched" });
    const other = await createAsA({ name: "unrelated" });
    const watch = collect(client.serverStream("WatchCampaign", { id: campaign.id }, { token: tokenA }));

    const first = await watch.next();
    expect(first.event).toBe("current");
    expect(first.current).toMatchObject({ id: campaign.id, name: "watched" });

    // A change to another campaign must not show up in this stream.
    await asA("UpdateCampaign", { id: other.id, name: "still unrelated" });
    await asA("UpdateCampaign", { id: campaign.id, name: "watched, renamed", segmentIds: ["vip"] });
    const update = await watch.next();
    expect(update.event).toBe("updated");
    expect(update.updated.campaign).toMatchObject({ id: campaign.id, name: "watched, renamed", segmentIds: ["vip"] });
    expect(update.updated.changed.sort()).toEqual(["name", "segment_ids"]);

    await asA("DeleteCampaign", { id: campaign.id });
    expect(await watch.next()).toMatchObject({ event: "deleted", deleted: { id: campaign.id } });
    expect((await watch.status).code).toBe(grpc.status.OK);
  });

  it("stops when the client cancels", async () => {
    const campaign = await createAsA();
    const stream = client.serverStream("WatchCampaign", { id: campaign.id }, { token: tokenA });
    const watch = collect(stream);
    await watch.next();
    stream.cancel();
    expect((await watch.status).code).toBe(grpc.status.CANCELLED);
    // The server let go of the subscription.
    const gateway = (broker.getLocalService("grpc") as unknown as GrpcServiceInstance).gateway;
    await waitUntil(() => gateway.hub.size === 0);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("tenancy", () => {
  it("answers NOT_FOUND for another owner's campaign on Get, Update, Delete and Watch", async () => {
    const mine = await createAsA({ name: "private" });
    for (const [method, request] of [
      ["GetCampaign", { id: mine.id }],
      ["UpdateCampaign", { id: mine.id, name: "hijacked" }],
      ["DeleteCampaign", { id: mine.id }],
    ] as const) {
      expect((await failure(asB(method, request))).code).toBe(grpc.status.NOT_FOUND);
    }
    const watch = collect(client.serverStream("WatchCampaign", { id: mine.id }, { token: tokenB }));
    expect((await watch.status).code).toBe(grpc.status.NOT_FOUND);
    expect(await asA("GetCampaign", { id: mine.id })).toMatchObject({ name: "private" });
  });

  it("answers PERMISSION_DENIED when the role may not write", async () => {
    const viewer = await token("userA", { role: "viewer" });
    const err = await failure(client.unary("CreateCampaign", { name: "x", type: "CAMPAIGN_TYPE_PPV" }, { token: viewer }));
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
  });
});

describe("authentication", () => {
  it("answers UNAUTHENTICATED without a valid bearer token", async () => {
    const expired = await token("userA", { expiresIn: Math.floor(Date.now() / 1000) - 60 });
    for (const t of [undefined, "not-a-jwt", expired]) {
      const err = await failure(client.unary("ListCampaigns", {}, { token: t }));
      expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    }
    const watch = collect(client.serverStream("WatchCampaign", { id: "x" }));
    expect((await watch.status).code).toBe(grpc.status.UNAUTHENTICATED);
  });
});

describe("bad input", () => {
  it("answers INVALID_ARGUMENT with field details and stores nothing", async () => {
    const before = await asA("ListCampaigns", { limit: 100 });
    const hostile = struct({ ok: 1 });
    hostile.fields = Object.fromEntries([["nested", value({ fine: true })], ["__proto__", value({ polluted: true })]]);
    // Deeper than the JSON guard's 32 levels, within what protobuf encodes.
    const deep = [...Array(40)].reduce<Json>((inner) => ({ inner }), 1) as { [key: string]: Json };

    const cases: [Message, string][] = [
      [{ name: "unknown enum", type: 99 }, "type"],
      [{ name: "   ", type: "CAMPAIGN_TYPE_PPV" }, "name"],
      [{ name: "hostile", type: "CAMPAIGN_TYPE_PPV", content: hostile }, "content.__proto__"],
      [{ name: "list", type: "CAMPAIGN_TYPE_PPV", platforms: ["PLATFORM_UNSPECIFIED"] }, "platforms[0]"],
      [{ name: "media", type: "CAMPAIGN_TYPE_PPV", mediaUrls: ["not a url"] }, "mediaUrls[0]"],
      [{ name: "deep", type: "CAMPAIGN_TYPE_PPV", content: struct(deep) }, `content${".inner".repeat(33)}`],
    ];
    for (const [request, field] of cases) {
      const err = await failure(asA("CreateCampaign", request));
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.details).toContain(field);
      expect(errorDetails(err).data?.map((p) => p.field)).toContain(field);
    }

    const after = await asA("ListCampaigns", { limit: 100 });
    expect(after).toEqual(before);
  });

  it("leaves the campaign unchanged when an update is refused", async () => {
    const campaign = await createAsA({ name: "steady", content: struct({ a: 1 }) });
    const refused: Message[] = [
      { id: campaign.id, name: "" },
      { id: campaign.id, content: Object.fromEntries([["fields", Object.fromEntries([["constructor", value("x")]])]]) },
      { id: campaign.id, type: 42 },
      { id: campaign.id, clearFields: ["name"] },
      { id: campaign.id, clearFields: ["no_such_field"] },
      { id: campaign.id, budget: 5, clearFields: ["budget"] },
    ];
    for (const request of refused) {
      expect((await failure(asA("UpdateCampaign", request))).code).toBe(grpc.status.INVALID_ARGUMENT);
    }
    expect(await asA("GetCampaign", { id: campaign.id })).toEqual(campaign);
  });
});

describe("deadlines", () => {
  it("answers DEADLINE_EXCEEDED when the deadline passes first", async () => {
    const err = await failure(client.unary("ListCampaigns", {}, { token: tokenA, deadline: Date.now() + 1 }));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });

  it("serves a call whose deadline leaves enough time", async () => {
    const page = await client.unary("ListCampaigns", { limit: 1 }, { token: tokenA, deadline: Date.now() + 10_000 });
    expect(page.items).toHaveLength(1);
  });
});

describe("health and reflection", () => {
  it("reports SERVING for the server and for CampaignService, NOT_FOUND for unknown services", async () => {
    const Health = grpc.makeClientConstructor(healthService as grpc.ServiceDefinition, "Health");
    const health = new Health(address, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
    const check = (service: string) =>
      new Promise<Message>((resolve, reject) => health.check({ service }, (err: Error | null, res: Message) => (err ? reject(err) : resolve(res))));
    try {
      expect(await check("")).toEqual({ status: "SERVING" });
      expect(await check("marketing.v1.CampaignService")).toEqual({ status: "SERVING" });
      expect((await failure(check("marketing.v1.Nope"))).code).toBe(grpc.status.NOT_FOUND);
    } finally {
      health.close();
    }
  });

  it("lists and describes CampaignService through server reflection", async () => {
    const definition = protoLoader.loadSync(require.resolve("@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto"), {
      keepCase: true,
      oneofs: true,
    });
    const reflectionPkg = grpc.loadPackageDefinition(definition) as any;
    const reflection = new reflectionPkg.grpc.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure());
    try {
      const ask = (request: Message) =>
        new Promise<Message>((resolve, reject) => {
          const call = reflection.ServerReflectionInfo();
          call.on("data", (res: Message) => {
            resolve(res);
            call.end();
          });
          call.on("error", reject);
          call.write(request);
        });
      const services = await ask({ list_services: "*" });
      const names = services.list_services_response.service.map((s: Message) => s.name);
      expect(names).toEqual(expect.arrayContaining(["marketing.v1.CampaignService", "grpc.health.v1.Health"]));

      const files = await ask({ file_containing_symbol: "marketing.v1.CampaignService" });
      // proto-loader regroups definitions into one file per package (marketing_v1.proto).
      const descriptors = files.file_descriptor_response.file_descriptor_proto.map((b: Buffer) => b.toString("latin1"));
      expect(descriptors.some((d: string) => d.includes("CampaignService") && d.includes("WatchCampaign"))).toBe(true);
    } finally {
      reflection.close();
    }
  });
});

describe("gateways on other nodes (NATS)", () => {
  const namespace = `grpc-${crypto.randomBytes(4).toString("hex")}`;
  const nodes: ServiceBroker[] = [];
  const clients: GatewayClient[] = [];

  beforeAll(async () => {
    // Three brokers in this process: each needs its own node id.
    const node = (services: string[], i: number) =>
      createBroker(testConfig({ services, natsUrl: NATS_URL, databaseUrl: db.url, grpcPort: 0, nodeId: `${namespace}-${i}` }), {
        namespace,
        logger: false,
      });
    nodes.push(node(["campaigns"], 0), node(["grpc"], 1), node(["grpc"], 2));
    await Promise.all(nodes.map((n) => n.start()));
    await Promise.all(nodes.slice(1).map((n) => n.waitForServices(["campaigns"], 20_000)));
    clients.push(...nodes.slice(1).map((n) => new GatewayClient(`127.0.0.1:${boundPort(n)}`)));
  });

  afterAll(async () => {
    clients.forEach((c) => c.close());
    await Promise.all(nodes.map((n) => n.stop()));
  });

  it("serves RPCs and streams a change to watchers on every gateway node", async () => {
    const [one, two] = clients;
    const campaign = await one.unary("CreateCampaign", { name: "remote", type: "CAMPAIGN_TYPE_PPV" }, { token: tokenA });
    expect(await two.unary("GetCampaign", { id: campaign.id }, { token: tokenA })).toEqual(campaign);

    const watches = clients.map((c) => collect(c.serverStream("WatchCampaign", { id: campaign.id }, { token: tokenA })));
    for (const w of watches) expect((await w.next()).current.id).toBe(campaign.id);
    await two.unary("UpdateCampaign", { id: campaign.id, name: "remote, renamed" }, { token: tokenA });
    for (const w of watches) expect((await w.next()).updated.campaign.name).toBe("remote, renamed");

    expect((await failure(one.unary("GetCampaign", { id: campaign.id }, { token: tokenB }))).code).toBe(grpc.status.NOT_FOUND);
    await one.unary("DeleteCampaign", { id: campaign.id }, { token: tokenA });
    for (const w of watches) expect((await w.status).code).toBe(grpc.status.OK);
  });
});
