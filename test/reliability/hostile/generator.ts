/**
 * Hostile REST requests generated from the live OpenAPI document: every operation, every body field and
 * parameter, broken in every way a client (or an attacker) can break it.
 *
 * Each case says who sends it. Cases that are invalid by construction (wrong type, missing required
 * field, unknown field, malformed body, bad token …) are sent by owner A against A's real ids, so a
 * handler that writes before it validates shows up as a changed row. Cases whose hostile value may still
 * be valid (an SQL fragment is a legal campaign name) are sent by a third owner, whose rows the database
 * comparison leaves out — such a request may legitimately write, but only to its own rows.
 */
import { SignJWT } from "jose";
import { signToken } from "../../../lib/auth";
import { TEST_JWT_SECRET } from "../../helpers/env";

export type Sender = "owner" | "third" | "raw";

export interface HostileCase {
  category: string;
  method: string;
  /** Raw request target; may hold characters `fetch` would normalise away (`../`). */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Token the runner puts in `Authorization` (raw: the case set its own header, or none). */
  sender: Sender;
}

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  format?: string;
  default?: unknown;
  additionalProperties?: boolean | Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
  $ref?: string;
}

interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  required?: boolean;
  schema?: Schema;
}

interface Operation {
  operationId?: string;
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

/** Real ids of owner A's seeded rows, by path parameter name, so path-valid requests reach handlers. */
export type SeedIds = Record<string, string>;

const KB100 = "x".repeat(100 * 1024);
const SQL = ["'; DROP TABLE campaigns; --", "1 OR 1=1", "' OR '1'='1", "1; SELECT pg_sleep(5)--"];
const UNICODE = ["\u202e\u0000ǅ🤖\uFEFF", "ｃａｍｐａｉｇｎ", "\ud800"];
const OPERATORS: unknown[] = [{ $gt: "" }, { $ne: null }, { $where: "1==1" }];
const PROTO_KEYS = ["__proto__", "constructor", "prototype"];

function typesOf(schema: Schema): string[] {
  if (schema.type) return Array.isArray(schema.type) ? schema.type : [schema.type];
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives) return alternatives.flatMap(typesOf);
  if (schema.enum) return [typeof schema.enum[0]];
  return [];
}

/** A value of the schema's type (the first listed), valid where it is easy to be. */
export function sample(schema: Schema | undefined, depth = 0): unknown {
  if (!schema || depth > 6) return null;
  if (schema.enum?.length) return schema.enum[0];
  const type = typesOf(schema).find((t) => t !== "null") ?? "string";
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(schema.properties ?? {})) out[k] = sample(v, depth + 1);
      return out;
    }
    case "array": {
      const n = Math.max(schema.minItems ?? 1, 1);
      return Array.from({ length: n }, (_, i) => {
        const item = sample(schema.items, depth + 1);
        return typeof item === "string" ? `${item}${i}` : item;
      });
    }
    case "integer":
    case "number":
      return schema.minimum !== undefined ? Math.max(schema.minimum, 1) : 1;
    case "boolean":
      return true;
    default:
      if (schema.format === "uri") return "https://example.com/a.png";
      if (schema.format === "date-time") return "2030-01-01T00:00:00.000Z";
      if (schema.format === "email") return "a@example.com";
      return "x".repeat(Math.max(schema.minLength ?? 1, 1));
  }
}

/** Values surely not of any type the schema allows. */
function wrongTypes(schema: Schema): unknown[] {
  const allowed = new Set(typesOf(schema));
  if (allowed.size === 0) return [];
  const candidates: Array<[string, unknown]> = [
    ["string", "not-the-right-type"],
    ["number", 12345.678],
    ["boolean", true],
    ["object", { nested: 1 }],
    ["array", [1, "two", null]],
    ["null", null],
  ];
  return candidates
    .filter(([t]) => !allowed.has(t) && !(t === "number" && allowed.has("integer")))
    // `null` on a field with a default means "use the default" (fastest-validator), not a wrong type.
    .filter(([t]) => !(t === "null" && schema.default !== undefined))
    // Date fields also take epoch milliseconds (lib/validator.ts), so a number is not a wrong type there.
    .filter(([t]) => !(t === "number" && schema.format === "date-time"))
    .map(([, v]) => v);
}

