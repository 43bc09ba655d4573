/**
 * The design's A/B flow through the real runner (bin/start.ts as a child process, on its own PostgreSQL
 * database): over REST create a campaign → create an A/B test → record performance → determine the winner
 * → apply; the campaign then has the winner's content and the test is completed. The same flow's main RPCs
 * run over gRPC on that node.
 */
import * as grpc from "@grpc/grpc-js";
import { GatewayClient } from "../../services/grpc/client";
import { createTestDatabase, freePort, TEST_JWT_SECRET, token, type TestDatabase } from "../helpers/env";
import { restClient } from "../helpers/http";
import { startNode, type NodeProcess } from "../helpers/process";

jest.setTimeout(180_000);

let db: TestDatabase;
let node: NodeProcess;
let api: ReturnType<typeof restClient>;
let rpc: GatewayClient;
let bearer: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  const grpcPort = await freePort();
  node = await startNode({
    DATABASE_URL: db.url,
    JWT_SECRET: TEST_JWT_SECRET,
    SERVICES: "campaigns,abtests,api,grpc",
    PORT: String(port),
    GRPC_PORT: String(grpcPort),
    HOST: "127.0.0.1",
  });
  bearer = await token("creator-ab");
  api = restClient(`http://127.0.0.1:${port}`, bearer);
  rpc = new GatewayClient(`127.0.0.1:${grpcPort}`, "marketing.v1.ABTestService");
});

afterAll(async () => {
  rpc?.close();
  await node?.stop();
  await db?.drop();
});

const variants = [
  { name: "A", isControl: true, content: { title: "Control" } },
  { name: "B", content: { title: "Winner" } },
];

it("runs create → track → winner → apply over REST", async () => {
  const campaign = await api("POST", "/api/campaigns", { name: "Flow", type: "ppv", content: { title: "Original" } });
  expect(campaign.status).toBe(201);

  const bad = await api("POST", `/api/campaigns/${campaign.body.id}/ab-test`, { variants, trafficSplit: { A: 60, B: 60 } });
  expect(bad.status).toBe(422);
  expect(JSON.stringify(bad.body)).toContain("trafficSplit");

  const created = await api("POST", `/api/campaigns/${campaign.body.id}/ab-test`, { variants, metric: "conversion_rate" });
  expect(created.status).toBe(201);
  const test = created.body;
  const [a, b] = test.variants;
  expect((await api("POST", `/api/campaigns/${campaign.body.id}/ab-test`, { variants })).status).toBe(409);
  expect((await api("GET", `/api/campaigns/${campaign.body.id}`)).body.isABTest).toBe(true);

  const early = await api("POST", `/api/ab-tests/${test.id}/winner`);
  expect(early.status).toBe(409);
  expect(early.body.error.data.missing.length).toBeGreaterThan(0);

  const tracked = await api("POST", `/api/ab-tests/${test.id}/variants/${a.id}/performance`, { impressions: 10000, clicks: 900, conversions: 300, revenue: 3000 });
  expect(tracked.status).toBe(200);
  await api("POST", `/api/ab-tests/${test.id}/variants/${b.id}/performance`, { impressions: 10000, clicks: 950, conversions: 400, revenue: 4000 });

  const results = await api("GET", `/api/ab-tests/${test.id}/results`);
  expect(results.status).toBe(200);
  expect(results.body).toMatchObject({ ready: true, conclusion: "winner", winner: { variantId: b.id } });

  const winner = await api("POST", `/api/ab-tests/${test.id}/winner`);
  expect(winner.status).toBe(200);
  expect(winner.body.winner.name).toBe("B");

  const assigned = await api("GET", `/api/ab-tests/${test.id}/assign/fan-1`);
  expect(assigned.status).toBe(200);
  expect([a.id, b.id]).toContain(assigned.body.variantId);

  const applied = await api("POST", `/api/ab-tests/${test.id}/apply`);
  expect(applied.status).toBe(200);
  expect(applied.body).toMatchObject({ status: "completed", winnerId: b.id });
  expect((await api("GET", `/api/campaigns/${campaign.body.id}`)).body.content).toEqual({ title: "Winner" });
  expect((await api("GET", `/api/ab-tests/${test.id}`)).body).toMatchObject({ status: "completed", winnerId: b.id });
  expect((await api("GET", `/api/ab-tests/does-not-exist`)).status).toBe(404);

  const doc = await api("GET", "/api/openapi.json");
  expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(["/api/campaigns/{id}/ab-test", "/api/ab-tests/{id}/winner", "/api/ab-tests/{id}/assign/{fanId}"]));
});

it("runs the main RPCs over gRPC", async () => {
  const campaign = await api("POST", "/api/campaigns", { name: "Flow gRPC", type: "ppv" });
  const opts = { token: bearer };
  const toStruct = (o: Record<string, string>) => ({ fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { stringValue: v }])) });
  const created = await rpc.unary(
    "CreateABTest",
    { id: campaign.body.id, variants: variants.map((v) => ({ name: v.name, isControl: v.isControl ?? false, content: toStruct(v.content) })), trafficSplit: { A: 50, B: 50 }, mode: "AB_TEST_MODE_FIXED" },
    opts,
  );
  expect(created).toMatchObject({ status: "AB_TEST_STATUS_RUNNING", mode: "AB_TEST_MODE_FIXED", metric: "conversion_rate" });
  const [a, b] = created.variants;

  const missing = await rpc.unary("CreateABTest", { id: campaign.body.id, variants: [] }, opts).catch((e) => e);
  expect(missing.code).toBe(grpc.status.INVALID_ARGUMENT);

  await rpc.unary("TrackVariantPerformance", { id: created.id, variantId: a.id, impressions: "10000", clicks: "900", conversions: "300" }, opts);
  const tb = await rpc.unary("TrackVariantPerformance", { id: created.id, variantId: b.id, impressions: "10000", clicks: "950", conversions: "400" }, opts);
  expect(tb).toMatchObject({ impressions: "10000", conversions: "400" });

  const analysis = await rpc.unary("DetermineWinner", { id: created.id }, opts);
  expect(analysis).toMatchObject({ conclusion: "winner", winner: { variantId: b.id, name: "B" }, ready: true });
  expect(analysis.variants[1].comparison.pValue).toBeLessThan(0.001);
  expect(analysis.variants[1].comparison.interval).toHaveLength(2);

  const assignment = await rpc.unary("AssignVariant", { id: created.id, fanId: "fan-7" }, opts);
  expect([a.id, b.id]).toContain(assignment.variantId);

  const applied = await rpc.unary("ApplyWinner", { id: created.id }, opts);
  expect(applied).toMatchObject({ status: "AB_TEST_STATUS_COMPLETED", winnerId: b.id });
  const again = await rpc.unary("ApplyWinner", { id: created.id }, opts).catch((e) => e);
  expect([grpc.status.FAILED_PRECONDITION, grpc.status.ALREADY_EXISTS]).toContain(again.code);
  const foreign = await rpc.unary("GetABTest", { id: created.id }, { token: await token("someone-else") }).catch((e) => e);
  expect(foreign.code).toBe(grpc.status.NOT_FOUND);
});
