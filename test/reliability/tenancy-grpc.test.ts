/**
 * Tenancy matrix over gRPC: every unary RPC of the route table whose request names a row (an `id`,
 * `campaign_id`, `segment_id`, `fan_id`, `test_id`, `variant_id`, `user_id` field) is called by every
 * role of team A with owner B's ids and with ids that exist nowhere. Both must get the same status (NOT_FOUND where the
 * role may act, PERMISSION_DENIED where it may not: never a hint that B's row exists), and no B row may
 * change.
 */
import crypto from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { MethodDefinition } from "@grpc/proto-loader";
import { ROLES } from "../../lib/auth";
import { GatewayClient, type Message } from "../../services/grpc/client";
import { loadProtos } from "../../services/grpc/proto";
import { PROTO_FILES, ROUTES } from "../../services/grpc/routes";
import { isWatchRoute } from "../../services/grpc/types";
import { token } from "../helpers/env";
import type { SeedIds } from "./hostile/generator";
import { addMembers, diffSnapshots, OWNER_A, OWNER_B, seed, snapshot, startServer, type Server } from "./hostile/harness";

jest.setTimeout(300_000);

let server: Server;
let b: SeedIds;
let teamA: string;

beforeAll(async () => {
  server = await startServer();
  const seeded = await seed(server.baseUrl);
  b = seeded.b;
  teamA = seeded.a.teamId;
  // Team A's members, one per role; their tokens name team A and the membership gives the role.
  await addMembers(server.baseUrl, OWNER_A, teamA, Object.fromEntries(ROLES.map((role) => [`grpc-team-a-${role}`, role])));
});

afterAll(async () => {
  await server?.stop();
});

/** Which seeded id a request field names; `id` depends on the service. */
function idFor(service: string, field: string, ids: SeedIds): string | undefined {
  const byField: Record<string, string | undefined> = {
    campaign_id: ids.campaignId,
    segment_id: ids.segmentId,
    fan_id: ids.fanId,
    test_id: ids.abTestId,
    variant_id: ids.variantId,
    user_id: ids.userId,
  };
  if (field !== "id") return byField[field];
  if (service.endsWith("CampaignService")) return ids.campaignId;
  if (service.endsWith("ABTestService")) return ids.abTestId;
  if (service.endsWith("SegmentService")) return ids.segmentId;
  if (service.endsWith("FanService")) return ids.fanId;
  if (service.endsWith("TeamService")) return ids.teamId;
  return undefined;
}

/** Loaded once: parsing the .proto files per call costs more than the calls. */
let protos: ReturnType<typeof loadProtos> | undefined;

const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** The request of `rpc` with every id field set from `ids`; undefined when it names no row. */
function requestFor(rpc: string, ids: SeedIds): Message | undefined {
  const [service, method] = rpc.split("/");
  protos ??= loadProtos(PROTO_FILES);
  const definition = (protos[service] as Record<string, MethodDefinition<Message, Message>>)[method];
  const fields = (definition.requestType as unknown as { type: { field: Array<{ name: string; type: string }> } }).type.field;
  const message: Message = {};
  for (const f of fields) {
    const id = f.type === "TYPE_STRING" ? idFor(service, f.name, ids) : undefined;
    if (id) message[camel(f.name)] = id;
  }
  return Object.keys(message).length ? message : undefined;
}

function missing(ids: SeedIds): SeedIds {
  const uuid = /^[0-9a-f-]{36}$/;
  return Object.fromEntries(Object.entries(ids).map(([k, v]) => [k, uuid.test(v) ? crypto.randomUUID() : `${v}_${crypto.randomBytes(4).toString("hex")}`]));
}

/**
 * RPCs that create-or-update by a client-chosen id: with B's fan id they make the caller's own fan (a
 * different row). They run after the matrix, so later RPCs do not find that row, and B's rows are still
 * compared afterwards.
 */
const UPSERTS = new Set(["marketing.v1.FanService/UpsertFan", "marketing.v1.FanService/UpsertFans"]);

async function status(client: GatewayClient, method: string, request: Message, bearer: string): Promise<grpc.status> {
  try {
    await client.unary(method, request, { token: bearer, deadline: Date.now() + 10_000 });
    return grpc.status.OK;
  } catch (err) {
    return (err as grpc.ServiceError).code;
  }
}

it("answers every role of team A the same for owner B's ids as for ids that exist nowhere, and changes no B row", async () => {
  const onlyB = (t: Record<string, string[]>) => Object.fromEntries(Object.entries(t).map(([k, rows]) => [k, rows.filter((r) => r.includes(OWNER_B))]));
  const before = onlyB(await snapshot(server.db.url));
  const address = `127.0.0.1:${server.grpcPort}`;
  const clients = new Map<string, GatewayClient>();
  const leaks: string[] = [];
  const counts: Record<string, number> = {};
  try {
    for (const role of ROLES) {
      const bearer = await token(`grpc-team-a-${role}`, { team: teamA, role });
      for (const [rpc, route] of Object.entries(ROUTES)) {
        if (isWatchRoute(route) || UPSERTS.has(rpc)) continue;
        const theirs = requestFor(rpc, b);
        if (!theirs) continue;
        const [service, method] = rpc.split("/");
        if (!clients.has(service)) clients.set(service, new GatewayClient(address, service));
        const client = clients.get(service)!;
        const foreign = await status(client, method, theirs, bearer);
        const absent = await status(client, method, requestFor(rpc, missing(b))!, bearer);
        counts[grpc.status[foreign]] = (counts[grpc.status[foreign]] ?? 0) + 1;
        if (foreign !== absent) leaks.push(`${role} ${rpc}: B's ids → ${grpc.status[foreign]}, missing ids → ${grpc.status[absent]}`);
      }
    }
    for (const role of ROLES) {
      const bearer = await token(`grpc-team-a-${role}`, { team: teamA, role });
      for (const rpc of UPSERTS) {
        const request = requestFor(rpc, b);
        const [service, method] = rpc.split("/");
        if (!request) continue;
        if (!clients.has(service)) clients.set(service, new GatewayClient(address, service));
        await status(clients.get(service)!, method, request, bearer);
      }
    }
  } finally {
    for (const c of clients.values()) c.close();
  }
  console.log(`gRPC tenancy matrix: answers to B's ids by status ${JSON.stringify(counts)}`);
  expect(leaks).toEqual([]);
  expect(counts.NOT_FOUND).toBeGreaterThan(50);
  expect(diffSnapshots(before, onlyB(await snapshot(server.db.url)))).toEqual([]);
});
