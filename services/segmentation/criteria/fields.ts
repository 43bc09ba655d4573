/**
 * The fields criteria may name: a whitelist of fan columns (plus the derived `noActivityDays`) and
 * `attributes.<name>` for custom ones. Each field's kind decides which operators and values it accepts.
 */
import { FAN_PLATFORMS, SPENDING_LEVELS, SUBSCRIPTION_STATUSES } from "../schema";
import type { Op } from "./ast";

export type FieldKind = "string" | "enum" | "number" | "days" | "date" | "boolean" | "tags" | "attribute";

export interface FieldDef {
  name: string;
  kind: FieldKind;
  /** Allowed values of an enum field. */
  values?: readonly string[];
}

const FIELD_LIST: FieldDef[] = [
  { name: "id", kind: "string" },
  { name: "platform", kind: "enum", values: FAN_PLATFORMS },
  { name: "displayName", kind: "string" },
  { name: "subscriptionStatus", kind: "enum", values: SUBSCRIPTION_STATUSES },
  { name: "subscribedAt", kind: "date" },
  { name: "lastActiveAt", kind: "date" },
  { name: "lifetimeValue", kind: "number" },
  { name: "spendingLevel", kind: "enum", values: SPENDING_LEVELS },
  { name: "engagement", kind: "number" },
  { name: "tags", kind: "tags" },
  { name: "timezone", kind: "string" },
  { name: "consent", kind: "boolean" },
  { name: "createdAt", kind: "date" },
  { name: "noActivityDays", kind: "days" },
];

export const FIELDS: ReadonlyMap<string, FieldDef> = new Map(FIELD_LIST.map((f) => [f.name, f]));

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The seed's snake_case spellings (`no_activity_days`, `lifetime_value`, …) → canonical names. */
const ALIASES: ReadonlyMap<string, string> = new Map(FIELD_LIST.filter((f) => snake(f.name) !== f.name).map((f) => [snake(f.name), f.name]));

export const ATTRIBUTE_PREFIX = "attributes.";
/** Custom attribute names: plain identifiers, so a name can never smuggle JSON path syntax. */
const ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

export const OPS_BY_KIND: Record<FieldKind, readonly Op[]> = {
  string: ["eq", "neq", "in", "nin", "exists", "contains", "startsWith"],
  enum: ["eq", "neq", "in", "nin", "exists"],
  number: ["eq", "neq", "in", "nin", "exists", "gt", "gte", "lt", "lte", "between"],
  days: ["eq", "neq", "in", "nin", "exists", "gt", "gte", "lt", "lte", "between"],
  date: ["exists", "gt", "gte", "lt", "lte", "between", "withinLastDays", "olderThanDays"],
  boolean: ["eq", "neq", "exists"],
  tags: ["contains", "in", "nin", "exists"],
  attribute: ["eq", "neq", "in", "nin", "exists", "gt", "gte", "lt", "lte", "between", "contains", "startsWith"],
};

/** The field definition for a name as written by a client, or undefined when it is not allowed. */
export function resolveField(written: string): FieldDef | undefined {
  if (written.startsWith(ATTRIBUTE_PREFIX)) {
    const attr = written.slice(ATTRIBUTE_PREFIX.length);
    return ATTRIBUTE_NAME.test(attr) ? { name: written, kind: "attribute" } : undefined;
  }
  return FIELDS.get(ALIASES.get(written) ?? written);
}

export function attributeName(field: string): string {
  return field.slice(ATTRIBUTE_PREFIX.length);
}

export const FIELD_NAMES = [...FIELDS.keys()];
