/**
 * The one place configuration is read from the environment. Every value has a default that works in
 * embedded mode (one process, PGlite in ./data, no NATS), so `npm start` needs no env at all.
 * `loadConfig` is read once per process; the publisher, metrics and automation settings below are read
 * when their service starts (`load*Config`), so a test may set process.env just before.
 */
import path from "node:path";
import { parseDurationIn } from "./duration";

export interface Config {
  /** REST gateway port. */
  port: number;
  /** gRPC gateway port. */
  grpcPort: number;
  /** Interface the gateways bind to. */
  host: string;
  /** Embedded-mode data folder (PGlite files + lock file + generated dev secret). */
  dataDir: string;
  /** PostgreSQL server; unset → PGlite in `dataDir`. */
  databaseUrl?: string;
  /** NATS server; unset → local transport, every service in this process. */
  natsUrl?: string;
  /** Redis for the shared cacher; unset → in-memory cacher. */
  redisUrl?: string;
  /** HS256 secret for JWT bearer tokens; unset in embedded mode → generated into `dataDir`. */
  jwtSecret?: string;
  /** Services hosted by this process; empty → all of them. */
  services: string[];
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
  /** Moleculer namespace: nodes only see nodes of the same namespace on one NATS. */
  namespace: string;
  /** Moleculer node id (defaults to hostname-pid). */
  nodeId?: string;
  /** Request timeout of a broker call, in ms (also the REST/gRPC default deadline). */
  requestTimeout: number;
  /** Largest accepted REST request body. */
  bodyLimit: string;
  /** Database pool size when DATABASE_URL is set. */
  dbPoolSize: number;
  /** How often Agenda looks for due jobs, in ms (`JOBS_PROCESS_EVERY`: `500`, `500ms`, `1 second`, `2s`, `1 minute`). */
  jobsProcessEveryMs: number;
  /** Two scheduled campaigns of one owner on one platform closer than this are a conflict. */
  scheduleConflictWindowMinutes: number;
  /** Launches one owner may start per minute (REST/gRPC); more → 429. */
  launchesPerMinute: number;
  /** HMAC key for fan ids in analytics; unset → derived from the JWT secret. */
  analyticsFanKey?: string;
  /**
   * Requests one user (or, unauthenticated, one client address) may make per window through the REST
   * and gRPC gateways together; 0 turns the limit off. Shared through Redis when `redisUrl` is set.
   */
  rateLimitPerMinute: number;
  /** The window `rateLimitPerMinute` counts in: one minute (tests shorten it; no env key). */
  rateLimitWindowMs: number;
}

/** An integer ≥ `min` from `env[name]`; unset or blank → `fallback`. */
function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return n;
}

/** `env[name]` trimmed; unset or blank → undefined. */
function str(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === "" ? undefined : raw.trim();
}

/** `JOBS_PROCESS_EVERY` and the like: a bare number is ms. */
const CONFIG_UNITS = new Map(Object.entries({ "": 1, ms: 1, millisecond: 1, s: 1_000, sec: 1_000, second: 1_000, m: 60_000, min: 60_000, minute: 60_000 }));

/**
 * A duration in ms from `env[name]`: a number (ms) or a number and a unit (`250ms`, `1 second`, `2 minutes`).
 * Our own parser: Agenda's `human-interval` reads "100 milliseconds" as 100,000 ms and "500 ms" as its
 * 5 s default, silently.
 */
function duration(env: NodeJS.ProcessEnv, name: string, fallbackMs: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallbackMs;
  const ms = parseDurationIn(raw, CONFIG_UNITS);
  if (ms === null || ms < 1) throw new Error(`${name} must be a duration like "500ms", "1 second" or "2 minutes" (a bare number is ms), got "${raw}"`);
  return ms;
}

