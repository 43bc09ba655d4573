/**
 * Resources one broker's services share: configuration, the database, Agenda, the JWT secret and the
 * gateways' rate limiter.
 * They open lazily (a gateway-only node never opens a database) and close when the broker stops.
 */
import type { ServiceBroker } from "moleculer";
import type { Agenda } from "agenda";
import { resolveJwtSecret } from "./auth";
import type { Config } from "./config";
import { openDatabase, type Database } from "./db";
import { createAgenda, stopAgenda } from "./jobs";
import { createRateLimiter, type RateLimiter } from "./rate-limit";

export interface Runtime {
  config: Config;
  database(): Promise<Database>;
  /** Agenda, created on first use; `startJobs` begins processing once every service defined its jobs. */
  agenda(): Promise<Agenda>;
  startJobs(): Promise<void>;
  jwtSecret(): string;
  /** The per-user request budget both gateways charge (lib/rate-limit.ts); undefined when it is off. */
  rateLimiter(): RateLimiter | undefined;
  close(): Promise<void>;
}

const runtimes = new WeakMap<ServiceBroker, Runtime>();

export function attachRuntime(broker: ServiceBroker, config: Config): Runtime {
  let database: Promise<Database> | undefined;
  let agenda: Promise<Agenda> | undefined;
  let jobsStarted: Promise<void> | undefined;
  let secret: string | undefined;
  let limiter: { value: RateLimiter | undefined } | undefined;

  const runtime: Runtime = {
    config,
    database() {
      database ??= openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize });
      return database;
    },
    agenda() {
      agenda ??= runtime.database().then((db) => {
        const logger = broker.getLogger("jobs");
        const onError = (err: unknown) => logger.warn(`Jobs: ${(err as Error)?.message ?? String(err)} (retried)`);
        return createAgenda(db, { processEveryMs: config.jobsProcessEveryMs, name: broker.nodeID, onError });
      });
      return agenda;
    },
    startJobs() {
      jobsStarted ??= runtime.agenda().then((a) => a.start());
      return jobsStarted;
    },
    jwtSecret() {
      secret ??= resolveJwtSecret(config).secret;
      return secret;
    },
    rateLimiter() {
      limiter ??= {
        value: createRateLimiter({
          limit: config.rateLimitPerMinute,
          windowMs: config.rateLimitWindowMs,
          redisUrl: config.redisUrl,
          namespace: config.namespace,
          logger: broker.getLogger("rate-limit"),
        }),
      };
      return limiter.value;
    },
    async close() {
      if (jobsStarted) await stopAgenda(await agenda!, 5_000);
      if (database) await (await database).close();
      await limiter?.value?.close();
      limiter = undefined;
      agenda = undefined;
      database = undefined;
      jobsStarted = undefined;
    },
  };
  runtimes.set(broker, runtime);
  return runtime;
}

export function runtimeOf(broker: ServiceBroker): Runtime {
  const runtime = runtimes.get(broker);
  if (!runtime) throw new Error(`broker ${broker.nodeID} has no runtime: create it with createBroker()`);
  return runtime;
}
