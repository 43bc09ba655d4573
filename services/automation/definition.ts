/**
 * A workflow's definition: trigger, entry conditions, the action tree and its settings. `validateWorkflow`
 * checks everything a run will need (so runs never meet a malformed step) and names the bad path, e.g.
 * `actions[5].ifTrue.template`. The cursor helpers address steps in the tree for durable runs.
 */
import { parseDurationIn } from "../../lib/duration";
import { UnprocessableError, type FieldProblem } from "../../lib/errors";
import { compileExpression, conditionToExpression } from "./expressions";
import { cronProblems } from "./schedule";

export const ACTION_TYPES = [
  "wait",
  "send_message",
  "check_engagement",
  "create_campaign",
  "launch_campaign",
  "add_to_segment",
  "remove_from_segment",
  "update_fan",
  "webhook",
  "emit_event",
] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export interface Action {
  type: ActionType;
  [key: string]: unknown;
}
export type Condition = string | { field: string; operator: string; value: unknown };

export type Trigger =
  | { type: "event"; event: string; segment?: string }
  | { type: "behavior"; condition: string; every?: string }
  | { type: "time"; cron?: string; at?: string; timezone?: string };

export interface WorkflowSettings {
  /** Whether a fan may enter again after a run ended (default false: once per fan). */
  reentry?: boolean;
  /** Runs per fan over the workflow's life (with re-entry). */
  maxEntriesPerFan?: number;
  /** Messages per fan per period, counted across all the owner's workflows. */
  frequencyCap?: { messages: number; periodHours: number };
  /** Local hours (fan's time zone) when no message goes out: delivered at `end` instead. */
  quietHours?: { start: number; end: number };
  /** A run still going after this long is cancelled. */
  timeoutMinutes?: number;
}

export type Cursor = (number | string)[];

/** Canonical event names: the seed writes `fan.subscribed`, the bus says `segmentation.fan.subscribed`. */
const EVENT_ALIASES: Record<string, string> = {
  "fan.subscribed": "segmentation.fan.subscribed",
  "fan.unsubscribed": "segmentation.fan.unsubscribed",
  "fan.purchased": "segmentation.fan.purchased",
  "fan.active": "segmentation.fan.active",
  "segment.entered": "segmentation.segment.entered",
  "segment.exited": "segmentation.segment.exited",
  "campaign.launched": "campaigns.campaign.launched",
  "campaign.created": "campaigns.campaign.created",
  "campaign.completed": "campaigns.campaign.completed",
};
export function canonicalEvent(name: string): string {
  return EVENT_ALIASES[name] ?? name;
}

const WAIT_UNITS = new Map(Object.entries({ second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 604_800_000 }));
/** "5 minutes" → 300000; null when it does not read as a duration. */
export function parseDuration(text: unknown): number | null {
  return parseDurationIn(text, WAIT_UNITS);
}

const BRANCHES = ["ifTrue", "ifFalse"] as const;

/** A branch as written may be one action or a list; runs see a list. */
export function branchOf(action: Action, key: string): Action[] {
  const b = action[key];
  return b === undefined || b === null ? [] : Array.isArray(b) ? (b as Action[]) : [b as Action];
}

// ---- validation ---------------------------------------------------------------------------------

type Checker = (a: Record<string, unknown>, path: string, problems: FieldProblem[]) => void;
const str = (a: Record<string, unknown>, key: string, path: string, problems: FieldProblem[], optional = false) => {
  const v = a[key];
  if (v === undefined && optional) return;
  if (typeof v !== "string" || !v.trim() || v.length > 200) problems.push({ field: `${path}.${key}`, message: "must be a non-empty string (≤ 200 characters)", type: "string" });
};
const expr = (a: Record<string, unknown>, key: string, path: string, problems: FieldProblem[]) => {
  try {
    compileExpression(a[key] as string, `${path}.${key}`);
  } catch (err) {
    problems.push(...((err as UnprocessableError).data as FieldProblem[]));
  }
};

