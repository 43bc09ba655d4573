/**
 * REST gateway overhead, measured in one run on this machine:
 *   baseline: a bare Node http server answering a small JSON body;
 *   result:   GET /api/campaigns/:id in embedded mode (JWT auth, rate limit, validation, owner check, cache);
 * and two rows that say where the difference goes:
 *   floor:    moleculer-web alone (bench/moleculer-web-floor.ts: one alias to an action returning the bare
 *             server's JSON; no metrics, validation, auth or cache), the most any gateway on it can reach;
 *   direct:   the same broker, services and auth as the result behind a plain http handler instead of
 *             moleculer-web (bench/direct-gateway.ts).
 * The servers run in their own child process pinned to CPU 1; autocannon drives them from this process,
 * pinned to CPU 0, with the same load. They are measured in alternating rounds and the medians compared,
 * because on this shared 2-core machine a single run of any of them swings by ±30 %.
 * Usage: npm run bench:rest [-- --seconds 5 --rounds 3 --connections 50]
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { resolveJwtSecret, signToken } from "../lib/auth";
import { freePort } from "../test/helpers/env";
import { startNode } from "../test/helpers/process";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "5" }, rounds: { type: "string", default: "3" }, connections: { type: "string", default: "50" } },
});
const duration = Number(values.seconds);
const rounds = Number(values.rounds);
const connections = Number(values.connections);
// One user sends ~10k req/s here: far past the default budget. A limit this high keeps the (in-memory)
// limiter on the measured path without refusing anything.
const RATE_LIMIT_PER_MINUTE = "1000000000";

/** Pins a process to one CPU where `taskset` exists (util-linux); harmless where it does not. */
function pin(pid: number, cpu: number) {
  spawnSync("taskset", ["-pc", String(cpu), String(pid)], { stdio: "ignore" });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

type Round = { rps: number; p50: number; p99: number };

async function load(url: string, headers: Record<string, string> = {}): Promise<Round> {
  const r = await autocannon({ url, headers, connections, duration });
  if (r.non2xx || r.errors) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
}

/** Starts `args` with Node, waits for its first line of output (returned), pins it to CPU 1. */
async function server(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } });
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout!.once("data", (d) => resolve(String(d).trim()));
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}`)));
  });
  pin(child.pid!, 1);
  return { child, line };
}

const BARE_CODE = (port: number) => `require("http").createServer((req, res) => {
  const body = JSON.stringify({ id: "c1", name: "Summer PPV", status: "draft" });
  res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}).listen(${port}, "127.0.0.1", () => console.log("mode: bare"));`;

async function main() {
  console.log(`node ${process.version}, ${os.cpus().length} cores, ${connections} connections, ${rounds} alternating rounds of ${duration} s`);
  pin(process.pid, 0);
  const dirs = [fs.mkdtempSync(path.join(os.tmpdir(), "bench-rest-")), fs.mkdtempSync(path.join(os.tmpdir(), "bench-direct-"))];
  const [dataDir, directDir] = dirs;
  const children: ChildProcess[] = [];

  const barePort = await freePort();
  children.push((await server(["-e", BARE_CODE(barePort)])).child);
  const floorPort = await freePort();
  children.push((await server(["--import", "tsx", path.join(__dirname, "moleculer-web-floor.ts"), String(floorPort)])).child);
  const directPort = await freePort();
  const direct = await server(["--import", "tsx", path.join(__dirname, "direct-gateway.ts"), String(directPort), directDir], { RATE_LIMIT_PER_MINUTE });
  children.push(direct.child);
  const port = await freePort();
  const node = await startNode({ DATA_DIR: dataDir, PORT: String(port), GRPC_PORT: String(await freePort()), HOST: "127.0.0.1", LOG_LEVEL: "error", RATE_LIMIT_PER_MINUTE });
  pin(node.child.pid!, 1);
  try {
    const bearer = async (dir: string) => ({ authorization: `Bearer ${await signToken(resolveJwtSecret({ dataDir: dir }).secret, { id: "bench-user" })}` });
    const auth = await bearer(dataDir);
    const created = await fetch(`http://127.0.0.1:${port}/api/campaigns`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ name: "Summer PPV", type: "ppv", platforms: ["onlyfans"], content: { title: "Hi" } }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const directCampaign = direct.line.split(" ").pop();
    const targets: Array<{ name: string; url: string; headers?: Record<string, string> }> = [
      { name: "baseline: bare node http, small JSON", url: `http://127.0.0.1:${barePort}/` },
      { name: "floor:    moleculer-web, one trivial action", url: `http://127.0.0.1:${floorPort}/api/campaigns/c1` },
      { name: "direct:   plain handler -> broker call", url: `http://127.0.0.1:${directPort}/api/campaigns/${directCampaign}`, headers: await bearer(directDir) },
      { name: "result:   GET /api/campaigns/:id (embedded)", url: `http://127.0.0.1:${port}/api/campaigns/${created.id}`, headers: auth },
    ];
    // Warm-up: JIT and the read caches are hot before anything is measured.
    for (const t of targets) await load(t.url, t.headers);
    const results: Round[][] = targets.map(() => []);
    for (let i = 0; i < rounds; i++) for (const [k, t] of targets.entries()) results[k].push(await load(t.url, t.headers));

    const [baseline] = results;
    for (const [k, t] of targets.entries()) {
      const rs = results[k];
      console.log(
        `${t.name.padEnd(44)} ${median(rs.map((r) => r.rps)).toFixed(0).padStart(8)} req/s (rounds: ${rs.map((r) => r.rps.toFixed(0)).join(", ")})   p50 ${median(rs.map((r) => r.p50))} ms   p99 ${median(rs.map((r) => r.p99))} ms`,
      );
    }
    for (const [k, t] of targets.entries()) {
      if (k === 0) continue;
      const each = results[k].map((r, i) => r.rps / baseline[i].rps);
      const name = t.name.split(":")[0];
      console.log(`${`${name} ratio`.padEnd(13)} (median of rounds): ${median(each).toFixed(2)} (each: ${each.map((r) => r.toFixed(2)).join(", ")})${name === "result" ? "; goal >= 0.50" : ""}`);
    }
  } finally {
    for (const child of children) child.kill();
    await node.stop();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
