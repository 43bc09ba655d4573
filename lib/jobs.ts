/**
 * Durable background jobs: one Agenda per process on the service database (PostgreSQL backend).
 * On PGlite there is no LISTEN/NOTIFY, so Agenda uses its in-memory notification channel and polling.
 * Services define their jobs before the broker starts; handlers must be idempotent (a job may run twice).
 */
import { Agenda, InMemoryNotificationChannel } from "agenda";
import { PostgresBackend } from "@agendajs/postgres-backend";
import type { Database } from "./db";

export interface JobsOptions {
  processEvery: string;
  name?: string;
}

export function createAgenda(database: Database, opts: JobsOptions): Agenda {
  const embedded = database.kind === "pglite";
  const backend = new PostgresBackend({ pool: database.pool, disableNotifications: embedded });
  return new Agenda({
    backend,
    name: opts.name,
    processEvery: opts.processEvery,
    defaultLockLifetime: 60_000,
    ...(embedded ? { notificationChannel: new InMemoryNotificationChannel() } : {}),
  });
}
