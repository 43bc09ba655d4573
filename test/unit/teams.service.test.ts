/**
 * The teams service on a local broker and real PostgreSQL: team lifecycle, the member rules (who may
 * grant, change and remove which role, the last owner), validation, paging, and membership as the source
 * of truth for the role a team token acts with (lib/authenticator.ts), including its cache cleaning.
 */
import type { ServiceBroker } from "moleculer";
import { Authenticator } from "../../lib/authenticator";
import { as, createTestDatabase, startBroker, TEST_JWT_SECRET, token, type TestDatabase } from "../helpers/env";

let db: TestDatabase;
let broker: ServiceBroker;
let auth: Authenticator;

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startBroker({ databaseUrl: db.url, services: ["teams"] });
  auth = new Authenticator(broker, () => TEST_JWT_SECRET);
});

afterAll(async () => {
  await broker?.stop();
  await db?.drop();
});

const call = <T = any>(action: string, params: object, user: string) => broker.call<T, object>(`teams.${action}`, params, as(user));

/** A team created by `owner` with the given members already added (by the owner). */
async function teamWith(owner: string, members: Record<string, string> = {}): Promise<string> {
  const team = await call("create", { name: `Team of ${owner}` }, owner);
  for (const [user, role] of Object.entries(members)) await call("addMember", { id: team.id, userId: user, role }, owner);
  return team.id;
}

