/**
 * The gateway's own mechanics against a stand-in `campaigns` service (no database): deadlines as call
 * timeouts, statuses for failures, shutdown of open streams, and the start-up checks of the route table.
 */
import * as grpc from "@grpc/grpc-js";
import { ServiceBroker, type Context, type ServiceSchema } from "moleculer";
import { createBroker } from "../../lib/broker";
import type { GrpcServiceInstance } from "../../services/grpc.service";
import { callTimeout, remainingMs } from "../../services/grpc/deadline";
import { GatewayClient, type Message } from "../../services/grpc/client";
import { GrpcGateway } from "../../services/grpc/gateway";
import { loadProtos } from "../../services/grpc/proto";
import { PROTO_FILES, ROUTES } from "../../services/grpc/routes";
import { service as healthService } from "grpc-health-check";
import { testConfig, token } from "../helpers/env";

const REQUEST_TIMEOUT = 3_000;

/** Stands in for the campaigns service: `get` answers per id, records the timeout it was called with. */
function standInCampaigns(timeouts: number[]): ServiceSchema {
  return {
    name: "campaigns",
    actions: {
      async get(ctx: Context<{ id: string }, { user: { id: string } }>) {
        timeouts.push(ctx.options.timeout!);
        if (ctx.params.id === "slow") await new Promise((resolve) => setTimeout(resolve, 800));
        if (ctx.params.id === "boom") throw new Error("connect ECONNREFUSED 10.1.2.3:5432");
        return { id: ctx.params.id, ownerId: ctx.meta.user.id, name: "stand-in", type: "ppv", status: "draft" };
      },
    },
  };
}

async function startGateway() {
  const timeouts: number[] = [];
  const broker = createBroker(testConfig({ services: ["grpc"], grpcPort: 0, requestTimeout: REQUEST_TIMEOUT }), { logger: false });
  broker.createService(standInCampaigns(timeouts));
  await broker.start();
  const port = (broker.getLocalService("grpc") as unknown as GrpcServiceInstance).boundPort;
  const client = new GatewayClient(`127.0.0.1:${port}`);
  return { broker, client, timeouts, bearer: await token("u1") };
}

async function failure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await call;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error("expected the call to fail");
}

describe("deadline → timeout", () => {
  it("gives what is left of the deadline, capped by the request timeout", () => {
    const now = 1_000_000;
    expect(remainingMs(Infinity, now)).toBe(Infinity);
    expect(remainingMs(new Date(now + 250), now)).toBe(250);
    expect(remainingMs(now - 5, now)).toBe(-5);
    expect(callTimeout(Infinity, 10_000)).toBe(10_000);
    expect(callTimeout(250, 10_000)).toBe(250);
    expect(callTimeout(60_000, 10_000)).toBe(10_000);
    // A request timeout of 0 means none: only the deadline bounds the call.
    expect(callTimeout(60_000, 0)).toBe(60_000);
    expect(callTimeout(Infinity, 0)).toBe(0);
  });
});

