/** Mixins shared by domain services. Each is a factory returning a partial schema. */
import type { Agenda, Job } from "agenda";
import type { Context, Service, ServiceSchema } from "moleculer";
import { cleanPattern } from "./cache-keys";
import type { Db } from "./db";
import { fromDatabaseError } from "./errors";
import { runtimeOf } from "./runtime";

/**
 * Opens the process's database when the service starts and builds the service's store on it
 * (`this.store`). Database outages surface as retryable 503s rather than 500s.
 */
export function StoreMixin<S>(createStore: (db: Db) => S): Partial<ServiceSchema> {
  return {
    hooks: {
      error: {
        "*"(this: unknown, _ctx: Context, err: unknown) {
          throw fromDatabaseError(err);
        },
      },
    },
    async started() {
      const database = await runtimeOf(this.broker).database();
      (this as unknown as { store: S }).store = createStore(database.db);
    },
  };
}

/**
 * Read-through caching with cleaning that works on every node: writes broadcast `cache.clean.<service>`
 * with the changed id and each instance drops its cached entries for it (Redis cacher: shared anyway).
 * `cachedRead` does not store a value whose read overlapped a clean on this node: otherwise a read that
 * started before a write and finished after its clean would put the old value back for a whole TTL.
 */
export function CacheCleanerMixin(serviceName: string): Partial<ServiceSchema> {
  return {
    events: {
      [`cache.clean.${serviceName}`]: {
        handler(this: { broker: Context["broker"]; cacheEpoch: number }, ctx: Context<{ id?: string }>) {
          this.cacheEpoch = (this.cacheEpoch ?? 0) + 1;
          const id = ctx.params?.id;
          return this.broker.cacher?.clean(id ? cleanPattern(serviceName, id) : `${serviceName}.**`);
        },
      },
    },
    methods: {
      cleanCache(this: { broker: Context["broker"] }, id?: string) {
        return this.broker.broadcast(`cache.clean.${serviceName}`, { id });
      },
      async cachedRead<T>(this: { broker: Context["broker"]; cacheEpoch: number }, key: string, ttlSeconds: number, load: () => Promise<T>): Promise<T> {
        const cacher = this.broker.cacher;
        if (!cacher) return load();
        const hit = (await cacher.get(key)) as T | null;
        if (hit != null) return hit;
        const epoch = this.cacheEpoch ?? 0;
        const value = await load();
        if ((this.cacheEpoch ?? 0) === epoch) await cacher.set(key, value, ttlSeconds);
        return value;
      },
    },
  };
}

export type JobHandler = (this: Service, job: Job) => Promise<void>;

/**
 * Durable jobs of a service (Agenda on the service database). Handlers are defined when the service
 * starts, then the process's Agenda starts processing. A handler may run twice (after a crash, or when a
 * lock expires): it must be idempotent. The service gets `this.agenda` to schedule with.
 */
export function JobsMixin(jobs: Record<string, JobHandler>, options: { concurrency?: number } = {}): Partial<ServiceSchema> {
  return {
    async started() {
      const runtime = runtimeOf(this.broker);
      const agenda = await runtime.agenda();
      for (const [name, handler] of Object.entries(jobs)) {
        agenda.define(name, (job: Job) => handler.call(this, job), { concurrency: options.concurrency ?? 5 });
      }
      (this as unknown as { agenda: Agenda }).agenda = agenda;
      await runtime.startJobs();
    },
  };
}
