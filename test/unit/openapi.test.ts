/**
 * lib/openapi: the OpenAPI 3.1 document generated from the service registry.
 *
 * Small test services cover every fastest-validator rule the converter knows, the `rest` spellings,
 * visibility, permissions and responses; each generated schema is compared exactly. The same services
 * are then announced by remote nodes (in-process Fake transporter) to check what survives the registry's
 * JSON round trip, and the real campaigns service is announced the same way (it never starts, so it needs
 * no database). Every document also passes a structural check (responses, path params, $refs).
 */
import fs from "node:fs";
import path from "node:path";
import { ServiceBroker, type ServiceSchema } from "moleculer";
import { buildOpenApi } from "../../lib/openapi";
import { allowNull, paramFields, ruleToSchema } from "../../lib/openapi/json-schema";
import { uniqueOperationId } from "../../lib/openapi/operations";
import CampaignsService from "../../services/campaigns.service";

type Json = Record<string, any>;

const noop = () => null;

/** Every rule type, as the body of `shapes.create`. */
const createParams = {
  $$strict: true,
  name: { type: "string", min: 3, max: 50, trim: true },
  code: { type: "string", length: 6, pattern: /^[A-Z0-9]+$/ },
  slug: { type: "string", pattern: "^[a-z-]+$", empty: false },
  caseless: { type: "string", pattern: /^ab$/i, optional: true },
  color: { type: "string", enum: ["red", "green"] },
  digits: { type: "string", numeric: true, optional: true },
  note: "string|max:200|optional",
  count: { type: "number", integer: true, min: 0, max: 10 },
  ratio: { type: "number", positive: true, optional: true },
  offset: { type: "number", negative: true, notEqual: -1, optional: true },
  active: "boolean|default:true",
  startsAt: { type: "date", convert: true },
  homepage: { type: "url", optional: true },
  contact: { type: "email", max: 100 },
  ref: { type: "uuid", optional: true },
  kind: { type: "enum", values: ["a", "b"] },
  labels: { type: "array", items: "string|min:1", min: 1, max: 5, unique: true, optional: true },
  scores: "number[]|optional",
  dims: { type: "object", strict: true, props: { w: "number", h: { type: "number", optional: true } }, optional: true },
  meta: { type: "object", minProps: 1, maxProps: 10, optional: true },
  loose: { type: "object", strict: "remove", props: { a: "string" }, optional: true },
  weights: { type: "record", key: { type: "string", max: 20 }, value: { type: "number", min: 0 }, optional: true },
  either: { type: "multi", rules: [{ type: "string" }, { type: "number" }] },
  alt: ["string|optional", "boolean|optional"],
  anything: { type: "any", optional: true },
  agree: { type: "equal", value: true, strict: true },
  repeat: { type: "equal", field: "name", optional: true },
  legacy: { type: "forbidden" },
  description: { type: "string", optional: true, nullable: true },
  category: { type: "enum", values: ["x", "y"], optional: true, nullable: true },
  priority: { type: "number", default: 5 },
  token: { type: "string", default: () => "generated" },
  pair: { type: "tuple", items: ["string", "number"], optional: true },
  checked: { type: "custom", optional: true, check: (value: unknown) => value },
  nested: { $$type: "object|optional", x: "number", y: "number|optional" },
};

