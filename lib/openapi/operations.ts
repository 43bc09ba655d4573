/**
 * One OpenAPI operation per REST route of an action: parameters and body from the action's
 * fastest-validator `params`, responses from its `openapi` details and the errors the gateway can
 * answer with, and the role permission from its `permission`.
 */
import type { Permission } from "../access";
import { can } from "../access";
import { ROLES } from "../auth";
import { jsonContent, responseRef, type ErrorResponseName, ERROR_RESPONSES } from "./components";
import { isRequiredRule, objectSchemaOf, paramFields, ruleToSchema, type JsonSchema, type ParamFields, type Rule } from "./json-schema";
import type { HttpMethod, RestRoute } from "./rest-routes";

/** OpenAPI details an action may carry (lib/schema-types.ts). */
export interface ActionOpenApi {
  summary?: string;
  description?: string;
  tags?: string[];
  status?: number;
  response?: Record<string, unknown> | { contentType: string };
}

/** The registry's view of an action: plain data, also for actions of remote nodes. */
export interface RegistryAction {
  name: string;
  rawName?: string;
  visibility?: string;
  rest?: unknown;
  params?: unknown;
  permission?: Permission | false;
  openapi?: ActionOpenApi;
}

// moleculer-web merges query, body and path into params; only these methods carry a JSON body.
const BODY_METHODS: ReadonlySet<HttpMethod> = new Set(["post", "put", "patch"]);

/** Published actions are the only ones the gateway routes (moleculer-web checks the same). */
export function isPublished(action: RegistryAction): boolean {
  return action.visibility == null || action.visibility === "published";
}

/** operationId: the action name, then `.method` for another method of the same action, then a counter. */
export function uniqueOperationId(actionName: string, method: HttpMethod, taken: Set<string>): string {
  let id = taken.has(actionName) ? `${actionName}.${method}` : actionName;
  for (let n = 2; taken.has(id); n++) id = `${actionName}.${method}${n}`;
  taken.add(id);
  return id;
}

export function buildOperation(action: RegistryAction, route: RestRoute, operationId: string, defaultTag: string): JsonSchema {
  const { fields, strict } = paramFields(action.params);
  const rest = withoutKeys(fields, route.pathParams);
  const hasBody = BODY_METHODS.has(route.method);
  const parameters = [
    ...route.pathParams.map((name) => pathParameter(name, fields[name])),
    ...(hasBody ? [] : Object.entries(rest).filter(([, rule]) => rule.type !== "forbidden").map(([name, rule]) => queryParameter(name, rule))),
  ];
  const body = hasBody ? requestBody({ fields: rest, strict }) : undefined;
  const openapi = action.openapi ?? {};
  const description = [openapi.description, permissionNote(action.permission)].filter(Boolean).join("\n\n");
  return {
    operationId,
    ...(openapi.summary ? { summary: openapi.summary } : {}),
    ...(description ? { description } : {}),
    tags: openapi.tags?.length ? openapi.tags : [defaultTag],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(body ? { requestBody: body } : {}),
    responses: responsesOf(action, route, {
      validates: Object.keys(fields).length > 0 || hasBody,
      hasBody,
    }),
  };
}

function withoutKeys<T>(record: Record<string, T>, keys: string[]): Record<string, T> {
  return Object.fromEntries(Object.entries(record).filter(([k]) => !keys.includes(k)));
}

// A path segment is always present and never null, whatever the rule allows otherwise.
function pathParameter(name: string, rule: Rule | undefined): JsonSchema {
  const schema = rule ? ruleToSchema({ ...rule, nullable: false, optional: false, default: undefined }) : { type: "string" };
  return { name, in: "path", required: true, schema };
}

function queryParameter(name: string, rule: Rule): JsonSchema {
  const schema = ruleToSchema(rule);
  return { name, in: "query", required: isRequiredRule(rule), schema, ...queryStyle(schema) };
}

/** How structured values are spelled in the query string, as moleculer-web's `qs` parser reads them. */
function queryStyle(schema: JsonSchema): JsonSchema {
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  // `?status=a&status=b`
  if (types.includes("array")) return { style: "form", explode: true };
  // `?goals[views]=10`
  if (types.includes("object")) return { style: "deepObject", explode: true };
  return {};
}

function requestBody(fields: ParamFields): JsonSchema | undefined {
  const schema = objectSchemaOf(fields);
  if (Object.keys(schema.properties as object).length === 0) return undefined;
  return { required: Array.isArray(schema.required), content: jsonContent(schema) };
}

/** "Requires role with `write` permission (owner, admin, editor)." — undefined for public actions. */
export function permissionNote(permission: Permission | false | undefined): string | undefined {
  if (permission === false) return undefined;
  const needed = permission ?? "read";
  return `Requires role with \`${needed}\` permission (${rolesWith(needed).join(", ")}).`;
}

function rolesWith(permission: Permission): string[] {
  return ROLES.filter((role) => can({ id: "", teamId: null, role }, permission));
}

interface ErrorCases {
  /** The action declares params or takes a body, so a 422 is possible. */
  validates: boolean;
  hasBody: boolean;
}

function responsesOf(action: RegistryAction, route: RestRoute, cases: ErrorCases): JsonSchema {
  const [status, success] = successResponse(action.openapi);
  const permission = action.permission === false ? undefined : (action.permission ?? "read");
  const errors: ErrorResponseName[] = [
    ...(cases.hasBody ? (["BadRequest"] as const) : []),
    // Every /api route authenticates, whatever the action's permission.
    "Unauthorized",
    ...(permission && rolesWith(permission).length < ROLES.length ? (["Forbidden"] as const) : []),
    ...(route.pathParams.length > 0 ? (["NotFound"] as const) : []),
    ...(cases.hasBody ? (["PayloadTooLarge"] as const) : []),
    ...(cases.validates ? (["ValidationFailed"] as const) : []),
    "TooManyRequests",
    "ServiceUnavailable",
    "UnexpectedError",
  ];
  return { [status]: success, ...Object.fromEntries(errors.map((name) => [ERROR_RESPONSES[name], responseRef(name)])) };
}

function successResponse(openapi: ActionOpenApi | undefined): [string, JsonSchema] {
  const status = openapi?.status ?? 200;
  const description = SUCCESS_DESCRIPTIONS[status] ?? "Success.";
  if (status === 204) return ["204", { description }];
  const response = openapi?.response;
  if (response && typeof response.contentType === "string") return [String(status), { description, content: downloadContent(response.contentType) }];
  // Without a documented shape the action still answers a JSON object.
  return [String(status), { description, content: jsonContent(response ?? { type: "object" }) }];
}

const SUCCESS_DESCRIPTIONS: Record<number, string> = { 200: "OK.", 201: "Created.", 202: "Accepted.", 204: "No content." };

// Text downloads are strings; anything else is opaque bytes, which OpenAPI 3.1 states with no schema.
function downloadContent(contentType: string): JsonSchema {
  return { [contentType]: contentType.startsWith("text/") ? { schema: { type: "string" } } : {} };
}