interface Field {
  /** Where the field sits in the body: keys and array indexes. */
  at: Array<string | number>;
  schema: Schema;
  /** Required fields of the object that holds it, for "missing required" cases. */
  requiredInParent: boolean;
}

/** Every field of a body schema, nested objects and array items included (three levels deep). */
function fieldsOf(schema: Schema | undefined, at: Array<string | number> = [], depth = 0): Field[] {
  if (!schema || depth > 3) return [];
  const out: Field[] = [];
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const here = [...at, key];
    out.push({ at: here, schema: child, requiredInParent: (schema.required ?? []).includes(key) });
    out.push(...fieldsOf(child, here, depth + 1));
    if (child.items?.properties) out.push(...fieldsOf(child.items, [...here, 0], depth + 1));
  }
  return out;
}

/** A copy of `body` with the value at `at` replaced (or removed when `value` is REMOVE). */
const REMOVE = Symbol("remove");
function setAt(body: unknown, at: Array<string | number>, value: unknown): unknown {
  const copy = structuredClone(body) as Record<string | number, unknown>;
  let node = copy;
  for (const key of at.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== "object") return copy;
    node = node[key] as Record<string | number, unknown>;
  }
  const last = at[at.length - 1];
  if (value === REMOVE) delete node[last];
  else node[last] = value;
  return copy;
}

/** Values of the right type just past the schema's bounds (each surely invalid). */
function outOfRange(schema: Schema): unknown[] {
  const types = typesOf(schema);
  const out: unknown[] = [];
  if (types.includes("string") && !schema.enum && !schema.format) {
    if ((schema.minLength ?? 0) >= 1) out.push("");
    if (schema.maxLength !== undefined) out.push("z".repeat(schema.maxLength + 1));
  }
  if (types.some((t) => t === "number" || t === "integer")) {
    if (schema.minimum !== undefined) out.push(schema.minimum - 1, -Number.MAX_SAFE_INTEGER);
    if (schema.maximum !== undefined) out.push(schema.maximum + 1, Number.MAX_VALUE);
    if (types.includes("integer") && !types.includes("number")) out.push(1.5);
  }
  if (types.includes("array")) {
    const item = sample(schema.items);
    if (schema.maxItems !== undefined) out.push(Array.from({ length: schema.maxItems + 1 }, (_, i) => (typeof item === "string" ? `${item}${i}` : item)));
    if ((schema.minItems ?? 0) >= 1) out.push([]);
    if (schema.items && !typesOf(schema.items).includes("null")) out.push([null]);
  }
  return out;
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

const JSON_HEADERS = { "content-type": "application/json" };

/** A JSON document nested `levels` deep, built as text (JSON.stringify would recurse that deep itself). */
function deepJson(levels: number): Buffer {
  return Buffer.from(`{"a":${"[".repeat(levels)}1${"]".repeat(levels)}}`);
}

export function fillPath(template: string, ids: SeedIds, override?: { name: string; value: string }): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) =>
    override && override.name === name ? override.value : encodeURIComponent(ids[name] ?? ids.id ?? "unknown"),
  );
}

