/**
 * fastest-validator rules → JSON Schema 2020-12 (the schema dialect of OpenAPI 3.1).
 *
 * Input is what the service registry holds for an action's `params`. For actions of remote nodes that
 * went through the JSON serializer, so RegExp patterns arrive as `{}` and function defaults are gone:
 * both are only used when they are real, and locally they are treated the same way (a function default
 * is computed per call, and a pattern with flags has no JSON Schema equivalent) so that one action is
 * documented the same whichever node the gateway learned it from.
 */
import Validator from "fastest-validator";

export type JsonSchema = Record<string, unknown>;

/** A rule in its object form, e.g. `{ type: "string", min: 3, optional: true }`. */
export type Rule = Record<string, unknown> & { type: string };

/** The fields of a params object (meta `$$` keys removed) and whether unknown fields are rejected. */
export interface ParamFields {
  fields: Record<string, Rule>;
  strict: boolean;
}

// Only used for its shorthand parser ("string|min:3|optional", "number[]"), so the rules read exactly
// as the validator that checks them reads them.
const shorthandParser = new Validator() as unknown as { parseShortHand(source: string): Rule };

// fastest-validator's own patterns for the string rule's format flags.
const STRING_FORMAT_PATTERNS: Record<string, RegExp> = {
  numeric: /^-?[0-9]\d*(\.\d+)?$/,
  alpha: /^[a-zA-Z]+$/,
  alphanum: /^[a-zA-Z0-9]+$/,
  alphadash: /^[a-zA-Z0-9_-]+$/,
  hex: /^[0-9a-fA-F]+$/,
  base64: /^(?:[A-Za-z0-9+\\/]{4})*(?:[A-Za-z0-9+\\/]{2}==|[A-Za-z0-9+/]{3}=)?$/,
};

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof RegExp);
}

function isMetaKey(key: string): boolean {
  return key.startsWith("$$");
}

/** Any spelling fastest-validator accepts for one rule → its object form; undefined if it is no rule. */
export function normalizeRule(raw: unknown): Rule | undefined {
  if (typeof raw === "string") return shorthandParser.parseShortHand(raw);
  if (Array.isArray(raw)) {
    const rules = raw.map(normalizeRule).filter((r): r is Rule => r !== undefined);
    // An array of alternatives is optional only when every alternative is (as the validator decides).
    return { type: "multi", rules, ...(rules.length > 0 && rules.every((r) => r.optional === true) ? { optional: true } : {}) };
  }
  if (!isPlainObject(raw)) return undefined;
  if (typeof raw.$$type === "string") {
    // `{ $$type: "object|optional", a: "string" }`: the other keys are the object's properties.
    const { $$type, ...props } = raw;
    return { ...shorthandParser.parseShortHand($$type as string), props };
  }
  return typeof raw.type === "string" ? (raw as Rule) : undefined;
}

/** The rule's value may be left out: optional, defaulted (the validator fills it in) or forbidden. */
export function isRequiredRule(rule: Rule): boolean {
  return rule.optional !== true && !hasDefault(rule) && rule.type !== "forbidden";
}

// A function default still makes the field optional (the validator computes it), but has no JSON value.
function hasDefault(rule: Rule): boolean {
  return rule.default !== undefined && rule.default !== null;
}

function jsonDefault(rule: Rule): { default?: unknown } {
  return hasDefault(rule) && typeof rule.default !== "function" ? { default: rule.default } : {};
}

/** An action's `params` (or an object rule's props) split into normalized fields and strictness. */
export function paramFields(params: unknown): ParamFields {
  if (!isPlainObject(params)) return { fields: {}, strict: false };
  if (params.$$root === true) {
    // The whole params object is one rule; only an object rule has fields a REST request can carry.
    const { $$root: _root, ...rest } = params;
    const rule = normalizeRule(rest);
    const props = rule?.props ?? rule?.properties;
    return rule?.type === "object" && isPlainObject(props) ? { ...paramFields(props), strict: rejectsUnknown(rule.strict) } : { fields: {}, strict: false };
  }
  const fields: Record<string, Rule> = {};
  for (const [key, raw] of Object.entries(params)) {
    if (isMetaKey(key)) continue;
    const rule = normalizeRule(raw);
    if (rule) fields[key] = rule;
  }
  return { fields, strict: rejectsUnknown(params.$$strict) };
}

// `strict: "remove"` drops unknown fields silently, so they are still allowed in.
function rejectsUnknown(strict: unknown): boolean {
  return strict === true || strict === "error";
}

