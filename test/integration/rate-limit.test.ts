/**
 * The per-user request budget (lib/rate-limit.ts) with a small limit: REST answers 429 with Retry-After
 * and X-Rate-Limit-* once a user spent it while other users go on; gRPC charges the same counter and
 * answers RESOURCE_EXHAUSTED with `retry-after`; callers without a valid token are counted by address;
 * the window resets. In memory on one node, and in Redis shared by two gateway nodes.
 */
import crypto from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { ServiceBroker } from "moleculer";
import { clientKey, createRateLimiter, grpcPeerAddress, MemoryRateLimitStore } from "../../lib/rate-limit";
import type { GrpcServiceInstance } from "../../services/grpc.service";
import { GatewayClient } from "../../services/grpc/client";
import { createTestDatabase, freePort, startBroker, token, type TestDatabase } from "../helpers/env";
import { restClient, type HttpResult } from "../helpers/http";

jest.setTimeout(60_000);

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const LIMIT = 5;
/** Short, so the reset is observed; long enough for a burst of LIMIT + 1 requests on a busy machine. */
const WINDOW_MS = 5_000;

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

interface Gateway {
  broker: ServiceBroker;
  baseUrl: string;
  grpc: GatewayClient;
}

/** A node with both gateways and the campaigns service; nodes of one `namespace` share one Redis budget. */
async function startGateway(namespace: string, redisUrl?: string): Promise<Gateway> {
  const port = await freePort();
  const broker = await startBroker({
    databaseUrl: db.url,
    port,
    grpcPort: 0,
    redisUrl,
    // Unique per run: the Redis keys (mktg-rl:<namespace>:…) of this run are its own.
    namespace,
    rateLimitPerMinute: LIMIT,
    rateLimitWindowMs: WINDOW_MS,
    services: ["api", "grpc", "campaigns"],
  });
  const grpcPort = (broker.getLocalService("grpc") as unknown as GrpcServiceInstance).boundPort;
  return { broker, baseUrl: `http://127.0.0.1:${port}`, grpc: new GatewayClient(`127.0.0.1:${grpcPort}`) };
}

async function stopGateway(g: Gateway | undefined): Promise<void> {
  g?.grpc.close();
  await g?.broker.stop();
}

function uniqueUser(): string {
  return `rl-${crypto.randomBytes(4).toString("hex")}`;
}

async function grpcFailure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await call;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error("expected the call to fail");
}

function expectRefused(res: HttpResult): void {
  expect(res.status).toBe(429);
  expect(res.body.error).toMatchObject({ type: "TOO_MANY_REQUESTS", code: 429, data: { retryAfter: expect.any(Number) } });
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(WINDOW_MS / 1000);
  expect(res.headers.get("x-rate-limit-limit")).toBe(String(LIMIT));
  expect(res.headers.get("x-rate-limit-remaining")).toBe("0");
}

describe.each([
  ["in memory, one node", undefined],
  ["in Redis", REDIS_URL],
])("%s", (_name, redisUrl) => {
  let node: Gateway;

  beforeAll(async () => {
    node = await startGateway(`t-${crypto.randomBytes(4).toString("hex")}`, redisUrl);
  });

  afterAll(async () => {
    await stopGateway(node);
  });

  it("answers 429 with Retry-After once a user spent the budget; another user is unaffected", async () => {
    const asA = restClient(node.baseUrl, await token(uniqueUser()));
    const asB = restClient(node.baseUrl, await token(uniqueUser()));
    for (let i = 1; i <= LIMIT; i++) {
      const res = await asA("GET", "/api/campaigns");
      expect(res.status).toBe(200);
      expect(res.headers.get("x-rate-limit-limit")).toBe(String(LIMIT));
      expect(res.headers.get("x-rate-limit-remaining")).toBe(String(LIMIT - i));
      expect(Number(res.headers.get("x-rate-limit-reset"))).toBeGreaterThan(Date.now());
    }
    expectRefused(await asA("GET", "/api/campaigns"));
    // Writes are refused too, and nothing is written.
    expectRefused(await asA("POST", "/api/campaigns", { name: "Too many", type: "ppv", platforms: ["onlyfans"] }));
    const other = await asB("GET", "/api/campaigns");
    expect(other.status).toBe(200);
    expect(other.headers.get("x-rate-limit-remaining")).toBe(String(LIMIT - 1));
  });

  it("charges gRPC calls to the same budget and answers RESOURCE_EXHAUSTED with retry-after", async () => {
    const user = uniqueUser();
    const bearer = await token(user);
    const rest = restClient(node.baseUrl, bearer);
    for (let i = 0; i < LIMIT - 2; i++) expect((await rest("GET", "/api/campaigns")).status).toBe(200);
    await node.grpc.unary("ListCampaigns", {}, { token: bearer });
    await node.grpc.unary("ListCampaigns", {}, { token: bearer });
    const err = await grpcFailure(node.grpc.unary("ListCampaigns", {}, { token: bearer }));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const [retryAfter] = err.metadata.get("retry-after");
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(WINDOW_MS / 1000);
    // …and REST is refused as well: one budget for both gateways.
    expectRefused(await rest("GET", "/api/campaigns"));
  });

  it("counts callers without a valid token by address: 401 within the budget, then 429 (REST and gRPC)", async () => {
    const anonymous = restClient(node.baseUrl);
    const forged = restClient(node.baseUrl, "not-a-token");
    for (let i = 0; i < LIMIT - 1; i++) expect((await anonymous("GET", "/api/campaigns")).status).toBe(401);
    expect((await forged("GET", "/api/campaigns")).status).toBe(401);
    expectRefused(await anonymous("GET", "/api/campaigns"));
    const err = await grpcFailure(node.grpc.unary("ListCampaigns", {}));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    // An authenticated user from the same address has a budget of their own.
    expect((await restClient(node.baseUrl, await token(uniqueUser()))("GET", "/api/campaigns")).status).toBe(200);
  });

});

