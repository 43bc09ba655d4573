/**
 * REST gateway overhead, measured in one run on this machine:
 *   baseline: a bare Node http server answering a small JSON body;
 *   result:   GET /api/campaigns/:id in embedded mode (JWT auth, validation, owner check, cache).
 * Both servers run in their own child process; autocannon drives them from this one with the same load.
 * Usage: npm run bench:rest [-- --seconds 10 --connections 50]
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { resolveJwtSecret, signToken } from "../lib/auth";
import { freePort } from "../test/helpers/env";
import { startNode } from "../test/helpers/process";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "10" }, connections: { type: "string", default: "50" } } });
const duration = Number(values.seconds);
const connections = Number(values.connections);

async function load(url: string, headers: Record<string, string> = {}) {
  // A short warm-up so JIT and caches are hot before the measured run.
  await autocannon({ url, headers, connections, duration: 2 });
  const r = await autocannon({ url, headers, connections, duration });
  if (r.non2xx || r.errors) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
}

async function bareServer(port: number) {
  const code = `require("http").createServer((req, res) => {
    const body = JSON.stringify({ id: "c1", name: "Summer PPV", status: "draft" });
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  }).listen(${port}, "127.0.0.1", () => console.log("mode: bare"));`;
  const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve) => child.stdout.once("data", resolve));
  return child;
}

async function main() {
  console.log(`node ${process.version}, ${os.cpus().length} cores, ${connections} connections, ${duration} s per run`);

  const barePort = await freePort();
  const bare = await bareServer(barePort);
  const baseline = await load(`http://127.0.0.1:${barePort}/`);
  bare.kill();

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-rest-"));
  const port = await freePort();
  const node = await startNode({ DATA_DIR: dataDir, PORT: String(port), GRPC_PORT: String(await freePort()), HOST: "127.0.0.1", LOG_LEVEL: "error" });
  try {
    const token = await signToken(resolveJwtSecret({ dataDir }).secret, { id: "bench-user" });
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const created = await fetch(`http://127.0.0.1:${port}/api/campaigns`, {
      method: "POST",
      headers,
      body: JSON.stringify({ name: "Summer PPV", type: "ppv", platforms: ["onlyfans"], content: { title: "Hi" } }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const api = await load(`http://127.0.0.1:${port}/api/campaigns/${created.id}`, { authorization: headers.authorization });

    const row = (name: string, r: { rps: number; p50: number; p99: number }) =>
      `${name.padEnd(44)} ${r.rps.toFixed(0).padStart(8)} req/s   p50 ${r.p50} ms   p99 ${r.p99} ms`;
    console.log(row("baseline: bare node http, small JSON", baseline));
    console.log(row("result:   GET /api/campaigns/:id (embedded)", api));
    console.log(`ratio: ${(api.rps / baseline.rps).toFixed(2)} (goal >= 0.50)`);
  } finally {
    await node.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