const EXPECTED_CREATE_PROPERTIES: Record<string, Json> = {
  name: { type: "string", minLength: 3, maxLength: 50 },
  code: { type: "string", minLength: 6, maxLength: 6, pattern: "^[A-Z0-9]+$" },
  slug: { type: "string", minLength: 1, pattern: "^[a-z-]+$" },
  caseless: { type: "string" },
  color: { type: "string", enum: ["red", "green"] },
  digits: { type: "string", pattern: "^-?[0-9]\\d*(\\.\\d+)?$" },
  note: { type: "string", maxLength: 200 },
  count: { type: "integer", minimum: 0, maximum: 10 },
  ratio: { type: "number", exclusiveMinimum: 0 },
  offset: { type: "number", exclusiveMaximum: 0, not: { const: -1 } },
  active: { type: "boolean", default: true },
  startsAt: { type: "string", format: "date-time" },
  homepage: { type: "string", format: "uri" },
  contact: { type: "string", format: "email", maxLength: 100 },
  ref: { type: "string", format: "uuid" },
  kind: { type: "string", enum: ["a", "b"] },
  labels: { type: "array", items: { type: "string", minLength: 1 }, minItems: 1, maxItems: 5, uniqueItems: true },
  scores: { type: "array", items: { type: "number" } },
  dims: { type: "object", properties: { w: { type: "number" }, h: { type: "number" } }, required: ["w"], additionalProperties: false },
  meta: { type: "object", minProperties: 1, maxProperties: 10 },
  loose: { type: "object", properties: { a: { type: "string" } }, required: ["a"] },
  weights: { type: "object", propertyNames: { type: "string", maxLength: 20 }, additionalProperties: { type: "number", minimum: 0 } },
  either: { anyOf: [{ type: "string" }, { type: "number" }] },
  alt: { anyOf: [{ type: "string" }, { type: "boolean" }] },
  anything: {},
  agree: { const: true },
  repeat: { description: "Must equal the `name` field." },
  description: { type: ["string", "null"] },
  category: { type: ["string", "null"], enum: ["x", "y", null] },
  priority: { type: "number", default: 5 },
  token: { type: "string" },
  pair: { type: "array", prefixItems: [{ type: "string" }, { type: "number" }], items: false, minItems: 2 },
  checked: {},
  nested: { type: "object", properties: { x: { type: "number" }, y: { type: "number" } }, required: ["x"] },
};

// Not optional, no default, not forbidden (`legacy` is left out of the properties altogether).
const EXPECTED_CREATE_REQUIRED = ["name", "code", "slug", "color", "count", "startsAt", "contact", "kind", "either", "agree"];

const ShapesService: ServiceSchema = {
  name: "shapes",
  settings: { rest: "/" },
  actions: {
    create: {
      rest: "POST /shapes",
      permission: "write",
      params: createParams,
      openapi: {
        summary: "Create a shape",
        description: "Shapes are drawn later.",
        tags: ["shapes"],
        status: 201,
        response: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
      },
      handler: noop,
    },
    list: {
      rest: "GET /shapes",
      params: {
        $$strict: true,
        kind: { type: "array", items: { type: "enum", values: ["a", "b"] }, convert: true, optional: true },
        limit: { type: "number", integer: true, min: 1, max: 100, convert: true, default: 20 },
        q: "string|optional",
        since: { type: "date", convert: true },
        filter: { type: "record", value: "string", optional: true },
      },
      openapi: { summary: "List shapes", tags: ["shapes"] },
      handler: noop,
    },
    get: {
      rest: "GET /shapes/:id",
      params: { id: { type: "number", integer: true, positive: true, convert: true } },
      openapi: { summary: "Get a shape", tags: ["shapes"] },
      handler: noop,
    },
    update: {
      rest: ["PUT /shapes/:id", "PATCH /shapes/:id"],
      permission: "manage",
      params: { $$strict: true, id: "string|min:1", name: { type: "string", optional: true, nullable: true } },
      openapi: { tags: ["shapes"] },
      handler: noop,
    },
    remove: { rest: "DELETE /shapes/:id", permission: "write", params: { id: "string" }, openapi: { tags: ["shapes"] }, handler: noop },
    purge: { rest: "DELETE /shapes", permission: "write", openapi: { tags: ["shapes"], status: 204 }, handler: noop },
    export: {
      rest: { method: "GET", path: "/shapes/export" },
      permission: "analytics",
      openapi: { tags: ["shapes"], response: { contentType: "text/csv" } },
      handler: noop,
    },
    ping: { rest: "GET /ping", permission: false, openapi: { tags: ["shapes"] }, handler: noop },
    // Not routed by the gateway, so not documented.
    announced: { visibility: "public", rest: "GET /announced", handler: noop },
    internal: { visibility: "protected", rest: "GET /internal", handler: noop },
    hidden: { visibility: "private", rest: "GET /hidden", handler: noop },
    plain: { handler: noop },
  },
};

