/** OpenAPI document — being written. */
import type { ServiceBroker } from "moleculer";

export function buildOpenApi(_broker: ServiceBroker): Record<string, unknown> {
  return { openapi: "3.1.0", info: { title: "Creator marketing API", version: "0.1.0" }, paths: {} };
}