/** Hostile values for one path parameter, already in request-target form (some deliberately raw). */
const PATH_VALUES: Array<[string, string]> = [
  ["huge", "a".repeat(10_000)],
  ["dotdot", "..%2F..%2Fetc%2Fpasswd"],
  ["dotdot-raw", "../../etc/passwd"],
  ["nul", "abc%00def"],
  ["unicode", encodeURIComponent("ǅ🤖\u202e名前")],
  ["bad-percent", "%E0%A4%A"],
  ["lone-surrogate", "%ED%A0%80"],
  ["sql", encodeURIComponent("1 OR 1=1")],
  ["sql-drop", encodeURIComponent("'; DROP TABLE campaigns; --")],
  ["operator", encodeURIComponent('{"$gt":""}')],
  ["proto", "__proto__"],
  ["empty-ish", "%20"],
  ["dotdot", "%2e%2e"],
  ["dotdot", "..;"],
  ["crlf", "a%0d%0aSet-Cookie:%20x=1"],
  ["slash", "a%2Fb"],
  ["numeric", "-1"],
  ["numeric", "9".repeat(40)],
  ["keyword", "null"],
  ["keyword", "undefined"],
  ["json", "%7B%7D"],
  ["json", "%5B%5D"],
  ["unicode", "%C0%AE%C0%AE"],
  ["unicode", encodeURIComponent("\u0000")],
];

