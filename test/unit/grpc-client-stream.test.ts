/**
 * The gateway's client-streaming route kind (`ingest`) against a stand-in `analytics.trackBatch` (no
 * database): batching, one batch at a time, merged answers, stream positions in errors, the deadline per
 * call, and the start-up checks.
 */
import * as grpc from "@grpc/grpc-js";
import type { MethodDefinition, ServiceDefinition } from "@grpc/proto-loader";
import { ServiceBroker, type Context, type ServiceSchema } from "moleculer";
import { createBroker } from "../../lib/broker";
import { UnprocessableError } from "../../lib/errors";
import type { GrpcServiceInstance } from "../../services/grpc.service";
import { GatewayClient, type Message } from "../../services/grpc/client";
import { GrpcGateway } from "../../services/grpc/gateway";
import { loadProtos } from "../../services/grpc/proto";
import { PROTO_FILES, ROUTES } from "../../services/grpc/routes";
import { testConfig, token } from "../helpers/env";

const REQUEST_TIMEOUT = 5_000;
const INGEST = "marketing.v1.AnalyticsService/IngestEvents";

interface Event {
  campaignId: string;
  eventId?: string;
  value?: number;
}

interface Recorded {
  size: number;
  firstEventId?: string;
  timeout: number;
}

/**
 * Stands in for analytics.trackBatch: records each call, and fails as the real one does — `value` 13 is
 * a 422 naming the event in the batch, campaign "gone" a 422 of type notFound. Event ids starting with
 * "dup" count as duplicates; campaign "slow" takes 300 ms per batch.
 */
function standInAnalytics(calls: Recorded[], overlaps: { count: number }): ServiceSchema {
  let running = 0;
  return {
    name: "analytics",
    actions: {
      async trackBatch(ctx: Context<{ events: Event[] }>) {
        const { events } = ctx.params;
        calls.push({ size: events.length, firstEventId: events[0]?.eventId, timeout: ctx.options.timeout! });
        if (running++) overlaps.count++;
        try {
          await new Promise((resolve) => setTimeout(resolve, events.some((e) => e.campaignId === "slow") ? 300 : 2));
          const unlucky = events.findIndex((e) => e.value === 13);
          if (unlucky >= 0) throw new UnprocessableError("Parameters validation error!", [{ field: `events[${unlucky}].value`, message: `The 'events[${unlucky}].value' field is unlucky.`, type: "number" }]);
          const gone = events.map((e, i) => (e.campaignId === "gone" ? i : -1)).filter((i) => i >= 0);
          if (gone.length) {
            throw new UnprocessableError("Some events name campaigns that do not exist", gone.map((i) => ({ field: `events[${i}].campaignId`, message: 'campaign "gone" was not found', type: "notFound" })));
          }
          const duplicates = events.filter((e) => e.eventId?.startsWith("dup")).length;
          return { accepted: events.length, new: events.length - duplicates, duplicates };
        } finally {
          running--;
        }
      },
    },
  };
}

async function startGateway() {
  const calls: Recorded[] = [];
  const overlaps = { count: 0 };
  const broker = createBroker(testConfig({ services: ["grpc"], grpcPort: 0, requestTimeout: REQUEST_TIMEOUT }), { logger: false });
  broker.createService(standInAnalytics(calls, overlaps));
  await broker.start();
  const port = (broker.getLocalService("grpc") as unknown as GrpcServiceInstance).boundPort;
  const address = `127.0.0.1:${port}`;
  const client = new GatewayClient(address, "marketing.v1.AnalyticsService");
  return { broker, address, client, calls, overlaps, bearer: await token("u1") };
}

function events(count: number, make: (i: number) => Partial<Message> = () => ({})): Message[] {
  return Array.from({ length: count }, (_, i) => ({ type: "ANALYTICS_EVENT_TYPE_CLICK", campaignId: "c1", platform: "PLATFORM_TIKTOK", eventId: `e-${i}`, ...make(i) }));
}

async function failure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await call;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error("expected the call to fail");
}

const problemFields = (err: grpc.ServiceError): string[] =>
  JSON.parse(err.metadata.get("error-details-bin")[0].toString("utf8")).data.map((p: { field: string }) => p.field);

