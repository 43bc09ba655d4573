/** Two deployments (namespaces) on one Redis: neither reads nor cleans the other's cached answers. */
import crypto from "node:crypto";
import type { ServiceBroker } from "moleculer";
import { createBroker } from "../../lib/broker";
import { testConfig } from "../helpers/env";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const run = crypto.randomBytes(4).toString("hex");
const brokers: ServiceBroker[] = [];

function deployment(namespace: string): ServiceBroker {
  const broker = createBroker(testConfig({ redisUrl: REDIS_URL, namespace: `${namespace}-${run}`, services: ["teams"] }), { logger: false });
  brokers.push(broker);
  return broker;
}

afterAll(async () => {
  for (const broker of brokers) await broker.cacher?.close();
});

it("keeps each namespace's entries apart on a shared Redis", async () => {
  const [a, b] = [deployment("a"), deployment("b")];
  const key = "campaigns.get:c1|u1";
  await a.cacher!.set(key, { name: "A's answer" });
  expect(await b.cacher!.get(key)).toBeUndefined();
  await b.cacher!.set(key, { name: "B's answer" });
  expect(await a.cacher!.get(key)).toEqual({ name: "A's answer" });

  await b.cacher!.clean("campaigns.**");
  expect(await b.cacher!.get(key)).toBeUndefined();
  expect(await a.cacher!.get(key)).toEqual({ name: "A's answer" });
  await a.cacher!.clean("campaigns.**");
  expect(await a.cacher!.get(key)).toBeUndefined();
});
