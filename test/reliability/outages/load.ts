/**
 * Open-loop REST load for the outage suite: requests go out at a fixed rate whatever is still in flight
 * (a stalled server does not slow the sender down), each with a client-side deadline so a hang shows up as
 * a hang. Every answer is kept: what was sent when, how long it took, the status, Retry-After, and the
 * event or campaign it was about, so the database can be checked for everything that got a 2xx.
 */
import http from "node:http";

export type Kind = "track" | "read" | "list" | "create";

export interface Outcome {
  kind: Kind;
  /** ms since epoch when the request was sent. */
  sentAt: number;
  latencyMs: number;
  /** HTTP status; -1 = no answer within the client deadline (a hang); 0 = connection error. */
  status: number;
  retryAfter?: string;
  /** The analytics event id (track) or the campaign idempotency key (create). */
  key?: string;
  /** The created campaign's id (create with 2xx). */
  createdId?: string;
  /** Start of the body of a non-2xx answer, for the failure report. */
  body?: string;
}

export interface LoadUser {
  token: string;
  campaignId: string;
}

export interface LoadOptions {
  baseUrl: string;
  users: LoadUser[];
  ratePerSecond: number;
  /** Client deadline: an answer later than this counts as a hang. */
  clientTimeoutMs: number;
  /** Prefix of event ids and idempotency keys, unique per run. */
  prefix: string;
}

export class RestLoad {
  readonly outcomes: Outcome[] = [];
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  private readonly inFlight = new Set<Promise<void>>();
  private timer?: NodeJS.Timeout;
  private sent = 0;
  private startedAt = 0;

  constructor(private readonly opts: LoadOptions) {}

  start(): void {
    this.startedAt = Date.now();
    // Catch up every 5 ms with whatever is due, so timer jitter does not lower the rate.
    this.timer = setInterval(() => {
      const due = Math.floor(((Date.now() - this.startedAt) * this.opts.ratePerSecond) / 1000);
      while (this.sent < due) this.fire(this.sent++);
    }, 5);
  }

  /** Stops sending and waits for every request still in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
    this.agent.destroy();
  }

  /** 70 % event ingest, 10 % campaign reads, 10 % campaign lists, 10 % campaign creates. */
  private fire(i: number): void {
    const user = this.opts.users[i % this.opts.users.length];
    const slot = i % 10;
    const key = `${this.opts.prefix}-${i}`;
    let p: Promise<void>;
    if (slot < 7) {
      const body = slot % 2 === 0
        ? { type: "impression", campaignId: user.campaignId, platform: "onlyfans", eventId: key }
        : { type: "click", campaignId: user.campaignId, platform: "onlyfans", fanId: `fan-${i % 50}`, eventId: key };
      p = this.send("track", "POST", "/api/track", user.token, body, key);
    } else if (slot === 7) {
      p = this.send("read", "GET", `/api/campaigns/${user.campaignId}`, user.token);
    } else if (slot === 8) {
      p = this.send("list", "GET", "/api/campaigns?limit=5", user.token);
    } else {
      p = this.send("create", "POST", "/api/campaigns", user.token, { name: `Outage ${key}`, type: "ppv", platforms: ["onlyfans"], idempotencyKey: key }, key);
    }
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private send(kind: Kind, method: string, path: string, token: string, body?: unknown, key?: string): Promise<void> {
    const sentAt = Date.now();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = (status: number, text: string, retryAfter?: string) => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        const outcome: Outcome = { kind, sentAt, latencyMs: Date.now() - sentAt, status, key };
        if (retryAfter !== undefined) outcome.retryAfter = retryAfter;
        if (status >= 200 && status < 300) {
          if (kind === "create") outcome.createdId = (JSON.parse(text) as { id: string }).id;
        } else {
          outcome.body = text.slice(0, 300);
        }
        this.outcomes.push(outcome);
        resolve();
      };
      const req = http.request(
        this.opts.baseUrl + path,
        {
          method,
          agent: this.agent,
          headers: {
            authorization: `Bearer ${token}`,
            ...(payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c) => (text += c));
          res.on("end", () => finish(res.statusCode ?? 0, text, res.headers["retry-after"] as string | undefined));
          res.on("error", (err) => finish(0, String(err)));
        },
      );
      const deadline = setTimeout(() => {
        finish(-1, `no answer within ${this.opts.clientTimeoutMs} ms`);
        req.destroy();
      }, this.opts.clientTimeoutMs);
      req.on("error", (err) => finish(0, String(err)));
      req.end(payload);
    });
  }
}

