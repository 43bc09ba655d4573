/**
 * What the seed workflows reference: the message templates (owners may edit their own copy) with
 * `{{variable}}` personalization, and the two seed workflows as installable workflow templates.
 */
import type { Action, Condition, Trigger, WorkflowSettings } from "./definition";

export interface MessageTemplate {
  id: string;
  name: string;
  text: string;
  mediaUrls: string[];
}

export const MESSAGE_TEMPLATES: readonly MessageTemplate[] = [
  { id: "welcome_message", name: "Welcome message", text: "Hi {{fanName}}, welcome! So happy you subscribed — check your inbox for something special soon.", mediaUrls: [] },
  { id: "content_showcase", name: "Content showcase", text: "{{fanName}}, here is a taste of what you can find on my page. Enjoy!", mediaUrls: ["https://cdn.example.com/showcase/preview.jpg"] },
  { id: "re_engagement", name: "Re-engagement", text: "Hey {{fanName}}, I haven't heard from you — anything you'd like to see more of?", mediaUrls: [] },
  { id: "we_miss_you", name: "We miss you", text: "{{fanName}}, we miss you! {{offer}}", mediaUrls: [] },
];

/** Variables a template may use, with the value shown by the test render when none is given. */
export const TEMPLATE_VARIABLES: Record<string, string> = {
  fanName: "there",
  offer: "",
  discountPercent: "",
  creatorName: "",
};

const PLACEHOLDER = /\{\{\s*([A-Za-z][A-Za-z0-9_]{0,40})\s*\}\}/g;

export function placeholders(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]))];
}

/** Fills `{{name}}`; an unknown or missing value renders as the variable's default, never as raw braces. */
export function renderTemplate(text: string, variables: Record<string, unknown>): string {
  return text
    .replace(PLACEHOLDER, (_, name: string) => {
      const v = variables[name];
      return v === undefined || v === null || v === "" ? (TEMPLATE_VARIABLES[name] ?? "") : String(v);
    })
    .replace(/\s+([!?.,])/g, "$1")
    .trim();
}

export interface WorkflowTemplate {
  id: string;
  name: string;
  description: string;
  trigger: Trigger;
  conditions: Condition[];
  actions: Action[];
  settings: WorkflowSettings;
}

/** The seed's two workflows, exactly as written there. */
export const WORKFLOW_TEMPLATES: readonly WorkflowTemplate[] = [
  {
    id: "welcome_series",
    name: "New Fan Welcome Series",
    description: "Welcome a new subscriber, show them your content a day later, and nudge them after three days if they have not engaged.",
    trigger: { type: "event", event: "fan.subscribed" },
    conditions: [],
    actions: [
      { type: "wait", duration: "5 minutes" },
      { type: "send_message", template: "welcome_message", personalize: true },
      { type: "wait", duration: "24 hours" },
      { type: "send_message", template: "content_showcase", includeMedia: true },
      { type: "wait", duration: "3 days" },
      { type: "check_engagement", condition: "engagement < 1", ifTrue: { type: "send_message", template: "re_engagement" } },
    ],
    settings: {},
  },
  {
    id: "win_back",
    name: "Win Back Inactive Fans",
    description: "Fans inactive for 14 days who are active subscribers worth at least 50 get a 25% comeback offer; non-engagers move to at_risk_fans.",
    trigger: { type: "behavior", condition: "no_activity_days >= 14" },
    conditions: [
      { field: "subscription_status", operator: "equals", value: "active" },
      { field: "lifetime_value", operator: ">=", value: 50 },
    ],
    actions: [
      { type: "create_campaign", template: "win_back_offer", discount: 0.25 },
      { type: "send_message", template: "we_miss_you", includeOffer: true },
      { type: "wait", duration: "7 days" },
      { type: "check_engagement", condition: "engagement > 0", ifFalse: { type: "add_to_segment", segment: "at_risk_fans" } },
    ],
    settings: {},
  },
];
