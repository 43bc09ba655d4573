/** The publisher's Preview and credential RPCs through the gRPC gateway, on a real database. */
import type * as grpc from "@grpc/grpc-js";
import type { ServiceBroker } from "moleculer";
import type { GrpcServiceInstance } from "../../services/grpc.service";
import { GatewayClient, type Message } from "../../services/grpc/client";
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
  Object.assign(process.env, fakes.env, { CREDENTIALS_KEYS: "k1:" + Buffer.alloc(32, 4).toString("base64") });
  broker = await startBroker({ databaseUrl: db.url, grpcPort: 0, services: ["campaigns", "publisher", "grpc"] });
  const port = (broker.getLocalService("grpc") as unknown as GrpcServiceInstance).boundPort;
  client = new GatewayClient(`127.0.0.1:${port}`, "marketing.v1.PublisherService");
  bearer = await token("grpc-pub-more");
});

afterAll(async () => {
  client?.close();
  await broker?.stop();
  await fakes?.close();
  await db?.drop();
});

async function failure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await call;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error("expected the call to fail");
}

const details = (err: grpc.ServiceError) => JSON.parse(err.metadata.get("error-details-bin")[0].toString("utf8"));

describe("Preview", () => {
  it("shows each platform's payload, changes and problems, in the order asked", async () => {
    const res = await client.unary(
      "Preview",
      { content: { title: "Launch", description: "New set out now", hashtags: ["fit", "#gym"], link: "https://example.com/x", subreddit: "fitness" }, platforms: ["reddit", "instagram", "nowhere"] },
      { token: bearer },
    );
    expect(res.previews.map((p: Message) => p.platform)).toEqual(["reddit", "instagram", "nowhere"]);
    const [reddit, instagram, nowhere] = res.previews;
    // The payload is the platform's own: Reddit's title field, as the REST preview shows it.
    const restPreview = await broker.call<Record<string, { payload: Record<string, unknown> }>, object>(
      "publisher.preview",
      { content: { title: "Launch", description: "New set out now", hashtags: ["fit", "#gym"], link: "https://example.com/x", subreddit: "fitness" }, platforms: ["reddit"] },
      as("grpc-pub-more"),
    );
    // (a Struct on the wire: each value tagged with its kind)
    expect(Object.keys(reddit.payload.fields).sort()).toEqual(Object.keys(restPreview.reddit.payload).sort());
    expect(reddit.payload.fields.title.stringValue).toBe("Launch");
    expect(reddit.payload.fields.sr.stringValue).toBe("fitness");
    // (proto3 leaves empty lists off the wire)
    expect(reddit.problems).toBeUndefined();
    // Instagram needs media: a problem, named by field, with no value echoed.
    expect(instagram.problems).toEqual([expect.objectContaining({ field: "mediaUrls", type: expect.any(String), message: expect.any(String) })]);
    expect(instagram.changes.join(" ")).toContain("Link in bio");
    expect(nowhere).toEqual({ platform: "nowhere", problems: [expect.objectContaining({ field: "platforms", type: "unknownPlatform" })] });
    expect(nowhere.payload).toBeUndefined();
  });

  it("answers INVALID_ARGUMENT for bad input and UNAUTHENTICATED without a token", async () => {
    const bad = await failure(client.unary("Preview", { content: { title: "x" }, platforms: [] }, { token: bearer }));
    expect(bad.code).toBe(3);
    expect(details(bad).data.map((p: { field: string }) => p.field)).toContain("platforms");
    expect((await failure(client.unary("Preview", { content: { title: "x" }, platforms: ["reddit"] }))).code).toBe(16);
  });
});

describe("credentials", () => {
  it("stores, lists and deletes credentials without ever returning them", async () => {
    expect(await client.unary("ListCredentials", {}, { token: bearer })).toEqual({});
    const set = await client.unary("SetCredentials", { platform: "onlyfans", credentials: { apiKey: "secret-key", accountId: "acc-1" } }, { token: bearer });
    expect(set).toEqual({ platform: "onlyfans", fields: ["accountId", "apiKey"], stored: true });
    const listed = await client.unary("ListCredentials", {}, { token: bearer });
    expect(listed.credentials).toEqual([{ platform: "onlyfans", updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }]);
    expect(JSON.stringify(listed)).not.toContain("secret-key");
    // Stored for real: publishing to the platform no longer lacks credentials.
    const campaign = await broker.call<{ id: string }, object>("campaigns.create", { name: "creds", type: "ppv" }, as("grpc-pub-more"));
    const published = await client.unary("Publish", { campaignId: campaign.id, platforms: ["onlyfans"], content: { title: "hi", price: 3 }, mediaUrls: ["https://cdn.example.com/a.jpg"] }, { token: bearer });
    expect(published.publications).toEqual([expect.objectContaining({ platform: "onlyfans", created: true })]);

    expect(await client.unary("DeleteCredentials", { platform: "onlyfans" }, { token: bearer })).toEqual({ platform: "onlyfans", deleted: true });
    expect(await client.unary("ListCredentials", {}, { token: bearer })).toEqual({});
    expect((await failure(client.unary("DeleteCredentials", { platform: "onlyfans" }, { token: bearer }))).code).toBe(5);
  });

  it("refuses incomplete credentials without echoing a value, unknown platforms and callers without `manage`", async () => {
    const incomplete = await failure(client.unary("SetCredentials", { platform: "onlyfans", credentials: { apiKey: "do-not-echo" } }, { token: bearer }));
    expect(incomplete.code).toBe(3);
    expect(details(incomplete).data).toEqual([expect.objectContaining({ field: "credentials.accountId" })]);
    expect(JSON.stringify(details(incomplete)) + incomplete.details).not.toContain("do-not-echo");
    expect((await failure(client.unary("SetCredentials", { platform: "myspace", credentials: { a: "b" } }, { token: bearer }))).code).toBe(5);
    const editor = await token("grpc-pub-editor", { role: "editor" });
    const denied = await failure(client.unary("SetCredentials", { platform: "tiktok", credentials: { accessToken: "t" } }, { token: editor }));
    expect(denied.code).toBe(7);
    expect((await failure(client.unary("DeleteCredentials", { platform: "tiktok" }, { token: editor }))).code).toBe(7);
    // Another user's credentials are theirs: deleting "mine" finds none.
    await client.unary("SetCredentials", { platform: "tiktok", credentials: { accessToken: "t" } }, { token: bearer });
    const other = await token("grpc-pub-other");
    expect((await failure(client.unary("DeleteCredentials", { platform: "tiktok" }, { token: other }))).code).toBe(5);
    expect((await client.unary("ListCredentials", {}, { token: bearer })).credentials.map((c: Message) => c.platform)).toEqual(["tiktok"]);
  });
});
