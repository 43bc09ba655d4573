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
  const agenda = new Agenda({
    backend,
    name: opts.name,
    processEvery: opts.processEvery,
    defaultLockLifetime: 60_000,
    ...(embedded ? { notificationChannel: new InMemoryNotificationChannel() } : {}),
  });
  trackRunningJobs(agenda);
  return agenda;
}

const running = new WeakMap<Agenda, { count: number }>();

/** Counts handlers in flight so shutdown can wait for them (see `stopAgenda`). */
export function trackRunningJobs(agenda: Agenda): void {
  const state = { count: 0 };
  running.set(agenda, state);
  agenda.on("start", () => state.count++);
  agenda.on("complete", () => state.count--);
}

/**
 * Stops taking jobs and unlocks the ones this process had locked but not started (Agenda's own `drain`
 * leaves those locked until their lock expires, which would delay them on every other node), then waits up
 * to `timeoutMs` for handlers in flight to finish before the database closes under them.
 */
export async function stopAgenda(agenda: Agenda, timeoutMs: number): Promise<void> {
  await agenda.stop(false);
  const state = running.get(agenda);
  const until = Date.now() + timeoutMs;
  while (state && state.count > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
}