/** A comma-separated list, blanks dropped. */
function list(value: string | undefined): string[] {
  return (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;

/** Reads the configuration from `env`; `overrides` win (tests use them for ports and data dirs). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const logLevel = (str(env, "LOG_LEVEL") ?? "info") as Config["logLevel"];
  if (!LOG_LEVELS.includes(logLevel)) throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}`);
  return {
    port: int(env, "PORT", 3000),
    grpcPort: int(env, "GRPC_PORT", 50051),
    host: str(env, "HOST") ?? "0.0.0.0",
    dataDir: path.resolve(str(env, "DATA_DIR") ?? "./data"),
    databaseUrl: str(env, "DATABASE_URL"),
    natsUrl: str(env, "NATS_URL"),
    redisUrl: str(env, "REDIS_URL"),
    jwtSecret: str(env, "JWT_SECRET"),
    services: list(str(env, "SERVICES")),
    logLevel,
    namespace: str(env, "NAMESPACE") ?? "marketing",
    nodeId: str(env, "NODE_ID"),
    requestTimeout: int(env, "REQUEST_TIMEOUT_MS", 10_000),
    bodyLimit: str(env, "BODY_LIMIT") ?? "1mb",
    dbPoolSize: int(env, "DB_POOL_SIZE", 10),
    jobsProcessEveryMs: duration(env, "JOBS_PROCESS_EVERY", 1_000),
    scheduleConflictWindowMinutes: int(env, "SCHEDULE_CONFLICT_WINDOW_MINUTES", 30),
    launchesPerMinute: int(env, "LAUNCHES_PER_MINUTE", 10),
    analyticsFanKey: str(env, "ANALYTICS_FAN_KEY"),
    // Generous: well above what a person or an integration of one creator sends (and above the
    // hostile-input suite's ~8,500 requests of one owner in under a minute); operators tighten it.
    rateLimitPerMinute: int(env, "RATE_LIMIT_PER_MINUTE", 20_000),
    rateLimitWindowMs: 60_000,
    ...overrides,
  };
}

// ---- publisher ------------------------------------------------------------------------------------

export interface PublisherConfig {
  /** Extra plugins: npm package names (comma-separated `PUBLISHER_PLUGINS`), loaded after `plugins/*`. */
  plugins: string[];
  /** Plugin ids to skip (`PUBLISHER_DISABLED_PLUGINS`). */
  disabledPlugins: string[];
  /**
   * Credential encryption keys, newest first: `CREDENTIALS_KEYS="k2:<base64 32 bytes>,k1:<...>"`, or one key
   * in `CREDENTIALS_KEY`. New writes use the first; older ones still decrypt. Unset → a key generated into
   * the data folder (embedded mode only).
   */
  credentialKeys: { id: string; key: Buffer }[];
  /** Attempts per publish before it is dead-lettered (`PUBLISH_MAX_ATTEMPTS`). */
  maxAttempts: number;
  /** First retry delay and cap of the exponential backoff (`PUBLISH_BACKOFF_BASE_MS`, `PUBLISH_BACKOFF_CAP_MS`). */
  backoffBaseMs: number;
  backoffCapMs: number;
  /** Per-request timeout towards a platform (`PUBLISH_HTTP_TIMEOUT_MS`). */
  httpTimeoutMs: number;
  /** Status polling of asynchronous platforms (`PUBLISH_POLL_INTERVAL_MS`, `PUBLISH_MAX_POLLS`). */
  pollIntervalMs: number;
  maxPolls: number;
  /** How long a running attempt holds its row before another worker may take it over (`PUBLISH_LEASE_MS`). */
  leaseMs: number;
  /** Base URL per plugin id (`<ID>_BASE_URL`, e.g. `INSTAGRAM_BASE_URL`, `ONLYFANS_GATEWAY_URL`). */
  baseUrls: Record<string, string>;
  /** Rate overrides per plugin id: `PUBLISHER_RATE_LIMITS="instagram=3/5,reddit=60/10"` (per minute / burst). */
  rateLimits: Record<string, { perMinute: number; burst: number }>;
}

export const DEFAULT_BASE_URLS: Record<string, string> = {
  instagram: "https://graph.facebook.com/v21.0",
  tiktok: "https://open.tiktokapis.com",
  reddit: "https://oauth.reddit.com",
  // No official API exists: the gateway must be configured (see docs/plugins.md).
  onlyfans: "http://onlyfans-gateway.invalid",
};

/** `id:base64` pairs; a bare base64 value gets the id "default". Each key must decode to 32 bytes. */
export function parseCredentialKeys(value: string | undefined): { id: string; key: Buffer }[] {
  return list(value).map((entry) => {
    const sep = entry.indexOf(":");
    const id = sep > 0 ? entry.slice(0, sep) : "default";
    const key = Buffer.from(sep > 0 ? entry.slice(sep + 1) : entry, "base64");
    if (key.length !== 32) throw new Error(`credential key "${id}" must be 32 bytes of base64 (AES-256), got ${key.length} bytes`);
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new Error(`credential key id "${id}" must be 1–32 letters, digits, _ or -`);
    return { id, key };
  });
}

function publisherRateLimits(value: string | undefined): PublisherConfig["rateLimits"] {
  const out: PublisherConfig["rateLimits"] = {};
  for (const entry of list(value)) {
    const m = /^([a-z0-9-]+)=(\d+)\/(\d+)$/.exec(entry);
    if (!m) throw new Error(`PUBLISHER_RATE_LIMITS entry "${entry}" must look like "instagram=3/5" (per minute / burst)`);
    out[m[1]] = { perMinute: Number(m[2]), burst: Number(m[3]) };
  }
  return out;
}

function platformBaseUrls(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    const m = /^([A-Z0-9_]+)_BASE_URL$/.exec(name);
    if (m && value) out[m[1].toLowerCase().replace(/_/g, "-")] = value;
  }
  if (env.ONLYFANS_GATEWAY_URL) out.onlyfans = env.ONLYFANS_GATEWAY_URL;
  return { ...DEFAULT_BASE_URLS, ...out };
}

