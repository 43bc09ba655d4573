/**
 * Shared parts of the document: the REST error body (services/api/errors.ts sends every failure as
 * `{ error: { type, code, message, data } }`), the error responses built on it, and bearer security.
 */
import type { JsonSchema } from "./json-schema";

export const SECURITY_SCHEME = "bearerAuth";

/** Error responses operations refer to, by the status they are documented under. */
export const ERROR_RESPONSES = {
  BadRequest: "400",
  Unauthorized: "401",
  Forbidden: "403",
  NotFound: "404",
  PayloadTooLarge: "413",
  ValidationFailed: "422",
  TooManyRequests: "429",
  ServiceUnavailable: "503",
  UnexpectedError: "default",
} as const;

export type ErrorResponseName = keyof typeof ERROR_RESPONSES;

export function responseRef(name: ErrorResponseName): { $ref: string } {
  return { $ref: `#/components/responses/${name}` };
}

function schemaRef(name: string): { $ref: string } {
  return { $ref: `#/components/schemas/${name}` };
}

export function jsonContent(schema: JsonSchema): Record<string, { schema: JsonSchema }> {
  return { "application/json": { schema } };
}

const errorSchema: JsonSchema = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["type", "code", "message"],
      properties: {
        type: { type: "string", description: "Machine-readable error type, e.g. `NOT_FOUND`." },
        code: { type: "integer", description: "The HTTP status code." },
        message: { type: "string", description: "Human-readable explanation." },
        data: { description: "Details; their shape depends on the error type." },
      },
    },
  },
};

// fastest-validator's failures and the gateways' own 422s (lib/errors.ts UnprocessableError) share this shape.
const validationIssueSchema: JsonSchema = {
  type: "object",
  required: ["field", "message", "type"],
  properties: {
    field: { type: "string", description: "Path of the offending field, e.g. `name` or `body.items[0]`." },
    message: { type: "string" },
    type: { type: "string", description: "The failed check, e.g. `required`, `stringMin`, `enumValue`." },
    expected: { description: "The value or limit the check expected, when it has one." },
    actual: { description: "The value received, when it is useful to echo." },
  },
};

const validationErrorSchema: JsonSchema = {
  allOf: [
    schemaRef("Error"),
    {
      properties: {
        error: {
          required: ["data"],
          properties: {
            type: { const: "VALIDATION_ERROR" },
            code: { const: 422 },
            data: { type: "array", items: schemaRef("ValidationIssue") },
          },
        },
      },
    },
  ],
};

function errorResponse(description: string, schema = schemaRef("Error"), retryAfter = false): JsonSchema {
  return {
    description,
    ...(retryAfter ? { headers: { "Retry-After": { $ref: "#/components/headers/RetryAfter" } } } : {}),
    content: jsonContent(schema),
  };
}

const responses: Record<ErrorResponseName, JsonSchema> = {
  BadRequest: errorResponse("The request body is not valid JSON (`MALFORMED_JSON`)."),
  Unauthorized: errorResponse("The bearer token is missing, malformed, expired or invalid (`UNAUTHORIZED`)."),
  Forbidden: errorResponse("The caller's role lacks the permission this operation needs (`FORBIDDEN`)."),
  NotFound: errorResponse("No such resource is visible to the caller (`NOT_FOUND`)."),
  PayloadTooLarge: errorResponse("The request body is larger than allowed (`PAYLOAD_TOO_LARGE`)."),
  ValidationFailed: errorResponse("The parameters or body failed validation (`VALIDATION_ERROR`).", schemaRef("ValidationError")),
  TooManyRequests: errorResponse("Too many requests; retry after the given delay (`TOO_MANY_REQUESTS`).", schemaRef("Error"), true),
  ServiceUnavailable: errorResponse(
    "A service or the database is temporarily unavailable (`SERVICE_UNAVAILABLE`); retry after the given delay.",
    schemaRef("Error"),
    true,
  ),
  UnexpectedError: errorResponse("Any other failure, e.g. `INTERNAL` (500) or `TIMEOUT` (504)."),
};

export function components(): JsonSchema {
  return {
    schemas: { Error: errorSchema, ValidationIssue: validationIssueSchema, ValidationError: validationErrorSchema },
    responses,
    headers: {
      RetryAfter: { description: "Seconds to wait before retrying.", schema: { type: "integer", minimum: 0 } },
    },
    securitySchemes: {
      [SECURITY_SCHEME]: {
        type: "http",
        scheme: "bearer",
        bearerFormat: "JWT",
        description: "HS256 JWT whose `sub` is the user id, with optional `team` and `role` claims.",
      },
    },
  };
}
