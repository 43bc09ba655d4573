/**
 * Two OS processes over real NATS: the REST and gRPC gateways in one, the campaigns service (on PostgreSQL)
 * in the other. CRUD (both protocols), tenancy and hostile input all cross the wire.
 */
import crypto from "node:crypto";
import { SignJWT } from "jose";
import { createTestDatabase, freePort, NATS_URL, TEST_JWT_SECRET, token, type TestDatabase } from "../helpers/env";
import { restClient } from "../helpers/http";
import { startNode, waitFor, type NodeProcess } from "../helpers/process";
import * as grpc from "@grpc/grpc-js";
import { GatewayClient } from "../../services/grpc/client";

jest.setTimeout(120_000);

let db: TestDatabase;
let gateway: NodeProcess;
let campaigns: NodeProcess;
let baseUrl: string;
let asA: ReturnType<typeof restClient>;
let asB: ReturnType<typeof restClient>;
let anonymous: ReturnType<typeof restClient>;
let grpcClient: GatewayClient;

beforeAll(async () => {
  db = await createTestDatabase();
  const common = { NATS_URL, NAMESPACE: `t-${crypto.randomBytes(4).toString("hex")}`, JWT_SECRET: TEST_JWT_SECRET };
  const port = await freePort();
  const grpcPort = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  [campaigns, gateway] = await Promise.all([
    startNode({ ...common, SERVICES: "campaigns", DATABASE_URL: db.url }),
    startNode({ ...common, SERVICES: "api,grpc", PORT: String(port), GRPC_PORT: String(grpcPort), HOST: "127.0.0.1" }),
  ]);
  grpcClient = new GatewayClient(`127.0.0.1:${grpcPort}`);
  asA = restClient(baseUrl, await token("rest-a"));
  asB = restClient(baseUrl, await token("rest-b"));
  anonymous = restClient(baseUrl);
  // The gateway learns about the remote campaigns service over NATS.
  await waitFor(async () => (await asA("GET", "/api/campaigns")).status === 200);
});

afterAll(async () => {
  grpcClient?.close();
  await Promise.all([gateway?.stop(), campaigns?.stop()]);
  await db?.drop();
});

it("runs the services in two processes", () => {
  expect(gateway.child.pid).not.toBe(campaigns.child.pid);
  expect(gateway.output()).toMatch(/services: .*api/);
  expect(campaigns.output()).toMatch(/services: .*campaigns/);
});

describe("CRUD over HTTP", () => {
  it("creates, reads, updates, lists and deletes", async () => {
    const created = await asA("POST", "/api/campaigns", {
      name: "Launch week",
      type: "promotion",
      platforms: ["instagram", "tiktok"],
      content: { title: "New drop", cta: "Shop" },
      budget: 250,
    });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe(`/api/campaigns/${created.body.id}`);
    expect(created.body).toMatchObject({ name: "Launch week", status: "draft", scheduledFor: null, budget: 250 });

    const id = created.body.id;
    const got = await asA("GET", `/api/campaigns/${id}`);
    expect(got.status).toBe(200);
    expect(got.body.content).toEqual({ title: "New drop", cta: "Shop" });

    const put = await asA("PUT", `/api/campaigns/${id}`, { name: "Launch week v2", budget: 300 });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ name: "Launch week v2", budget: 300, type: "promotion" });
    expect((await asA("GET", `/api/campaigns/${id}`)).body.name).toBe("Launch week v2");

    const list = await asA("GET", "/api/campaigns?platform=tiktok&q=launch&limit=10");
    expect(list.status).toBe(200);
    expect(list.body.items.map((c: { id: string }) => c.id)).toEqual([id]);

    const del = await asA("DELETE", `/api/campaigns/${id}`);
    expect(del.status).toBe(200);
    expect((await asA("GET", `/api/campaigns/${id}`)).status).toBe(404);
  });

  it("pages a list through query-string cursors", async () => {
    for (const n of ["p1", "p2", "p3"]) await asA("POST", "/api/campaigns", { name: n, type: "engagement" });
    const first = await asA("GET", "/api/campaigns?type=engagement&sort=name&order=asc&limit=2");
    expect(first.body.items.map((c: { name: string }) => c.name)).toEqual(["p1", "p2"]);
    const second = await asA("GET", `/api/campaigns?type=engagement&sort=name&order=asc&limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((c: { name: string }) => c.name)).toEqual(["p3"]);
    expect(second.body.nextCursor).toBeNull();
  });
});

describe("CRUD over gRPC", () => {
  it("creates, reads, updates, lists and deletes across the two processes", async () => {
    const [a, b] = await Promise.all([token("grpc-a"), token("grpc-b")]);
    const call = (method: string, request: Record<string, unknown>, bearer = a) => grpcClient.unary(method, request, { token: bearer });
    const created = await call("CreateCampaign", { name: "Over gRPC", type: "CAMPAIGN_TYPE_ENGAGEMENT", platforms: ["PLATFORM_TIKTOK"] });
    expect(created).toMatchObject({ name: "Over gRPC", status: "CAMPAIGN_STATUS_DRAFT", ownerId: "grpc-a" });
    expect(await call("GetCampaign", { id: created.id })).toMatchObject({ id: created.id, platforms: ["PLATFORM_TIKTOK"] });
    expect(await call("UpdateCampaign", { id: created.id, name: "Renamed" })).toMatchObject({ name: "Renamed" });
    const list = await call("ListCampaigns", { q: "renamed" });
    expect(list.items.map((c: { id: string }) => c.id)).toEqual([created.id]);
    for (const method of ["GetCampaign", "UpdateCampaign", "DeleteCampaign"]) {
      const err: any = await call(method, { id: created.id, name: "x" }, b).catch((e) => e);
      expect([method, err.code]).toEqual([method, grpc.status.NOT_FOUND]);
    }
    const unauthenticated: any = await grpcClient.unary("ListCampaigns", {}).catch((e) => e);
    expect(unauthenticated.code).toBe(grpc.status.UNAUTHENTICATED);
    await call("DeleteCampaign", { id: created.id });
    const gone: any = await call("GetCampaign", { id: created.id }).catch((e) => e);
    expect(gone.code).toBe(grpc.status.NOT_FOUND);
  });
});

describe("tenancy and authentication", () => {
  let id: string;
  beforeAll(async () => {
    id = (await asA("POST", "/api/campaigns", { name: "A's secret", type: "ppv" })).body.id;
  });

  it("answers 404 to another owner on every route", async () => {
    expect((await asB("GET", `/api/campaigns/${id}`)).status).toBe(404);
    expect((await asB("PUT", `/api/campaigns/${id}`, { name: "mine now" })).status).toBe(404);
    expect((await asB("PATCH", `/api/campaigns/${id}`, { name: "mine now" })).status).toBe(404);
    expect((await asB("DELETE", `/api/campaigns/${id}`)).status).toBe(404);
    const list = await asB("GET", "/api/campaigns");
    expect(list.body.items.find((c: { id: string }) => c.id === id)).toBeUndefined();
    expect((await asA("GET", `/api/campaigns/${id}`)).body.name).toBe("A's secret");
  });

  it("answers 401 without a valid token, with the JSON error shape", async () => {
    const expired = await token("rest-a", { expiresIn: Math.floor(Date.now() / 1000) - 10 });
    const unsignedNone = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${Buffer.from(
      JSON.stringify({ sub: "rest-a", iss: "creator-marketing", exp: Math.floor(Date.now() / 1000) + 3600 }),
    ).toString("base64url")}.`;
    const otherSecret = await new SignJWT({ role: "owner" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("rest-a")
      .setIssuer("creator-marketing")
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode("another-secret-another-secret-another-secret"));
    for (const client of [anonymous, restClient(baseUrl, expired), restClient(baseUrl, unsignedNone), restClient(baseUrl, otherSecret), restClient(baseUrl, "garbage")]) {
      for (const [method, path] of [["GET", "/api/campaigns"], ["GET", `/api/campaigns/${id}`], ["POST", "/api/campaigns"], ["PUT", `/api/campaigns/${id}`], ["DELETE", `/api/campaigns/${id}`]]) {
        const res = await client(method, path, method === "GET" || method === "DELETE" ? undefined : { name: "x", type: "ppv" });
        expect(res.status).toBe(401);
        expect(res.body.error).toMatchObject({ type: "UNAUTHORIZED", code: 401 });
      }
    }
    expect((await asA("GET", `/api/campaigns/${id}`)).body.name).toBe("A's secret");
  });
});

