/**
 * Teams and roles as a client sees them, over real HTTP and gRPC against campaigns, analytics and teams
 * on PostgreSQL: a team is built through the API, then each role does what it may and is refused what it
 * may not; membership changes (role change, removal) apply on the very next request; other teams' rows and
 * teams are 404.
 */
import * as grpc from "@grpc/grpc-js";
import type { ServiceBroker } from "moleculer";
import type { GrpcServiceInstance } from "../../services/grpc.service";
import { GatewayClient } from "../../services/grpc/client";
import { createTestDatabase, freePort, startBroker, token, type TestDatabase } from "../helpers/env";
import { restClient } from "../helpers/http";

jest.setTimeout(60_000);

let db: TestDatabase;
let broker: ServiceBroker;
let baseUrl: string;
let grpcAddress: string;
let teamId: string;
/** REST clients with a token for the team; each token claims "owner", the membership decides. */
const as: Record<string, ReturnType<typeof restClient>> = {};

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  broker = await startBroker({ databaseUrl: db.url, services: ["campaigns", "analytics", "teams", "api", "grpc"], port, grpcPort: 0 });
  grpcAddress = `127.0.0.1:${(broker.getLocalService("grpc") as unknown as GrpcServiceInstance).boundPort}`;
});

afterAll(async () => {
  await broker?.stop();
  await db?.drop();
});

async function teamClient(user: string, team: string) {
  return restClient(baseUrl, await token(user, { team, role: "owner" }));
}