describe("teams", () => {
  it("creates a team whose creator is its owner member, and lists, gets, renames and deletes it", async () => {
    const team = await call("create", { name: "  Studio  " }, "t-creator");
    expect(team).toMatchObject({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: "Studio", ownerId: "t-creator", role: "owner" });
    const members = await call("members", { id: team.id }, "t-creator");
    expect(members.items).toEqual([expect.objectContaining({ teamId: team.id, userId: "t-creator", role: "owner", addedBy: "t-creator" })]);

    expect(await call("get", { id: team.id }, "t-creator")).toMatchObject({ id: team.id, role: "owner", memberCount: 1 });
    expect((await call("update", { id: team.id, name: "Studio 2" }, "t-creator")).name).toBe("Studio 2");
    expect((await call("list", {}, "t-creator")).items.map((t: { id: string }) => t.id)).toContain(team.id);

    expect(await call("remove", { id: team.id }, "t-creator")).toEqual({ id: team.id, deleted: true });
    await expect(call("get", { id: team.id }, "t-creator")).rejects.toMatchObject({ code: 404 });
    expect((await call("list", {}, "t-creator")).items).toEqual([]);
  });

  it("answers 404 for a team the caller is not a member of, whatever they ask", async () => {
    const id = await teamWith("t-own-404");
    for (const [action, params] of [
      ["get", { id }],
      ["members", { id }],
      ["update", { id, name: "x" }],
      ["remove", { id }],
      ["addMember", { id, userId: "intruder", role: "owner" }],
      ["updateMember", { id, userId: "t-own-404", role: "viewer" }],
      ["removeMember", { id, userId: "t-own-404" }],
      ["leave", { id }],
    ] as const) {
      await expect(call(action, params, "intruder")).rejects.toMatchObject({ code: 404, type: "NOT_FOUND" });
    }
    expect((await call("get", { id }, "t-own-404")).memberCount).toBe(1);
  });

  it("lets owners and admins manage members, and refuses the others with 403", async () => {
    const id = await teamWith("t-own", { "t-admin": "admin", "t-editor": "editor", "t-analyst": "analyst", "t-viewer": "viewer" });
    for (const user of ["t-editor", "t-analyst", "t-viewer"]) {
      await expect(call("addMember", { id, userId: `new-by-${user}`, role: "viewer" }, user)).rejects.toMatchObject({ code: 403 });
      await expect(call("update", { id, name: "renamed" }, user)).rejects.toMatchObject({ code: 403 });
      await expect(call("removeMember", { id, userId: "t-viewer" }, user)).rejects.toMatchObject({ code: 403 });
      // …but every member may read the team and its members.
      expect((await call("members", { id }, user)).items).toHaveLength(5);
    }
    const added = await call("addMember", { id, userId: "t-new", role: "editor" }, "t-admin");
    expect(added).toMatchObject({ teamId: id, userId: "t-new", role: "editor", addedBy: "t-admin" });
    expect((await call("updateMember", { id, userId: "t-new", role: "analyst" }, "t-admin")).role).toBe("analyst");
    expect(await call("removeMember", { id, userId: "t-new" }, "t-admin")).toEqual({ teamId: id, userId: "t-new", removed: true });
    expect((await call("update", { id, name: "Renamed by admin" }, "t-admin")).name).toBe("Renamed by admin");
  });

  it("keeps the owner role to owners: admins may neither grant it nor change, remove an owner or delete the team", async () => {
    const id = await teamWith("o-own", { "o-admin": "admin", "o-editor": "editor" });
    await expect(call("addMember", { id, userId: "o-x", role: "owner" }, "o-admin")).rejects.toMatchObject({ code: 403 });
    await expect(call("updateMember", { id, userId: "o-editor", role: "owner" }, "o-admin")).rejects.toMatchObject({ code: 403 });
    await expect(call("updateMember", { id, userId: "o-admin", role: "owner" }, "o-admin")).rejects.toMatchObject({ code: 403 });
    await expect(call("updateMember", { id, userId: "o-own", role: "viewer" }, "o-admin")).rejects.toMatchObject({ code: 403 });
    await expect(call("removeMember", { id, userId: "o-own" }, "o-admin")).rejects.toMatchObject({ code: 403 });
    await expect(call("remove", { id }, "o-admin")).rejects.toMatchObject({ code: 403 });
    // The owner may do all of it.
    expect((await call("updateMember", { id, userId: "o-editor", role: "owner" }, "o-own")).role).toBe("owner");
    expect((await call("addMember", { id, userId: "o-x", role: "owner" }, "o-own")).role).toBe("owner");
    expect((await call("removeMember", { id, userId: "o-x" }, "o-editor")).removed).toBe(true);
    const owners = await call("members", { id, role: ["owner"] }, "o-own");
    expect(owners.items.map((m: { userId: string }) => m.userId).sort()).toEqual(["o-editor", "o-own"]);
  });

  it("never leaves a team without an owner (demote, remove, leave), but lets a second owner step down", async () => {
    const id = await teamWith("l-own", { "l-admin": "admin" });
    for (const attempt of [
      call("updateMember", { id, userId: "l-own", role: "admin" }, "l-own"),
      call("removeMember", { id, userId: "l-own" }, "l-own"),
      call("leave", { id }, "l-own"),
    ]) {
      await expect(attempt).rejects.toMatchObject({ code: 409, type: "LAST_OWNER" });
    }
    await call("updateMember", { id, userId: "l-admin", role: "owner" }, "l-own");
    expect((await call("updateMember", { id, userId: "l-own", role: "viewer" }, "l-own")).role).toBe("viewer");
    // Now l-admin is the last owner.
    await expect(call("leave", { id }, "l-admin")).rejects.toMatchObject({ code: 409 });
    expect(await call("leave", { id }, "l-own")).toEqual({ teamId: id, userId: "l-own", removed: true });
    await expect(call("get", { id }, "l-own")).rejects.toMatchObject({ code: 404 });
  });

  it("lets exactly one of two owners demoting each other at the same time win", async () => {
    for (let round = 0; round < 5; round++) {
      const id = await teamWith(`race-a-${round}`, { [`race-b-${round}`]: "owner" });
      const results = await Promise.allSettled([
        call("updateMember", { id, userId: `race-b-${round}`, role: "editor" }, `race-a-${round}`),
        call("updateMember", { id, userId: `race-a-${round}`, role: "editor" }, `race-b-${round}`),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const owners = await broker.call<any, object>("teams.members", { id, role: ["owner"] }, as(`race-a-${round}`)).catch(() =>
        broker.call<any, object>("teams.members", { id, role: ["owner"] }, as(`race-b-${round}`)),
      );
      expect(owners.items).toHaveLength(1);
    }
  });

  it("answers 409 for a member added twice and 404 for changing or removing a non-member", async () => {
    const id = await teamWith("d-own", { "d-ed": "editor" });
    await expect(call("addMember", { id, userId: "d-ed", role: "viewer" }, "d-own")).rejects.toMatchObject({ code: 409, type: "MEMBER_EXISTS", data: { role: "editor" } });
    await expect(call("updateMember", { id, userId: "nobody", role: "viewer" }, "d-own")).rejects.toMatchObject({ code: 404 });
    await expect(call("removeMember", { id, userId: "nobody" }, "d-own")).rejects.toMatchObject({ code: 404 });
  });

  it("validates params with field details", async () => {
    const id = await teamWith("v-own");
    const problems = async (action: string, params: object) => {
      const err = await call(action, params, "v-own").catch((e) => e);
      expect(err).toMatchObject({ code: 422 });
      return (err.data as Array<{ field: string }>).map((p) => p.field);
    };
    expect(await problems("addMember", { id, userId: "x", role: "superuser" })).toEqual(["role"]);
    expect(await problems("addMember", { id, role: "viewer" })).toEqual(["userId"]);
    expect(await problems("addMember", { id, userId: "x", role: "viewer", isAdmin: true })).toEqual(["isAdmin"]);
    expect(await problems("create", { name: "   " })).toEqual(["name"]);
    expect(await problems("create", { name: "x".repeat(201) })).toEqual(["name"]);
    expect(await problems("members", { id, limit: 0 })).toEqual(["limit"]);
    expect(await problems("members", { id, role: ["nope"] })).toEqual(["role[0]"]);
    expect(await problems("get", { id: "" })).toEqual(["id"]);
    await expect(call("list", { cursor: "garbage" }, "v-own")).rejects.toMatchObject({ code: 422 });
  });

  it("pages members and teams with stable cursors", async () => {
    const members = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`p-m${i}`, "viewer"]));
    const id = await teamWith("p-own", members);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await call("members", { id, limit: 3, ...(cursor ? { cursor } : {}) }, "p-m3");
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((m: { userId: string }) => m.userId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(["p-own", ...Object.keys(members)]);

    for (let i = 0; i < 4; i++) await call("create", { name: `P${i}` }, "p-many");
    const first = await call("list", { limit: 3, sort: "name", order: "asc" }, "p-many");
    const second = await call("list", { limit: 3, sort: "name", order: "asc", cursor: first.nextCursor }, "p-many");
    expect([...first.items, ...second.items].map((t: { name: string }) => t.name)).toEqual(["P0", "P1", "P2", "P3"]);
    expect(second.nextCursor).toBeNull();
  });
});

