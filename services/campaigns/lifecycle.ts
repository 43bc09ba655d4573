/**
 * The campaign state machine. Every status change goes through `TRANSITIONS`; stores apply them with a
 * conditional UPDATE on the allowed source states, so two racing requests cannot both win.
 */
import { ConflictError } from "../../lib/errors";
import type { CampaignStatus } from "./schema";

export type LifecycleAction = "schedule" | "launch" | "pause" | "resume" | "complete" | "cancel";

export const TRANSITIONS: Record<LifecycleAction, { from: readonly CampaignStatus[]; to: CampaignStatus }> = {
  schedule: { from: ["draft", "scheduled"], to: "scheduled" },
  launch: { from: ["draft", "scheduled"], to: "active" },
  pause: { from: ["active"], to: "paused" },
  resume: { from: ["paused"], to: "active" },
  complete: { from: ["active", "paused"], to: "completed" },
  cancel: { from: ["draft", "scheduled", "active", "paused"], to: "cancelled" },
};

export function allowedActions(status: CampaignStatus): LifecycleAction[] {
  return (Object.keys(TRANSITIONS) as LifecycleAction[]).filter((a) => TRANSITIONS[a].from.includes(status));
}

/** 409 naming the current state and what may be done from it. */
export function illegalTransition(action: LifecycleAction, status: CampaignStatus): ConflictError {
  const allowed = allowedActions(status);
  return new ConflictError(
    `Cannot ${action} a ${status} campaign; from ${status} you may: ${allowed.length ? allowed.join(", ") : "nothing (final state)"}`,
    { action, currentStatus: status, allowedActions: allowed, allowedFrom: TRANSITIONS[action].from },
    "INVALID_TRANSITION",
  );
}

export function assertTransition(action: LifecycleAction, status: CampaignStatus): void {
  if (!TRANSITIONS[action].from.includes(status)) throw illegalTransition(action, status);
}
