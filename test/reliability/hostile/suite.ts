/**
 * The hostile-input suite as jest tests, shared by the full run (hostile.rel.ts, ≥ 10,000 requests) and
 * the smoke run in the default suite (an evenly spread sample of the same cases).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { token } from "../../helpers/env";
import { generateCases, prepareAuthVariants, type HostileCase, type OpenApiDocument } from "./generator";
import { generateGrpcCases, runGrpcCases, type GrpcOutcome } from "./grpc";
import {
  describeOffender,
  destroyAgent,
  diffSnapshots,
  OWNER_A,
  pathIds,
  runCases,
  seed,
  snapshot,
  startServer,
  statusClass,
  summaryTable,
  THIRD,
  type Outcome,
  type Server,
} from "./harness";

export interface SuiteOptions {
  /** Send only this many REST cases, spread evenly over the generated ones (all when unset). */
  restSample?: number;
  /** Random-byte messages per RPC. */
  grpcRandomPerRpc: number;
  minRest: number;
  minGrpc: number;
}

/** Every n-th case, so a sample still covers every route and category. */
function spread<T>(items: T[], count: number | undefined): T[] {
  if (!count || count >= items.length) return items;
  const step = items.length / count;
  return Array.from({ length: count }, (_, i) => items[Math.floor(i * step)]);
}

const GRPC_FAILURES = new Set([grpc.status.INTERNAL, grpc.status.UNKNOWN]);

export function defineHostileSuite(opts: SuiteOptions): void {
  let server: Server;
  let before: Record<string, string[]>;
  let outcomes: Outcome[] = [];
  let grpcOutcomes: GrpcOutcome[] = [];

  beforeAll(async () => {
    server = await startServer();
    const { a } = await seed(server.baseUrl);
    await prepareAuthVariants(OWNER_A);
    const doc = (await (await fetch(`${server.baseUrl}/api/openapi.json`)).json()) as OpenApiDocument;
    const cases: HostileCase[] = spread(generateCases(doc, (route) => pathIds(a, route)), opts.restSample);
    expect(cases.length).toBeGreaterThanOrEqual(opts.minRest);

    // Let the writes of seeding settle (events, segment counts) before the reference snapshot.
    await new Promise((r) => setTimeout(r, 2_000));
    before = await snapshot(server.db.url);
    const bearer = { owner: await token(OWNER_A, { team: a.teamId }), third: await token(THIRD) };
    const started = Date.now();
    outcomes = await runCases(server.port, cases, bearer);
    const grpcCases = generateGrpcCases(opts.grpcRandomPerRpc);
    expect(grpcCases.length).toBeGreaterThanOrEqual(opts.minGrpc);
    grpcOutcomes = await runGrpcCases(`127.0.0.1:${server.grpcPort}`, bearer.third, grpcCases);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);

    console.log(
      `hostile REST: ${outcomes.length} requests, gRPC: ${grpcOutcomes.length} messages in ${seconds} s\n\n` +
        summaryTable(outcomes.map((o) => ({ category: o.case.category, status: statusClass(o.status) }))) +
        "\n\n" +
        summaryTable(grpcOutcomes.map((o) => ({ category: `grpc:${o.case.category}`, status: grpc.status[o.code] ?? String(o.code) }))),
    );
  });

  afterAll(async () => {
    destroyAgent();
    // The server's own log (stack traces of any 500) for whoever investigates a failure.
    if (server) fs.writeFileSync(path.join(os.tmpdir(), "hostile-server.log"), server.node.output());
    fs.writeFileSync(
      path.join(os.tmpdir(), "hostile-outcomes.jsonl"),
      outcomes.map((o) => JSON.stringify({ ...o.case, body: o.case.body?.subarray(0, 200).toString("utf8"), status: o.status, response: o.body.slice(0, 200) })).join("\n"),
    );
    await server?.stop();
  });

  it("answers no hostile REST request with a 5xx or a dropped connection", () => {
    const offenders = outcomes.filter((o) => o.status >= 500 || o.status === 0);
    expect(offenders.map(describeOffender)).toEqual([]);
  });

  it("refuses every request that is invalid by construction (owner A's and unauthenticated ones)", () => {
    const accepted = outcomes.filter((o) => o.case.sender !== "third" && o.status >= 200 && o.status < 300 && o.case.method !== "GET");
    expect(accepted.map(describeOffender)).toEqual([]);
  });

  it("never authenticates a bad token", () => {
    const auth = outcomes.filter((o) => o.case.category.startsWith("auth:"));
    expect(auth.length).toBeGreaterThan(0);
    expect(auth.filter((o) => o.status !== 401).map(describeOffender)).toEqual([]);
  });

  it("answers no malformed gRPC message with INTERNAL or UNKNOWN", () => {
    const offenders = grpcOutcomes.filter((o) => GRPC_FAILURES.has(o.code));
    expect(offenders.map((o) => `${o.case.path} [${o.case.category}] ${o.case.message.subarray(0, 32).toString("hex")} → ${grpc.status[o.code]}: ${o.details}`)).toEqual([]);
  });

  it("is still alive and ready", async () => {
    expect(server.node.child.exitCode).toBeNull();
    const ready = await fetch(`${server.baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
  });

  it("changed no row of owners A and B", async () => {
    const after = await snapshot(server.db.url);
    expect(diffSnapshots(before, after)).toEqual([]);
  });
}
