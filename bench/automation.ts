/**
 * Workflow step throughput with durable state, beside raw Agenda job throughput, on one fresh database:
 *   baseline: N no-op Agenda jobs scheduled for now, timed until all completed (one job per step is what
 *             a job-per-step engine would pay);
 *   result:   runs of S instant steps (fan-less `check_engagement` steps: expression evaluation and a step
 *             record each; side-effect-free steps are written with the run's next durable write, here the
 *             final one) started through `automation.execute`, C runs at a time.
 * Usage: npx tsx bench/automation.ts [--runs 300] [--steps 10] [--concurrency 20] [--jobs 1000]
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { as, createTestDatabase, startBroker } from "../test/helpers/env";
import { runtimeOf } from "../lib/runtime";

const { values } = parseArgs({ options: { runs: { type: "string", default: "300" }, steps: { type: "string", default: "10" }, concurrency: { type: "string", default: "20" }, jobs: { type: "string", default: "1000" } } });
const RUNS = Number(values.runs);
const STEPS = Number(values.steps);
const CONCURRENCY = Number(values.concurrency);
const JOBS = Number(values.jobs);
const OWNER = as("bench-owner");

async function main() {
  console.log(`node ${process.version}, ${os.cpus().length} cores; ${RUNS} runs × ${STEPS} steps, ${CONCURRENCY} at a time; ${JOBS} Agenda jobs`);
  const db = await createTestDatabase();
  process.env.AUTOMATION_RUNS_PER_MINUTE = String(RUNS * 10);
  const broker = await startBroker({ databaseUrl: db.url, services: ["automation"], jobsProcessEveryMs: 100 });
  try {
    // Baseline: raw Agenda on the same database.
    const agenda = await runtimeOf(broker).agenda();
    let done = 0;
    let finished!: () => void;
    const all = new Promise<void>((r) => (finished = r));
    agenda.define("bench.noop", async () => {
      if (++done === JOBS) finished();
    }, { concurrency: 50 });
    const t0 = performance.now();
    for (let i = 0; i < JOBS; i += 20) await Promise.all(Array.from({ length: Math.min(20, JOBS - i) }, () => agenda.now("bench.noop", {})));
    await all;
    const agendaSecs = (performance.now() - t0) / 1000;
    console.log(`baseline  raw Agenda jobs:        ${(JOBS / agendaSecs).toFixed(0).padStart(6)} jobs/s  (${JOBS} in ${agendaSecs.toFixed(2)} s)`);

    const actions = Array.from({ length: STEPS }, () => ({ type: "check_engagement", condition: "engagement < 1 and lifetime_value >= 0", ifTrue: { type: "wait", duration: "1 day" } }));
    const wf = await broker.call<{ id: string }, object>("automation.create", { name: "bench", trigger: { type: "event", event: "bench.go" }, actions }, OWNER);
    const t1 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < RUNS) {
          next++;
          const run = await broker.call<{ status: string }, object>("automation.execute", { id: wf.id }, OWNER);
          if (run.status !== "success") throw new Error(`run ended ${run.status}`);
        }
      }),
    );
    const engineSecs = (performance.now() - t1) / 1000;
    const steps = RUNS * STEPS;
    console.log(`result    engine steps (durable): ${(steps / engineSecs).toFixed(0).padStart(6)} steps/s (${steps} steps in ${RUNS} runs, ${engineSecs.toFixed(2)} s; ${(RUNS / engineSecs).toFixed(0)} runs/s)`);
    console.log(`ratio     ${((steps / engineSecs) / (JOBS / agendaSecs)).toFixed(1)}× the job-per-step ceiling; goal ≥ 2000 steps/s`);
  } finally {
    await broker.stop();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
