/**
 * A small HTTP server for fake platforms: a route table, request parsing (JSON and form bodies), and fault
 * injection on the routes that create posts. Faults come from a queue (exact scenarios) or at random with
 * a seeded generator (the fault run). Each fake records what it created, so tests count on the fake's side.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export type Fault =
  /** 5xx before doing anything. */
  | "5xx"
  /** 429 (or the platform's throttle answer) with Retry-After. */
  | "429"
  /** Creates the post, then never answers (the client times out). */
  | "accept-timeout"
  /** Creates the post, then drops the connection. */
  | "accept-reset"
  /** Answers normally after `slowMs`. */
  | "slow"
  /** The platform's expired-token answer. */
  | "auth-expired";

export interface FakeRequest {
  method: string;
  path: string;
  params: string[];
  query: URLSearchParams;
  body: Record<string, any>;
  headers: http.IncomingHttpHeaders;
  token?: string;
}

export interface FakeResponse {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Route {
  method: string;
  pattern: RegExp;
  /** Faults apply to this route (it creates something). */
  creates?: boolean;
  handle(req: FakeRequest): FakeResponse | Promise<FakeResponse>;
}

/** How a platform words its errors. */
export interface ErrorShapes {
  serverError(): FakeResponse;
  rateLimited(retryAfterSeconds: number): FakeResponse;
  authExpired(): FakeResponse;
}

export interface FaultOptions {
  /** Probability that a creating request meets a random fault (0–1). */
  rate: number;
  /** Faults drawn from at random. */
  mix: Fault[];
  retryAfterSeconds: number;
  slowMs: number;
  /** How long an accept-timeout holds the connection before dropping it. */
  hangMs: number;
}

/** mulberry32: a tiny seeded generator so a fault run can be repeated exactly. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FakeServer {
  readonly faultsQueued: Fault[] = [];
  readonly faultsInjected: Record<Fault, number> = { "5xx": 0, "429": 0, "accept-timeout": 0, "accept-reset": 0, slow: 0, "auth-expired": 0 };
  /** Tokens the fake treats as expired on every route. */
  readonly expiredTokens = new Set<string>();
  /** Every request seen: method + path (tests assert call sequences). */
  readonly requests: { method: string; path: string; at: number }[] = [];
  faults: FaultOptions = { rate: 0, mix: [], retryAfterSeconds: 1, slowMs: 200, hangMs: 2_000 };
  random: () => number = seeded(1);
  url = "";
  private server?: http.Server;

  constructor(
    private readonly routes: Route[],
    private readonly errors: ErrorShapes,
  ) {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.dispatch(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** The next creating requests meet these faults, in order. */
  queue(...faults: Fault[]): void {
    this.faultsQueued.push(...faults);
  }

  private nextFault(): Fault | undefined {
    const queued = this.faultsQueued.shift();
    if (queued) return queued;
    if (this.faults.rate > 0 && this.random() < this.faults.rate && this.faults.mix.length) {
      return this.faults.mix[Math.floor(this.random() * this.faults.mix.length)];
    }
    return undefined;
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? "/", "http://fake");
      this.requests.push({ method: req.method ?? "GET", path: url.pathname, at: Date.now() });
      const route = this.routes.find((r) => r.method === req.method && r.pattern.test(url.pathname));
      if (!route) return send(res, { status: 404, body: { error: "not found" } });
      const body = await readBody(req);
      const token = /^Bearer\s+(\S+)/i.exec(req.headers.authorization ?? "")?.[1] ?? url.searchParams.get("access_token") ?? undefined;
      const fakeReq: FakeRequest = { method: req.method!, path: url.pathname, params: route.pattern.exec(url.pathname)!.slice(1), query: url.searchParams, body, headers: req.headers, token };
      if (token && this.expiredTokens.has(token)) return send(res, this.errors.authExpired());

      const fault = route.creates ? this.nextFault() : undefined;
      if (fault) this.faultsInjected[fault]++;
      switch (fault) {
        case "5xx":
          return send(res, this.errors.serverError());
        case "429":
          return send(res, this.errors.rateLimited(this.faults.retryAfterSeconds));
        case "auth-expired":
          return send(res, this.errors.authExpired());
        case "slow":
          await new Promise((r) => setTimeout(r, this.faults.slowMs));
          break;
        case "accept-timeout":
          await route.handle(fakeReq);
          setTimeout(() => res.destroy(), this.faults.hangMs).unref();
          return;
        case "accept-reset":
          await route.handle(fakeReq);
          res.socket?.destroy();
          return;
      }
      send(res, await route.handle(fakeReq));
    } catch (err) {
      send(res, { status: 500, body: { error: String(err) } });
    }
  }
}

function send(res: http.ServerResponse, r: FakeResponse): void {
  if (res.destroyed) return;
  const text = r.body === undefined ? "" : typeof r.body === "string" ? r.body : JSON.stringify(r.body);
  res.writeHead(r.status ?? 200, { "content-type": typeof r.body === "string" ? "text/plain" : "application/json", ...r.headers });
  res.end(text);
}

async function readBody(req: http.IncomingMessage): Promise<Record<string, any>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text) return {};
  if ((req.headers["content-type"] ?? "").includes("application/x-www-form-urlencoded")) return Object.fromEntries(new URLSearchParams(text));
  return JSON.parse(text);
}

let counter = 0;
/** Numeric-looking ids, unique within the process. */
export function fakeId(): string {
  counter++;
  return `${Date.now()}${String(counter).padStart(5, "0")}`;
}
