/**
 * REST gateway overhead, measured in one run on this machine:
 *   baseline: a bare Node http server answering a small JSON body;
 *   result:   GET /api/campaigns/:id in embedded mode (JWT auth, rate limit, validation, owner check, cache);
 *   floor:    moleculer-web alone (bench/moleculer-web-floor.ts: one alias to an action returning the bare
 *             server's JSON, no metrics, validation, auth or cache), the most any gateway on it can reach.
 * The servers run in their own child process pinned to CPU 1; autocannon drives them from this process,
 * pinned to CPU 0, with the same load. The two are measured in alternating rounds and the medians
 * compared, because on this shared 2-core machine a single run of either swings by ±30 %.
 * Usage: npm run bench:rest [-- --seconds 5 --rounds 3 --connections 50]
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { resolveJwtSecret, signToken } from "../lib/auth";
import { freePort } from "../test/helpers/env";
import { startNode } from "../test/helpers/process";

const FLOOR_SERVER = path.join(__dirname, "moleculer-web-floor.ts");

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "5" }, rounds: { type: "string", default: "3" }, connections: { type: "string", default: "50" } },
});
const duration = Number(values.seconds);
const rounds = Number(values.rounds);
const connections = Number(values.connections);

/** Pins a process to one CPU where `taskset` exists (util-linux); harmless where it does not. */
function pin(pid: number, cpu: number) {
  spawnSync("taskset", ["-pc", String(cpu), String(pid)], { stdio: "ignore" });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function load(url: string, headers: Record<string, string> = {}) {
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
  pin(child.pid!, 1);
  return child;
}

async function floorServer(port: number) {
  const child = spawn(process.execPath, ["--import", "tsx", FLOOR_SERVER, String(port)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve) => child.stdout.once("data", resolve));
  pin(child.pid!, 1);
  return child;
}

async function main() {
  console.log(`node ${process.version}, ${os.cpus().length} cores, ${connections} connections, ${rounds} alternating rounds of ${duration} s`);
  pin(process.pid, 0);

  const barePort = await freePort();
  const bare = await bareServer(barePort);
  const floorPort = await freePort();
  const floor = await floorServer(floorPort);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-rest-"));
  const port = await freePort();
  // One user sends ~10k req/s here: far past the default budget. A limit this high keeps the (in-memory)
  // limiter on the measured path without refusing anything.
  const node = await startNode({ DATA_DIR: dataDir, PORT: String(port), GRPC_PORT: String(await freePort()), HOST: "127.0.0.1", LOG_LEVEL: "error", RATE_LIMIT_PER_MINUTE: "1000000000" });
  pin(node.child.pid!, 1);
  try {
    const token = await signToken(resolveJwtSecret({ dataDir }).secret, { id: "bench-user" });
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const created = await fetch(`http://127.0.0.1:${port}/api/campaigns`, {
      method: "POST",
      headers,
      body: JSON.stringify({ name: "Summer PPV", type: "ppv", platforms: ["onlyfans"], content: { title: "Hi" } }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const bareUrl = `http://127.0.0.1:${barePort}/`;
    const floorUrl = `http://127.0.0.1:${floorPort}/api/campaigns/c1`;
    const apiUrl = `http://127.0.0.1:${port}/api/campaigns/${created.id}`;
    const auth = { authorization: headers.authorization };
    // Warm-up: JIT and the read cache are hot before anything is measured.
    await load(bareUrl);
    await load(floorUrl);
    await load(apiUrl, auth);
    const baseline: Array<{ rps: number; p50: number; p99: number }> = [];
    const floors: typeof baseline = [];
    const api: typeof baseline = [];
    for (let i = 0; i < rounds; i++) {
      baseline.push(await load(bareUrl));
      floors.push(await load(floorUrl));
      api.push(await load(apiUrl, auth));
    }
    const row = (name: string, rs: typeof baseline) =>
      `${name.padEnd(44)} ${median(rs.map((r) => r.rps)).toFixed(0).padStart(8)} req/s (rounds: ${rs.map((r) => r.rps.toFixed(0)).join(", ")})   p50 ${median(rs.map((r) => r.p50))} ms   p99 ${median(rs.map((r) => r.p99))} ms`;
    console.log(row("baseline: bare node http, small JSON", baseline));
    console.log(row("floor:    moleculer-web, one trivial action", floors));
    console.log(row("result:   GET /api/campaigns/:id (embedded)", api));
    const ratio = (rs: typeof baseline) => {
      const each = rs.map((r, i) => r.rps / baseline[i].rps);
      return `${median(each).toFixed(2)} (each: ${each.map((r) => r.toFixed(2)).join(", ")})`;
    };
    console.log(`floor ratio (median of rounds): ${ratio(floors)}`);
    console.log(`ratio (median of rounds): ${ratio(api)}; goal >= 0.50`);
  } finally {
    bare.kill();
    floor.kill();
    await node.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
