/** The segmentation RPCs through the real gRPC gateway and the segmentation service on PostgreSQL. */
import * as grpc from "@grpc/grpc-js";
import type { ServiceBroker } from "moleculer";
import type { GrpcServiceInstance } from "../../services/grpc.service";
import { GatewayClient, type Message } from "../../services/grpc/client";
import { createTestDatabase, startBroker, token, type TestDatabase } from "../helpers/env";

jest.setTimeout(60_000);

let db: TestDatabase;
let broker: ServiceBroker;
let fansClient: GatewayClient;
let segmentsClient: GatewayClient;
let tokenA: string;
let tokenB: string;

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startBroker({ databaseUrl: db.url, grpcPort: 0, services: ["segmentation", "grpc"] });
  const address = `127.0.0.1:${(broker.getLocalService("grpc") as unknown as GrpcServiceInstance).boundPort}`;
  fansClient = new GatewayClient(address, "marketing.v1.FanService");
  segmentsClient = new GatewayClient(address, "marketing.v1.SegmentService");
  [tokenA, tokenB] = await Promise.all([token("grpc-seg-a"), token("grpc-seg-b")]);
});

afterAll(async () => {
  fansClient?.close();
  segmentsClient?.close();
  await broker?.stop();
  await db?.drop();
});

const fans = (method: string, request: Message, t = tokenA) => fansClient.unary(method, request, { token: t });
const segs = (method: string, request: Message, t = tokenA) => segmentsClient.unary(method, request, { token: t });

async function failure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await call;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error("expected the call to fail");
}

it("upserts fans, builds a dynamic segment from a shorthand criteria Value, and lists its members", async () => {
  const recent = new Date(Date.now() - 86_400_000).toISOString();
  const batch = await fans("UpsertFans", {
    fans: [
      { id: "g1", spendingLevel: "SPENDING_LEVEL_HIGH", engagement: 80, lastActiveAt: recent, platform: "PLATFORM_ONLYFANS" },
      { id: "g2", spendingLevel: "SPENDING_LEVEL_LOW", engagement: 90, lastActiveAt: recent },
    ],
  });
  expect(batch).toMatchObject({ created: 2 });
  const fan = await fans("GetFan", { id: "g1" });
  expect(fan).toMatchObject({ id: "g1", spendingLevel: "SPENDING_LEVEL_HIGH", platform: "PLATFORM_ONLYFANS", noActivityDays: 1 });

  const criteria = { structValue: { fields: { spendingLevel: { stringValue: "high" }, engagement: { stringValue: ">50" } } } };
  const size = await segs("CalculateSegmentSize", { criteria });
  expect(size.size).toBe(1);
  const segment = await segs("CreateSegment", { name: "Whales", type: "SEGMENT_TYPE_DYNAMIC", criteria });
  expect(segment).toMatchObject({ name: "Whales", type: "SEGMENT_TYPE_DYNAMIC", memberCount: 1 });
  const members = await segs("GetSegmentMembers", { id: segment.id });
  expect(members.items.map((f: Message) => f.id)).toEqual(["g1"]);

  const bought = await fans("RecordActivity", { id: "g2", type: "ACTIVITY_TYPE_PURCHASED", amount: 500 });
  expect(bought).toMatchObject({ lifetimeValue: 500, spendingLevel: "SPENDING_LEVEL_HIGH" });
  expect((await segs("GetSegment", { id: segment.id })).memberCount).toBe(2);

  const stat = await segs("CreateSegment", { name: "Picked", type: "SEGMENT_TYPE_STATIC" });
  expect(await segs("AddFanToSegment", { id: stat.id, fanId: "g1" })).toMatchObject({ member: true, changed: true });
  const cmp = await segs("CompareSegments", { ids: [segment.id, stat.id] });
  expect(cmp.overlaps).toEqual([expect.objectContaining({ shared: 1 })]);
  expect(await segs("GetSegmentPerformance", { id: segment.id })).toMatchObject({ source: "unavailable" });

  const exported = await fans("ExportFan", { id: "g1" });
  expect(exported.memberships).toHaveLength(2);
  expect(await fans("EraseFan", { id: "g1" })).toMatchObject({ erased: true });
  expect((await failure(fans("GetFan", { id: "g1" }))).code).toBe(grpc.status.NOT_FOUND);
});

it("maps errors: bad criteria → INVALID_ARGUMENT, dynamic membership edit → FAILED_PRECONDITION, foreign → NOT_FOUND", async () => {
  const bad = await failure(segs("CalculateSegmentSize", { criteria: { stringValue: "engagement is big" } }));
  expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
  const dyn = await segs("CreateSegment", { name: "D", type: "SEGMENT_TYPE_DYNAMIC", criteria: { stringValue: "no_activity_days >= 14" } });
  await fans("UpsertFan", { id: "g3" });
  const conflict = await failure(segs("AddFanToSegment", { id: dyn.id, fanId: "g3" }));
  expect([grpc.status.FAILED_PRECONDITION, grpc.status.ALREADY_EXISTS]).toContain(conflict.code);
  expect((await failure(segs("GetSegment", { id: dyn.id }, tokenB))).code).toBe(grpc.status.NOT_FOUND);
});
