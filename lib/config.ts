/**
 * The one place configuration is read from the environment. Every value has a default that works in
 * embedded mode (one process, PGlite in ./data, no NATS), so `npm start` needs no env at all.
 */
import path from "node:path";

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
  /** How often Agenda looks for due jobs. */
  jobsProcessEvery: string;
  /** Two scheduled campaigns of one owner on one platform closer than this are a conflict. */
  scheduleConflictWindowMinutes: number;
  /** Launches one owner may start per minute (REST/gRPC); more → 429. */
  launchesPerMinute: number;
  /** HMAC key for fan ids in analytics; unset → derived from the JWT secret. */
  analyticsFanKey?: string;
}

function int(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

function str(name: string): string | undefined {
  const raw = process.env[name];
  return raw === undefined || raw.trim() === "" ? undefined : raw.trim();
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;

/** Reads the configuration from `env`; `overrides` win (tests use them for ports and data dirs). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const saved = process.env;
  process.env = env;
  try {
    const logLevel = (str("LOG_LEVEL") ?? "info") as Config["logLevel"];
    if (!LOG_LEVELS.includes(logLevel)) throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}`);
    return {
      port: int("PORT", 3000),
      grpcPort: int("GRPC_PORT", 50051),
      host: str("HOST") ?? "0.0.0.0",
      dataDir: path.resolve(str("DATA_DIR") ?? "./data"),
      databaseUrl: str("DATABASE_URL"),
      natsUrl: str("NATS_URL"),
      redisUrl: str("REDIS_URL"),
      jwtSecret: str("JWT_SECRET"),
      services: (str("SERVICES") ?? "").split(",").map((s) => s.trim()).filter(Boolean),
      logLevel,
      namespace: str("NAMESPACE") ?? "marketing",
      nodeId: str("NODE_ID"),
      requestTimeout: int("REQUEST_TIMEOUT_MS", 10_000),
      bodyLimit: str("BODY_LIMIT") ?? "1mb",
      dbPoolSize: int("DB_POOL_SIZE", 10),
      jobsProcessEvery: str("JOBS_PROCESS_EVERY") ?? "1 second",
      scheduleConflictWindowMinutes: int("SCHEDULE_CONFLICT_WINDOW_MINUTES", 30),
      launchesPerMinute: int("LAUNCHES_PER_MINUTE", 10),
      analyticsFanKey: str("ANALYTICS_FAN_KEY"),
      ...overrides,
    };
  } finally {
    process.env = saved;
  }
}
