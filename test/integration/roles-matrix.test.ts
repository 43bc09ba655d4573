/**
 * The roles matrix: every externally reachable action (every REST alias the gateway serves and every
 * gRPC route, read from the running broker, so a new action is covered without touching this file) ×
 * every role of a team. Roles come from team membership — every token claims "owner", the stored role is
 * what counts. Each call goes through the broker's real middleware chain with the real access middleware
 * and the teams service's team check; a probe in place of the handler answers "reached" once the checks
 * let the call through, so no handler runs and no params are needed (the validator is off in this broker
 * only: it runs before the access check and would refuse the empty params first).
 *
 * The expected answer of each cell comes from the grants table below, written out here independently of
 * lib/access.ts, and the action's declared `permission` (and `teamAccess` for team-scoped actions).
 */
import type { Context, Middleware, ServiceBroker } from "moleculer";
import { brokerOptions } from "../../moleculer.config";
import type { Role } from "../../lib/auth";
import { Authenticator } from "../../lib/authenticator";
import { createBroker } from "../../lib/broker";
import { ROUTES } from "../../services/grpc/routes";
import { createTestDatabase, freePort, TEST_JWT_SECRET, testConfig, token, type TestDatabase } from "../helpers/env";
import { waitFor } from "../helpers/process";

jest.setTimeout(120_000);

type Permission = "read" | "write" | "analytics" | "manage";

/** What each role may do — the product's role table (docs/operations.md, "Teams and roles"). */
const GRANTS: Record<Role, readonly Permission[]> = {
  owner: ["read", "write", "analytics", "manage"],
  admin: ["read", "write", "analytics", "manage"],
  editor: ["read", "write", "analytics"], // no member management
  analyst: ["read", "analytics"], // reports and exports, no changes
  viewer: ["read"], // read only
};
/** Only owners may delete a team (teamAccess "owner"). */
const OWNER_ONLY: Record<Role, boolean> = { owner: true, admin: false, editor: false, analyst: false, viewer: false };

const ROLE_LIST: Role[] = ["owner", "admin", "editor", "analyst", "viewer"];
const PROBE = "$rolesMatrixProbe";

/** Innermost middleware (first in the list): stands in for the handler when the call is a probe. */
const Probe = {
  name: "RolesMatrixProbe",
  localAction(next: (ctx: Context) => unknown, action: { name: string }) {
    // A promise, as handlers return: the middlewares around it (the cacher) chain on it.
    return (ctx: Context) => ((ctx.meta as Record<string, unknown>)[PROBE] ? Promise.resolve({ reached: action.name }) : next(ctx));
  },
} as unknown as Middleware;

interface ActionDef {
  name: string;
  permission?: Permission | false;
  teamAccess?: "read" | "manage" | "owner";
}

let db: TestDatabase;
let broker: ServiceBroker;
let teamId: string;
const users = new Map<Role, { id: string; teamId: string | null; role: Role }>();
let reachable: Map<string, { via: Set<string>; def: ActionDef }>;

beforeAll(async () => {
  db = await createTestDatabase();
  const config = testConfig({ databaseUrl: db.url, port: await freePort(), grpcPort: 0 });
  broker = createBroker(config, { logger: false, validator: false, middlewares: [Probe, ...(brokerOptions(config).middlewares ?? [])] });
  await broker.start();

  // The team and its members, through the teams service (the owner adds everyone else).
  const ctxOf = (id: string) => ({ meta: { user: { id, teamId: null, role: "owner" } } });
  const team = await broker.call<{ id: string }, object>("teams.create", { name: "Matrix" }, ctxOf("matrix-owner"));
  teamId = team.id;
  for (const role of ROLE_LIST.filter((r) => r !== "owner")) {
    await broker.call("teams.addMember", { id: teamId, userId: `matrix-${role}`, role }, ctxOf("matrix-owner"));
  }
  // Every token claims "owner": the role each user acts with must come from the membership.
  const auth = new Authenticator(broker, () => TEST_JWT_SECRET);
  for (const role of ROLE_LIST) {
    const user = await auth.authenticate(await token(`matrix-${role}`, { team: teamId, role: "owner" }));
    users.set(role, user);
  }

  // The external surface: the REST gateway's aliases and the gRPC route table, resolved in the registry.
  type Alias = { actionName?: string; methods: string; fullPath: string };
  let aliases: Alias[] = [];
  await waitFor(async () => {
    aliases = await broker.call<Alias[], object>("api.listAliases", {});
    return new Set(aliases.map((a) => a.actionName?.split(".")[0])).has("teams");
  });
  const defs = new Map(
    (broker.registry.getActionList({ skipInternal: true, withEndpoints: false }) as unknown as Array<{ name: string; action: ActionDef }>).map((a) => [a.name, a.action]),
  );
  reachable = new Map();
  const add = (name: string, via: string) => {
    const def = defs.get(name);
    if (!def) throw new Error(`${via} routes to ${name}, which the registry does not know`);
    const entry = reachable.get(name) ?? { via: new Set<string>(), def };
    entry.via.add(via);
    reachable.set(name, entry);
  };
  for (const a of aliases) if (a.actionName) add(a.actionName, `REST ${a.methods} ${a.fullPath}`);
  for (const [rpc, route] of Object.entries(ROUTES)) add(route.action, `gRPC ${rpc}`);
});