// ---- figures ----------------------------------------------------------------------------------------

export interface OutageWindow {
  /** When the dependency was taken away. */
  downAt: number;
  /** When it was back (NATS listening again / pg_ctl start returned). */
  upAt: number;
}

export interface Figures {
  requests: number;
  ok: number;
  unavailable: number;
  /** Answers other than 2xx and 503, by status (-1 = hang, 0 = connection error). */
  other: Record<string, number>;
  /** Requests sent while the dependency was away, and the slowest of their answers. */
  sentDuringOutage: number;
  maxLatencyDuringOutageMs: number;
  /** The slowest answer of the whole run. */
  maxLatencyMs: number;
  /** 503 answers without a Retry-After header. */
  unavailableWithoutRetryAfter: number;
  /** From `upAt` to the first request after which every request succeeded (0 if it never failed after upAt). */
  timeToRecoverMs: number;
  /** Whether the run ended in a stretch of successes at all. */
  recovered: boolean;
  /** From the first failed request to the last one (by send time). */
  failingMs: number;
}

export function isOk(o: Outcome): boolean {
  return o.status >= 200 && o.status < 300;
}

export function figuresOf(outcomes: Outcome[], window: OutageWindow): Figures {
  const sorted = [...outcomes].sort((a, b) => a.sentAt - b.sentAt);
  const other: Record<string, number> = {};
  let ok = 0;
  let unavailable = 0;
  let unavailableWithoutRetryAfter = 0;
  for (const o of sorted) {
    if (isOk(o)) ok++;
    else if (o.status === 503) {
      unavailable++;
      if (!o.retryAfter) unavailableWithoutRetryAfter++;
    } else other[o.status] = (other[o.status] ?? 0) + 1;
  }
  const during = sorted.filter((o) => o.sentAt >= window.downAt && o.sentAt <= window.upAt);
  let lastFailure = -1;
  sorted.forEach((o, i) => {
    if (!isOk(o)) lastFailure = i;
  });
  const recovered = lastFailure < sorted.length - 1;
  const firstFailure = sorted.findIndex((o) => !isOk(o));
  const firstOfTail = sorted[lastFailure + 1];
  const timeToRecoverMs = !recovered ? Number.POSITIVE_INFINITY : Math.max(0, firstOfTail.sentAt - window.upAt);
  return {
    requests: sorted.length,
    ok,
    unavailable,
    other,
    sentDuringOutage: during.length,
    maxLatencyDuringOutageMs: Math.max(0, ...during.map((o) => o.latencyMs)),
    maxLatencyMs: Math.max(0, ...sorted.map((o) => o.latencyMs)),
    unavailableWithoutRetryAfter,
    timeToRecoverMs,
    recovered,
    failingMs: firstFailure < 0 ? 0 : sorted[lastFailure].sentAt - sorted[firstFailure].sentAt,
  };
}

/** Statuses per second of the run, relative to `t0`: "12s 201×40 503×8". For the failure report. */
export function timeline(outcomes: Outcome[], t0: number): string {
  const bySecond = new Map<number, Map<number, number>>();
  for (const o of outcomes) {
    const s = Math.floor((o.sentAt - t0) / 1000);
    const m = bySecond.get(s) ?? new Map<number, number>();
    m.set(o.status, (m.get(o.status) ?? 0) + 1);
    bySecond.set(s, m);
  }
  return [...bySecond]
    .sort((a, b) => a[0] - b[0])
    .map(([s, m]) => `${String(s).padStart(3)}s ${[...m].sort((a, b) => a[0] - b[0]).map(([st, n]) => `${st}×${n}`).join(" ")}`)
    .join("\n");
}