const ACTION_FIELDS: Record<ActionType, { allowed: string[]; check: Checker }> = {
  wait: {
    allowed: ["duration", "until"],
    check(a, path, problems) {
      if (a.until !== undefined) {
        if (typeof a.until !== "string" || Number.isNaN(Date.parse(a.until))) problems.push({ field: `${path}.until`, message: "must be an ISO date-time", type: "date" });
      } else if (parseDuration(a.duration) === null) {
        problems.push({ field: `${path}.duration`, message: 'must read like "5 minutes", "24 hours" or "3 days"', type: "duration" });
      }
    },
  },
  send_message: {
    allowed: ["template", "text", "personalize", "includeMedia", "includeOffer", "price", "platform"],
    check(a, path, problems) {
      if (a.template === undefined && a.text === undefined) problems.push({ field: `${path}.template`, message: "a template id or a text is required", type: "required" });
      str(a, "template", path, problems, true);
      if (a.text !== undefined && (typeof a.text !== "string" || !a.text || a.text.length > 5000)) problems.push({ field: `${path}.text`, message: "must be 1–5000 characters", type: "string" });
      if (a.price !== undefined && (typeof a.price !== "number" || a.price < 0)) problems.push({ field: `${path}.price`, message: "must be a non-negative number", type: "number" });
    },
  },
  check_engagement: {
    allowed: ["condition", "ifTrue", "ifFalse"],
    check(a, path, problems) {
      expr(a, "condition", path, problems);
      if (a.ifTrue === undefined && a.ifFalse === undefined) problems.push({ field: `${path}.ifTrue`, message: "give ifTrue, ifFalse or both", type: "required" });
    },
  },
  create_campaign: {
    allowed: ["template", "discount", "name", "variables", "platforms"],
    check(a, path, problems) {
      str(a, "template", path, problems);
      if (a.discount !== undefined && (typeof a.discount !== "number" || a.discount < 0 || a.discount > 0.9)) problems.push({ field: `${path}.discount`, message: "must be between 0 and 0.9", type: "number" });
    },
  },
  launch_campaign: { allowed: ["campaignId"], check: (a, path, problems) => str(a, "campaignId", path, problems, true) },
  add_to_segment: { allowed: ["segment"], check: (a, path, problems) => str(a, "segment", path, problems) },
  remove_from_segment: { allowed: ["segment"], check: (a, path, problems) => str(a, "segment", path, problems) },
  update_fan: {
    allowed: ["set"],
    check(a, path, problems) {
      const set = a.set as Record<string, unknown> | undefined;
      if (!set || typeof set !== "object" || Array.isArray(set) || !Object.keys(set).length) problems.push({ field: `${path}.set`, message: "an object of fan fields to set", type: "object" });
    },
  },
  webhook: {
    allowed: ["url", "secret", "body"],
    check(a, path, problems) {
      let ok = false;
      try {
        ok = ["http:", "https:"].includes(new URL(String(a.url)).protocol);
      } catch {
        ok = false;
      }
      if (!ok) problems.push({ field: `${path}.url`, message: "must be an http(s) URL", type: "url" });
      str(a, "secret", path, problems, true);
    },
  },
  emit_event: { allowed: ["event", "data"], check: (a, path, problems) => str(a, "event", path, problems) },
};

function validateActions(list: unknown, path: string, problems: FieldProblem[], depth: number): void {
  if (!Array.isArray(list) || !list.length) {
    problems.push({ field: path, message: "a non-empty list of actions", type: "array" });
    return;
  }
  if (list.length > 100) problems.push({ field: path, message: "at most 100 actions", type: "arrayMax" });
  list.forEach((raw, i) => validateAction(raw, `${path}[${i}]`, problems, depth));
}

function validateAction(raw: unknown, path: string, problems: FieldProblem[], depth: number): void {
  const a = raw as Record<string, unknown>;
  if (!a || typeof a !== "object" || Array.isArray(a)) return void problems.push({ field: path, message: "an action object", type: "object" });
  const spec = ACTION_FIELDS[a.type as ActionType];
  if (!spec) return void problems.push({ field: `${path}.type`, message: `unknown action type; one of ${ACTION_TYPES.join(", ")}`, type: "enumValue" });
  for (const key of Object.keys(a)) if (key !== "type" && !spec.allowed.includes(key)) problems.push({ field: `${path}.${key}`, message: "not a field of this action", type: "objectStrict" });
  spec.check(a, path, problems);
  if (a.type !== "check_engagement") return;
  if (depth >= 5) return void problems.push({ field: path, message: "branches nest at most 5 deep", type: "depth" });
  for (const key of BRANCHES) {
    const b = a[key];
    if (b === undefined) continue;
    if (Array.isArray(b)) validateActions(b, `${path}.${key}`, problems, depth + 1);
    else validateAction(b, `${path}.${key}`, problems, depth + 1);
  }
}

function validateTrigger(t: unknown, problems: FieldProblem[]): void {
  const trigger = t as Record<string, unknown>;
  if (!trigger || typeof trigger !== "object") return void problems.push({ field: "trigger", message: "an object with a type", type: "object" });
  const allowed: Record<string, string[]> = { event: ["event", "segment"], behavior: ["condition", "every"], time: ["cron", "at", "timezone"] };
  const keys = allowed[trigger.type as string];
  if (!keys) return void problems.push({ field: "trigger.type", message: "one of event, behavior, time", type: "enumValue" });
  for (const key of Object.keys(trigger)) if (key !== "type" && !keys.includes(key)) problems.push({ field: `trigger.${key}`, message: "not a field of this trigger", type: "objectStrict" });
  if (trigger.type === "event") str(trigger, "event", "trigger", problems);
  if (trigger.type === "behavior") expr(trigger, "condition", "trigger", problems);
  if (trigger.type === "time") {
    if (trigger.cron === undefined && trigger.at === undefined) problems.push({ field: "trigger.cron", message: "give cron or at", type: "required" });
    if (trigger.cron !== undefined && trigger.at !== undefined) problems.push({ field: "trigger.at", message: "give cron or at, not both", type: "forbidden" });
    if (trigger.at !== undefined && (typeof trigger.at !== "string" || Number.isNaN(Date.parse(trigger.at)))) problems.push({ field: "trigger.at", message: "must be an ISO date-time", type: "date" });
    if (trigger.cron !== undefined) problems.push(...cronProblems(trigger.cron, trigger.timezone));
    else if (trigger.timezone !== undefined) problems.push({ field: "trigger.timezone", message: "only with cron (an `at` carries its own offset)", type: "forbidden" });
  }
}