export function generateCases(doc: OpenApiDocument, idsFor: (route: string) => SeedIds): HostileCase[] {
  const cases: HostileCase[] = [];
  const add = (c: Omit<HostileCase, "headers"> & { headers?: Record<string, string> }) =>
    cases.push({ headers: {}, ...c });

  for (const [template, methods] of Object.entries(doc.paths)) {
    for (const [lower, op] of Object.entries(methods)) {
      const method = lower.toUpperCase();
      const ids = idsFor(template);
      const path = fillPath(template, ids);
      const params = op.parameters ?? [];
      const bodySchema = op.requestBody?.content?.["application/json"]?.schema;
      const props = Object.entries(bodySchema?.properties ?? {});
      const base = bodySchema ? (sample(bodySchema) as Record<string, unknown>) : undefined;
      const withBody = (category: string, body: unknown, sender: Sender = "owner") =>
        add({ category, method, path, body: json(body), headers: { ...JSON_HEADERS }, sender });

      // --- body: invalid by construction, sent by the owner of the ids in the path
      if (base) {
        for (const { at, schema, requiredInParent } of fieldsOf(bodySchema)) {
          const set = (value: unknown) => setAt(base, at, value);
          for (const wrong of wrongTypes(schema)) withBody("body:wrong-type", set(wrong));
          // An object is a legal value of an object field (`content`), so only there may the request succeed.
          const objectOk = typesOf(schema).includes("object") || typesOf(schema).length === 0;
          for (const op of OPERATORS) withBody("body:operator-object", set(op), objectOk ? "third" : "owner");
          if (typesOf(schema).includes("string") && (schema.maxLength ?? Infinity) < KB100.length) withBody("body:huge-string", set(KB100));
          if (typesOf(schema).includes("array") && (schema.maxItems ?? Infinity) < 10_000) {
            withBody("body:huge-array", set(Array.from({ length: 10_000 }, (_, i) => sample(schema.items) ?? i)));
          }
          if (typesOf(schema).includes("string") && schema.enum) withBody("body:bad-enum", set("not-in-enum"));
          if (typesOf(schema).some((t) => t === "number" || t === "integer")) {
            for (const n of [-1e308, 1e308, "NaN", "1e400"]) withBody("body:bad-number", set(n), "third");
          }
          if (requiredInParent) withBody("body:missing-required", set(REMOVE));
          for (const value of outOfRange(schema)) withBody("body:out-of-range", set(value));
        }
        if (bodySchema?.additionalProperties === false) {
          withBody("body:unknown-field", { ...base, unexpectedField: 1 });
          withBody("body:unknown-field", { ...base, $where: "1" });
        }
        for (const key of PROTO_KEYS) {
          add({ category: "body:proto-key", method, path, body: Buffer.from(`{"${key}":{"isAdmin":true,"role":"owner"}}`), headers: { ...JSON_HEADERS }, sender: "owner" });
          // Inside every field (an object field holds it; any other field is then also the wrong type).
          for (const [field] of props.length ? props : [["x"]]) {
            add({ category: "body:proto-key", method, path, body: Buffer.from(`{"${field}":{"${key}":{"polluted":true}}}`), headers: { ...JSON_HEADERS }, sender: "owner" });
          }
        }
        withBody("body:top-level-type", [base]);
        withBody("body:top-level-type", "a string");
        withBody("body:top-level-type", 42);
        withBody("body:top-level-type", null);
      }

      // Every route gets the body-shaped attacks, with or without a declared body: a route without one
      // must ignore or refuse them, never fail.
      const bodyTarget = base ?? {};
      add({ category: "body:deep-nesting", method, path, body: deepJson(1000), headers: { ...JSON_HEADERS }, sender: "owner" });
      add({ category: "body:deep-nesting", method, path, body: Buffer.from(`${"[".repeat(100_000)}${"]".repeat(100_000)}`), headers: { ...JSON_HEADERS }, sender: "owner" });
      add({ category: "body:malformed-json", method, path, body: Buffer.from('{"name": "x",'), headers: { ...JSON_HEADERS }, sender: "owner" });
      add({ category: "body:malformed-json", method, path, body: Buffer.from("{'single': 'quotes'}"), headers: { ...JSON_HEADERS }, sender: "owner" });
      add({ category: "body:malformed-json", method, path, body: Buffer.from("NaN"), headers: { ...JSON_HEADERS }, sender: "owner" });
      add({
        category: "body:bad-utf8",
        method,
        path,
        body: Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xff, 0xfe, 0xed, 0xa0, 0x80]), Buffer.from('"}')]),
        headers: { ...JSON_HEADERS },
        // Decoded with replacement characters this is valid JSON, and may be a valid request.
        sender: "third",
      });
      // UTF-16 with a BOM is legal JSON ("{}" here): the request may be valid.
      add({ category: "body:bad-utf8", method, path, body: Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]), headers: { "content-type": "application/json; charset=utf-16" }, sender: "third" });
      add({ category: "body:bad-utf8", method, path, body: json(bodyTarget), headers: { "content-type": "application/json; charset=klingon" }, sender: "owner" });
      add({ category: "body:oversized", method, path, body: Buffer.alloc(2 * 1024 * 1024, 0x61), headers: { ...JSON_HEADERS }, sender: "owner" });
      add({ category: "body:oversized", method, path, body: json({ ...bodyTarget, blob: "y".repeat(2 * 1024 * 1024) }), headers: { ...JSON_HEADERS }, sender: "owner" });
      add({ category: "body:wrong-content-type", method, path, body: json(bodyTarget), headers: { "content-type": "text/plain" }, sender: "third" });
      add({ category: "body:wrong-content-type", method, path, body: Buffer.from("name=x&type=ppv"), headers: { "content-type": "application/x-www-form-urlencoded" }, sender: "third" });
      add({ category: "body:wrong-content-type", method, path, body: Buffer.from("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--"), headers: { "content-type": "multipart/form-data; boundary=b" }, sender: "third" });
      add({ category: "body:wrong-content-type", method, path, body: Buffer.from([0x1f, 0x8b, 0x08, 0x00]), headers: { ...JSON_HEADERS, "content-encoding": "gzip" }, sender: "owner" });
      add({ category: "body:wrong-content-type", method, path, body: json(bodyTarget), headers: { ...JSON_HEADERS, "content-encoding": "br;q=lol" }, sender: "owner" });

      // --- body: hostile values that may be valid → third owner (its own rows are not compared)
      if (base) {
        for (const { at, schema } of fieldsOf(bodySchema)) {
          if (!typesOf(schema).includes("string") || schema.enum) continue;
          for (const text of [...SQL, ...UNICODE]) withBody("body:sql-unicode", setAt(base, at, text), "third");
          if ((schema.maxLength ?? Infinity) >= KB100.length) withBody("body:huge-string", setAt(base, at, KB100), "third");
        }
      }

      // --- path parameters
      for (const p of params.filter((x) => x.in === "path")) {
        for (const [kind, value] of PATH_VALUES) {
          const target = fillPath(template, ids, { name: p.name, value });
          add({ category: `path:${kind}`, method, path: target, body: base ? json(base) : undefined, headers: base ? { ...JSON_HEADERS } : {}, sender: "third" });
        }
      }

      // --- query strings (only reads and writes by the third owner: a valid query on a write route may act)
      const querySender: Sender = method === "GET" ? "owner" : "third";
      const queryParams = params.filter((x) => x.in === "query");
      for (const q of queryParams) {
        const isArray = typesOf(q.schema ?? {}).includes("array");
        const variants: Array<[string, string]> = [
          ["query:array-for-scalar", `${q.name}=1&${q.name}=2&${q.name}[]=3`],
          ["query:bracket-object", `${q.name}[$gt]=&${q.name}[__proto__][x]=1`],
          ["query:sql", `${q.name}=${encodeURIComponent(SQL[0])}`],
          ["query:sql", `${q.name}=${encodeURIComponent(SQL[1])}`],
          ["query:huge", `${q.name}=${"q".repeat(20_000)}`],
          ["query:nul-unicode", `${q.name}=a%00b%ED%A0%80%F0%9F`],
          ["query:nul-unicode", `${q.name}=%F0%9F%A4%96%E2%80%AE%EF%BB%BF`],
          ["query:sql", `${q.name}=${encodeURIComponent(SQL[2])}`],
          ["query:operator", `${q.name}=${encodeURIComponent('{"$gt":""}')}`],
          ["query:wrong-type", `${q.name}=-99999999999999999999999&x=1`],
          ["query:wrong-type", `${q.name}=`],
          ["query:many", Array.from({ length: 2000 }, (_, i) => `${q.name}=${i}`).join("&")],
        ];
        if (isArray) variants.push(["query:array-overflow", Array.from({ length: 500 }, () => `${q.name}=zzz`).join("&")]);
        for (const [category, qs] of variants) add({ category, method, path: `${path}?${qs}`, sender: querySender });
      }
      // Query parameters no route declares, on every route: must be refused or ignored, never obeyed.
      for (const qs of ["limit=abc&cursor=%00", `cursor=${Buffer.from('{"id":"\' OR 1=1"}').toString("base64url")}`, "q[$regex]=.*&id=other", "fields=*&include=secrets"]) {
        add({ category: "query:undeclared", method, path: `${path}?${qs}`, sender: querySender });
      }
      add({ category: "query:proto", method, path: `${path}?__proto__[admin]=1&constructor[prototype][x]=1`, sender: querySender });
      add({ category: "query:unknown", method, path: `${path}?ownerId=${encodeURIComponent(ids.otherOwner ?? "b")}&owner_id=x&user[id]=x`, sender: querySender });

      // Generic prototype-pollution bodies on every route, with or without a declared body.
      for (const text of ['{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}']) {
        add({ category: "body:proto-key", method, path, body: Buffer.from(text), headers: { ...JSON_HEADERS }, sender: "owner" });
      }

      // --- authentication: never reaches a handler, so any sender
      if (template.startsWith("/api/") && template !== "/api/openapi.json") {
        for (const [kind, header] of AUTH_VARIANTS) {
          add({ category: `auth:${kind}`, method, path, body: base ? json(base) : undefined, headers: { ...(base ? JSON_HEADERS : {}), ...(header ? { authorization: header } : {}) }, sender: "raw" });
        }
      }
    }
  }
  // Methods a path does not declare: no route, so never a write (sent by the third owner all the same).
  for (const [template, methods] of Object.entries(doc.paths)) {
    const path = fillPath(template, idsFor(template));
    for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]) {
      if (method.toLowerCase() in methods) continue;
      add({ category: "method:undeclared", method, path, body: Buffer.from("{}"), headers: { ...JSON_HEADERS }, sender: "third" });
    }
  }
  return cases;
}

