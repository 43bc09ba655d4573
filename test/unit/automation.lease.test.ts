/**
 * A run's lease is kept while its worker drives it: a step slower than AUTOMATION_LEASE_MS is not taken
 * over by another worker (the sweep) as if the worker had died, and a worker that did lose its run stops
 * without writing over the new holder's progress.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { ServiceBroker } from "moleculer";
import { as, createTestDatabase, startBroker, type TestDatabase } from "../helpers/env";

const LEASE_MS = 300;
const STEP_MS = 1_500;

let db: TestDatabase;
let broker: ServiceBroker;
let hook: http.Server;
let hookUrl: string;
let hits = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  // A webhook receiver slower than the lease.
  hook = http.createServer((req, res) => {
    hits++;
    req.resume();
    setTimeout(() => res.writeHead(200).end("ok"), STEP_MS);
  });
  await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  Object.assign(process.env, { AUTOMATION_LEASE_MS: String(LEASE_MS), AUTOMATION_RETRIES: "0" });
  broker = await startBroker({ databaseUrl: db.url, services: ["automation"] });
});

afterAll(async () => {
  await broker?.stop();
  hook?.close();
  await db?.drop();
  delete process.env.AUTOMATION_LEASE_MS;
  delete process.env.AUTOMATION_RETRIES;
});

const automation = () => broker.getLocalService("automation") as any;

/** Starts a run of a webhook-then-event workflow for `user`; resolves once its webhook step is under way. */
async function startSlowRun(user: string) {
  const wf = await broker.call<any, object>(
    "automation.create",
    { name: "slow", trigger: { type: "event", event: "custom.slow" }, actions: [{ type: "webhook", url: hookUrl }, { type: "emit_event", event: "custom.after" }] },
    as(user),
  );
  hits = 0;
  const execution = broker.call<any, object>("automation.execute", { id: wf.id }, as(user));
  for (;;) {
    const { items } = await broker.call<any, object>("automation.executions", { id: wf.id, limit: 10 }, as(user));
    if (items[0]?.status === "running" && hits > 0) return { execution, run: items[0] };
    await new Promise((r) => setTimeout(r, 20));
  }
}

it("keeps the lease through a step longer than the lease, so no other worker can claim the run", async () => {
  const { execution, run } = await startSlowRun("lease-kept");
  // Another worker's sweep, again and again while the step runs (three lease lengths and more).
  const claims: unknown[] = [];
  const until = Date.now() + STEP_MS - 200;
  while (Date.now() < until) {
    claims.push(await automation().store.claimRun(run.id, new Date(), LEASE_MS));
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(claims.length).toBeGreaterThan(10);
  expect(claims.filter(Boolean)).toEqual([]);
  const done = await execution;
  expect(done.status).toBe("success");
  expect(done.executedActions.map((s: any) => [s.type, s.status])).toEqual([
    ["webhook", "success"],
    ["emit_event", "success"],
  ]);
  expect(hits).toBe(1);
});

it("stops without writing once another worker holds the run", async () => {
  const { execution, run } = await startSlowRun("lease-lost");
  // The lease is taken from under the worker (as a worker that believed this one dead would after an expiry).
  const stolenUntil = new Date(Date.now() + 60_000);
  await automation().store.saveProgress(run.id, { leaseUntil: stolenUntil });
  const done = await execution;
  // The first worker recorded nothing after the step: the new holder re-runs it under the same key.
  expect(done).toMatchObject({ status: "running", executedActions: [] });
  const stored = await automation().store.runById(run.id);
  expect(stored.leaseUntil.getTime()).toBe(stolenUntil.getTime());
  expect(stored.cursor).toEqual([0]);
});