describe("hostile and malformed input", () => {
  let id: string;
  let before: unknown;
  beforeAll(async () => {
    id = (await asA("POST", "/api/campaigns", { name: "Keep me", type: "retention", budget: 10 })).body.id;
    before = (await asA("GET", `/api/campaigns/${id}`)).body;
  });

  const cases: Array<[string, string, string, unknown, number]> = [
    ["malformed JSON", "POST", "/api/campaigns", '{"name": "x", ', 400],
    ["wrong types", "POST", "/api/campaigns", { name: 42, type: ["ppv"], budget: "10" }, 422],
    ["unknown enum", "POST", "/api/campaigns", { name: "x", type: "pyramid" }, 422],
    ["operator object", "POST", "/api/campaigns", { name: { $gt: "" }, type: "ppv" }, 422],
    ["__proto__ payload", "POST", "/api/campaigns", '{"name":"x","type":"ppv","__proto__":{"isAdmin":true}}', 422],
    ["nested constructor", "PUT", "/api/campaigns/ID", '{"content":{"constructor":{"prototype":{"x":1}}}}', 422],
    ["operator in update", "PUT", "/api/campaigns/ID", { budget: { $gt: 0 } }, 422],
    ["2 MB body", "POST", "/api/campaigns", JSON.stringify({ name: "x".repeat(2 * 1024 * 1024), type: "ppv" }), 413],
    ["deep nesting", "PUT", "/api/campaigns/ID", JSON.stringify({ content: JSON.parse("[".repeat(100) + "]".repeat(100)) }), 422],
    ["unknown field", "PUT", "/api/campaigns/ID", { spent: 0 }, 422],
  ];

  it.each(cases)("%s → %d with a clear message, nothing changed", async (_label, method, path, body, status) => {
    const res = await asA(method, path.replace("ID", id), body);
    expect(res.status).toBe(status);
    expect(res.body.error).toMatchObject({ code: status });
    expect(typeof res.body.error.message).toBe("string");
    if (status === 422) expect(res.body.error.data.length).toBeGreaterThan(0);
    expect((await asA("GET", `/api/campaigns/${id}`)).body).toEqual(before);
  });

  it("stored no campaign from any rejected request", async () => {
    const names = (await asA("GET", "/api/campaigns?limit=100")).body.items.map((c: { name: string }) => c.name);
    expect(names).not.toContain("x");
  });

  it("answers unknown routes with a JSON 404", async () => {
    const res = await asA("GET", "/api/nowhere");
    expect(res.status).toBe(404);
    expect(res.body.error.type).toBe("NOT_FOUND");
  });
});
