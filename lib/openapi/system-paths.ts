/**
 * The gateway's own endpoints outside `/api` authentication (services/api.service.ts, route "/"):
 * probes, Prometheus metrics and this document. They need no token, hence `security: []`.
 */
import { jsonContent } from "./components";
import type { JsonSchema } from "./json-schema";

const SYSTEM_TAG = "system";

function publicGet(operationId: string, summary: string, responses: JsonSchema): JsonSchema {
  return { get: { operationId, summary, tags: [SYSTEM_TAG], security: [], responses } };
}

const readinessBody: JsonSchema = {
  type: "object",
  required: ["status", "checks"],
  properties: {
    status: { type: "string", enum: ["ok", "unavailable"] },
    checks: {
      type: "object",
      description: "Each dependency (`database`, `transporter`) with `ok` or the reason it is not.",
      additionalProperties: { type: "string" },
    },
  },
};

export function systemPaths(): Record<string, JsonSchema> {
  return {
    "/health/live": publicGet("health.live", "Liveness probe: the process answers", {
      "200": {
        description: "The process is alive.",
        content: jsonContent({
          type: "object",
          required: ["status", "nodeID"],
          properties: { status: { const: "ok" }, nodeID: { type: "string" } },
        }),
      },
    }),
    "/health/ready": publicGet("health.ready", "Readiness probe: database and transporter reachable", {
      "200": { description: "Every dependency is reachable.", content: jsonContent(readinessBody) },
      "503": { description: "Some dependency is unreachable; `checks` says which.", content: jsonContent(readinessBody) },
    }),
    "/metrics": publicGet("metrics", "Prometheus metrics (text exposition format 0.0.4)", {
      "200": { description: "Metrics of this node.", content: { "text/plain": { schema: { type: "string" } } } },
    }),
    "/api/openapi.json": publicGet("openapi", "This OpenAPI document", {
      "200": { description: "The OpenAPI 3.1 document.", content: jsonContent({ type: "object" }) },
    }),
  };
}
