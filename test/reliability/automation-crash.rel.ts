/**
 * Automation crash drill (`npm run test:reliability`): 1,000 runs of send_message → wait → send_message,
 * the process killed with SIGKILL while runs are mid-flight, a new process on the same database. Every
 * run must finish and the platform must hold exactly 2,000 messages, one per (fan, step).
 * See test/reliability/automation-crash/crash.ts and docs/automation.md.
 */
import { defineAutomationCrash } from "./automation-crash/crash";

jest.setTimeout(600_000);

defineAutomationCrash({ runs: 1000, killAtShare: 0.4, concurrency: 32, leaseMs: 10_000, drainTimeoutMs: 300_000 });