/** Versioned and without `settings.rest`: routes under the service's full name. */
const WidgetsService: ServiceSchema = {
  name: "widgets",
  version: 2,
  actions: {
    list: { rest: "GET /", handler: noop },
    touch: { rest: "/touch", permission: false, handler: noop },
    bulk: {
      rest: { method: "POST" },
      params: { $$root: true, type: "object", strict: "remove", props: { ids: "string[]" } },
      handler: noop,
    },
    show: { rest: "GET /items/:slug", handler: noop },
    report: { rest: "GET /report", openapi: { response: { contentType: "application/pdf" } }, handler: noop },
  },
};

const TEST_SERVICES = [ShapesService, WidgetsService];

const EXPECTED_OPERATIONS = [
  "GET /api/openapi.json openapi",
  "GET /api/ping shapes.ping",
  "GET /api/shapes shapes.list",
  "POST /api/shapes shapes.create",
  "DELETE /api/shapes shapes.purge",
  "GET /api/shapes/export shapes.export",
  "GET /api/shapes/{id} shapes.get",
  "PUT /api/shapes/{id} shapes.update",
  "DELETE /api/shapes/{id} shapes.remove",
  "PATCH /api/shapes/{id} shapes.update.patch",
  "GET /api/v2/widgets v2.widgets.list",
  "POST /api/v2/widgets/bulk v2.widgets.bulk",
  "GET /api/v2/widgets/items/{slug} v2.widgets.show",
  "GET /api/v2/widgets/report v2.widgets.report",
  "GET /api/v2/widgets/touch v2.widgets.touch",
  "PUT /api/v2/widgets/touch v2.widgets.touch.put",
  "POST /api/v2/widgets/touch v2.widgets.touch.post",
  "DELETE /api/v2/widgets/touch v2.widgets.touch.delete",
  "PATCH /api/v2/widgets/touch v2.widgets.touch.patch",
  "GET /health/live health.live",
  "GET /health/ready health.ready",
  "GET /metrics metrics",
];

const err = (name: string) => ({ $ref: `#/components/responses/${name}` });
const COMMON_ERRORS = { "401": err("Unauthorized"), "429": err("TooManyRequests"), "503": err("ServiceUnavailable"), default: err("UnexpectedError") };
const BODY_ERRORS = { "400": err("BadRequest"), "413": err("PayloadTooLarge") };

function operationList(doc: Json): string[] {
  return Object.entries(doc.paths as Json).flatMap(([p, item]) =>
    Object.entries(item as Json).map(([method, op]) => `${method.toUpperCase()} ${p} ${op.operationId}`),
  );
}

function bodySchema(op: Json): Json {
  return op.requestBody.content["application/json"].schema;
}

/** A JSON pointer (`#/components/schemas/Error`) inside the document, or undefined. */
function resolveRef(doc: Json, ref: string): unknown {
  if (!ref.startsWith("#/")) return undefined;
  return ref
    .slice(2)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce<unknown>((node, key) => (node && typeof node === "object" ? (node as Json)[key] : undefined), doc);
}

function collectRefs(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => collectRefs(n, found));
  else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string") found.push(value);
      else collectRefs(value, found);
    }
  }
  return found;
}

