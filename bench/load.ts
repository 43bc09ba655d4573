/**
 * Sustained load at a fixed arrival rate, on the real system: every service in one child process (as
 * `npm start` runs it) on a fresh PostgreSQL database, driven over REST from this process.
 *   1. capacity (baseline): closed loop, CONNECTIONS clients each sending its next request when the last
 *      answered, CAPACITY_SECONDS per path, for the main read path (GET /api/campaigns/:id) and the
 *      ingest path (POST /api/track, one event per request);
 *   2. result: LOAD_SECONDS at a fixed arrival rate of LOAD_FRACTION × the capacity of the read/ingest mix,
 *      open loop: requests are sent on a schedule whatever the answers do, and each latency counts from its
 *      scheduled send time, so a stall shows as the latency of every request that should have gone out
 *      during it (no coordinated omission).
 * Prints capacity, target and achieved rate, p50/p99/max latency, errors by status, and the server's RSS
 * and heap before, at each third of the run, after, and after a forced GC (the server runs with --expose-gc).
 * Load comes from LOAD_USERS creators with two campaigns each, every request as the campaign's owner.
 * Usage: npm run bench:load
 *   env: LOAD_SECONDS=60 CAPACITY_SECONDS=5 LOAD_FRACTION=0.7 READ_SHARE=0.8 CONNECTIONS=32 LOAD_USERS=100
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { createBroker } from "../lib/broker";
import { loadConfig } from "../lib/config";
import { createTestDatabase, freePort, TEST_JWT_SECRET, token } from "../test/helpers/env";

const num = (name: string, fallback: number) => {
  const raw = process.env[name];
  const n = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return n;
};

// ── server side: the system in one process, answering memory questions over IPC ───────────────────────

interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

type ServerMessage = { type: "ready" } | { type: "memory"; id: number; memory: Memory; gc: boolean };
type ClientMessage = { type: "memory"; id: number; gc?: boolean } | { type: "stop" };

async function serve(): Promise<void> {
  const broker = createBroker(loadConfig());
  await broker.start();
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on("message", async (msg: ClientMessage) => {
    if (msg.type === "stop") {
      await broker.stop();
      process.exit(0);
    }
    if (msg.type === "memory") {
      if (msg.gc && gc) gc();
      const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
      process.send!({ type: "memory", id: msg.id, memory: { rss, heapUsed, heapTotal, external }, gc: Boolean(msg.gc && gc) } satisfies ServerMessage);
    }
  });
  process.send!({ type: "ready" } satisfies ServerMessage);
}

class Server {
  private nextId = 0;
  private readonly waiting = new Map<number, (m: Extract<ServerMessage, { type: "memory" }>) => void>();
  output = "";

  private constructor(private readonly child: ChildProcess) {
    child.stdout!.on("data", (d) => (this.output += d));
    child.stderr!.on("data", (d) => (this.output += d));
    child.on("message", (m: ServerMessage) => {
      if (m.type === "memory") this.waiting.get(m.id)?.(m), this.waiting.delete(m.id);
    });
  }

  static async start(env: Record<string, string>): Promise<Server> {
    const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", __filename, "--serve"], {
      cwd: path.resolve(__dirname, ".."),
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const server = new Server(child);
    await new Promise<void>((resolve, reject) => {
      child.on("message", (m: ServerMessage) => m.type === "ready" && resolve());
      child.on("exit", (code) => reject(new Error(`server exited with ${code} before it was ready:\n${server.output}`)));
    });
    return server;
  }

  memory(gc = false): Promise<{ memory: Memory; gc: boolean }> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.send({ type: "memory", id, gc } satisfies ClientMessage);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.send({ type: "stop" } satisfies ClientMessage);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

// ── client side ────────────────────────────────────────────────────────────────────────────────────────

interface Request {
  method: "GET" | "POST";
  path: string;
  body?: string;
  /** The caller's token. */
  bearer: string;
}

interface Outcome {
  status: number;
  /** Network error code when there was no answer. */
  error?: string;
}

