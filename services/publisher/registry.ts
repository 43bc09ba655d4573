/**
 * The plugin family, shaped like Moleculer's (transporters/, cachers/): a name → plugin map with
 * `register` / `resolve`, filled by the loader from `plugins/*` and npm packages. The loader checks each
 * candidate against the contract and refuses a bad one with a message naming it and the problem; the
 * others still load.
 */
import fs from "node:fs";
import path from "node:path";
import { SUPPORTED_API_VERSIONS, type PluginClass, type PluginOptions, type PublishingPlugin } from "../../plugins/sdk";
import { PROJECT_ROOT } from "../../lib/db";

export const PLUGINS_DIR = path.join(PROJECT_ROOT, "plugins");
const ID_PATTERN = /^[a-z][a-z0-9-]{1,31}$/;
const REQUIRED_METHODS = ["validate", "adapt", "publish", "status", "findExisting"] as const;
const OPTIONAL_METHODS = ["metrics", "sendMessage"] as const;
const LIMIT_NUMBERS = ["captionLength", "titleLength", "hashtags", "concurrency"] as const;

export interface RefusedPlugin {
  /** Where it came from: `plugins/<dir>` or the npm package name. */
  source: string;
  /** Its id when it had a readable one. */
  id?: string;
  problems: string[];
  /** One line naming the plugin and the problem, as logged. */
  message: string;
}

export class PluginRegistry {
  private readonly plugins = new Map<string, PublishingPlugin>();

  register(plugin: PublishingPlugin): void {
    if (this.plugins.has(plugin.id)) throw new Error(`a plugin with id "${plugin.id}" is already registered`);
    this.plugins.set(plugin.id, plugin);
  }

  /** The plugin for a platform id, or undefined when none is loaded. */
  resolve(id: string): PublishingPlugin | undefined {
    return this.plugins.get(id);
  }

  has(id: string): boolean {
    return this.plugins.has(id);
  }

  ids(): string[] {
    return [...this.plugins.keys()];
  }

  list(): PublishingPlugin[] {
    return [...this.plugins.values()];
  }
}

/** Every contract violation of a candidate plugin instance; empty when it conforms. */
export function contractProblems(candidate: unknown): string[] {
  if (!candidate || typeof candidate !== "object") return ["it does not export a plugin class or object"];
  const p = candidate as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof p.id !== "string" || !ID_PATTERN.test(p.id)) problems.push(`id must match ${ID_PATTERN} (got ${JSON.stringify(p.id)})`);
  if (typeof p.displayName !== "string" || !p.displayName.trim()) problems.push("displayName must be a non-empty string");
  if (typeof p.apiVersion !== "number" || !SUPPORTED_API_VERSIONS.includes(p.apiVersion)) {
    problems.push(`apiVersion ${JSON.stringify(p.apiVersion)} is not supported (supported: ${SUPPORTED_API_VERSIONS.join(", ")})`);
  }
  const limits = p.limits as Record<string, unknown> | undefined;
  if (!limits || typeof limits !== "object") problems.push("limits is missing");
  else {
    for (const key of LIMIT_NUMBERS) if (typeof limits[key] !== "number" || (limits[key] as number) < 0) problems.push(`limits.${key} must be a number ≥ 0`);
    const media = limits.media as Record<string, unknown> | undefined;
    if (!media || typeof media.min !== "number" || typeof media.max !== "number" || !Array.isArray(media.types)) {
      problems.push("limits.media must be {min, max, types, maxBytes}");
    }
    const rate = limits.rate as Record<string, unknown> | undefined;
    if (!rate || !((rate.perMinute as number) > 0) || !((rate.burst as number) >= 1)) problems.push("limits.rate must be {perMinute > 0, burst ≥ 1}");
  }
  if (!Array.isArray(p.credentialFields) || !p.credentialFields.every((f) => typeof f === "string")) {
    problems.push("credentialFields must be an array of field names");
  }
  for (const m of REQUIRED_METHODS) if (typeof p[m] !== "function") problems.push(`${m}() is missing`);
  for (const m of OPTIONAL_METHODS) if (p[m] !== undefined && typeof p[m] !== "function") problems.push(`${m} must be a function when present`);
  return problems;
}

export interface LoadOptions {
  /** Folder whose subfolders are plugins (`sdk` and names starting with `_` or `.` are skipped). */
  dir?: string;
  /** npm package names (or paths) loaded after the folder's plugins. */
  packages?: readonly string[];
  /** Plugin ids not to register. */
  disabled?: readonly string[];
  /** Construction options for a plugin id. */
  options(id: string): PluginOptions;
}

export interface LoadResult {
  registry: PluginRegistry;
  refused: RefusedPlugin[];
}

export function loadPlugins(opts: LoadOptions): LoadResult {
  const registry = new PluginRegistry();
  const refused: RefusedPlugin[] = [];
  const sources: { source: string; request: string }[] = [];
  const dir = opts.dir ?? PLUGINS_DIR;
  if (fs.existsSync(dir)) {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.isDirectory() || entry.name === "sdk" || /^[_.]/.test(entry.name)) continue;
      sources.push({ source: `plugins/${entry.name}`, request: path.join(dir, entry.name) });
    }
  }
  for (const name of opts.packages ?? []) sources.push({ source: name, request: name });

  for (const { source, request } of sources) {
    const outcome = instantiate(source, request, opts.options);
    if ("problems" in outcome) {
      refused.push(outcome);
      continue;
    }
    if (opts.disabled?.includes(outcome.plugin.id)) continue;
    if (registry.has(outcome.plugin.id)) {
      refused.push(refusal(source, [`its id "${outcome.plugin.id}" is already taken by another plugin`], outcome.plugin.id));
      continue;
    }
    registry.register(outcome.plugin);
  }
  return { registry, refused };
}

/** Loads one module and builds its plugin, or explains why not. */
export function instantiate(
  source: string,
  request: string,
  optionsFor: (id: string) => PluginOptions,
): { plugin: PublishingPlugin } | RefusedPlugin {
  let exported: unknown;
  try {
    const mod = require(require.resolve(request, { paths: [PROJECT_ROOT] }));
    exported = mod?.default ?? mod?.plugin ?? mod;
  } catch (err) {
    return refusal(source, [`it could not be loaded: ${(err as Error).message.split("\n")[0]}`]);
  }
  let plugin: unknown = exported;
  if (typeof exported === "function") {
    try {
      // Built twice: once to learn its id, then with that id's options (constructors must be side-effect free).
      const Class = exported as PluginClass;
      const probe = new Class(optionsFor(""));
      plugin = new Class(optionsFor(typeof probe.id === "string" ? probe.id : ""));
    } catch (err) {
      return refusal(source, [`its constructor threw: ${(err as Error).message}`]);
    }
  }
  const problems = contractProblems(plugin);
  const id = typeof (plugin as { id?: unknown })?.id === "string" ? (plugin as { id: string }).id : undefined;
  return problems.length ? refusal(source, problems, id) : { plugin: plugin as PublishingPlugin };
}

function refusal(source: string, problems: string[], id?: string): RefusedPlugin {
  const name = id ? `"${id}" (${source})` : `"${source}"`;
  return { source, id, problems, message: `publishing plugin ${name} refused: ${problems.join("; ")}` };
}
