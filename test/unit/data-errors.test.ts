/**
 * lib/data-errors.ts on the real database: values PostgreSQL cannot take (found by the hostile-input
 * suite: a NUL character in an id or a JSON string) are a 422 for the client, not a 500, and write nothing.
 */
import type { ServiceBroker } from "moleculer";
import { as, createTestDatabase, startBroker, type TestDatabase } from "../helpers/env";

let db: TestDatabase;
let broker: ServiceBroker;

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startBroker({ databaseUrl: db.url, services: ["campaigns"] });
});

afterAll(async () => {
  await broker?.stop();
  await db?.drop();
});

it("answers a NUL character in an id with 422", async () => {
  await expect(broker.call("campaigns.get", { id: "abc\u0000def" }, as("nul-user"))).rejects.toMatchObject({
    code: 422,
    type: "VALIDATION_ERROR",
    data: [expect.objectContaining({ type: "sqlstate:22021" })],
  });
});

it("answers a NUL character inside stored JSON with 422 and stores nothing", async () => {
  await expect(
    broker.call("campaigns.create", { name: "nul", type: "promotion", content: { title: "a\u0000b" } }, as("nul-user")),
  ).rejects.toMatchObject({ code: 422 });
  const list = await broker.call<{ items: unknown[] }, object>("campaigns.list", {}, as("nul-user"));
  expect(list.items).toEqual([]);
});