function percentile(sorted: Float64Array | number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

class Client {
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  constructor(private readonly port: number) {}

  send(req: Request): Promise<Outcome> {
    return new Promise((resolve) => {
      const headers: http.OutgoingHttpHeaders = { authorization: `Bearer ${req.bearer}` };
      if (req.body !== undefined) {
        headers["content-type"] = "application/json";
        headers["content-length"] = Buffer.byteLength(req.body);
      }
      const r = http.request({ host: "127.0.0.1", port: this.port, method: req.method, path: req.path, headers, agent: this.agent }, (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
        res.on("error", (err) => resolve({ status: 0, error: (err as NodeJS.ErrnoException).code ?? err.message }));
      });
      r.on("error", (err) => resolve({ status: 0, error: (err as NodeJS.ErrnoException).code ?? err.message }));
      r.end(req.body);
    });
  }

  /** JSON request for seeding; throws unless 2xx. */
  async json<T>(bearer: string, method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  }
}

/** The two paths under load: reads spread over the seeded campaigns, and one new event per ingest, each by the campaign's owner. */
function workload(campaigns: { id: string; bearer: string }[]) {
  const PLATFORMS = ["onlyfans", "instagram", "tiktok", "reddit"];
  const TYPES = ["impression", "impression", "impression", "click"];
  let reads = 0;
  let events = 0;
  const read = (): Request => {
    const c = campaigns[reads++ % campaigns.length];
    return { method: "GET", path: `/api/campaigns/${c.id}`, bearer: c.bearer };
  };
  const ingest = (): Request => {
    const i = events++;
    const c = campaigns[i % campaigns.length];
    const event = { type: TYPES[i % TYPES.length], campaignId: c.id, platform: PLATFORMS[i % PLATFORMS.length], fanId: `fan-${i % 5000}` };
    return { method: "POST", path: "/api/track", body: JSON.stringify(event), bearer: c.bearer };
  };
  /** The mix: request i is a read when it crosses the next multiple of 1/readShare (evenly spread). */
  const next = (i: number, readShare: number): { request: Request; isRead: boolean } => {
    const isRead = Math.floor((i + 1) * readShare) > Math.floor(i * readShare);
    return { request: isRead ? read() : ingest(), isRead };
  };
  return { read, ingest, next };
}

/** Closed loop: `connections` clients, each sending the next request as soon as the last one answered. */
async function capacity(client: Client, next: () => Request, seconds: number, connections: number): Promise<{ rps: number; errors: number }> {
  let ok = 0;
  let errors = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        const r = await client.send(next());
        if (r.status >= 200 && r.status < 300) ok++;
        else errors++;
      }
    }),
  );
  return { rps: ok / ((performance.now() - started) / 1000), errors };
}

interface OpenLoopResult {
  scheduled: number;
  completed: number;
  seconds: number;
  latencies: Float64Array;
  byPath: Record<"read" | "ingest", number[]>;
  /** Latencies by the slice of the schedule their request was due in (10 slices), to show a trend. */
  bySlice: number[][];
  statuses: Map<string, number>;
  /** Worst delay between a request's scheduled time and when this process actually sent it. */
  senderLagMaxMs: number;
  notSent: number;
}

/**
 * Open loop at `rate` requests/s for `seconds`: request i is due at start + i/rate and is sent then,
 * whatever is still in flight. Latency = answer time − due time. `onSecond` is called as each second of
 * the schedule passes, and with `seconds` once the last request is sent.
 */