describe("a team built through the REST API", () => {
  beforeAll(async () => {
    const personal = restClient(baseUrl, await token("tr-owner"));
    const created = await personal("POST", "/api/teams", { name: "Studio" });
    expect(created.status).toBe(201);
    teamId = created.body.id;
    expect(created.headers.get("location")).toBe(`/api/teams/${teamId}`);
    expect(created.body).toMatchObject({ name: "Studio", ownerId: "tr-owner", role: "owner" });
    expect((await personal("POST", `/api/teams/${teamId}/members`, { userId: "tr-admin", role: "admin" })).status).toBe(201);
    for (const role of ["owner", "admin", "editor", "analyst", "viewer"]) as[role] = await teamClient(`tr-${role}`, teamId);
  });

  it("lets an admin add members, but not an owner, and answers 409 for a duplicate and 422 for a bad role", async () => {
    for (const role of ["editor", "analyst", "viewer"]) {
      const added = await as.admin("POST", `/api/teams/${teamId}/members`, { userId: `tr-${role}`, role });
      expect(added).toMatchObject({ status: 201, body: { teamId, userId: `tr-${role}`, role, addedBy: "tr-admin" } });
    }
    expect((await as.admin("POST", `/api/teams/${teamId}/members`, { userId: "tr-boss", role: "owner" })).status).toBe(403);
    const duplicate = await as.admin("POST", `/api/teams/${teamId}/members`, { userId: "tr-viewer", role: "editor" });
    expect(duplicate).toMatchObject({ status: 409, body: { error: { type: "MEMBER_EXISTS" } } });
    const bad = await as.admin("POST", `/api/teams/${teamId}/members`, { userId: "tr-x", role: "superuser" });
    expect(bad.status).toBe(422);
    expect(bad.body.error.data).toEqual([expect.objectContaining({ field: "role" })]);
    expect((await as.editor("POST", `/api/teams/${teamId}/members`, { userId: "tr-y", role: "viewer" })).status).toBe(403);

    const members = await as.viewer("GET", `/api/teams/${teamId}/members?limit=2`);
    expect(members.body.items.map((m: { userId: string }) => m.userId)).toEqual(["tr-owner", "tr-admin"]);
    const rest = await as.viewer("GET", `/api/teams/${teamId}/members?limit=10&cursor=${members.body.nextCursor}`);
    expect(rest.body.items.map((m: { role: string }) => m.role)).toEqual(["editor", "analyst", "viewer"]);
    expect((await as.viewer("GET", "/api/teams")).body.items).toEqual([expect.objectContaining({ id: teamId, role: "viewer" })]);
  });

  it("lets an editor create and edit a campaign in the team; a viewer reads it but may not change it", async () => {
    const created = await as.editor("POST", "/api/campaigns", { name: "Team drop", type: "ppv", platforms: ["onlyfans"] });
    expect(created).toMatchObject({ status: 201, body: { ownerId: "tr-editor", teamId } });
    const id = created.body.id;
    expect((await as.editor("PUT", `/api/campaigns/${id}`, { name: "Team drop v2" })).body.name).toBe("Team drop v2");

    const read = await as.viewer("GET", `/api/campaigns/${id}`);
    expect(read).toMatchObject({ status: 200, body: { name: "Team drop v2" } });
    const change = await as.viewer("PUT", `/api/campaigns/${id}`, { name: "Viewer was here" });
    expect(change).toMatchObject({ status: 403, body: { error: { type: "FORBIDDEN" } } });
    expect((await as.viewer("DELETE", `/api/campaigns/${id}`)).status).toBe(403);
    expect((await as.viewer("POST", "/api/campaigns", { name: "Nope", type: "ppv" })).status).toBe(403);
    expect((await as.viewer("GET", `/api/campaigns/${id}/report?format=csv`)).status).toBe(403);
    expect((await as.owner("GET", `/api/campaigns/${id}`)).body.name).toBe("Team drop v2");
  });

  it("lets an analyst export a report but not edit", async () => {
    const id = (await as.editor("POST", "/api/campaigns", { name: "Report me", type: "promotion" })).body.id;
    const csv = await fetch(`${baseUrl}/api/campaigns/${id}/report?format=csv`, { headers: { authorization: `Bearer ${await token("tr-analyst", { team: teamId })}` } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toMatch(/text\/csv/);
    expect(await csv.text()).toContain("Report me");
    expect((await as.analyst("GET", `/api/campaigns/${id}/metrics`)).status).toBe(200);
    expect((await as.analyst("PUT", `/api/campaigns/${id}`, { name: "Analyst edit" })).status).toBe(403);
    expect((await as.analyst("POST", `/api/campaigns/${id}/schedule`, { scheduledFor: new Date(Date.now() + 3_600_000).toISOString() })).status).toBe(403);
  });

  it("applies a role change on the next request and refuses a removed member at once", async () => {
    const id = (await as.editor("POST", "/api/campaigns", { name: "Promotion test", type: "ppv" })).body.id;
    expect((await as.viewer("PUT", `/api/campaigns/${id}`, { name: "x" })).status).toBe(403);
    expect((await as.admin("PUT", `/api/teams/${teamId}/members/tr-viewer`, { role: "editor" })).body.role).toBe("editor");
    expect((await as.viewer("PUT", `/api/campaigns/${id}`, { name: "Edited by the promoted viewer" })).status).toBe(200);

    expect(await as.admin("DELETE", `/api/teams/${teamId}/members/tr-viewer`)).toMatchObject({ status: 200, body: { removed: true } });
    const refused = await as.viewer("GET", `/api/campaigns/${id}`);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/not a member/);
    expect((await as.viewer("GET", "/api/campaigns")).status).toBe(403);
    // Their personal workspace still works, and the team's rows are not in it.
    const personal = restClient(baseUrl, await token("tr-viewer"));
    expect((await personal("GET", `/api/campaigns/${id}`)).status).toBe(404);
    expect((await personal("GET", "/api/teams")).body.items).toEqual([]);
  });

  it("keeps the last owner, and only lets an owner delete the team", async () => {
    const last = await as.owner("PUT", `/api/teams/${teamId}/members/tr-owner`, { role: "admin" });
    expect(last).toMatchObject({ status: 409, body: { error: { type: "LAST_OWNER" } } });
    expect((await as.admin("DELETE", `/api/teams/${teamId}/members/tr-owner`)).status).toBe(403);
    expect((await as.admin("DELETE", `/api/teams/${teamId}`)).status).toBe(403);
    expect((await as.owner("POST", `/api/teams/${teamId}/leave`)).status).toBe(409);
    expect((await as.analyst("POST", `/api/teams/${teamId}/leave`)).body).toEqual({ teamId, userId: "tr-analyst", removed: true });
    expect((await as.analyst("GET", "/api/campaigns")).status).toBe(403);
  });

  it("answers 404 to another team for this team's rows and for this team itself", async () => {
    const campaign = (await as.editor("POST", "/api/campaigns", { name: "Ours", type: "ppv" })).body.id;
    const rival = restClient(baseUrl, await token("tr-rival"));
    const other = (await rival("POST", "/api/teams", { name: "Rivals" })).body.id;
    const rivalTeam = await teamClient("tr-rival", other);
    expect((await rivalTeam("GET", `/api/campaigns/${campaign}`)).status).toBe(404);
    expect((await rivalTeam("PUT", `/api/campaigns/${campaign}`, { name: "Taken" })).status).toBe(404);
    expect((await rivalTeam("GET", `/api/teams/${teamId}`)).status).toBe(404);
    expect((await rivalTeam("GET", `/api/teams/${teamId}/members`)).status).toBe(404);
    expect((await rivalTeam("POST", `/api/teams/${teamId}/members`, { userId: "tr-rival", role: "owner" })).status).toBe(404);
    expect((await rivalTeam("GET", "/api/campaigns")).body.items.map((c: { id: string }) => c.id)).not.toContain(campaign);
    // A token naming a team its user is not in is refused outright, whatever role it claims.
    const forged = await teamClient("tr-rival", teamId);
    expect((await forged("GET", `/api/campaigns/${campaign}`)).status).toBe(403);
    expect((await forged("GET", `/api/teams/${teamId}`)).status).toBe(403);
  });

  it("documents the team routes in OpenAPI from their params", async () => {
    const doc = (await (await fetch(`${baseUrl}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, any>> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/api/teams", "/api/teams/{id}", "/api/teams/{id}/members", "/api/teams/{id}/members/{userId}", "/api/teams/{id}/leave"]),
    );
    const add = doc.paths["/api/teams/{id}/members"].post;
    const body = add.requestBody.content["application/json"].schema;
    expect(body.properties.role.enum).toEqual(["owner", "admin", "editor", "analyst", "viewer"]);
    expect(body.required).toEqual(expect.arrayContaining(["userId", "role"]));
    expect(doc.paths["/api/teams"].get.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(["limit", "cursor"]));
  });
});

describe("teams over gRPC", () => {
  let client: GatewayClient;
  let campaigns: GatewayClient;
  beforeAll(() => {
    client = new GatewayClient(grpcAddress, "marketing.v1.TeamService");
    campaigns = new GatewayClient(grpcAddress, "marketing.v1.CampaignService");
  });
  afterAll(() => {
    client?.close();
    campaigns?.close();
  });

  async function code(call: Promise<unknown>): Promise<string> {
    try {
      await call;
      return "OK";
    } catch (err) {
      return grpc.status[(err as grpc.ServiceError).code];
    }
  }

  it("creates a team, manages its members with roles, and applies a removal on the next call", async () => {
    const owner = await token("tg-owner");
    const team = await client.unary("CreateTeam", { name: "gRPC team" }, { token: owner });
    expect(team).toMatchObject({ name: "gRPC team", ownerId: "tg-owner", role: "TEAM_ROLE_OWNER" });
    const added = await client.unary("AddMember", { id: team.id, userId: "tg-ed", role: "TEAM_ROLE_VIEWER" }, { token: owner });
    expect(added).toMatchObject({ teamId: team.id, userId: "tg-ed", role: "TEAM_ROLE_VIEWER", addedBy: "tg-owner" });
    expect(await code(client.unary("AddMember", { id: team.id, userId: "tg-ed", role: "TEAM_ROLE_VIEWER" }, { token: owner }))).toBe("ALREADY_EXISTS");
    expect(await code(client.unary("AddMember", { id: team.id, userId: "tg-x" }, { token: owner }))).toBe("INVALID_ARGUMENT");

    const member = await token("tg-ed", { team: team.id, role: "owner" });
    expect(await code(campaigns.unary("CreateCampaign", { name: "No", type: "CAMPAIGN_TYPE_PPV" }, { token: member }))).toBe("PERMISSION_DENIED");
    const changed = await client.unary("ChangeMemberRole", { id: team.id, userId: "tg-ed", role: "TEAM_ROLE_EDITOR" }, { token: owner });
    expect(changed.role).toBe("TEAM_ROLE_EDITOR");
    const created = await campaigns.unary("CreateCampaign", { name: "Yes", type: "CAMPAIGN_TYPE_PPV" }, { token: member });
    expect(created).toMatchObject({ ownerId: "tg-ed", teamId: team.id });

    const list = await client.unary("ListMembers", { id: team.id, role: ["TEAM_ROLE_EDITOR"] }, { token: member });
    expect(list.items.map((m: { userId: string }) => m.userId)).toEqual(["tg-ed"]);
    expect((await client.unary("GetTeam", { id: team.id }, { token: member })).memberCount).toBe(2);
    expect(await code(client.unary("ChangeMemberRole", { id: team.id, userId: "tg-owner", role: "TEAM_ROLE_VIEWER" }, { token: owner }))).toBe("FAILED_PRECONDITION");

    expect(await client.unary("RemoveMember", { id: team.id, userId: "tg-ed" }, { token: owner })).toEqual({ teamId: team.id, userId: "tg-ed", removed: true });
    expect(await code(campaigns.unary("GetCampaign", { id: created.id }, { token: member }))).toBe("PERMISSION_DENIED");
    expect(await code(client.unary("GetTeam", { id: team.id }, { token: await token("tg-ed") }))).toBe("NOT_FOUND");
    expect((await client.unary("ListTeams", {}, { token: owner })).items.map((t: { id: string }) => t.id)).toEqual([team.id]);
    expect(await client.unary("DeleteTeam", { id: team.id }, { token: owner })).toEqual({ id: team.id, deleted: true });
  });
});
