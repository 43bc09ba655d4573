/**
 * `npm start` with no environment: every service in one process on PGlite. Data survives a restart, the
 * data folder refuses a second process, and tokens signed with the generated dev secret work.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { resolveJwtSecret, signToken } from "../../lib/auth";
import { freePort } from "../helpers/env";
import { restClient } from "../helpers/http";
import { startNode, type NodeProcess } from "../helpers/process";

jest.setTimeout(180_000);

let dataDir: string;
let node: NodeProcess | undefined;

beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "embedded-"));
});

afterAll(async () => {
  await node?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function boot(): Promise<{ node: NodeProcess; url: string }> {
  const port = await freePort();
  const grpcPort = await freePort();
  const started = await startNode({ DATA_DIR: dataDir, PORT: String(port), GRPC_PORT: String(grpcPort), HOST: "127.0.0.1" });
  return { node: started, url: `http://127.0.0.1:${port}` };
}

it("keeps campaigns across a restart and refuses a second process on the same data folder", async () => {
  const first = await boot();
  node = first.node;
  expect(node.output()).toMatch(/mode: embedded; services: .*campaigns.*api.*grpc/);
  expect(node.output()).toMatch(/REST listening on http:\/\/localhost:\d+\/api/);
  expect(node.output()).toMatch(/gRPC listening on localhost:\d+/);
  expect(node.output()).toMatch(/dev JWT secret generated/);

  // The dev secret is kept in the data folder; `npm run token` signs with the same one.
  const { secret } = resolveJwtSecret({ dataDir });
  const api = restClient(first.url, await signToken(secret, { id: "creator-1" }));
  const ready = await restClient(first.url)("GET", "/health/ready");
  expect(ready.status).toBe(200);
  const created = await api("POST", "/api/campaigns", { name: "Persisted", type: "subscription", platforms: ["onlyfans"] });
  expect(created.status).toBe(201);

  const second = await boot().then(
    (n) => ({ ok: true as const, n }),
    (err: Error) => ({ ok: false as const, message: err.message }),
  );
  if (second.ok) await second.n.node.stop();
  expect(second.ok).toBe(false);
  expect(!second.ok && second.message).toMatch(/in use by process \d+/);

  expect(await node.stop()).toBe(0);

  const restarted = await boot();
  node = restarted.node;
  const again = restClient(restarted.url, await signToken(secret, { id: "creator-1" }));
  const got = await again("GET", `/api/campaigns/${created.body.id}`);
  expect(got.status).toBe(200);
  expect(got.body).toMatchObject({ name: "Persisted", type: "subscription", platforms: ["onlyfans"] });
});