export function loadPublisherConfig(env: NodeJS.ProcessEnv = process.env): PublisherConfig {
  return {
    plugins: list(env.PUBLISHER_PLUGINS),
    disabledPlugins: list(env.PUBLISHER_DISABLED_PLUGINS),
    credentialKeys: parseCredentialKeys(env.CREDENTIALS_KEYS ?? env.CREDENTIALS_KEY),
    maxAttempts: int(env, "PUBLISH_MAX_ATTEMPTS", 5, 1),
    backoffBaseMs: int(env, "PUBLISH_BACKOFF_BASE_MS", 2_000, 1),
    backoffCapMs: int(env, "PUBLISH_BACKOFF_CAP_MS", 15 * 60_000, 1),
    httpTimeoutMs: int(env, "PUBLISH_HTTP_TIMEOUT_MS", 15_000, 1),
    pollIntervalMs: int(env, "PUBLISH_POLL_INTERVAL_MS", 2_000),
    maxPolls: int(env, "PUBLISH_MAX_POLLS", 30, 1),
    leaseMs: int(env, "PUBLISH_LEASE_MS", 5 * 60_000, 1),
    baseUrls: platformBaseUrls(env),
    rateLimits: publisherRateLimits(env.PUBLISHER_RATE_LIMITS),
  };
}

// ---- metrics --------------------------------------------------------------------------------------
// CloudWatch publishing is off unless `CLOUDWATCH_NAMESPACE` is set; Prometheus metrics are always on.

export interface MetricsConfig {
  /** CloudWatch namespace (`CLOUDWATCH_NAMESPACE`, e.g. "CreatorMarketing"); unset → no CloudWatch. */
  namespace?: string;
  /** AWS region (`AWS_REGION`, falling back to `AWS_DEFAULT_REGION`). Credentials come from the SDK's default chain. */
  region?: string;
  /** Endpoint override (`CLOUDWATCH_ENDPOINT`): a local fake in tests, a VPC endpoint in production. */
  endpoint?: string;
  /** How often the queue is flushed (`CLOUDWATCH_FLUSH_MS`, default 60 s: CloudWatch's standard resolution). */
  flushMs: number;
  /** Datums held while CloudWatch is slow or down (`CLOUDWATCH_QUEUE_LIMIT`); the oldest are dropped beyond it. */
  queueLimit: number;
  /** ARNs (e.g. an SNS topic) the alarms notify, comma-separated (`CLOUDWATCH_ALARM_ACTIONS`); used by `npm run cloudwatch:apply`. */
  alarmActions: string[];
}

export function loadMetricsConfig(env: NodeJS.ProcessEnv = process.env): MetricsConfig {
  const namespace = str(env, "CLOUDWATCH_NAMESPACE");
  // CloudWatch refuses namespaces starting with "AWS/" (reserved) and other characters than these.
  if (namespace && (!/^[A-Za-z0-9._\-/#:]{1,255}$/.test(namespace) || namespace.startsWith("AWS/"))) {
    throw new Error(`CLOUDWATCH_NAMESPACE "${namespace}" is not a valid custom namespace (letters, digits, . _ - / # :, not starting with AWS/)`);
  }
  return {
    namespace,
    region: str(env, "AWS_REGION") ?? str(env, "AWS_DEFAULT_REGION"),
    endpoint: str(env, "CLOUDWATCH_ENDPOINT"),
    flushMs: int(env, "CLOUDWATCH_FLUSH_MS", 60_000, 100),
    queueLimit: int(env, "CLOUDWATCH_QUEUE_LIMIT", 20_000, 1),
    alarmActions: list(str(env, "CLOUDWATCH_ALARM_ACTIONS")),
  };
}

// ---- automation -----------------------------------------------------------------------------------

export interface AutomationConfig {
  maxActiveWorkflows: number;
  runsPerMinute: number;
  retries: number;
  retryBaseMs: number;
  leaseMs: number;
  webhookSecret: string;
  webhookTimeoutMs: number;
  /** How often the sweep resumes due runs whose Agenda wake-up was lost, and times runs out. */
  sweepEvery: string;
  behaviorScanEvery: string;
}

/** `fallbackSecret` signs webhooks when `AUTOMATION_WEBHOOK_SECRET` is unset (the service derives it from the JWT secret). */
export function loadAutomationConfig(env: NodeJS.ProcessEnv, fallbackSecret: string): AutomationConfig {
  return {
    maxActiveWorkflows: int(env, "AUTOMATION_MAX_ACTIVE_WORKFLOWS", 50),
    runsPerMinute: int(env, "AUTOMATION_RUNS_PER_MINUTE", 2000),
    retries: int(env, "AUTOMATION_RETRIES", 3),
    retryBaseMs: int(env, "AUTOMATION_RETRY_BASE_MS", 1000),
    leaseMs: int(env, "AUTOMATION_LEASE_MS", 120_000),
    webhookSecret: env.AUTOMATION_WEBHOOK_SECRET || fallbackSecret,
    webhookTimeoutMs: int(env, "AUTOMATION_WEBHOOK_TIMEOUT_MS", 5000),
    sweepEvery: env.AUTOMATION_SWEEP_EVERY || "30 seconds",
    behaviorScanEvery: env.AUTOMATION_BEHAVIOR_SCAN_EVERY || "15 minutes",
  };
}
