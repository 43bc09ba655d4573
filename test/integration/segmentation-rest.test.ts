/**
 * Segmentation over HTTP across two OS processes on real NATS: the REST gateway in one, the segmentation
 * service (PostgreSQL) in the other. Every route of the issue, tenancy, and bad criteria → 422 with paths.
 */
import crypto from "node:crypto";
import { createTestDatabase, freePort, NATS_URL, TEST_JWT_SECRET, token, type TestDatabase } from "../helpers/env";
import { restClient } from "../helpers/http";
import { startNode, waitFor, type NodeProcess } from "../helpers/process";

jest.setTimeout(120_000);

let db: TestDatabase;
let gateway: NodeProcess;
let segmentation: NodeProcess;
let asA: ReturnType<typeof restClient>;
let asB: ReturnType<typeof restClient>;

beforeAll(async () => {
  db = await createTestDatabase();
  const common = { NATS_URL, NAMESPACE: `t-${crypto.randomBytes(4).toString("hex")}`, JWT_SECRET: TEST_JWT_SECRET };
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  [segmentation, gateway] = await Promise.all([
    startNode({ ...common, SERVICES: "segmentation", DATABASE_URL: db.url }),
    startNode({ ...common, SERVICES: "api", PORT: String(port), HOST: "127.0.0.1" }),
  ]);
  asA = restClient(baseUrl, await token("seg-rest-a"));
  asB = restClient(baseUrl, await token("seg-rest-b"));
  await waitFor(async () => (await asA("GET", "/api/segments")).status === 200);
});

afterAll(async () => {
  await Promise.all([gateway?.stop(), segmentation?.stop()]);
  await db?.drop();
});

const recent = () => new Date(Date.now() - 86_400_000).toISOString();

it("fans: upsert, batch, get, activity, export and erase", async () => {
  const one = await asA("POST", "/api/fans", { id: "u/1", displayName: "Una", engagement: 70, spendingLevel: "high", lastActiveAt: recent() });
  expect(one.status).toBe(201);
  expect(one.body).toMatchObject({ id: "u/1", noActivityDays: 1 });
  expect((await asA("POST", "/api/fans", { id: "u/1", engagement: 71 })).status).toBe(200);

  const batch = await asA("POST", "/api/fans/batch", { fans: [{ id: "u2", engagement: 90, spendingLevel: "high", lastActiveAt: recent() }, { id: "u3", engagement: 10 }] });
  expect(batch.status).toBe(200);
  expect(batch.body).toMatchObject({ created: 2, updated: 0 });

  const id = encodeURIComponent("u/1");
  expect((await asA("GET", `/api/fans/${id}`)).body).toMatchObject({ displayName: "Una", engagement: 71 });
  const act = await asA("POST", `/api/fans/u3/activity`, { type: "purchased", amount: 250 });
  expect(act.status).toBe(200);
  expect(act.body).toMatchObject({ lifetimeValue: 250, spendingLevel: "high" });
  expect((await asA("POST", `/api/fans/u3/activity`, { type: "dance" })).status).toBe(422);

  const exported = await asA("GET", `/api/fans/${id}/export`);
  expect(exported.status).toBe(200);
  expect(exported.body.fan.id).toBe("u/1");
  expect((await asB("GET", `/api/fans/${id}`)).status).toBe(404);
  expect((await asB("DELETE", `/api/fans/${id}`)).status).toBe(404);
});

it("segments: every route, with 409 on dynamic membership edits and 404 for another owner", async () => {
  const criteria = { spendingLevel: "high", engagement: ">50" };
  const size = await asA("POST", "/api/segments/size", { criteria });
  expect(size.status).toBe(200);
  expect(size.body.size).toBe(2);

  const created = await asA("POST", "/api/segments", { name: "Whales", type: "dynamic", criteria });
  expect(created.status).toBe(201);
  expect(created.headers.get("location")).toBe(`/api/segments/${created.body.id}`);
  expect(created.body.memberCount).toBe(2);
  const id = created.body.id;

  expect((await asA("GET", "/api/segments")).body.items.map((s: { id: string }) => s.id)).toContain(id);
  expect((await asA("GET", `/api/segments/${id}`)).body.name).toBe("Whales");
  expect((await asA("PUT", `/api/segments/${id}`, { name: "Big whales" })).body.name).toBe("Big whales");
  const members = await asA("GET", `/api/segments/${id}/members?limit=1`);
  expect(members.body.items).toHaveLength(1);
  const next = await asA("GET", `/api/segments/${id}/members?limit=1&cursor=${members.body.nextCursor}`);
  expect(next.body.items).toHaveLength(1);
  expect(next.body.items[0].id).not.toBe(members.body.items[0].id);
  expect((await asA("POST", `/api/segments/${id}/refresh`)).body.memberCount).toBe(2);
  expect((await asA("POST", `/api/segments/${id}/members/u3`)).status).toBe(409);
  expect((await asA("DELETE", `/api/segments/${id}/members/u2`)).status).toBe(409);

  const stat = (await asA("POST", "/api/segments", { name: "Picked", type: "static" })).body;
  expect((await asA("POST", `/api/segments/${stat.id}/members/u3`)).body).toMatchObject({ member: true });
  expect((await asA("DELETE", `/api/segments/${stat.id}/members/u3`)).body).toMatchObject({ member: false });

  expect((await asA("POST", "/api/segments/evaluate", { fanId: "u2", criteria })).body.matches).toBe(true);
  expect((await asA("GET", `/api/segments/${id}/performance`)).body).toMatchObject({ source: "unavailable", conversions: 0 });
  const compared = await asA("POST", "/api/segments/compare", { ids: [id, stat.id] });
  expect(compared.status).toBe(200);
  expect(compared.body.segments).toHaveLength(2);

  for (const [method, path] of [["GET", `/api/segments/${id}`], ["PUT", `/api/segments/${id}`], ["DELETE", `/api/segments/${id}`], ["GET", `/api/segments/${id}/members`], ["POST", `/api/segments/${id}/refresh`]]) {
    expect((await asB(method, path, method === "PUT" ? { name: "x" } : undefined)).status).toBe(404);
  }
  expect((await asA("DELETE", `/api/segments/${id}`)).status).toBe(200);
  expect((await asA("GET", `/api/segments/${id}`)).status).toBe(404);
});

it("answers bad criteria with 422 and the path of the bad part", async () => {
  const res = await asA("POST", "/api/segments", {
    name: "Bad",
    type: "dynamic",
    criteria: { all: [{ field: "engagement", op: "gt", value: 1 }, { field: "tags", op: "contains", value: "vip" }, { field: "engagement", op: "regex", value: ".*" }] },
  });
  expect(res.status).toBe(422);
  expect(res.body.error.data).toEqual([expect.objectContaining({ field: "criteria.all[2].op" })]);
  const injection = await asA("POST", "/api/segments/size", { criteria: { field: "displayName", op: "eq", value: "x'; DROP TABLE fans; --" } });
  expect(injection.status).toBe(200);
  expect(injection.body.size).toBe(0);
  expect((await asA("GET", "/api/fans/u2")).status).toBe(200);
  const proto = await asA("POST", "/api/segments/size", '{"criteria":{"__proto__":{"x":1}}}');
  expect(proto.status).toBe(422);
});
