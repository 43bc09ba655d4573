/**
 * When time triggers fire. A `cron` trigger fires at each occurrence of its expression in its time zone;
 * an `at` trigger fires once. Each fire has a key — (workflow, scheduled time) — from which its run id is
 * derived, so a fire processed twice (a job retried after a crash, the sweep and the job racing) starts
 * one run.
 */
import crypto from "node:crypto";
import { CronExpressionParser } from "cron-parser";
import type { FieldProblem } from "../../lib/errors";

export interface TimeTrigger {
  type: "time";
  cron?: string;
  at?: string;
  timezone?: string;
}

const FIELDS = 5;

/** Problems with a cron expression and time zone (empty when they are fine), named as `trigger.*`. */
export function cronProblems(cron: unknown, timezone: unknown): FieldProblem[] {
  if (timezone !== undefined && !isTimeZone(timezone)) return [{ field: "trigger.timezone", message: 'an IANA time zone such as "Europe/Berlin"', type: "timezone" }];
  const bad = { field: "trigger.cron", message: "a cron expression of 5 fields: minute hour day-of-month month day-of-week (e.g. \"0 9 * * 1\")", type: "cron" };
  if (typeof cron !== "string" || cron.length > 200 || cron.trim().split(/\s+/).length !== FIELDS) return [bad];
  try {
    // Parsing checks each field's range; next() refuses expressions that never match (30 February).
    CronExpressionParser.parse(cron, { tz: (timezone as string | undefined) ?? "UTC" }).next();
    return [];
  } catch (err) {
    return [{ ...bad, message: `${bad.message}: ${(err as Error).message}` }];
  }
}

function isTimeZone(tz: unknown): boolean {
  if (typeof tz !== "string" || !tz || tz.length > 100) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The first fire strictly after `after`, or null when there is none (an `at` in the past). */
export function nextFire(trigger: TimeTrigger, after: Date): Date | null {
  if (trigger.cron) return CronExpressionParser.parse(trigger.cron, { tz: trigger.timezone ?? "UTC", currentDate: after }).next().toDate();
  const at = trigger.at ? new Date(trigger.at) : null;
  return at && at > after ? at : null;
}

/** The first fire a newly activated trigger waits for: the next cron occurrence, or `at` even when past. */
export function firstFire(trigger: TimeTrigger, now: Date): Date | null {
  if (trigger.cron) return nextFire(trigger, now);
  return trigger.at ? new Date(trigger.at) : null;
}

/** Whether the trigger (as it is now) fires at `at`; a job made for an older definition does not. */
export function firesAt(trigger: TimeTrigger, at: Date): boolean {
  if (trigger.cron) return nextFire(trigger, new Date(at.getTime() - 1))?.getTime() === at.getTime();
  return Boolean(trigger.at) && new Date(trigger.at!).getTime() === at.getTime();
}

/** The run id of a fire: the same (workflow, scheduled time) always names the same run. */
export function fireRunId(workflowId: string, scheduledAt: Date): string {
  return `run_${crypto.createHash("sha256").update(`${workflowId}|${scheduledAt.toISOString()}`).digest("base64url").slice(0, 16)}`;
}