/** Structural problems of an OpenAPI 3.1 document; empty when it is sound. */
function structuralProblems(doc: Json): string[] {
  const problems: string[] = [];
  if (doc.openapi !== "3.1.0") problems.push(`openapi is ${doc.openapi}`);
  if (!doc.info?.title || !doc.info?.version) problems.push("info needs title and version");
  for (const ref of collectRefs(doc)) if (resolveRef(doc, ref) === undefined) problems.push(`unresolved $ref ${ref}`);
  const schemes = Object.keys(doc.components?.securitySchemes ?? {});
  const requirements = [...(doc.security ?? []), ...Object.values(doc.paths ?? {}).flatMap((item: any) => Object.values(item).flatMap((op: any) => op.security ?? []))];
  for (const req of requirements) for (const name of Object.keys(req)) if (!schemes.includes(name)) problems.push(`unknown security scheme ${name}`);
  const operationIds = new Set<string>();
  for (const [p, item] of Object.entries((doc.paths ?? {}) as Json)) {
    if (!p.startsWith("/")) problems.push(`path ${p} must start with /`);
    const templated = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
    for (const [method, op] of Object.entries(item as Json)) {
      const where = `${method.toUpperCase()} ${p}`;
      if (!op.operationId) problems.push(`${where}: no operationId`);
      else if (operationIds.has(op.operationId)) problems.push(`${where}: duplicate operationId ${op.operationId}`);
      else operationIds.add(op.operationId);
      const responses = Object.entries((op.responses ?? {}) as Json);
      if (responses.length === 0) problems.push(`${where}: no responses`);
      for (const [status, response] of responses) {
        if (!/^([1-5][0-9X]{2}|default)$/.test(status)) problems.push(`${where}: bad status ${status}`);
        if (!response.$ref && typeof response.description !== "string") problems.push(`${where} ${status}: no description`);
      }
      const parameters: Json[] = op.parameters ?? [];
      const keys = parameters.map((prm) => `${prm.in}:${prm.name}`);
      if (new Set(keys).size !== keys.length) problems.push(`${where}: duplicate parameters`);
      const declared = parameters.filter((prm) => prm.in === "path");
      if (JSON.stringify(declared.map((prm) => prm.name).sort()) !== JSON.stringify(templated)) {
        problems.push(`${where}: path parameters ${declared.map((prm) => prm.name)} do not match the template`);
      }
      for (const prm of declared) if (prm.required !== true) problems.push(`${where}: path parameter ${prm.name} not required`);
      for (const prm of parameters) if (!prm.schema) problems.push(`${where}: parameter ${prm.name} has no schema`);
      if (op.requestBody && !op.requestBody.content) problems.push(`${where}: requestBody without content`);
    }
  }
  return problems;
}

const packageVersion = JSON.parse(fs.readFileSync(path.join(__dirname, "../../package.json"), "utf8")).version;

describe("structural check", () => {
  test("finds the problems it looks for", () => {
    const broken = {
      openapi: "3.0.0",
      info: { title: "x" },
      security: [{ apiKey: [] }],
      components: { securitySchemes: {} },
      paths: {
        "/a/{id}": { get: { operationId: "a", responses: {}, parameters: [{ name: "other", in: "path", required: false, schema: {} }] } },
        "/b": { post: { operationId: "a", responses: { "200": { $ref: "#/components/responses/Nope" } } } },
      },
    };
    expect(structuralProblems(broken)).toEqual([
      "openapi is 3.0.0",
      "info needs title and version",
      "unresolved $ref #/components/responses/Nope",
      "unknown security scheme apiKey",
      "GET /a/{id}: no responses",
      "GET /a/{id}: path parameters other do not match the template",
      "GET /a/{id}: path parameter other not required",
      "POST /b: duplicate operationId a",
    ]);
  });
});