describe("ingest routes with a stand-in analytics service", () => {
  let env: Awaited<ReturnType<typeof startGateway>>;

  beforeAll(async () => {
    env = await startGateway();
  });

  afterAll(async () => {
    env.client.close();
    await env.broker.stop();
  });

  beforeEach(() => {
    env.calls.length = 0;
    env.overlaps.count = 0;
  });

  async function ingest(messages: Message[], deadline?: number): Promise<Message> {
    const { stream, response } = env.client.clientStream("IngestEvents", { token: env.bearer, deadline });
    let settled = false;
    const done = response.then(
      () => (settled = true),
      () => (settled = true),
    );
    for (const message of messages) {
      if (settled) break;
      if (!stream.write(message)) await Promise.race([new Promise((resolve) => stream.once("drain", resolve)), done]);
    }
    stream.end();
    return response;
  }

  it("calls the action once per batch of 500, one batch at a time, and merges the answers", async () => {
    const res = await ingest(events(1_234, (i) => (i % 10 === 0 ? { eventId: `dup-${i}` } : {})));
    expect(res).toEqual({ accepted: "1234", new: String(1_234 - 124), duplicates: "124" });
    expect(env.calls.map((c) => [c.size, c.firstEventId])).toEqual([
      [500, "dup-0"],
      [500, "dup-500"],
      [234, "dup-1000"],
    ]);
    expect(env.overlaps.count).toBe(0);
  });

  it("answers an empty stream without calling the action", async () => {
    expect(await ingest([])).toEqual({ accepted: "0", new: "0", duplicates: "0" });
    expect(env.calls).toEqual([]);
  });

  it("names the action's problems by stream position and stops reading at the failing batch", async () => {
    const err = await failure(ingest(events(2_000, (i) => (i === 1_203 ? { value: 13 } : {}))));
    expect(err.code).toBe(3);
    expect(problemFields(err)).toEqual(["events[1203].value"]);
    expect(err.details).toContain("The 'events[1203].value' field is unlucky.");
    // Batches 0–499 and 500–999 were committed before the failing one; nothing after it was called.
    expect(env.calls.map((c) => c.size)).toEqual([500, 500, 500]);
  });

  it("names a message that cannot be decoded by stream position, before calling the action for its batch", async () => {
    // Raw bytes, as a faulty client could send: two good messages, then a truncated one.
    const method = (loadProtos(PROTO_FILES)["marketing.v1.AnalyticsService"] as ServiceDefinition).IngestEvents as MethodDefinition<Message, Message>;
    const raw = new grpc.Client(env.address, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${env.bearer}`);
    try {
      const response = new Promise<unknown>((resolve, reject) => {
        const stream = raw.makeClientStreamRequest(method.path, (bytes: Buffer) => bytes, method.responseDeserialize, metadata, {}, (err, res) => (err ? reject(err) : resolve(res)));
        const good = events(2).map((e) => method.requestSerialize(e));
        for (const bytes of [...good, Buffer.from([0x08]) /* a field tag and nothing after it */]) stream.write(bytes);
        stream.end();
      });
      const err = await failure(response);
      expect(err.code).toBe(3);
      expect(err.details).toContain("The message events[2] could not be decoded");
      expect(env.calls).toEqual([]);
    } finally {
      raw.close();
    }
  });

  it("turns an unknown campaign into NOT_FOUND naming the events", async () => {
    const err = await failure(ingest(events(700, (i) => (i >= 650 && i < 652 ? { campaignId: "gone" } : {}))));
    expect(err.code).toBe(5);
    expect(err.details).toBe('campaign "gone" was not found (events[650].campaignId, events[651].campaignId)');
  });

  it("gives each call what is left of the deadline, and DEADLINE_EXCEEDED once it has passed", async () => {
    const slow = events(1_500, () => ({ campaignId: "slow" }));
    // Three batches of 300 ms in 4 s: room for a slow machine (2 s failed once when run in band).
    const deadline = Date.now() + 4_000;
    expect(await ingest(slow, deadline)).toMatchObject({ accepted: "1500" });
    const timeouts = env.calls.map((c) => c.timeout);
    expect(timeouts).toHaveLength(3);
    expect(timeouts[0]).toBeLessThanOrEqual(4_000);
    // Each batch took 300 ms, so each later call had at least that much less time.
    expect(timeouts[0] - timeouts[1]).toBeGreaterThanOrEqual(250);
    expect(timeouts[1] - timeouts[2]).toBeGreaterThanOrEqual(250);

    const late = await failure(ingest(events(2_000, () => ({ campaignId: "slow" })), Date.now() + 700));
    expect(late.code).toBe(4);
    expect(env.calls.length).toBeLessThan(3 + 4);
    await new Promise((resolve) => setTimeout(resolve, 400)); // the last call started may still run
  });

  it("stops calling the action when the client cancels", async () => {
    const { stream, response } = env.client.clientStream("IngestEvents", { token: env.bearer });
    response.catch(() => undefined);
    for (const message of events(600, (i) => ({ campaignId: "slow", eventId: `cancel-${i}` }))) stream.write(message);
    await new Promise((resolve) => setTimeout(resolve, 100));
    stream.cancel();
    expect((await failure(response)).code).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    // At most the first full batch (if it was read before the cancel); never the partial rest of 100.
    const mine = env.calls.filter((c) => c.firstEventId?.startsWith("cancel-"));
    expect(mine.map((c) => c.size)).toEqual(mine.length ? [500] : []);
  });

  it("refuses a stream without a token", async () => {
    const { stream, response } = env.client.clientStream("IngestEvents");
    stream.write(events(1)[0]);
    stream.end();
    expect((await failure(response)).code).toBe(16);
    expect(env.calls).toEqual([]);
  });
});

describe("start-up checks", () => {
  function gateway(routes: typeof ROUTES): GrpcGateway {
    const broker = new ServiceBroker({ logger: false });
    return new GrpcGateway({ broker, logger: broker.logger, definition: loadProtos(PROTO_FILES), routes, authenticate: async () => ({ id: "u", teamId: null, role: "owner" }), requestTimeout: 0 });
  }

  it("accepts the ingest row of a client-streaming RPC", () => {
    expect(() => gateway(ROUTES)).not.toThrow();
  });

  it("refuses a unary row for a client-streaming RPC and an ingest row for a unary one", () => {
    const ingestRow = ROUTES[INGEST];
    expect(() => gateway({ ...ROUTES, [INGEST]: { action: "analytics.trackBatch" } })).toThrow("streams requests: its row needs `ingest`");
    expect(() => gateway({ ...ROUTES, "marketing.v1.AnalyticsService/TrackBatch": ingestRow })).toThrow("must not have `ingest`");
  });
});