describe("two gateway nodes sharing Redis", () => {
  let a: Gateway;
  let b: Gateway;

  beforeAll(async () => {
    const namespace = `t-${crypto.randomBytes(4).toString("hex")}`;
    a = await startGateway(namespace, REDIS_URL);
    b = await startGateway(namespace, REDIS_URL);
  });

  afterAll(async () => {
    await Promise.all([stopGateway(a), stopGateway(b)]);
  });

  it("agree on one budget per user, across REST and gRPC", async () => {
    const bearer = await token(uniqueUser());
    const viaA = restClient(a.baseUrl, bearer);
    const viaB = restClient(b.baseUrl, bearer);
    const remaining: string[] = [];
    for (let i = 0; i < LIMIT - 1; i++) {
      const res = await (i % 2 ? viaB : viaA)("GET", "/api/campaigns");
      expect(res.status).toBe(200);
      remaining.push(res.headers.get("x-rate-limit-remaining")!);
    }
    expect(remaining).toEqual(Array.from({ length: LIMIT - 1 }, (_, i) => String(LIMIT - 1 - i)));
    await b.grpc.unary("ListCampaigns", {}, { token: bearer });
    expectRefused(await viaA("GET", "/api/campaigns"));
    expect((await grpcFailure(a.grpc.unary("ListCampaigns", {}, { token: bearer }))).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expectRefused(await viaB("GET", "/api/campaigns"));
  });

  it("give a new budget on both when the window ends", async () => {
    const bearer = await token(uniqueUser());
    const viaA = restClient(a.baseUrl, bearer);
    const viaB = restClient(b.baseUrl, bearer);
    for (let i = 0; i < LIMIT; i++) expect((await viaA("GET", "/api/campaigns")).status).toBe(200);
    const refused = await viaB("GET", "/api/campaigns");
    expectRefused(refused);
    const resetAt = Number(refused.headers.get("x-rate-limit-reset"));
    await new Promise((r) => setTimeout(r, Math.max(0, resetAt - Date.now()) + 50));
    const again = await viaB("GET", "/api/campaigns");
    expect(again.status).toBe(200);
    expect(again.headers.get("x-rate-limit-remaining")).toBe(String(LIMIT - 1));
    expect((await viaA("GET", "/api/campaigns")).headers.get("x-rate-limit-remaining")).toBe(String(LIMIT - 2));
  });
});

describe("limiter", () => {
  it("keys callers by address the same way on both gateways", () => {
    // REST: the socket's remoteAddress; gRPC: grpc-js's peer string.
    expect(clientKey("::ffff:10.0.0.7")).toBe("ip:10.0.0.7");
    expect(clientKey(grpcPeerAddress("10.0.0.7:53122"))).toBe("ip:10.0.0.7");
    expect(clientKey(grpcPeerAddress("::ffff:10.0.0.7:53122"))).toBe("ip:10.0.0.7");
    expect(clientKey(grpcPeerAddress("::1:53122"))).toBe(clientKey("::1"));
    expect(clientKey(grpcPeerAddress("ipv6:[2001:db8::1]:443"))).toBe("ip:2001:db8::1");
  });

  it("in memory: a window starts with a key's first hit and ends after windowMs", () => {
    const store = new MemoryRateLimitStore(1_000);
    expect(store.hit("k", 10_000)).toEqual({ count: 1, resetAt: 11_000 });
    expect(store.hit("k", 10_999)).toEqual({ count: 2, resetAt: 11_000 });
    expect(store.hit("other", 10_500)).toEqual({ count: 1, resetAt: 11_500 });
    expect(store.hit("k", 11_000)).toEqual({ count: 1, resetAt: 12_000 });
    return store.close();
  });

  it("is off with a limit of 0", () => {
    expect(createRateLimiter({ limit: 0, windowMs: 60_000, namespace: "x" })).toBeUndefined();
  });

  it("counts in memory when Redis cannot be reached, instead of refusing or stalling requests", async () => {
    const port = await freePort();
    const limiter = createRateLimiter({ limit: 2, windowMs: 60_000, redisUrl: `redis://127.0.0.1:${port}`, namespace: "down" })!;
    try {
      const started = Date.now();
      await limiter.ready();
      await expect(limiter.enforce("user:u")).resolves.toMatchObject({ allowed: true, remaining: 1 });
      await expect(limiter.enforce("user:u")).resolves.toMatchObject({ allowed: true, remaining: 0 });
      await expect(limiter.enforce("user:u")).rejects.toMatchObject({ code: 429, data: { retryAfter: 60 } });
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await limiter.close();
    }
  });
});