/** Object schema for a set of fields; forbidden fields are left out (sending them is an error). */
export function objectSchemaOf({ fields, strict }: ParamFields): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, rule] of Object.entries(fields)) {
    if (rule.type === "forbidden") continue;
    properties[name] = ruleToSchema(rule);
    if (isRequiredRule(rule)) required.push(name);
  }
  return {
    type: "object",
    properties,
    ...(required.length > 0 ? { required } : {}),
    ...(strict ? { additionalProperties: false } : {}),
  };
}

/** One rule (any spelling) → JSON Schema, including `nullable` and `default`. */
export function ruleToSchema(raw: unknown): JsonSchema {
  const rule = normalizeRule(raw);
  if (!rule) return {};
  const converter = CONVERTERS[rule.type];
  // Rules that check in code what JSON cannot say (custom, class, function, ...) accept any value here.
  const schema = converter ? converter(rule) : {};
  return { ...(rule.nullable === true ? allowNull(schema) : schema), ...jsonDefault(rule) };
}

/** Adds `null` to the accepted values without losing the schema's other constraints. */
export function allowNull(schema: JsonSchema): JsonSchema {
  if (Object.keys(schema).length === 0) return schema;
  const out: JsonSchema = { ...schema };
  if (typeof out.type === "string") out.type = [out.type, "null"];
  else if (Array.isArray(out.type) && !out.type.includes("null")) out.type = [...out.type, "null"];
  // `enum`/`const` restrict the values themselves, so null has to be listed there too.
  if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  if ("const" in out) {
    out.enum = [out.const, null];
    delete out.const;
  }
  if (out.type !== undefined || out.enum !== undefined) return out;
  if (Array.isArray(out.anyOf)) return { ...out, anyOf: [...out.anyOf, { type: "null" }] };
  return { anyOf: [schema, { type: "null" }] };
}

type Converter = (rule: Rule) => JsonSchema;

const CONVERTERS: Record<string, Converter> = {
  string: stringSchema,
  number: numberSchema,
  boolean: () => ({ type: "boolean" }),
  // JSON carries dates as strings; with `convert` the validator parses them (ISO 8601 is the contract).
  date: () => ({ type: "string", format: "date-time" }),
  url: (rule) => ({ type: "string", format: "uri", ...nonEmptyString(rule) }),
  email: (rule) => ({ type: "string", format: "email", ...lengthBounds(rule, "minLength", "maxLength"), ...nonEmptyString(rule) }),
  uuid: () => ({ type: "string", format: "uuid" }),
  enum: (rule) => enumSchema(Array.isArray(rule.values) ? rule.values : []),
  array: arraySchema,
  tuple: tupleSchema,
  object: objectRuleSchema,
  record: recordSchema,
  multi: (rule) => ({ anyOf: (Array.isArray(rule.rules) ? rule.rules : []).map((r) => ruleToSchema(r)) }),
  any: () => ({}),
  equal: equalSchema,
  forbidden: () => ({ not: {} }),
};

function lengthBounds(rule: Rule, minKey: string, maxKey: string): JsonSchema {
  if (typeof rule.length === "number") return { [minKey]: rule.length, [maxKey]: rule.length };
  return {
    ...(typeof rule.min === "number" ? { [minKey]: rule.min } : {}),
    ...(typeof rule.max === "number" ? { [maxKey]: rule.max } : {}),
  };
}

// `empty: false` rejects "" even when no `min` is given.
function nonEmptyString(rule: Rule): JsonSchema {
  if (rule.empty !== false) return {};
  const min = typeof rule.length === "number" ? rule.length : typeof rule.min === "number" ? rule.min : 0;
  return { minLength: Math.max(min, 1) };
}

function stringSchema(rule: Rule): JsonSchema {
  const patterns = stringPatterns(rule);
  return {
    type: "string",
    ...lengthBounds(rule, "minLength", "maxLength"),
    ...nonEmptyString(rule),
    ...(patterns.length === 1 ? { pattern: patterns[0] } : {}),
    // Several patterns must all match; JSON Schema has one `pattern` per schema.
    ...(patterns.length > 1 ? { allOf: patterns.map((pattern) => ({ pattern })) } : {}),
    ...(Array.isArray(rule.enum) ? { enum: rule.enum } : {}),
  };
}

