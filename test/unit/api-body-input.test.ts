/**
 * REST gateway body handling found by the hostile-input suite (test/reliability/): a gzip body that does
 * not inflate was a 500, and a top-level JSON value that is not an object was dropped, so the request
 * ran as if it had no body (a PUT answered 200, a DELETE deleted).
 */
import type { ServiceBroker } from "moleculer";
import { createTestDatabase, freePort, startBroker, token, type TestDatabase } from "../helpers/env";
import { restClient } from "../helpers/http";

let db: TestDatabase;
let broker: ServiceBroker;
let call: ReturnType<typeof restClient>;
let campaignId: string;
let baseUrl: string;
let ownerToken: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  broker = await startBroker({ databaseUrl: db.url, port, services: ["campaigns", "api"] });
  baseUrl = `http://127.0.0.1:${port}`;
  ownerToken = await token("body-user");
  call = restClient(baseUrl, ownerToken);
  const created = await call("POST", "/api/campaigns", { name: "Body", type: "promotion" });
  campaignId = created.body.id;
});

afterAll(async () => {
  await broker?.stop();
  await db?.drop();
});

it("answers a gzip body that does not inflate with 400", async () => {
  const res = await call("POST", "/api/campaigns", Buffer.from([0x1f, 0x8b, 0x08, 0x00]) as unknown as string, {
    "content-type": "application/json",
    "content-encoding": "gzip",
  });
  expect(res.status).toBe(400);
  expect(res.body.error).toMatchObject({ type: "BAD_ENCODING", code: 400 });
});

it.each(["null", '"a string"', "42", "[]", '[{"name":"x"}]'])("refuses the top-level body %s with 422 and changes nothing", async (body) => {
  const res = await call("DELETE", `/api/campaigns/${campaignId}`, body);
  expect(res.status).toBe(422);
  expect(res.body.error.data).toEqual([expect.objectContaining({ field: "body", type: "object" })]);
  expect((await call("GET", `/api/campaigns/${campaignId}`)).status).toBe(200);
});

it("still takes an object body and no body at all", async () => {
  expect((await call("PATCH", `/api/campaigns/${campaignId}`, { name: "Body 2" })).status).toBe(200);
  expect((await call("GET", `/api/campaigns/${campaignId}`)).body.name).toBe("Body 2");
});

it("answers OPTIONS with the allowed methods instead of running the GET handler", async () => {
  const res = await fetch(`${baseUrl}/api/campaigns/${campaignId}`, { method: "OPTIONS", headers: { authorization: `Bearer ${ownerToken}` } });
  expect(res.status).toBe(204);
  expect(res.headers.get("allow")).toBe("GET, POST, PUT, PATCH, DELETE");
  expect(await res.text()).toBe("");
});