describe("GrpcGateway with a stand-in service", () => {
  let env: Awaited<ReturnType<typeof startGateway>>;

  beforeAll(async () => {
    env = await startGateway();
  });

  afterAll(async () => {
    env.client.close();
    await env.broker.stop();
  });

  const get = (id: string, deadline?: number) => env.client.unary("GetCampaign", { id }, { token: env.bearer, deadline });

  it("calls the action with the deadline as its timeout", async () => {
    env.timeouts.length = 0;
    await get("c1", Date.now() + 1_500);
    await get("c2");
    await get("c3", Date.now() + 60_000);
    const [withDeadline, without, longDeadline] = env.timeouts;
    expect(withDeadline).toBeGreaterThan(1_000);
    expect(withDeadline).toBeLessThanOrEqual(1_500);
    expect(without).toBe(REQUEST_TIMEOUT);
    expect(longDeadline).toBe(REQUEST_TIMEOUT);
  });

  it("answers DEADLINE_EXCEEDED when the action outlasts the deadline", async () => {
    env.timeouts.length = 0;
    const err = await failure(get("slow", Date.now() + 200));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(env.timeouts[0]).toBeLessThanOrEqual(200);
  });

  it("converts the action's result to the response message", async () => {
    expect(await get("c9")).toMatchObject({ id: "c9", ownerId: "u1", name: "stand-in", type: "CAMPAIGN_TYPE_PPV", status: "CAMPAIGN_STATUS_DRAFT" });
  });

  it("answers INTERNAL without the error's details for an unexpected failure", async () => {
    const err = await failure(get("boom"));
    expect(err.code).toBe(grpc.status.INTERNAL);
    expect(err.details).toBe("Internal server error");
    expect(JSON.stringify(err.metadata.getMap())).not.toContain("10.1.2.3");
  });

  it("answers UNAVAILABLE when no node serves the action", async () => {
    const err = await failure(env.client.unary("DeleteCampaign", { id: "c1" }, { token: env.bearer }));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.metadata.get("retry-after")).toEqual(["1"]);
  });

  it("answers INVALID_ARGUMENT for bytes that are not the request message", async () => {
    const raw = new grpc.Client(`127.0.0.1:${(env.broker.getLocalService("grpc") as unknown as GrpcServiceInstance).boundPort}`, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${env.bearer}`);
    try {
      const err = await failure(
        new Promise((resolve, reject) =>
          raw.makeUnaryRequest(
            "/marketing.v1.CampaignService/GetCampaign",
            (bytes: Buffer) => bytes,
            (bytes: Buffer) => bytes,
            Buffer.from([0x08]), // a field tag and nothing after it
            metadata,
            (e, res) => (e ? reject(e) : resolve(res)),
          ),
        ),
      );
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/could not be decoded/);
    } finally {
      raw.close();
    }
  });
});

describe("stopping", () => {
  it("ends open watches with UNAVAILABLE and closes the port", async () => {
    const { broker, client, bearer } = await startGateway();
    const stream = client.serverStream("WatchCampaign", { id: "w1" }, { token: bearer });
    const first = new Promise<Message>((resolve) => stream.once("data", resolve));
    const status = new Promise<grpc.StatusObject>((resolve) => stream.on("status", resolve));
    stream.on("error", () => undefined);
    expect((await first).current).toMatchObject({ id: "w1" });

    await broker.stop();
    const ended = await status;
    expect(ended.code).toBe(grpc.status.UNAVAILABLE);
    expect(ended.details).toMatch(/shutting down/);
    const after = await failure(client.unary("GetCampaign", { id: "w1" }, { token: bearer, deadline: Date.now() + 1_000 }));
    expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(after.code);
    client.close();
  });

  it("tells health watchers NOT_SERVING before it goes", async () => {
    const gateway = bareGateway(ROUTES);
    const port = await gateway.listen("127.0.0.1", 0);
    const Health = grpc.makeClientConstructor(healthService as grpc.ServiceDefinition, "Health");
    const health = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
    const statuses: string[] = [];
    const watch = health.watch({ service: "marketing.v1.CampaignService" }) as grpc.ClientReadableStream<{ status: string }>;
    watch.on("error", () => undefined);
    await new Promise<void>((resolve) =>
      watch.on("data", ({ status }) => {
        statuses.push(status);
        if (status === "SERVING") resolve();
      }),
    );
    await gateway.stop(100);
    expect(statuses).toEqual(["SERVING", "NOT_SERVING"]);
    health.close();
  });
});

/** A gateway on an unstarted broker: enough to check the route table and the server's own behaviour. */
function bareGateway(routes: typeof ROUTES): GrpcGateway {
  const broker = new ServiceBroker({ logger: false });
  return new GrpcGateway({
    broker,
    logger: broker.logger,
    definition: loadProtos(PROTO_FILES),
    routes,
    authenticate: async () => ({ id: "u", teamId: null, role: "owner" }),
    requestTimeout: 1_000,
  });
}

describe("route table checks at start", () => {
  const gateway = bareGateway;

  it("accepts the real table and serves every service it names", () => {
    const named = new Set(Object.keys(ROUTES).map((key) => key.split("/")[0]));
    expect(new Set(gateway(ROUTES).serviceNames)).toEqual(named);
    expect(named).toContain("marketing.v1.CampaignService");
  });

  it("refuses an RPC without a row", () => {
    const { ["marketing.v1.CampaignService/ListCampaigns"]: _dropped, ...rest } = ROUTES;
    expect(() => gateway(rest)).toThrow("marketing.v1.CampaignService/ListCampaigns has no row");
  });

  it("refuses a row without an RPC", () => {
    expect(() => gateway({ ...ROUTES, "marketing.v1.CampaignService/Nope": { action: "campaigns.nope" } })).toThrow("Nope");
    expect(() => gateway({ ...ROUTES, "marketing.v1.NoService/Get": { action: "x.get" } })).toThrow("marketing.v1.NoService");
  });

  it("refuses a unary row for a streaming RPC and the other way round", () => {
    const watch = ROUTES["marketing.v1.CampaignService/WatchCampaign"];
    expect(() => gateway({ ...ROUTES, "marketing.v1.CampaignService/WatchCampaign": { action: "campaigns.get" } })).toThrow("needs `watch`");
    expect(() => gateway({ ...ROUTES, "marketing.v1.CampaignService/GetCampaign": watch })).toThrow("must not have `watch`");
  });
});