function stringPatterns(rule: Rule): string[] {
  const patterns: string[] = [];
  const explicit = explicitPattern(rule.pattern, rule.patternFlags);
  if (explicit !== undefined) patterns.push(explicit);
  for (const [flag, pattern] of Object.entries(STRING_FORMAT_PATTERNS)) {
    if (rule[flag] === true) patterns.push(pattern.source);
  }
  if (typeof rule.contains === "string") patterns.push(escapeRegExp(rule.contains));
  return patterns;
}

/**
 * A pattern JSON Schema can state: a RegExp or string without flags (JSON Schema regexes have none, and
 * "u" is implied). A pattern with other flags (e.g. "i") would make the document stricter than the
 * validator, and a pattern serialized away by a remote node (`{}`) is unknown: both are left out.
 */
function explicitPattern(pattern: unknown, flags: unknown): string | undefined {
  if (pattern instanceof RegExp) return onlyUnicodeFlag(pattern.flags) ? pattern.source : undefined;
  if (typeof pattern === "string") return flags === undefined || onlyUnicodeFlag(String(flags)) ? pattern : undefined;
  return undefined;
}

function onlyUnicodeFlag(flags: string): boolean {
  return flags === "" || flags === "u";
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function numberSchema(rule: Rule): JsonSchema {
  return {
    type: rule.integer === true ? "integer" : "number",
    ...(typeof rule.min === "number" ? { minimum: rule.min } : {}),
    ...(typeof rule.max === "number" ? { maximum: rule.max } : {}),
    ...(rule.positive === true ? { exclusiveMinimum: 0 } : {}),
    ...(rule.negative === true ? { exclusiveMaximum: 0 } : {}),
    ...(typeof rule.equal === "number" ? { const: rule.equal } : {}),
    ...(typeof rule.notEqual === "number" ? { not: { const: rule.notEqual } } : {}),
  };
}

function enumSchema(values: unknown[]): JsonSchema {
  const kinds = new Set(values.map((v) => typeof v));
  const single = kinds.size === 1 ? [...kinds][0] : undefined;
  // A `type` next to `enum` is redundant for validation but lets tools pick the right widget/type.
  const type = single === "string" || single === "boolean" ? single : single === "number" ? "number" : undefined;
  return { ...(type ? { type } : {}), enum: values };
}

function arraySchema(rule: Rule): JsonSchema {
  const itemSchema = rule.items !== undefined ? ruleToSchema(rule.items) : undefined;
  // The array rule's `enum` limits every item to those values.
  const items = Array.isArray(rule.enum) ? { ...itemSchema, enum: rule.enum } : itemSchema;
  const bounds = lengthBounds(rule, "minItems", "maxItems");
  // `empty: false` rejects [] even when no `min` is given.
  if (rule.empty === false && !((bounds.minItems as number) >= 1)) bounds.minItems = 1;
  return {
    type: "array",
    ...(items !== undefined ? { items } : {}),
    ...bounds,
    ...(rule.unique === true ? { uniqueItems: true } : {}),
    ...(rule.contains !== undefined ? { contains: { const: rule.contains } } : {}),
  };
}

function tupleSchema(rule: Rule): JsonSchema {
  if (!Array.isArray(rule.items)) return { type: "array" };
  // The validator wants exactly one value per listed rule.
  return { type: "array", prefixItems: rule.items.map((r) => ruleToSchema(r)), items: false, minItems: rule.items.length };
}

function objectRuleSchema(rule: Rule): JsonSchema {
  const props = rule.props ?? rule.properties;
  const base = isPlainObject(props) ? objectSchemaOf({ ...paramFields(props), strict: rejectsUnknown(rule.strict) }) : { type: "object" };
  return {
    ...base,
    ...(typeof rule.minProps === "number" ? { minProperties: rule.minProps } : {}),
    ...(typeof rule.maxProps === "number" ? { maxProperties: rule.maxProps } : {}),
  };
}

function recordSchema(rule: Rule): JsonSchema {
  return {
    type: "object",
    ...(rule.key !== undefined ? { propertyNames: ruleToSchema(rule.key) } : {}),
    ...(rule.value !== undefined ? { additionalProperties: ruleToSchema(rule.value) } : {}),
  };
}

function equalSchema(rule: Rule): JsonSchema {
  // Equality with another field of the same object is a cross-field check JSON Schema cannot state.
  if (typeof rule.field === "string") return { description: `Must equal the \`${rule.field}\` field.` };
  return "value" in rule ? { const: rule.value } : {};
}
