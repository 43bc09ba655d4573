/**
 * OpenAPI 3.1 document of the REST gateway, generated from the service registry: every published action
 * with a `rest` becomes an operation under `/api` (the same routes moleculer-web's autoAliases build),
 * typed from its fastest-validator `params` and described by its `openapi` details and `permission`.
 * The registry also holds the actions of remote nodes, so a gateway-only node documents the whole system.
 */
import fs from "node:fs";
import path from "node:path";
import type { ServiceBroker } from "moleculer";
import { PROJECT_ROOT } from "./db";
import { components, SECURITY_SCHEME } from "./openapi/components";
import type { JsonSchema } from "./openapi/json-schema";
import { buildOperation, isPublished, uniqueOperationId, type RegistryAction } from "./openapi/operations";
import { HTTP_METHODS, restRoutesOf, serviceBasePaths, type HttpMethod } from "./openapi/rest-routes";
import { systemPaths } from "./openapi/system-paths";

/** The gateway route whose autoAliases publish the actions (services/api.service.ts). */
export const API_ROUTE_PATH = "/api";
const TITLE = "Creator marketing API";

/** A registry service entry (`getServiceList({ withActions: true, grouping: true })`). */
export interface RegistryService {
  name: string;
  fullName: string;
  settings?: { rest?: unknown };
  actions?: Record<string, RegistryAction>;
}

type Paths = Record<string, Partial<Record<HttpMethod, JsonSchema>>>;

const documents = new WeakMap<ServiceBroker, JsonSchema>();
const watched = new WeakSet<ServiceBroker>();

/**
 * The document for the broker's current registry. Built once per registry change: the broker announces
 * every local or remote service (un)registration with `$services.changed`, which drops the cached copy.
 * The result is frozen because every caller shares it.
 */
export function buildOpenApi(broker: ServiceBroker): Record<string, unknown> {
  watchRegistry(broker);
  let doc = documents.get(broker);
  if (!doc) {
    doc = deepFreeze(generateOpenApi(listServices(broker)));
    documents.set(broker, doc);
  }
  return doc;
}

function watchRegistry(broker: ServiceBroker): void {
  if (watched.has(broker)) return;
  watched.add(broker);
  broker.localBus.on("$services.changed", () => documents.delete(broker));
}

function listServices(broker: ServiceBroker): RegistryService[] {
  // `grouping` merges the instances of a service on several nodes into one entry with the union of their
  // actions: what the gateway routes, documented once.
  return broker.registry.getServiceList({ withActions: true, grouping: true }) as unknown as RegistryService[];
}

/** The whole document from a list of registry services (pure: no broker needed). */
export function generateOpenApi(services: RegistryService[]): JsonSchema {
  // The gateway's own endpoints come first, as their route is matched before `/api`'s aliases.
  const paths = addApiPaths(systemPaths() as Paths, services);
  // The document goes out as JSON; the round trip also detaches it from the live action schemas it was read from.
  return JSON.parse(
    JSON.stringify({
      openapi: "3.1.0",
      info: { title: TITLE, version: packageVersion() },
      servers: [{ url: "/" }],
      security: [{ [SECURITY_SCHEME]: [] }],
      tags: tagsOf(paths).map((name) => ({ name })),
      paths: sortPaths(paths),
      components: components(),
    }),
  );
}

function addApiPaths(paths: Paths, services: RegistryService[]): Paths {
  const operationIds = new Set(Object.values(paths).flatMap((item) => Object.values(item).map((op) => String(op?.operationId))));
  // Sorted so every gateway node produces the same document (and the same operationId suffixes).
  for (const service of [...services].sort((a, b) => a.fullName.localeCompare(b.fullName))) {
    const basePaths = serviceBasePaths(service);
    for (const action of Object.values(service.actions ?? {})) {
      if (!action.rest || !isPublished(action)) continue;
      const rawName = action.rawName ?? action.name.slice(action.name.lastIndexOf(".") + 1);
      for (const route of restRoutesOf(action.rest, rawName, basePaths, API_ROUTE_PATH)) {
        const item = (paths[route.path] ??= {});
        // Two actions on one method and path: the gateway calls the first alias, so only it is documented.
        if (item[route.method]) continue;
        item[route.method] = buildOperation(action, route, uniqueOperationId(action.name, route.method, operationIds), service.name);
      }
    }
  }
  return paths;
}

/** Paths alphabetically, each path's methods in HTTP_METHODS order. */
function sortPaths(paths: Paths): Paths {
  return Object.fromEntries(
    Object.keys(paths)
      .sort()
      .map((p) => [p, Object.fromEntries(HTTP_METHODS.filter((m) => paths[p][m]).map((m) => [m, paths[p][m]]))]),
  );
}

function tagsOf(paths: Paths): string[] {
  const tags = Object.values(paths).flatMap((item) => Object.values(item).flatMap((op) => (op?.tags as string[] | undefined) ?? []));
  return [...new Set(tags)].sort();
}

let version: string | undefined;

function packageVersion(): string {
  version ??= (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string }).version;
  return version;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