describe("buildOpenApi on local services", () => {
  const broker = new ServiceBroker({ logger: false });
  let doc: Json;

  beforeAll(async () => {
    TEST_SERVICES.forEach((schema) => broker.createService(schema));
    await broker.start();
    doc = buildOpenApi(broker) as Json;
  });
  afterAll(() => broker.stop());

  test("is structurally sound", () => {
    expect(structuralProblems(doc)).toEqual([]);
  });

  test("document header: version, servers, global bearer security, tags", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info).toEqual({ title: "Creator marketing API", version: packageVersion });
    expect(doc.servers).toEqual([{ url: "/" }]);
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.components.securitySchemes).toEqual({
      bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: expect.any(String) },
    });
    expect(doc.tags).toEqual([{ name: "shapes" }, { name: "system" }, { name: "widgets" }]);
  });

  test("documents exactly the published actions with `rest`, plus the gateway's own endpoints", () => {
    expect(operationList(doc)).toEqual(EXPECTED_OPERATIONS);
  });

  test.each(Object.entries(EXPECTED_CREATE_PROPERTIES))("rule %s → JSON Schema", (field, expected) => {
    expect(bodySchema(doc.paths["/api/shapes"].post).properties[field]).toEqual(expected);
  });

  test("body: every rule a property except forbidden ones, required list, $$strict → additionalProperties false", () => {
    const op = doc.paths["/api/shapes"].post;
    const schema = bodySchema(op);
    expect(Object.keys(schema.properties).sort()).toEqual(Object.keys(EXPECTED_CREATE_PROPERTIES).sort());
    expect(schema.required).toEqual(EXPECTED_CREATE_REQUIRED);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.type).toBe("object");
    expect(op.requestBody.required).toBe(true);
    expect(op.parameters).toBeUndefined();
  });

  test("create: summary, description with the role permission, tags, 201 with the documented schema, errors", () => {
    const op = doc.paths["/api/shapes"].post;
    expect(op.summary).toBe("Create a shape");
    expect(op.description).toBe("Shapes are drawn later.\n\nRequires role with `write` permission (owner, admin, editor).");
    expect(op.tags).toEqual(["shapes"]);
    expect(op.security).toBeUndefined();
    expect(op.responses).toEqual({
      "201": {
        description: "Created.",
        content: { "application/json": { schema: { type: "object", properties: { id: { type: "string" } }, required: ["id"] } } },
      },
      ...BODY_ERRORS,
      ...COMMON_ERRORS,
      "403": err("Forbidden"),
      "422": err("ValidationFailed"),
    });
  });

  test("GET: the params are query parameters, arrays as form/explode, records as deepObject", () => {
    const op = doc.paths["/api/shapes"].get;
    expect(op.requestBody).toBeUndefined();
    expect(op.parameters).toEqual([
      {
        name: "kind",
        in: "query",
        required: false,
        schema: { type: "array", items: { type: "string", enum: ["a", "b"] } },
        style: "form",
        explode: true,
      },
      { name: "limit", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 100, default: 20 } },
      { name: "q", in: "query", required: false, schema: { type: "string" } },
      { name: "since", in: "query", required: true, schema: { type: "string", format: "date-time" } },
      {
        name: "filter",
        in: "query",
        required: false,
        schema: { type: "object", additionalProperties: { type: "string" } },
        style: "deepObject",
        explode: true,
      },
    ]);
    // Default permission is read, which every role has: no 403.
    expect(op.description).toBe("Requires role with `read` permission (owner, admin, editor, analyst, viewer).");
    expect(op.responses).toEqual({
      "200": { description: "OK.", content: { "application/json": { schema: { type: "object" } } } },
      ...COMMON_ERRORS,
      "422": err("ValidationFailed"),
    });
  });

  test("path parameters are required and typed from params; routes with them document 404", () => {
    const op = doc.paths["/api/shapes/{id}"].get;
    expect(op.parameters).toEqual([{ name: "id", in: "path", required: true, schema: { type: "integer", exclusiveMinimum: 0 } }]);
    expect(Object.keys(op.responses).sort()).toEqual(["200", "401", "404", "422", "429", "503", "default"]);
    // Untyped by params: a string.
    expect(doc.paths["/api/v2/widgets/items/{slug}"].get.parameters).toEqual([{ name: "slug", in: "path", required: true, schema: { type: "string" } }]);
  });

  test("PUT and PATCH of one action: suffixed operationId, path param out of the optional body", () => {
    const put = doc.paths["/api/shapes/{id}"].put;
    const patch = doc.paths["/api/shapes/{id}"].patch;
    expect([put.operationId, patch.operationId]).toEqual(["shapes.update", "shapes.update.patch"]);
    for (const op of [put, patch]) {
      expect(op.parameters).toEqual([{ name: "id", in: "path", required: true, schema: { type: "string", minLength: 1 } }]);
      expect(op.requestBody).toEqual({
        required: false,
        content: {
          "application/json": { schema: { type: "object", properties: { name: { type: ["string", "null"] } }, additionalProperties: false } },
        },
      });
      expect(op.description).toBe("Requires role with `manage` permission (owner, admin).");
      expect(op.responses).toEqual({
        "200": { description: "OK.", content: { "application/json": { schema: { type: "object" } } } },
        ...BODY_ERRORS,
        ...COMMON_ERRORS,
        "403": err("Forbidden"),
        "404": err("NotFound"),
        "422": err("ValidationFailed"),
      });
    }
  });

  test("DELETE: params in the path/query, 204 without content", () => {
    expect(doc.paths["/api/shapes/{id}"].delete.requestBody).toBeUndefined();
    expect(doc.paths["/api/shapes"].delete.responses).toEqual({ "204": { description: "No content." }, ...COMMON_ERRORS, "403": err("Forbidden") });
  });

  test("downloads: text as a string, other types as opaque content", () => {
    const csv = doc.paths["/api/shapes/export"].get;
    expect(csv.responses["200"]).toEqual({ description: "OK.", content: { "text/csv": { schema: { type: "string" } } } });
    expect(csv.description).toBe("Requires role with `analytics` permission (owner, admin, editor, analyst).");
    expect(csv.responses["403"]).toEqual(err("Forbidden"));
    expect(doc.paths["/api/v2/widgets/report"].get.responses["200"]).toEqual({ description: "OK.", content: { "application/pdf": {} } });
  });

  test("a public action (`permission: false`) has no role note and no 403, but the /api route still authenticates", () => {
    const op = doc.paths["/api/ping"].get;
    expect(op.description).toBeUndefined();
    expect(op.parameters).toBeUndefined();
    expect(op.responses).toEqual({ "200": { description: "OK.", content: { "application/json": { schema: { type: "object" } } } }, ...COMMON_ERRORS });
  });

  test("`rest` without a method: every JSON method; without tags: the service name", () => {
    const touch = doc.paths["/api/v2/widgets/touch"];
    expect(Object.keys(touch)).toEqual(["get", "put", "post", "delete", "patch"]);
    expect(touch.get.tags).toEqual(["widgets"]);
  });

  test("object `rest` without a path uses the action name; `$$root` params with strict remove", () => {
    const op = doc.paths["/api/v2/widgets/bulk"].post;
    expect(op.requestBody).toEqual({
      required: true,
      content: {
        "application/json": { schema: { type: "object", properties: { ids: { type: "array", items: { type: "string" } } }, required: ["ids"] } },
      },
    });
  });

  test("the gateway's own endpoints need no token", () => {
    for (const p of ["/health/live", "/health/ready", "/metrics", "/api/openapi.json"]) {
      expect(doc.paths[p].get.security).toEqual([]);
      expect(doc.paths[p].get.tags).toEqual(["system"]);
    }
    expect(Object.keys(doc.paths["/health/ready"].get.responses)).toEqual(["200", "503"]);
    expect(doc.paths["/metrics"].get.responses["200"].content).toEqual({ "text/plain": { schema: { type: "string" } } });
  });

  test("error responses share the REST error body; 422 carries the field problems; 429/503 say when to retry", () => {
    const { schemas, responses, headers } = doc.components;
    expect(schemas.Error).toEqual({
      type: "object",
      required: ["error"],
      properties: {
        error: {
          type: "object",
          required: ["type", "code", "message"],
          properties: {
            type: { type: "string", description: expect.any(String) },
            code: { type: "integer", description: expect.any(String) },
            message: { type: "string", description: expect.any(String) },
            data: { description: expect.any(String) },
          },
        },
      },
    });
    expect(schemas.ValidationError.allOf[0]).toEqual({ $ref: "#/components/schemas/Error" });
    expect(schemas.ValidationError.allOf[1].properties.error.properties).toEqual({
      type: { const: "VALIDATION_ERROR" },
      code: { const: 422 },
      data: { type: "array", items: { $ref: "#/components/schemas/ValidationIssue" } },
    });
    expect(schemas.ValidationIssue.required).toEqual(["field", "message", "type"]);
    expect(responses.ValidationFailed.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/ValidationError" });
    expect(responses.Unauthorized.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Error" });
    expect(responses.TooManyRequests.headers).toEqual({ "Retry-After": { $ref: "#/components/headers/RetryAfter" } });
    expect(responses.ServiceUnavailable.headers).toEqual({ "Retry-After": { $ref: "#/components/headers/RetryAfter" } });
    expect(headers.RetryAfter.schema).toEqual({ type: "integer", minimum: 0 });
  });

  test("is cached until the registry changes", async () => {
    const first = buildOpenApi(broker);
    expect(buildOpenApi(broker)).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen((first as Json).paths["/api/shapes"].post)).toBe(true);

    broker.createService({ name: "extra", settings: { rest: "/" }, actions: { hello: { rest: "GET /hello", handler: noop } } });
    await broker.waitForServices("extra", 5_000, 10);
    const second = buildOpenApi(broker) as Json;
    expect(second).not.toBe(first);
    expect(second.paths["/api/hello"].get.operationId).toBe("extra.hello");
    expect(buildOpenApi(broker)).toBe(second);
  });
});

