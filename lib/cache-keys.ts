/**
 * Cache keys for actions' `cache: { keys }` (the broker's cacher `keygen`): `<action>:<part>|<part>|…`,
 * one part per listed key, in the order listed, so cleaning patterns such as `analytics.*:<campaignId>|**`
 * find every entry of a campaign or owner.
 *
 * Moleculer's default key is ambiguous: it quotes strings (so such patterns never matched on Redis, and
 * entries were not cleaned) and writes objects as `key|value|key|value`, so the object
 * `{ 'field|"tier"|op': "eq", value: "vip" }` got the key of `{ field: "tier", op: "eq", value: "vip" }`
 * and a cached answer for good criteria could answer bad ones. Here every part is unambiguous: strings
 * appear as themselves (with `%`, `|` and `~` escaped), every other value is tagged with `~`, and objects
 * and long strings are hashed.
 */
import crypto from "node:crypto";

/** Longer string values are hashed, keeping keys short (ids stay readable for cleaning patterns). */
const MAX_PART_CHARS = 200;

function hash(text: string): string {
  return crypto.createHash("sha256").update(text).digest("base64url");
}

/** One value as a key part; distinct values give distinct parts. */
export function cacheKeyPart(value: unknown): string {
  if (typeof value === "string") {
    const escaped = value.replace(/[%|~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    return escaped.length <= MAX_PART_CHARS ? escaped : `~s${hash(value)}`;
  }
  if (value === undefined) return "~u";
  if (value === null) return "~0";
  if (typeof value === "number") return `~#${value}`;
  if (typeof value === "boolean") return value ? "~b1" : "~b0";
  if (typeof value === "bigint") return `~i${value}`;
  if (value instanceof Date) return `~d${value.getTime()}`;
  return `~j${hash(JSON.stringify(value) ?? "")}`;
}

/** `#a.b` reads ctx.meta, `@a` ctx.headers, anything else ctx.params (dot paths), as Moleculer's keys do. */
function lookup(key: string, ctx: { params?: unknown; meta?: unknown; headers?: unknown }): unknown {
  const [source, path] = key.startsWith("#") ? [ctx.meta, key.slice(1)] : key.startsWith("@") ? [ctx.headers, key.slice(1)] : [ctx.params, key];
  let value = source;
  for (const name of path.split(".")) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[name];
  }
  return value;
}

/** The cacher's `keygen`: the listed keys, or all params when an action lists none. */
export function cacheKey(action: { name?: string }, opts: { keys?: string[] } | undefined, ctx: { params?: unknown; meta?: unknown; headers?: unknown }): string {
  return opts?.keys?.length ? keyOf(action.name ?? "", ...opts.keys.map((key) => lookup(key, ctx))) : keyOf(action.name ?? "", ctx.params);
}

/** A key in the same shape, for entries a service caches itself (`cachedRead`). */
export function keyOf(action: string, ...values: unknown[]): string {
  return `${action}:${values.map(cacheKeyPart).join("|")}`;
}

/**
 * Backslash-escapes what either cacher's matcher would read as syntax: Moleculer's memory cacher turns a
 * pattern into a regular expression without escaping anything (a bare `|` was "or": `campaigns.*:<id>|**`
 * matched, and cleaned, every entry of every service), the Redis cacher hands it to SCAN as a glob. `*` and
 * `?` stay wildcards (the memory cacher rewrites them even when escaped), so a value holding them cleans a
 * little more than its own entries, never less.
 */
function literal(text: string): string {
  return text.replace(/[\\^$.+()[\]{}|]/g, "\\$&");
}

/**
 * The cleaning pattern for every entry of the service's actions whose key begins with these values, in key
 * order; a value `"*"` stands for any one part: `cleanPattern("analytics", "*", teamId)`. (The `.*` after the
 * service also keeps the memory cacher off its `startsWith` shortcut, which would take the escapes literally.)
 */
export function cleanPattern(service: string, ...values: string[]): string {
  return `${service}.*:${values.map((v) => (v === "*" ? "*" : literal(cacheKeyPart(v)))).join("\\|")}\\|**`;
}