async function openLoop(client: Client, rate: number, seconds: number, readShare: number, w: ReturnType<typeof workload>, onSecond: (s: number) => void): Promise<OpenLoopResult> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const latencies = new Float64Array(total);
  const byPath: OpenLoopResult["byPath"] = { read: [], ingest: [] };
  const bySlice: number[][] = Array.from({ length: 10 }, () => []);
  const statuses = new Map<string, number>();
  const MAX_IN_FLIGHT = 20_000;
  let inFlight = 0;
  let completed = 0;
  let notSent = 0;
  let senderLagMaxMs = 0;
  let sent = 0;
  let lastSecond = 0;
  const start = performance.now();
  const done = new Promise<void>((resolve) => {
    const settle = () => completed + notSent === total && resolve();
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / interval) + 1);
      for (; sent < due; sent++) {
        const intended = start + sent * interval;
        senderLagMaxMs = Math.max(senderLagMaxMs, now - intended);
        if (inFlight >= MAX_IN_FLIGHT) {
          notSent++;
          statuses.set("not sent (client overloaded)", (statuses.get("not sent (client overloaded)") ?? 0) + 1);
          continue;
        }
        const { request, isRead } = w.next(sent, readShare);
        const slice = Math.floor((sent * 10) / total);
        inFlight++;
        void client.send(request).then((r) => {
          const latency = performance.now() - intended;
          latencies[completed++] = latency;
          byPath[isRead ? "read" : "ingest"].push(latency);
          bySlice[slice].push(latency);
          inFlight--;
          if (r.status < 200 || r.status >= 300) {
            const key = r.error ? `network ${r.error}` : String(r.status);
            statuses.set(key, (statuses.get(key) ?? 0) + 1);
          }
          settle();
        });
      }
      const second = sent < total ? Math.floor((now - start) / 1000) : seconds;
      if (second > lastSecond) onSecond((lastSecond = second));
      if (sent < total) setTimeout(tick, Math.max(0, Math.min(5, start + sent * interval - performance.now())));
      else settle();
    };
    tick();
  });
  await done;
  return { scheduled: total, completed, seconds: (performance.now() - start) / 1000, latencies: latencies.subarray(0, completed).sort(), byPath, bySlice, statuses, senderLagMaxMs, notSent };
}

