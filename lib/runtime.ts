/**
 * Resources one broker's services share: configuration, the database, Agenda and the JWT secret.
 * They open lazily (a gateway-only node never opens a database) and close when the broker stops.
 */
import type { ServiceBroker } from "moleculer";
import type { Agenda } from "agenda";
import { resolveJwtSecret } from "./auth";
import type { Config } from "./config";
import { openDatabase, type Database } from "./db";
import { createAgenda, stopAgenda } from "./jobs";

export interface Runtime {
  config: Config;
  database(): Promise<Database>;
  /** Agenda, created on first use; `startJobs` begins processing once every service defined its jobs. */
  agenda(): Promise<Agenda>;
  startJobs(): Promise<void>;
  jwtSecret(): string;
  close(): Promise<void>;
}

const runtimes = new WeakMap<ServiceBroker, Runtime>();

export function attachRuntime(broker: ServiceBroker, config: Config): Runtime {
  let database: Promise<Database> | undefined;
  let agenda: Promise<Agenda> | undefined;
  let jobsStarted: Promise<void> | undefined;
  let secret: string | undefined;

  const runtime: Runtime = {
    config,
    database() {
      database ??= openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize });
      return database;
    },
    agenda() {
      agenda ??= runtime.database().then((db) => createAgenda(db, { processEvery: config.jobsProcessEvery, name: broker.nodeID }));
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
    async close() {
      if (jobsStarted) await stopAgenda(await agenda!, 5_000);
      if (database) await (await database).close();
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