function validateSettings(s: unknown, problems: FieldProblem[]): void {
  if (s === undefined) return;
  const settings = s as WorkflowSettings & Record<string, unknown>;
  if (!settings || typeof settings !== "object") return void problems.push({ field: "settings", message: "an object", type: "object" });
  const known = ["reentry", "maxEntriesPerFan", "frequencyCap", "quietHours", "timeoutMinutes"];
  for (const key of Object.keys(settings)) if (!known.includes(key)) problems.push({ field: `settings.${key}`, message: "unknown setting", type: "objectStrict" });
  const posInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  if (settings.reentry !== undefined && typeof settings.reentry !== "boolean") problems.push({ field: "settings.reentry", message: "a boolean", type: "boolean" });
  if (settings.maxEntriesPerFan !== undefined && !posInt(settings.maxEntriesPerFan)) problems.push({ field: "settings.maxEntriesPerFan", message: "a positive integer", type: "number" });
  if (settings.timeoutMinutes !== undefined && !posInt(settings.timeoutMinutes)) problems.push({ field: "settings.timeoutMinutes", message: "a positive integer", type: "number" });
  const cap = settings.frequencyCap;
  if (cap !== undefined && (!posInt(cap?.messages) || !posInt(cap?.periodHours))) problems.push({ field: "settings.frequencyCap", message: "{messages, periodHours} positive integers", type: "object" });
  const q = settings.quietHours;
  const hour = (h: unknown) => Number.isInteger(h) && (h as number) >= 0 && (h as number) <= 23;
  if (q !== undefined && (!hour(q?.start) || !hour(q?.end) || q.start === q.end)) problems.push({ field: "settings.quietHours", message: "{start, end} distinct hours 0–23", type: "object" });
}

export interface WorkflowDefinition {
  trigger: Trigger;
  conditions: Condition[];
  actions: Action[];
  settings: WorkflowSettings;
}

/** Throws a 422 listing every problem, each with its path. */
export function validateWorkflow(def: { trigger?: unknown; conditions?: unknown; actions?: unknown; settings?: unknown }): void {
  const problems: FieldProblem[] = [];
  validateTrigger(def.trigger, problems);
  if (def.conditions !== undefined) {
    if (!Array.isArray(def.conditions)) problems.push({ field: "conditions", message: "a list", type: "array" });
    else
      def.conditions.forEach((c, i) => {
        try {
          compileExpression(conditionToExpression(c, `conditions[${i}]`), `conditions[${i}]`);
        } catch (err) {
          problems.push(...((err as UnprocessableError).data as FieldProblem[]));
        }
      });
  }
  validateActions(def.actions, "actions", problems, 0);
  validateSettings(def.settings, problems);
  if (problems.length) throw new UnprocessableError("The workflow definition is not valid", problems);
}

// ---- cursor navigation --------------------------------------------------------------------------

/** The action the cursor points at, or null past the end. */
export function actionAt(actions: Action[], cursor: Cursor): Action | null {
  let list = actions;
  let action: Action | null = null;
  for (let i = 0; i < cursor.length; i += 2) {
    action = list[cursor[i] as number] ?? null;
    if (!action) return null;
    if (i + 1 < cursor.length) list = branchOf(action, cursor[i + 1] as string);
  }
  return action;
}

/** `[5, "ifTrue", 0]` → `actions[5].ifTrue[0]`, the step's stable name (idempotency keys, errors). */
export function pathOf(cursor: Cursor): string {
  return "actions" + cursor.map((c) => (typeof c === "number" ? `[${c}]` : `.${c}`)).join("");
}

/** The step after the cursor's: the next sibling, else the step after the enclosing check; null at the end. */
export function advance(actions: Action[], cursor: Cursor): Cursor | null {
  const next = [...cursor];
  while (next.length) {
    next[next.length - 1] = (next[next.length - 1] as number) + 1;
    if (actionAt(actions, next)) return next;
    next.splice(-2, 2);
  }
  return null;
}

/** Into a branch of the check at `cursor`; an absent or empty branch continues after the check. */
export function enterBranch(actions: Action[], cursor: Cursor, branch: "ifTrue" | "ifFalse"): Cursor | null {
  const check = actionAt(actions, cursor)!;
  return branchOf(check, branch).length ? [...cursor, branch, 0] : advance(actions, cursor);
}

/** Every action in the tree (cycle detection looks at what a workflow emits). */
export function* allActions(actions: Action[]): Generator<Action> {
  for (const a of actions) {
    yield a;
    for (const key of BRANCHES) yield* allActions(branchOf(a, key));
  }
}
