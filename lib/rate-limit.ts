/**
 * The per-user request budget both gateways charge (REST and gRPC share one counter per user): a fixed
 * window per key that starts with the key's first request. Keys are `user:<id>` for authenticated calls
 * and `ip:<address>` for calls that fail authentication.
 *
 * Without Redis the counters live in this process's memory: no I/O on the request path. With Redis they
 * are shared, so several gateway nodes agree on one budget; each request costs one round trip (a Lua
 * script: INCR and, on a key's first hit, PEXPIRE, atomically). When Redis is unreachable the node counts
 * in memory instead (each node on its own) rather than refusing or stalling requests.
 */
import Redis from "ioredis";
import type { Logger } from "moleculer";
import type { AuthUser } from "./auth";
import { TooManyRequestsError } from "./errors";

/** A key's count in its current window and when that window ends (ms since the epoch). */
export interface Hit {
  count: number;
  resetAt: number;
}

export interface RateLimitStore {
  hit(key: string): Hit | Promise<Hit>;
  close(): Promise<void>;
}

/** The outcome of charging one request. */
export interface RateVerdict {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** End of the current window, ms since the epoch. */
  resetAt: number;
  /** Whole seconds until the window ends (≥ 1): the Retry-After a refused caller gets. */
  retryAfter: number;
}

/** Counters in this process, swept once per window so idle keys do not pile up. */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly hits = new Map<string, Hit>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly windowMs: number) {
    this.sweeper = setInterval(() => this.sweep(), windowMs);
    this.sweeper.unref();
  }

  hit(key: string, now = Date.now()): Hit {
    const entry = this.hits.get(key);
    if (entry && entry.resetAt > now) {
      entry.count++;
      return entry;
    }
    const fresh = { count: 1, resetAt: now + this.windowMs };
    this.hits.set(key, fresh);
    return fresh;
  }

  private sweep(now = Date.now()): void {
    for (const [key, entry] of this.hits) if (entry.resetAt <= now) this.hits.delete(key);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.hits.clear();
  }
}

/** INCR, and PEXPIRE when the key has no expiry yet (its first hit): one atomic step. Returns {count, pttl}. */
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

type ScriptedRedis = Redis & { rateLimitHit(key: string, windowMs: number): Promise<[number, number]> };

/** How long a hit may wait for Redis before the node counts it in memory instead. */
const REDIS_COMMAND_TIMEOUT_MS = 500;

/** Counters in Redis, shared by every gateway node that uses the same Redis and namespace. */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly redis: ScriptedRedis;
  /** Used while Redis is unreachable. */
  private readonly fallback: MemoryRateLimitStore;
  private degraded = false;

  constructor(
    url: string,
    private readonly windowMs: number,
    /** Prepended to every key: the deployment's namespace, so deployments sharing a Redis do not mix. */
    private readonly prefix: string,
    private readonly logger?: Logger,
  ) {
    this.fallback = new MemoryRateLimitStore(windowMs);
    // No offline queue: while disconnected a hit fails at once (and is counted in memory) instead of
    // waiting for the reconnection.
    this.redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: REDIS_COMMAND_TIMEOUT_MS }) as ScriptedRedis;
    this.redis.defineCommand("rateLimitHit", { numberOfKeys: 1, lua: HIT_SCRIPT });
    // ioredis reconnects by itself; errors are reported through hits falling back, not thrown here.
    this.redis.on("error", () => undefined);
    this.redis.on("ready", () => {
      if (this.degraded) this.logger?.info("Rate limits are shared through Redis again");
      this.degraded = false;
    });
  }

  /**
   * Resolves once connected, or when the first attempt fails or `timeoutMs` passed: hits are then counted
   * in memory until Redis is there, and a node starts without waiting for it.
   */
  async ready(timeoutMs = 2_000): Promise<void> {
    if (this.redis.status === "ready") return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.redis.off("ready", done);
        this.redis.off("error", done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.redis.once("ready", done);
      this.redis.once("error", done);
    });
    // (Read again: the status changed while waiting.)
    if ((this.redis.status as string) !== "ready") this.fallBack(new Error(`no connection (${this.redis.status})`));
  }

  async hit(key: string): Promise<Hit> {
    if (this.redis.status !== "ready") {
      this.fallBack(new Error(`the connection is ${this.redis.status}`));
      return this.fallback.hit(key);
    }
    try {
      const [count, ttl] = await this.redis.rateLimitHit(`${this.prefix}${key}`, this.windowMs);
      return { count, resetAt: Date.now() + ttl };
    } catch (err) {
      this.fallBack(err);
      return this.fallback.hit(key);
    }
  }

  private fallBack(err: unknown): void {
    if (this.degraded) return;
    this.degraded = true;
    this.logger?.warn(`Rate limits are counted per node until Redis answers again: ${(err as Error).message}`);
  }

  async close(): Promise<void> {
    await this.fallback.close();
    this.redis.disconnect();
  }
}