describe("membership as the source of truth for a team token's role", () => {
  it("acts with the stored role whatever the token claims, and follows changes at once", async () => {
    const id = await teamWith("m-own", { "m-user": "viewer" });
    const bearer = await token("m-user", { team: id, role: "owner" });
    expect(await auth.authenticate(bearer)).toEqual({ id: "m-user", teamId: id, role: "viewer" });
    await call("updateMember", { id, userId: "m-user", role: "editor" }, "m-own");
    expect((await auth.authenticate(bearer)).role).toBe("editor");
    await call("removeMember", { id, userId: "m-user" }, "m-own");
    await expect(auth.authenticate(bearer)).rejects.toMatchObject({ code: 403, data: { teamId: id, reason: "NOT_A_TEAM_MEMBER" } });
    await call("addMember", { id, userId: "m-user", role: "analyst" }, "m-own");
    expect((await auth.authenticate(bearer)).role).toBe("analyst");
    await call("remove", { id }, "m-own");
    await expect(auth.authenticate(bearer)).rejects.toMatchObject({ code: 403 });
  });

  it("refuses a token for a team that does not exist or that the user left, and keeps tokens without a team as they were", async () => {
    await expect(auth.authenticate(await token("x-user", { team: "no-such-team" }))).rejects.toMatchObject({
      code: 403,
      message: expect.stringContaining("not a member"),
    });
    await expect(auth.authenticate(await token("x-user", { team: "t".repeat(500) }))).rejects.toMatchObject({ code: 403 });
    expect(await auth.authenticate(await token("x-user"))).toEqual({ id: "x-user", teamId: null, role: "owner" });
    expect(await auth.authenticate(await token("x-user", { role: "viewer" }))).toEqual({ id: "x-user", teamId: null, role: "viewer" });
    const id = await teamWith("x-own", { "x-user": "admin" });
    const bearer = await token("x-user", { team: id, role: "viewer" });
    expect((await auth.authenticate(bearer)).role).toBe("admin");
    await call("leave", { id }, "x-user");
    await expect(auth.authenticate(bearer)).rejects.toMatchObject({ code: 403 });
    await expect(auth.authenticate("not.a.token")).rejects.toMatchObject({ code: 401 });
  });
});