async function main() {
  const LOAD_SECONDS = num("LOAD_SECONDS", 60);
  const CAPACITY_SECONDS = num("CAPACITY_SECONDS", 5);
  const LOAD_FRACTION = num("LOAD_FRACTION", 0.7);
  const READ_SHARE = num("READ_SHARE", 0.8);
  const CONNECTIONS = num("CONNECTIONS", 32);
  const USERS = num("LOAD_USERS", 100);
  if (READ_SHARE > 1) throw new Error("READ_SHARE is a share of requests (0–1]");

  console.log(`node ${process.version}, ${os.cpus().length} cores, ${USERS} users; capacity ${CAPACITY_SECONDS} s per path with ${CONNECTIONS} clients; then ${LOAD_SECONDS} s open loop at ${LOAD_FRACTION} × capacity, ${Math.round(READ_SHARE * 100)}% reads`);
  const loadAtStart = os.loadavg()[0];
  const db = await createTestDatabase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-load-"));
  const port = await freePort();
  let server: Server | undefined;
  try {
    server = await Server.start({
      DATABASE_URL: db.url,
      JWT_SECRET: TEST_JWT_SECRET,
      PORT: String(port),
      GRPC_PORT: String(await freePort()),
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      LOG_LEVEL: "error",
    });
    const client = new Client(port);
    // Many creators, two campaigns each: the load is spread the way real traffic is, and no one user
    // nears the gateway's per-user budget (RATE_LIMIT_PER_MINUTE), which stays in the path as in production.
    const campaigns: { id: string; bearer: string }[] = [];
    for (let u = 0; u < USERS; u++) {
      const bearer = await token(`load-owner-${u}`);
      for (let k = 0; k < 2; k++) {
        const c = await client.json<{ id: string }>(bearer, "POST", "/api/campaigns", { name: `Load ${u}.${k}`, type: "ppv", platforms: ["onlyfans"], content: { title: `Load ${u}.${k}` } });
        campaigns.push({ id: c.id, bearer });
      }
    }
    // Interleave owners so consecutive requests come from different users.
    campaigns.sort((a, b) => (a.id < b.id ? -1 : 1));
    const w = workload(campaigns);

    // Capacity (closed loop): each path, then the mix the open loop will send; each after a 1 s warm-up.
    // The target comes from the measured mix, not from the two paths' figures: the paths share the CPU
    // and the database, so their costs do not simply add up.
    let i = 0;
    const mixed = () => w.next(i++, READ_SHARE).request;
    const measure = async (next: () => Request) => (await capacity(client, next, 1, CONNECTIONS), capacity(client, next, CAPACITY_SECONDS, CONNECTIONS));
    const read = await measure(w.read);
    const ingest = await measure(w.ingest);
    const mix = await measure(mixed);
    const rate = LOAD_FRACTION * mix.rps;
    const line = (name: string, r: { rps: number; errors: number }) => console.log(`capacity  ${name.padEnd(26)} ${r.rps.toFixed(0).padStart(6)} req/s  (closed loop, ${CONNECTIONS} clients, ${CAPACITY_SECONDS} s, ${r.errors} errors)`);
    line("GET /api/campaigns/:id", read);
    line("POST /api/track", ingest);
    line(`mix ${Math.round(READ_SHARE * 100)}% read / ${Math.round((1 - READ_SHARE) * 100)}% ingest`, mix);
    console.log(`target    ${rate.toFixed(0)} req/s = ${LOAD_FRACTION} × mix capacity, for ${LOAD_SECONDS} s (open loop)`);

    // Let the ingest backlog (rollups, jobs) settle, then the "before" reading.
    await new Promise((r) => setTimeout(r, 2_000));
    const samples: { at: string; memory: Memory }[] = [];
    const sample = async (at: string, gc = false) => {
      const m = await server!.memory(gc);
      samples.push({ at: gc && !m.gc ? `${at} (no gc available)` : at, memory: m.memory });
    };
    await sample("before, after forced GC", true);
    await sample("before");
    const marks = [1, 2, 3].map((k) => Math.round((LOAD_SECONDS * k) / 3));
    const pending: Promise<void>[] = [];
    const result = await openLoop(client, rate, LOAD_SECONDS, READ_SHARE, w, (s) => {
      if (marks.includes(s)) pending.push(sample(`at ${s} s`));
    });
    await Promise.all(pending);
    await sample("after (in-flight drained)");
    await sample("after forced GC", true);

    const l = result.latencies;
    const ms = (v: number) => `${v.toFixed(1)} ms`;
    const sortedPath = (xs: number[]) => Float64Array.from(xs).sort();
    const readL = sortedPath(result.byPath.read);
    const ingestL = sortedPath(result.byPath.ingest);
    const errors = [...result.statuses.entries()].sort((a, b) => b[1] - a[1]);
    const errorCount = errors.reduce((a, [, n]) => a + n, 0);
    console.log(`achieved  ${(result.completed / result.seconds).toFixed(0)} req/s answered (${result.completed} of ${result.scheduled} scheduled over ${(result.scheduled / rate).toFixed(1)} s; last answer at ${result.seconds.toFixed(1)} s; sender lag max ${ms(result.senderLagMaxMs)})`);
    console.log(`latency   all     p50 ${ms(percentile(l, 50))}  p99 ${ms(percentile(l, 99))}  max ${ms(l[l.length - 1] ?? NaN)}   (from the scheduled send time)`);
    console.log(`latency   read    p50 ${ms(percentile(readL, 50))}  p99 ${ms(percentile(readL, 99))}  max ${ms(readL[readL.length - 1] ?? NaN)}   (${readL.length})`);
    console.log(`latency   ingest  p50 ${ms(percentile(ingestL, 50))}  p99 ${ms(percentile(ingestL, 99))}  max ${ms(ingestL[ingestL.length - 1] ?? NaN)}   (${ingestL.length})`);
    // The last answers arrive after the schedule ends, so a short run reads a little under its target.
    if (result.completed / result.seconds < 0.9 * rate) {
      console.log(`WARNING   achieved rate is below the target: the server could not keep up (a busy machine, or a capacity figure that was too high)`);
    }
    const slices = result.bySlice.map((xs) => Float64Array.from(xs).sort());
    console.log(`p99 by tenth of the run: ${slices.map((xs) => percentile(xs, 99).toFixed(0)).join(" ")} ms`);
    console.log(`errors    ${errorCount}${errors.length ? ` (${errors.map(([k, n]) => `${k}: ${n}`).join(", ")})` : ""}`);
    console.log("server memory                        rss        heap used  heap total  external");
    for (const { at, memory: m } of samples) console.log(`  ${at.padEnd(34)} ${mb(m.rss).padStart(9)}  ${mb(m.heapUsed).padStart(9)}  ${mb(m.heapTotal).padStart(9)}  ${mb(m.external).padStart(9)}`);
    console.log(`machine load average (1 min): ${loadAtStart.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end (${os.cpus().length} cores)`);
    client.agent.destroy();
  } catch (err) {
    if (server?.output) console.error(`server output (last 4 KB):\n${server.output.slice(-4096)}`);
    throw err;
  } finally {
    await server?.stop();
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv.includes("--serve")) {
  serve().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