describe("buildOpenApi on remote services", () => {
  const namespace = `openapi-${process.pid}-${Date.now()}`;
  const node = (nodeID: string) => new ServiceBroker({ nodeID, namespace, transporter: "Fake", logger: false });
  // Two nodes running the same services, and a gateway-only node that knows them from their INFO packets.
  const workers = [node("worker-1"), node("worker-2")];
  const gateway = node("gateway");

  beforeAll(async () => {
    for (const worker of workers) TEST_SERVICES.forEach((schema) => worker.createService(schema));
    await Promise.all([...workers, gateway].map((b) => b.start()));
    await gateway.waitForServices(["shapes", "v2.widgets"], 5_000, 10);
    // Both instances are registered before comparing.
    await waitUntil(() => gateway.registry.getServiceList({}).filter((s) => s.name === "shapes").length === 2);
  });
  afterAll(() => Promise.all([...workers, gateway].map((b) => b.stop())));

  test("documents the same operations once, from the JSON-serialized action schemas", () => {
    const local = buildOpenApi(workers[0]) as Json;
    const remote = buildOpenApi(gateway) as Json;
    expect(structuralProblems(remote)).toEqual([]);
    expect(operationList(remote)).toEqual(EXPECTED_OPERATIONS);

    // What does not survive JSON: a RegExp pattern (arrives as `{}`) and a function default (dropped,
    // so the field reads as required). Everything else is identical.
    const expected = JSON.parse(JSON.stringify(local));
    const body = bodySchema(expected.paths["/api/shapes"].post);
    delete body.properties.code.pattern;
    body.required.push("token");
    expect(remote).toEqual(expected);
  });
});

