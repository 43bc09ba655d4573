/**
 * The automation crash drill, small: 200 runs of send_message → wait → send_message on the real runner,
 * SIGKILL while runs are mid-flight, a new process on the same database; every run finishes and the
 * platform holds exactly 400 messages. The 1,000-run drill is test/reliability/automation-crash.rel.ts.
 */
import { defineAutomationCrash } from "../reliability/automation-crash/crash";

jest.setTimeout(180_000);

defineAutomationCrash({ runs: 200, killAtShare: 0.4, concurrency: 16, leaseMs: 5_000, drainTimeoutMs: 120_000 });
