/**
 * Idempotency keys on campaign creation: over REST (the `Idempotency-Key` header or a body field) and gRPC
 * (`idempotency_key`), a repeat with the same key returns the campaign made first and writes nothing; racing
 * requests with one key make one row; keys are per owner; bad keys are 422s naming the field.
 */
import crypto from "node:crypto";
import type { ServiceBroker } from "moleculer";
import { Client } from "pg";
import type { GrpcServiceInstance } from "../../services/grpc.service";
import { GatewayClient } from "../../services/grpc/client";
import { as, createTestDatabase, freePort, startBroker, token, type TestDatabase } from "../helpers/env";
import { restClient } from "../helpers/http";

let db: TestDatabase;
let broker: ServiceBroker;
let pg: Client;
let asA: ReturnType<typeof restClient>;
let asB: ReturnType<typeof restClient>;
let grpcClient: GatewayClient;
const created: { id: string }[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  broker = await startBroker({ databaseUrl: db.url, port, grpcPort: 0, services: ["campaigns", "api", "grpc"] }, [
    { name: "created-spy", events: { "campaigns.campaign.created"(ctx: any) { created.push(ctx.params.campaign); } } },
  ]);
  asA = restClient(`http://127.0.0.1:${port}`, await token("idem-a"));
  asB = restClient(`http://127.0.0.1:${port}`, await token("idem-b"));
  grpcClient = new GatewayClient(`127.0.0.1:${(broker.getLocalService("grpc") as unknown as GrpcServiceInstance).boundPort}`);
  pg = new Client({ connectionString: db.url });
  await pg.connect();
});

afterAll(async () => {
  grpcClient?.close();
  await pg?.end();
  await broker?.stop();
  await db?.drop();
});

const key = () => `key-${crypto.randomBytes(6).toString("hex")}`;
async function rowsWithKey(k: string): Promise<{ id: string; owner_id: string; name: string }[]> {
  return (await pg.query("SELECT id, owner_id, name FROM campaigns WHERE idempotency_key = $1 ORDER BY owner_id", [k])).rows;
}

it("REST: the same Idempotency-Key twice gives the same campaign, one row and one created event", async () => {
  const k = key();
  const first = await asA("POST", "/api/campaigns", { name: "Once", type: "ppv" }, { "idempotency-key": k });
  expect(first.status).toBe(201);
  expect(first.headers.get("location")).toBe(`/api/campaigns/${first.body.id}`);
  expect(first.body.idempotencyKey).toBe(k);
  // The repeat may differ (a client rebuilt the body): the first campaign stands.
  const again = await asA("POST", "/api/campaigns", { name: "Once, again", type: "promotion" }, { "idempotency-key": k });
  expect(again.status).toBe(200);
  expect(again.headers.get("idempotent-replayed")).toBe("true");
  expect(again.body).toEqual(first.body);
  expect(await rowsWithKey(k)).toEqual([{ id: first.body.id, owner_id: "idem-a", name: "Once" }]);
  expect(created.filter((c) => c.id === first.body.id)).toHaveLength(1);
  // Without a key every request creates.
  const a = await asA("POST", "/api/campaigns", { name: "No key", type: "ppv" });
  const b = await asA("POST", "/api/campaigns", { name: "No key", type: "ppv" });
  expect([a.status, b.status]).toEqual([201, 201]);
  expect(a.body.id).not.toBe(b.body.id);
});

it("REST: the key may be a body field; header and body must agree; bad keys are 422 on idempotencyKey", async () => {
  const k = key();
  const viaBody = await asA("POST", "/api/campaigns", { name: "Body key", type: "ppv", idempotencyKey: k });
  expect(viaBody.status).toBe(201);
  const viaHeader = await asA("POST", "/api/campaigns", { name: "Body key", type: "ppv" }, { "idempotency-key": k });
  expect(viaHeader).toMatchObject({ status: 200, body: { id: viaBody.body.id } });
  const both = await asA("POST", "/api/campaigns", { name: "x", type: "ppv", idempotencyKey: k }, { "idempotency-key": k });
  expect(both).toMatchObject({ status: 200, body: { id: viaBody.body.id } });

  const differ = await asA("POST", "/api/campaigns", { name: "x", type: "ppv", idempotencyKey: k }, { "idempotency-key": key() });
  expect(differ.status).toBe(422);
  expect(differ.body.error.data).toEqual([expect.objectContaining({ field: "idempotencyKey" })]);
  for (const bad of ["has space", "x".repeat(201)]) {
    const res = await asA("POST", "/api/campaigns", { name: "x", type: "ppv" }, { "idempotency-key": bad });
    expect(res.status).toBe(422);
    expect(res.body.error.data).toEqual([expect.objectContaining({ field: "idempotencyKey" })]);
  }
  const empty = await asA("POST", "/api/campaigns", { name: "x", type: "ppv", idempotencyKey: "" });
  expect(empty.status).toBe(422);
  // A route whose action takes no key ignores the header.
  const listed = await asA("GET", "/api/campaigns?limit=1", undefined, { "idempotency-key": k });
  expect(listed.status).toBe(200);
});