describe("buildOpenApi for the real campaigns service", () => {
  test("documents its CRUD routes with the id path parameter", () => {
    // The service is created, never started (starting opens the database); a gateway learns it the way it
    // learns any remote service: from the node's INFO packet, i.e. the JSON form of its action schemas.
    const worker = new ServiceBroker({ logger: false, nodeID: "campaigns-worker" });
    const gateway = new ServiceBroker({ logger: false, nodeID: "gateway" });
    const service = worker.createService(CampaignsService);
    const actions = Object.fromEntries(
      Object.entries(service.schema.actions ?? {}).map(([rawName, action]) => {
        const name = `${service.fullName}.${rawName}`;
        return [name, { ...(action as object), name, rawName }];
      }),
    );
    const info = { name: service.name, version: service.version, fullName: service.fullName, settings: service.settings, actions, events: {} };
    gateway.registry.processNodeInfo({ sender: "campaigns-worker", instanceID: "1", seq: 1, services: JSON.parse(JSON.stringify([info])) });

    const doc = buildOpenApi(gateway) as Json;
    expect(structuralProblems(doc)).toEqual([]);
    expect(operationList(doc).filter((line) => line.includes("campaigns"))).toEqual(
      expect.arrayContaining([
        "GET /api/campaigns campaigns.list",
        "POST /api/campaigns campaigns.create",
        "GET /api/campaigns/{id} campaigns.get",
        "PUT /api/campaigns/{id} campaigns.update",
        "DELETE /api/campaigns/{id} campaigns.remove",
        "PATCH /api/campaigns/{id} campaigns.update.patch",
        "POST /api/campaigns/{id}/launch campaigns.launch",
        "POST /api/campaigns/{id}/schedule campaigns.schedule",
        "GET /api/templates campaigns.listTemplates",
      ]),
    );
    const get = doc.paths["/api/campaigns/{id}"].get;
    expect(get.parameters).toEqual([{ name: "id", in: "path", required: true, schema: { type: "string", minLength: 1, maxLength: 100 } }]);
    expect(doc.paths["/api/campaigns"].post.responses["201"]).toBeDefined();
    expect(bodySchema(doc.paths["/api/campaigns"].post).required).toEqual(["name", "type"]);
    expect(bodySchema(doc.paths["/api/campaigns/{id}"].patch).required).toBeUndefined();
  });
});

