/**
 * The HTTP routes moleculer-web's `autoAliases` build from an action's `rest`, computed the way the
 * gateway computes them (moleculer-web 0.11 `regenerateAutoAliases`, `parseActionRest*`, `Alias`), so
 * the document lists exactly what the gateway serves.
 */

export const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** One operation's place: method and OpenAPI path (`/api/campaigns/{id}`) with its path parameters. */
export interface RestRoute {
  method: HttpMethod;
  path: string;
  pathParams: string[];
}

/** The registry's view of a service, as far as routing needs it. */
export interface RoutedService {
  fullName: string;
  settings?: { rest?: unknown };
}

// A `rest` without a method becomes a "*" alias that answers every method; these are the ones a JSON
// API is called with.
const ANY_METHOD: readonly HttpMethod[] = ["get", "post", "put", "patch", "delete"];

// path-to-regexp 8 parameter names (`:id`, and `*rest` wildcards, which span several segments).
const PATH_PARAM = /[:*]([$_\p{ID_Start}][$\u200c\u200d\p{ID_Continue}]*)/gu;

/** Base paths an action's `rest` paths are appended to: `settings.rest`, else the service's full name. */
export function serviceBasePaths(service: RoutedService): string[] {
  const byName = service.fullName.replace(/\./g, "/");
  const rest = service.settings?.rest;
  const bases = typeof rest === "string" ? [rest] : Array.isArray(rest) ? rest.map((b) => (typeof b === "string" ? b : byName)) : [byName];
  return bases.map(addSlashes);
}

/** Every route of one action: each `rest` entry (string, `{method, path}` object, or an array of them) on every base path. */
export function restRoutesOf(rest: unknown, rawName: string, basePaths: string[], routePath: string): RestRoute[] {
  const specs = Array.isArray(rest) ? rest : [rest];
  const routes: RestRoute[] = [];
  for (const basePath of basePaths) {
    for (const spec of specs) {
      const alias = parseRestSpec(spec, rawName, basePath);
      if (!alias) continue;
      const fullPath = alias.fullPath ? withoutTrailingSlash(alias.fullPath) : joinRoutePath(routePath, alias.path);
      const path = toOpenApiPath(fullPath);
      for (const method of methodsOf(alias.method)) routes.push({ method, path, pathParams: pathParamNames(fullPath) });
    }
  }
  return routes;
}

interface Alias {
  method: string;
  path: string;
  fullPath?: string;
}

function parseRestSpec(spec: unknown, rawName: string, basePath: string): Alias | undefined {
  if (typeof spec === "string") {
    // "POST /import" or just "/import" (any method).
    const [method, path] = spec.includes(" ") ? spec.split(/\s+/) : ["*", spec];
    return { method, path: basePath + path };
  }
  if (typeof spec === "object" && spec !== null) {
    const o = spec as { method?: string; path?: string; basePath?: string; fullPath?: string };
    // `fullPath` replaces the route prefix as well, as in moleculer-web's Alias.
    return { method: o.method || "*", path: (o.basePath || basePath) + (o.path || rawName), ...(o.fullPath ? { fullPath: o.fullPath } : {}) };
  }
  return undefined;
}

function methodsOf(method: string): readonly HttpMethod[] {
  if (method === "*") return ANY_METHOD;
  const lower = method.toLowerCase();
  return (HTTP_METHODS as readonly string[]).includes(lower) ? [lower as HttpMethod] : [];
}

/** Route prefix + alias path with the gateway's slash handling: "/api" + "/campaigns/:id/" → "/api/campaigns/:id". */
export function joinRoutePath(routePath: string, aliasPath: string): string {
  return withoutTrailingSlash(addSlashes(routePath) + trimSlashes(aliasPath.replace(/\/{2,}/g, "/")));
}

function withoutTrailingSlash(path: string): string {
  return path !== "/" && path.endsWith("/") ? path.slice(0, -1) : path;
}

/** `:id` (and `*rest`) → `{id}`. */
export function toOpenApiPath(path: string): string {
  return path.replace(PATH_PARAM, "{$1}");
}

export function pathParamNames(path: string): string[] {
  return [...path.matchAll(PATH_PARAM)].map((m) => m[1]);
}

function addSlashes(s: string): string {
  return (s.startsWith("/") ? "" : "/") + s + (s.endsWith("/") ? "" : "/");
}

function trimSlashes(s: string): string {
  return s.replace(/^\//, "").replace(/\/$/, "");
}
