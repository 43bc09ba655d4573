/** Tables owned by the automation service. Only `services/automation/store.ts` queries them. */
import { boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import type { Action, Condition, Trigger, WorkflowSettings } from "./definition";

export const WORKFLOW_STATUSES = ["active", "paused", "archived"] as const;
export type WorkflowStatus = (typeof WORKFLOW_STATUSES)[number];

/** running: a worker holds its lease; waiting: parked at `wakeAt`; the rest are final. */
export const RUN_STATUSES = ["running", "waiting", "success", "failure", "partial", "cancelled"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/** The design's Automation. */
export const automations = pgTable(
  "automations",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull(),
    teamId: text("team_id"),
    name: text("name").notNull(),
    description: text("description"),
    status: text("status").$type<WorkflowStatus>().notNull().default("paused"),
    trigger: jsonb("trigger").$type<Trigger>().notNull(),
    /** Denormalized `trigger.event` (canonical name) so bus events find their workflows by index. */
    triggerEvent: text("trigger_event"),
    conditions: jsonb("conditions").$type<Condition[]>().notNull().default([]),
    actions: jsonb("actions").$type<Action[]>().notNull(),
    settings: jsonb("settings").$type<WorkflowSettings>().notNull().default({}),
    /** Dynamic segment segmentation keeps for a behaviour trigger (its criteria are the trigger condition). */
    behaviorSegmentId: text("behavior_segment_id"),
    executionCount: integer("execution_count").notNull().default(0),
    successCount: integer("success_count").notNull().default(0),
    failureCount: integer("failure_count").notNull().default(0),
    lastExecutedAt: ts("last_executed_at"),
    templateId: text("template_id"),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    index("automations_owner_created_idx").on(t.ownerId, t.createdAt, t.id),
    index("automations_team_idx").on(t.teamId),
    index("automations_trigger_idx").on(t.status, t.triggerEvent),
  ],
);

export interface StepRecord {
  path: string;
  type: string;
  status: "success" | "failure" | "skipped" | "simulated" | "deferred";
  input?: unknown;
  output?: unknown;
  error?: string;
  attempts: number;
  startedAt: string;
  durationMs: number;
}

export interface RunError {
  path: string;
  message: string;
  at: string;
}

/** The design's AutomationExecution, plus the cursor that makes it durable and resumable. */
export const automationRuns = pgTable(
  "automation_runs",
  {
    id: text("id").primaryKey(),
    automationId: text("automation_id").notNull(),
    ownerId: text("owner_id").notNull(),
    teamId: text("team_id"),
    fanId: text("fan_id"),
    status: text("status").$type<RunStatus>().notNull(),
    testMode: boolean("test_mode").notNull().default(false),
    triggerData: jsonb("trigger_data").$type<Record<string, unknown>>().notNull().default({}),
    /** Values steps hand to later steps (e.g. the campaign `create_campaign` made). */
    context: jsonb("context").$type<Record<string, unknown>>().notNull().default({}),
    /** Position of the next step in the action tree, e.g. [5, "ifTrue", 0]; null once finished. */
    cursor: jsonb("cursor").$type<(number | string)[] | null>(),
    executedActions: jsonb("executed_actions").$type<StepRecord[]>().notNull().default([]),
    errors: jsonb("errors").$type<RunError[]>().notNull().default([]),
    wakeAt: ts("wake_at"),
    /** A worker owns a running run until then; after that the sweep may resume it (crashed worker). */
    leaseUntil: ts("lease_until"),
    deadlineAt: ts("deadline_at"),
    startedAt: ts("started_at").notNull(),
    completedAt: ts("completed_at"),
    duration: integer("duration"),
  },
  (t) => [
    index("automation_runs_automation_idx").on(t.automationId, t.startedAt, t.id),
    index("automation_runs_fan_idx").on(t.automationId, t.fanId),
    index("automation_runs_due_idx").on(t.status, t.wakeAt),
    index("automation_runs_owner_started_idx").on(t.ownerId, t.startedAt),
  ],
);

/** One row per message a run sent (or will send): frequency caps count these across workflows. */
export const automationSends = pgTable(
  "automation_sends",
  {
    runId: text("run_id").notNull(),
    stepPath: text("step_path").notNull(),
    ownerId: text("owner_id").notNull(),
    fanId: text("fan_id").notNull(),
    sentAt: ts("sent_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.stepPath] }), index("automation_sends_fan_idx").on(t.ownerId, t.fanId, t.sentAt)],
);

/** An owner's edited copy of a message template (the system ones live in code). */
export const automationMessageTemplates = pgTable(
  "automation_message_templates",
  {
    ownerId: text("owner_id").notNull(),
    teamId: text("team_id"),
    id: text("id").notNull(),
    name: text("name").notNull(),
    text: text("text").notNull(),
    mediaUrls: jsonb("media_urls").$type<string[]>().notNull().default([]),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.ownerId, t.id] })],
);

export type AutomationRow = typeof automations.$inferSelect;
export type RunRow = typeof automationRuns.$inferSelect;
export type MessageTemplateRow = typeof automationMessageTemplates.$inferSelect;
