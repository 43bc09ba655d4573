/**
 * Scheduled-launch lateness, in one run on one PostgreSQL database:
 *   baseline: 500 bare Agenda jobs (a no-op handler) due over 10 s — the scheduler's own lateness;
 *   result:   500 campaigns scheduled over 10 s through `campaigns.schedule`, launched by the service's
 *             job (state check, launch rules, publish call, status change). Lateness = startedAt − scheduledFor.
 * The publisher is a stand-in answering "queued" at once, so the figure is the campaigns service's own.
 * Usage: npx tsx bench/launch-lateness.ts [--count 500 --spread 10]
 */
import { parseArgs } from "node:util";
import type { ServiceSchema } from "moleculer";
import { runtimeOf } from "../lib/runtime";
import { as, createTestDatabase, startBroker } from "../test/helpers/env";
import { waitFor } from "../test/helpers/process";

const { values } = parseArgs({ options: { count: { type: "string", default: "500" }, spread: { type: "string", default: "10" } } });
const count = Number(values.count);
const spreadMs = Number(values.spread) * 1000;

const publisher: ServiceSchema = {
  name: "publisher",
  actions: {
    publish: {
      permission: "write",
      handler: (ctx: any) => ({ publications: ctx.params.platforms.map((platform: string) => ({ platform, id: "bench", state: "pending" })) }),
    },
  },
} as ServiceSchema;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(name: string, lateness: number[]): string {
  const s = [...lateness].sort((a, b) => a - b);
  return `${name.padEnd(52)} n=${s.length}  p50 ${percentile(s, 50).toFixed(0)} ms  p99 ${percentile(s, 99).toFixed(0)} ms  max ${s[s.length - 1].toFixed(0)} ms`;
}

async function main() {
  const db = await createTestDatabase();
  const broker = await startBroker({ databaseUrl: db.url, services: ["campaigns"], launchesPerMinute: 1_000_000 }, [publisher]);
  try {
    console.log(`${count} launches spread over ${spreadMs / 1000} s; PostgreSQL; JOBS_PROCESS_EVERY=${runtimeOf(broker).config.jobsProcessEveryMs} ms`);

    // Baseline: bare Agenda jobs on the same database.
    const agenda = await runtimeOf(broker).agenda();
    const bare: number[] = [];
    agenda.define("bench.noop", async (job) => {
      bare.push(Date.now() - new Date((job.attrs.data as { due: string }).due).getTime());
    });
    const start = Date.now() + 3_000;
    for (let i = 0; i < count; i++) {
      const due = new Date(start + (i * spreadMs) / count);
      await agenda.schedule(due, "bench.noop", { due: due.toISOString() });
    }
    await waitFor(async () => bare.length >= count, spreadMs + 60_000, 250);

    // Result: real campaigns through the service.
    const user = as("bench-owner");
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const c: any = await broker.call("campaigns.create", { name: `Bench ${i}`, type: "ppv", platforms: ["reddit"], content: { title: "Bench" } }, user);
      ids.push(c.id);
    }
    const first = Date.now() + 8_000;
    for (let i = 0; i < count; i++) {
      await broker.call("campaigns.schedule", { id: ids[i], scheduledFor: new Date(first + (i * spreadMs) / count).toISOString() }, user);
    }
    const scheduledAt = Date.now();
    if (scheduledAt > first) console.log(`warning: scheduling took longer than the 8 s lead (${scheduledAt - first} ms late)`);
    const launched = async () => {
      const page: any = await broker.call("campaigns.list", { status: ["scheduled"], limit: 1 }, user);
      return page.items.length === 0;
    };
    await waitFor(launched, spreadMs + 120_000, 250);
    const lateness: number[] = [];
    let cursor: string | undefined;
    do {
      const page: any = await broker.call("campaigns.list", { status: ["active"], limit: 100, cursor }, user);
      for (const c of page.items) lateness.push(new Date(c.startedAt).getTime() - new Date(c.scheduledFor).getTime());
      cursor = page.nextCursor ?? undefined;
    } while (cursor);

    console.log(summary("baseline: bare Agenda job (no-op handler)", bare));
    console.log(summary("result:   scheduled campaign launch (startedAt − due)", lateness));
    console.log(`goal: p99 < 1000 ms → ${percentile([...lateness].sort((a, b) => a - b), 99) < 1000 ? "met" : "NOT met"}`);
  } finally {
    await broker.stop();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