/** Filled by `prepareAuthVariants` before generating (tokens are async to sign). */
let AUTH_VARIANTS: Array<[string, string | undefined]> = [];

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

export async function prepareAuthVariants(ownerId: string): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: ownerId, iss: "creator-marketing", iat: now, exp: now + 3600, role: "owner", team: null };
  const other = new TextEncoder().encode("another-secret-another-secret-another-secret!!");
  const secret = new TextEncoder().encode(TEST_JWT_SECRET);
  const expired = await signToken(TEST_JWT_SECRET, { id: ownerId }, now - 60);
  const foreign = await new SignJWT({ role: "owner" }).setProtectedHeader({ alg: "HS256" }).setSubject(ownerId).setIssuer("creator-marketing").setExpirationTime("1h").sign(other);
  const unknownRole = await new SignJWT({ role: "superuser" }).setProtectedHeader({ alg: "HS256" }).setSubject(ownerId).setIssuer("creator-marketing").setExpirationTime("1h").sign(secret);
  const noSubject = await new SignJWT({ role: "owner" }).setProtectedHeader({ alg: "HS256" }).setIssuer("creator-marketing").setExpirationTime("1h").sign(secret);
  const objectRole = await new SignJWT({ role: { $ne: null }, team: ["t"] }).setProtectedHeader({ alg: "HS256" }).setSubject(ownerId).setIssuer("creator-marketing").setExpirationTime("1h").sign(secret);
  const hs512 = await new SignJWT({ role: "owner" }).setProtectedHeader({ alg: "HS512" }).setSubject(ownerId).setIssuer("creator-marketing").setExpirationTime("1h").sign(secret);
  const wrongIssuer = await new SignJWT({ role: "owner" }).setProtectedHeader({ alg: "HS256" }).setSubject(ownerId).setIssuer("someone-else").setExpirationTime("1h").sign(secret);
  const notYetValid = await new SignJWT({ role: "owner" }).setProtectedHeader({ alg: "HS256" }).setSubject(ownerId).setIssuer("creator-marketing").setNotBefore("1h").setExpirationTime("2h").sign(secret);
  // A valid token of this owner with the payload swapped for an admin role: the signature no longer fits.
  const valid = await signToken(TEST_JWT_SECRET, { id: ownerId, role: "viewer" });
  const [header, , signature] = valid.split(".");
  const tampered = `${header}.${b64url({ ...claims, role: "admin" })}.${signature}`;
  const algNone = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims)}.`;
  AUTH_VARIANTS = [
    ["none", undefined],
    ["garbage", "Bearer garbage.garbage.garbage"],
    ["garbage", "Bearer " + "A".repeat(8000)],
    ["malformed-header", "Basic dXNlcjpwYXNz"],
    ["malformed-header", "Bearer"],
    ["expired", `Bearer ${expired}`],
    ["alg-none", `Bearer ${algNone}`],
    ["alg-none", `Bearer ${b64url({ alg: "None" })}.${b64url(claims)}.c2ln`],
    ["other-secret", `Bearer ${foreign}`],
    ["other-alg", `Bearer ${hs512}`],
    ["unknown-role", `Bearer ${unknownRole}`],
    ["unknown-role", `Bearer ${objectRole}`],
    ["no-subject", `Bearer ${noSubject}`],
    ["wrong-issuer", `Bearer ${wrongIssuer}`],
    ["not-yet-valid", `Bearer ${notYetValid}`],
    ["tampered", `Bearer ${tampered}`],
    ["garbage", `Bearer ${expired}.extra`],
    ["malformed-header", `Bearer a, Bearer b`],
  ];
}