describe("edge cases of the rule conversion", () => {
  test.each<[string, unknown, Json]>([
    ["pattern with the u flag", { type: "string", pattern: /^\p{L}+$/u }, { type: "string", pattern: "^\\p{L}+$" }],
    ["string pattern with the i flag", { type: "string", pattern: "^ab$", patternFlags: "i" }, { type: "string" }],
    ["pattern serialized away by a remote node", { type: "string", pattern: {} }, { type: "string" }],
    [
      "several string checks",
      { type: "string", alpha: true, contains: "a.b" },
      { type: "string", allOf: [{ pattern: "^[a-zA-Z]+$" }, { pattern: "a\\.b" }] },
    ],
    ["empty:false with a larger min", { type: "string", min: 3, empty: false }, { type: "string", minLength: 3 }],
    ["url not empty", { type: "url", empty: false }, { type: "string", format: "uri", minLength: 1 }],
    ["number equal", { type: "number", equal: 3 }, { type: "number", const: 3 }],
    [
      "array enum, contains, empty:false, length",
      { type: "array", enum: ["a", "b"], contains: "a", empty: false, length: 2 },
      { type: "array", items: { enum: ["a", "b"] }, minItems: 2, maxItems: 2, contains: { const: "a" } },
    ],
    ["array not empty", { type: "array", items: "number", empty: false }, { type: "array", items: { type: "number" }, minItems: 1 }],
    ["enum of numbers", { type: "enum", values: [1, 2] }, { type: "number", enum: [1, 2] }],
    ["enum of mixed values", { type: "enum", values: [1, "a"] }, { enum: [1, "a"] }],
    ["nullable equal", { type: "equal", value: 1, nullable: true }, { enum: [1, null] }],
    ["nullable multi", { type: "multi", rules: ["string", "number"], nullable: true }, { anyOf: [{ type: "string" }, { type: "number" }, { type: "null" }] }],
    ["nullable any stays any", { type: "any", nullable: true }, {}],
    ["nullable with default", { type: "string", nullable: true, default: "x" }, { type: ["string", "null"], default: "x" }],
    ["record without key rule", { type: "record", value: "boolean" }, { type: "object", additionalProperties: { type: "boolean" } }],
    ["object with `properties`", { type: "object", properties: { a: "string" } }, { type: "object", properties: { a: { type: "string" } }, required: ["a"] }],
    ["shorthand array, optional", "string[]|optional", { type: "array", items: { type: "string" } }],
    ["unknown type", { type: "class", instanceOf: Buffer }, {}],
    ["not a rule", 42, {}],
  ])("%s", (_name, rule, expected) => {
    expect(ruleToSchema(rule)).toEqual(expected);
  });

  test("allowNull keeps the schema's constraints and adds null once", () => {
    expect(allowNull({ type: ["string", "null"] })).toEqual({ type: ["string", "null"] });
    expect(allowNull({ description: "x" })).toEqual({ anyOf: [{ description: "x" }, { type: "null" }] });
  });

  test("params: meta keys ignored, `$$strict: remove` keeps unknown fields allowed, non-object `$$root` has no fields", () => {
    expect(paramFields({ $$strict: "remove", $$async: true, a: "string" })).toEqual({ fields: { a: { type: "string" } }, strict: false });
    expect(paramFields({ $$root: true, type: "string" })).toEqual({ fields: {}, strict: false });
    expect(paramFields(undefined)).toEqual({ fields: {}, strict: false });
  });

  test("operationIds stay unique however often an action repeats a method", () => {
    const taken = new Set<string>();
    expect(["get", "post", "get", "get"].map((m) => uniqueOperationId("a.b", m as "get", taken))).toEqual(["a.b", "a.b.post", "a.b.get", "a.b.get2"]);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