afterAll(async () => {
  await broker?.stop();
  await db?.drop();
});

function expected(def: ActionDef, role: Role): "allowed" | "denied" {
  if (def.permission === false) return "allowed";
  const byRole = GRANTS[role].includes(def.permission ?? "read");
  const byTeam = def.teamAccess === undefined ? true : def.teamAccess === "owner" ? OWNER_ONLY[role] : GRANTS[role].includes(def.teamAccess);
  return byRole && byTeam ? "allowed" : "denied";
}

async function outcome(action: string, role: Role): Promise<string> {
  const user = users.get(role)!;
  try {
    // `id` names the team for team-scoped actions; every other action ignores it (the probe answers).
    const result = await broker.call<{ reached?: string }, object>(action, { id: teamId, userId: "matrix-viewer" }, { meta: { user, [PROBE]: true } });
    return result?.reached === action ? "allowed" : `unexpected result ${JSON.stringify(result)}`;
  } catch (err) {
    const e = err as { code?: number; message?: string };
    return e.code === 403 ? "denied" : `error ${e.code}: ${e.message}`;
  }
}

it("reaches every service's actions through the gateways (the matrix is not vacuous)", () => {
  const services = new Set([...reachable.keys()].map((name) => name.split(".")[0]));
  for (const service of ["campaigns", "abtests", "analytics", "publisher", "segmentation", "automation", "teams"]) expect(services).toContain(service);
  expect(reachable.size).toBeGreaterThan(80);
  // Internal actions stay internal.
  expect(reachable.has("teams.resolveMembership")).toBe(false);
  expect(reachable.has("analytics.runRollup")).toBe(false);
});

it("takes every member's role from the team membership, not from the token", () => {
  for (const role of ROLE_LIST) expect(users.get(role)).toEqual({ id: `matrix-${role}`, teamId, role });
});

it("lets exactly the roles of the grants table pass each action's access check; the others get 403", async () => {
  const mismatches: string[] = [];
  const counts: Record<string, { allowed: number; denied: number }> = {};
  for (const [name, { via, def }] of reachable) {
    if (def.permission !== undefined && def.permission !== false && !["read", "write", "analytics", "manage"].includes(def.permission)) {
      mismatches.push(`${name} declares an unknown permission ${JSON.stringify(def.permission)}`);
    }
    for (const role of ROLE_LIST) {
      const want = expected(def, role);
      const got = await outcome(name, role);
      const cell = (counts[role] ??= { allowed: 0, denied: 0 });
      if (got === "allowed" || got === "denied") cell[got]++;
      if (got !== want) mismatches.push(`${role} × ${name} (${[...via][0]}): expected ${want}, got ${got}`);
    }
  }
  console.log(`roles matrix: ${reachable.size} actions × ${ROLE_LIST.length} roles\n${JSON.stringify(counts, null, 1)}`);
  expect(mismatches).toEqual([]);
  // The table really separates the roles: viewers pass fewer checks than analysts, analysts than editors …
  expect(counts.viewer.allowed).toBeLessThan(counts.analyst.allowed);
  expect(counts.analyst.allowed).toBeLessThan(counts.editor.allowed);
  expect(counts.editor.allowed).toBeLessThan(counts.admin.allowed);
  expect(counts.admin.allowed).toBeLessThan(counts.owner.allowed);
});
