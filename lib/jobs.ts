/**
 * Durable background jobs: one Agenda per process on the service database (PostgreSQL backend).
 * On PGlite there is no LISTEN/NOTIFY, so Agenda uses its in-memory notification channel and polling.
 * Services define their jobs before the broker starts; handlers must be idempotent (a job may run twice).
 */
import { Agenda, InMemoryNotificationChannel } from "agenda";
import { PostgresBackend, PostgresNotificationChannel } from "@agendajs/postgres-backend";
import type { Database } from "./db";

export interface JobsOptions {
  /** Poll interval in ms (a number: Agenda's own string parsing misreads "100 milliseconds"). */
  processEveryMs: number;
  name?: string;
  /** Where database errors of the job loop and of LISTEN go while the server is away (they are retried). */
  onError?: (err: unknown) => void;
}

export function createAgenda(database: Database, opts: JobsOptions): Agenda {
  const embedded = database.kind === "pglite";
  const onError = opts.onError ?? (() => undefined);
  // Our own LISTEN channel instead of the backend's: the backend's gives up reconnecting after 10 tries
  // (about a minute and a half) and has no 'error' listener, so the server restarting (57P01 on the
  // listening connection) was an unhandled 'error' event that killed the process.
  const channel = embedded
    ? new InMemoryNotificationChannel()
    : new PostgresNotificationChannel({ pool: database.pool, reconnect: { enabled: true, maxAttempts: Number.POSITIVE_INFINITY, maxDelayMs: 5_000 } });
  channel.on("error", onError);
  const backend = new PostgresBackend({ pool: database.pool, disableNotifications: true });
  const agenda = new Agenda({
    backend,
    name: opts.name,
    processEvery: opts.processEveryMs,
    defaultLockLifetime: 60_000,
    notificationChannel: channel,
  });
  // The job loop reports a failed poll here and polls again on its next tick.
  agenda.on("error", onError);
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