export class RateLimiter {
  constructor(
    private readonly store: RateLimitStore,
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** Counts one request of `key` and says whether it is within the budget. */
  async charge(key: string): Promise<RateVerdict> {
    const { count, resetAt } = await this.store.hit(key);
    const remaining = this.limit - count;
    return {
      allowed: remaining >= 0,
      limit: this.limit,
      remaining: Math.max(0, remaining),
      resetAt,
      retryAfter: Math.max(1, Math.ceil((resetAt - Date.now()) / 1000)),
    };
  }

  /** `charge`, throwing the 429 (→ RESOURCE_EXHAUSTED on gRPC) when the budget is spent. */
  async enforce(key: string): Promise<RateVerdict> {
    const verdict = await this.charge(key);
    if (!verdict.allowed) throw this.refusal(verdict);
    return verdict;
  }

  /** The 429 for a refused verdict; `retryAfter` in its data becomes Retry-After / the `retry-after` trailer. */
  refusal(verdict: RateVerdict): TooManyRequestsError {
    const per = this.windowMs === 60_000 ? "minute" : `${this.windowMs / 1000} s`;
    return new TooManyRequestsError(`At most ${verdict.limit} requests per ${per}; try again in ${verdict.retryAfter} s`, verdict.retryAfter);
  }

  ready(): Promise<void> {
    return this.store instanceof RedisRateLimitStore ? this.store.ready() : Promise.resolve();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/** The limiter for a gateway node: Redis-backed with `redisUrl`, in memory otherwise; none when `limit` is 0. */
export function createRateLimiter(opts: { limit: number; windowMs: number; redisUrl?: string; namespace: string; logger?: Logger }): RateLimiter | undefined {
  if (!(opts.limit > 0)) return undefined;
  const windowMs = opts.windowMs > 0 ? opts.windowMs : 60_000;
  const store = opts.redisUrl
    ? new RedisRateLimitStore(opts.redisUrl, windowMs, `mktg-rl:${opts.namespace}:`, opts.logger)
    : new MemoryRateLimitStore(windowMs);
  return new RateLimiter(store, opts.limit, windowMs);
}

export function userKey(userId: string): string {
  return `user:${userId}`;
}

/**
 * Authenticates, then charges the user's budget; a caller that fails authentication is charged by its
 * address instead, so floods and token guessing are bounded too. Both gateways authenticate through this;
 * `charge` (absent when limits are off) refuses over the budget.
 */
export async function authenticateCharged(
  authenticate: () => Promise<AuthUser>,
  address: string | undefined,
  charge: ((key: string) => Promise<unknown>) | undefined,
): Promise<AuthUser> {
  let user: AuthUser;
  try {
    user = await authenticate();
  } catch (err) {
    if (charge) await charge(clientKey(address));
    throw err;
  }
  if (charge) await charge(userKey(user.id));
  return user;
}

/** `ip:<address>` of a socket address ("::ffff:10.0.0.1" is the IPv4 client 10.0.0.1). */
export function clientKey(address: string | undefined): string {
  const a = address ?? "unknown";
  return `ip:${a.startsWith("::ffff:") ? a.slice(7) : a}`;
}

/**
 * The address of a grpc-js server call's peer: grpc-js writes `<remoteAddress>:<remotePort>` for TCP
 * ("127.0.0.1:5000", "::ffff:10.0.0.1:5000", "::1:5000"); bracketed and `ipv4:`/`ipv6:` forms are read too.
 */
export function grpcPeerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, "");
  const bracketed = /^\[(.+)\](?::\d+)?$/.exec(bare);
  if (bracketed) return bracketed[1];
  return bare.replace(/:\d+$/, "");
}
