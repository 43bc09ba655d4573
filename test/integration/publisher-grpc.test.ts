/** The publisher's RPCs through the gRPC gateway, against the fake platforms on a real database. */
import type { ServiceBroker } from "moleculer";
import type { GrpcServiceInstance } from "../../services/grpc.service";
import { GatewayClient } from "../../services/grpc/client";
import { startFakePlatforms, type FakePlatforms } from "../fakes/platforms";
import { as, createTestDatabase, startBroker, token, type TestDatabase } from "../helpers/env";

let db: TestDatabase;
let fakes: FakePlatforms;
let broker: ServiceBroker;
let client: GatewayClient;
let bearer: string;

beforeAll(async () => {
  db = await createTestDatabase();
  fakes = await startFakePlatforms();
  Object.assign(process.env, fakes.env, { CREDENTIALS_KEYS: "k1:" + Buffer.alloc(32, 3).toString("base64"), PUBLISH_POLL_INTERVAL_MS: "5" });
  broker = await startBroker({ databaseUrl: db.url, grpcPort: 0, services: ["campaigns", "publisher", "grpc"], jobsProcessEveryMs: 100 });
  const port = (broker.getLocalService("grpc") as unknown as GrpcServiceInstance).boundPort;
  client = new GatewayClient(`127.0.0.1:${port}`, "marketing.v1.PublisherService");
  bearer = await token("grpc-pub");
  await broker.call("publisher.setCredentials", { platform: "onlyfans", credentials: { apiKey: "k", accountId: "acc-grpc" } }, as("grpc-pub"));
});

afterAll(async () => {
  client?.close();
  await broker?.stop();
  await fakes?.close();
  await db?.drop();
});

it("lists the plugins", async () => {
  const res = await client.unary("ListPlugins", {}, { token: bearer });
  expect(res.plugins.map((p: any) => p.id).sort()).toEqual(["instagram", "onlyfans", "reddit", "tiktok"]);
  expect(res.plugins.find((p: any) => p.id === "onlyfans")).toMatchObject({ displayName: "OnlyFans", apiVersion: 1, canMessage: true });
});

it("publishes a campaign's content and shows its publication", async () => {
  const campaign = await broker.call<any, any>("campaigns.create", { name: "gRPC PPV", type: "ppv", platforms: ["onlyfans"], content: { title: "Over gRPC", price: 7 }, mediaUrls: ["https://cdn.example.com/x.jpg"] }, as("grpc-pub"));
  const res = await client.unary("PublishCampaign", { id: campaign.id }, { token: bearer });
  expect(res.publications).toEqual([expect.objectContaining({ campaignId: campaign.id, platform: "onlyfans", state: "pending", created: true })]);
  let list: any;
  for (let i = 0; i < 100; i++) {
    list = await client.unary("ListPublications", { id: campaign.id }, { token: bearer });
    if (list.publications[0]?.state === "published") break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(list.publications[0]).toMatchObject({ state: "published", attempts: 1, externalId: expect.any(String) });
  expect(fakes.onlyfans.posts.filter((p) => p.text === "Over gRPC")).toEqual([expect.objectContaining({ price: 7 })]);
});

it("answers INVALID_ARGUMENT with per-platform problems, and NOT_FOUND for another owner's campaign", async () => {
  const err: any = await client.unary("Publish", { campaignId: "c-x", platforms: ["instagram"], content: { title: "no media" } }, { token: bearer }).catch((e) => e);
  expect(err.code).toBe(3);
  const details = JSON.parse(err.metadata.get("error-details-bin")[0].toString("utf8"));
  expect(details.data.map((d: any) => d.field)).toEqual(["instagram.mediaUrls"]);
  const other = await broker.call<any, any>("campaigns.create", { name: "theirs", type: "ppv" }, as("someone-else"));
  const notFound: any = await client.unary("ListPublications", { id: other.id }, { token: bearer }).catch((e) => e);
  expect(notFound.code).toBe(5);
});
