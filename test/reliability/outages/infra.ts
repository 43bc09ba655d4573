/**
 * A NATS server and a PostgreSQL cluster of the test's own, on free ports in a temporary folder, that the
 * outage suite may stop and start at will. The shared servers the other tests use are never touched.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";

const run = promisify(execFile);

function firstExisting(candidates: string[]): string | undefined {
  return candidates.find((c) => fs.existsSync(c));
}

/** Resolves when something accepts TCP connections on the port. */
export async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > until) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- NATS -------------------------------------------------------------------------------------------

export class OwnNats {
  private child?: ChildProcess;
  private log = "";
  readonly url: string;

  constructor(readonly port: number) {
    this.url = `nats://127.0.0.1:${port}`;
  }

  static binary(): string {
    return process.env.NATS_SERVER_BIN ?? firstExisting(["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]) ?? "nats-server";
  }

  async start(): Promise<void> {
    const child = spawn(OwnNats.binary(), ["-a", "127.0.0.1", "-p", String(this.port)], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d) => (this.log += d));
    child.stderr!.on("data", (d) => (this.log += d));
    this.child = child;
    await waitForPort(this.port);
  }

  /** SIGKILL: the server vanishes without saying goodbye; resolves once it has exited. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }

  output(): string {
    return this.log;
  }
}

// ---- PostgreSQL -------------------------------------------------------------------------------------

function postgresBinDir(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  const dir = versions.map((v) => path.join(root, v, "bin")).find((d) => fs.existsSync(path.join(d, "initdb")));
  if (!dir) throw new Error("initdb not found: set PG_BIN_DIR to PostgreSQL's bin folder");
  return dir;
}

/**
 * initdb/pg_ctl refuse to run as root: as root they run as the `postgres` user (runuser), which then owns
 * the data folder; as anyone else they run as that user.
 */
export class OwnPostgres {
  readonly dir: string;
  private readonly data: string;
  private readonly bin = postgresBinDir();
  private readonly asRoot = process.getuid?.() === 0;

  constructor(readonly port: number) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "outage-pg-"));
    this.data = path.join(this.dir, "data");
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  private async exec(tool: string, args: string[]): Promise<string> {
    const file = path.join(this.bin, tool);
    const [cmd, argv] = this.asRoot ? ["runuser", ["-u", "postgres", "--", file, ...args]] : [file, args];
    const { stdout, stderr } = await run(cmd, argv, { cwd: this.dir });
    return stdout + stderr;
  }

  async init(): Promise<void> {
    if (this.asRoot) await run("chown", ["postgres", this.dir]);
    await this.exec("initdb", ["-D", this.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
    await this.start();
  }

  /** Starts the server and waits until it accepts connections (`pg_ctl -w`). */
  async start(): Promise<void> {
    const opts = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`;
    await this.exec("pg_ctl", ["-D", this.data, "-o", opts, "-l", path.join(this.dir, "server.log"), "-w", "-t", "60", "start"]);
  }

  /** `pg_ctl stop -m fast`: every session is terminated (57P01), in-flight transactions roll back. */
  async stop(): Promise<void> {
    await this.exec("pg_ctl", ["-D", this.data, "-m", "fast", "-w", "-t", "60", "stop"]);
  }

  async createDatabase(name: string): Promise<string> {
    const admin = new Client({ connectionString: this.url("postgres") });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    return this.url(name);
  }

  log(): string {
    try {
      return fs.readFileSync(path.join(this.dir, "server.log"), "utf8");
    } catch {
      return "";
    }
  }

  /** Stops the server however it can and removes its folder. */
  async destroy(): Promise<void> {
    await this.exec("pg_ctl", ["-D", this.data, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
