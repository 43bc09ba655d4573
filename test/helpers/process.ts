/** Runs the real runner (`bin/start.ts`) as a child process, the way `npm start` does. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(__dirname, "../..");

export interface NodeProcess {
  child: ChildProcess;
  output(): string;
  /** SIGTERM and wait for exit (the broker's own graceful shutdown). */
  stop(): Promise<number | null>;
  /** Resolves with the exit code when the process ends by itself. */
  exited: Promise<number | null>;
}

export function startNode(env: Record<string, string>, readyLine = /^mode: /m, timeoutMs = 60_000): Promise<NodeProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "bin/start.ts")], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const node: NodeProcess = {
    child,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`node did not become ready in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const check = () => {
      if (readyLine.test(out)) {
        clearTimeout(timer);
        child.stdout!.off("data", check);
        resolve(node);
      }
    };
    child.stdout!.on("data", check);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code} before it was ready:\n${out}`));
    });
  });
}

/** Polls `probe` until it returns true (e.g. the gateway sees a remote service). */
export async function waitFor(probe: () => Promise<boolean>, timeoutMs = 30_000, everyMs = 200): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls `fn` every 50 ms until it returns something truthy and returns that; errors from `fn` fail at once. */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
