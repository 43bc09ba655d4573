/**
 * Tenancy matrix over every REST route, read from the live OpenAPI document: two owners in two teams
 * (data seeded through the API), and every role of owner A's team. For each route that names a row, a
 * member of team A asking for owner B's row gets exactly the answer it gets for an id that does not exist
 * (404 where the role may act, the role's 403 where it may not: never a hint that the row exists), and
 * no B row changes. Lists and searches never show B's ids (checked first, before upsert routes have
 * given team A rows of its own under B's template id).
 */
import crypto from "node:crypto";
import { ROLES, type Role } from "../../lib/auth";
import { token } from "../helpers/env";
import { restClient } from "../helpers/http";
import { fillPath, sample, type OpenApiDocument, type SeedIds } from "./hostile/generator";
import { addMembers, diffSnapshots, OWNER_A, OWNER_B, pathIds, seed, snapshot, startServer, type Server } from "./hostile/harness";

jest.setTimeout(300_000);

let server: Server;
let doc: OpenApiDocument;
let a: SeedIds;
let b: SeedIds;
const members = new Map<Role, ReturnType<typeof restClient>>();

/** B's rows only: team A's members may legitimately change A's. */
function onlyB(tables: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(tables).map(([t, rows]) => [t, rows.filter((r) => r.includes(OWNER_B))]));
}

beforeAll(async () => {
  server = await startServer();
  ({ a, b } = await seed(server.baseUrl));
  doc = (await (await fetch(`${server.baseUrl}/api/openapi.json`)).json()) as OpenApiDocument;
  // Team A's members, one per role; their tokens name team A and the membership gives the role.
  await addMembers(server.baseUrl, OWNER_A, a.teamId, Object.fromEntries(ROLES.map((role) => [`team-a-${role}`, role])));
  for (const role of ROLES) members.set(role, restClient(server.baseUrl, await token(`team-a-${role}`, { team: a.teamId, role })));
});

afterAll(async () => {
  await server?.stop();
});

/** Routes of the API that name a row in their path, with a JSON body sample when they take one. */
function rowRoutes() {
  const out: Array<{ method: string; template: string; body?: unknown }> = [];
  for (const [template, methods] of Object.entries(doc.paths)) {
    if (!template.startsWith("/api/") || !template.includes("{")) continue;
    for (const [lower, op] of Object.entries(methods)) {
      const schema = (op as { requestBody?: { content?: Record<string, { schema?: object }> } }).requestBody?.content?.["application/json"]?.schema;
      out.push({ method: lower.toUpperCase(), template, body: schema ? sample(schema) : undefined });
    }
  }
  return out;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An id that exists nowhere for every path parameter, of the same shape as B's (UUID or B's id + suffix). */
function missingIds(ids: SeedIds): SeedIds {
  const fresh = (k: string, v: string) => (k === "platform" ? v : UUID.test(v) ? crypto.randomUUID() : `${v}_${crypto.randomBytes(4).toString("hex")}`);
  return Object.fromEntries(Object.entries(ids).map(([k, v]) => [k, fresh(k, v)]));
}

function errorType(body: unknown): unknown {
  return (body as { error?: { type?: string } } | undefined)?.error?.type;
}

it("never shows owner B's rows in any list, search or report to team A", async () => {
  const bIds = [b.campaignId, b.segmentId, b.abTestId, b.variantId, b.fanId, b.templateId, b.automationId, OWNER_B].filter((id) => id && id !== "none");
  const shown: string[] = [];
  for (const role of ROLES) {
    const call = members.get(role)!;
    for (const [template, methods] of Object.entries(doc.paths)) {
      if (!template.startsWith("/api/") || !("get" in methods)) continue;
      const res = await call("GET", fillPath(template, pathIds(a, template)));
      const text = JSON.stringify(res.body);
      for (const id of bIds) if (text.includes(id)) shown.push(`${role} GET ${template} shows ${id}`);
    }
  }
  expect(shown).toEqual([]);
});

it("answers every role of team A the same for owner B's ids as for ids that do not exist, and changes no B row", async () => {
  const before = onlyB(await snapshot(server.db.url));
  const leaks: string[] = [];
  const counts: Record<string, number> = {};
  for (const role of ROLES) {
    const call = members.get(role)!;
    for (const { method, template, body } of rowRoutes()) {
      const theirs = pathIds(b, template);
      const foreign = await call(method, fillPath(template, theirs), body);
      const missing = await call(method, fillPath(template, missingIds(theirs)), body);
      counts[foreign.status] = (counts[foreign.status] ?? 0) + 1;
      // Upsert routes (PUT /message-templates/{id}) create the caller's own row under that id: fine as long
      // as the row answered is the caller's and B's stays as it was (checked below).
      const ownRow = (foreign.body as { ownerId?: string } | undefined)?.ownerId === `team-a-${role}`;
      const succeeded = foreign.status >= 200 && foreign.status < 300;
      if (foreign.status !== missing.status || errorType(foreign.body) !== errorType(missing.body) || (succeeded && !ownRow)) {
        leaks.push(`${role} ${method} ${template}: B's id → ${foreign.status} ${JSON.stringify(foreign.body).slice(0, 160)}; missing id → ${missing.status}`);
      }
      if (foreign.status === 403 && JSON.stringify(foreign.body).includes(OWNER_B)) leaks.push(`${role} ${method} ${template}: 403 names owner B`);
    }
  }
  console.log(`tenancy matrix: answers to B's ids by status ${JSON.stringify(counts)}`);
  expect(leaks).toEqual([]);
  expect(counts["404"]).toBeGreaterThan(100);
  expect(diffSnapshots(before, onlyB(await snapshot(server.db.url)))).toEqual([]);
});

it("lets every role of team A read team A's rows (the matrix is not vacuous)", async () => {
  for (const role of ROLES) {
    const call = members.get(role)!;
    expect((await call("GET", `/api/campaigns/${a.campaignId}`)).status).toBe(200);
    expect((await call("GET", `/api/segments/${a.segmentId}`)).status).toBe(200);
    expect((await call("GET", `/api/ab-tests/${a.abTestId}`)).status).toBe(200);
  }
  // …and owner A still sees nothing of B's directly.
  const ownerA = restClient(server.baseUrl, await token(OWNER_A, { team: a.teamId }));
  expect((await ownerA("GET", `/api/campaigns/${b.campaignId}`)).status).toBe(404);
});