it("keys are per owner: another creator's identical key makes their own campaign", async () => {
  const k = key();
  const a = await asA("POST", "/api/campaigns", { name: "A's", type: "ppv" }, { "idempotency-key": k });
  const b = await asB("POST", "/api/campaigns", { name: "B's", type: "ppv" }, { "idempotency-key": k });
  expect([a.status, b.status]).toEqual([201, 201]);
  expect(b.body.id).not.toBe(a.body.id);
  expect((await rowsWithKey(k)).map((r) => r.owner_id)).toEqual(["idem-a", "idem-b"]);
  expect((await asB("GET", `/api/campaigns/${a.body.id}`)).status).toBe(404);
});

it("racing requests with one key create one campaign and all answer with it", async () => {
  const k = key();
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => broker.call<any, object>("campaigns.create", { name: `Race ${i}`, type: "ppv", idempotencyKey: k }, as("idem-race"))));
  expect(new Set(answers.map((c) => c.id)).size).toBe(1);
  expect(await rowsWithKey(k)).toHaveLength(1);
  expect(created.filter((c) => c.id === answers[0].id)).toHaveLength(1);
});

it("create-from-template honours the key and counts the template's use once", async () => {
  const k = key();
  const usage = async () => (await pg.query("SELECT usage_count FROM campaign_templates WHERE id = 'win_back_offer'")).rows[0].usage_count as number;
  const before = await usage();
  const first = await asA("POST", "/api/templates/win_back_offer/campaigns", { discount: 0.25 }, { "idempotency-key": k });
  expect(first.status).toBe(201);
  expect(first.body.content.title).toContain("25% Off");
  const again = await asA("POST", "/api/templates/win_back_offer/campaigns", { discount: 0.5 }, { "idempotency-key": k });
  expect(again).toMatchObject({ status: 200, body: { id: first.body.id, content: { title: first.body.content.title } } });
  expect(await rowsWithKey(k)).toHaveLength(1);
  expect(await usage()).toBe(before + 1);
});

it("gRPC: idempotency_key on CreateCampaign and CreateCampaignFromTemplate", async () => {
  const t = await token("idem-grpc");
  const k = key();
  const first = await grpcClient.unary("CreateCampaign", { name: "gRPC once", type: "CAMPAIGN_TYPE_PPV", idempotencyKey: k }, { token: t });
  const again = await grpcClient.unary("CreateCampaign", { name: "gRPC twice", type: "CAMPAIGN_TYPE_PPV", idempotencyKey: k }, { token: t });
  expect(again).toMatchObject({ id: first.id, name: "gRPC once", idempotencyKey: k });
  expect(await rowsWithKey(k)).toHaveLength(1);

  const k2 = key();
  const fromTemplate = await grpcClient.unary("CreateCampaignFromTemplate", { id: "win_back_offer", discount: 0.1, idempotencyKey: k2 }, { token: t });
  const repeat = await grpcClient.unary("CreateCampaignFromTemplate", { id: "win_back_offer", discount: 0.1, idempotencyKey: k2 }, { token: t });
  expect(repeat.id).toBe(fromTemplate.id);
  expect(await rowsWithKey(k2)).toHaveLength(1);

  const bad = await grpcClient.unary("CreateCampaign", { name: "x", type: "CAMPAIGN_TYPE_PPV", idempotencyKey: "with space" }, { token: t }).catch((e) => e);
  expect(bad.code).toBe(3); // INVALID_ARGUMENT
  expect(JSON.parse(bad.metadata.get("error-details-bin")[0].toString()).data).toEqual([expect.objectContaining({ field: "idempotencyKey" })]);
});
