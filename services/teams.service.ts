/**
 * Teams: creating and renaming teams, their members and roles. Membership is the source of truth for a
 * team token's role: the gateways ask `resolveMembership` on every request that names a team
 * (lib/authenticator.ts), and every membership change cleans its cached answer on all nodes.
 *
 * Team-scoped actions (`teamAccess`) check the caller's role in the team the request names, not the role
 * of the token's team: an owner of team A holding a token for team B still manages A. Someone who is not a
 * member of the team gets 404, as for any row they cannot see.
 */
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { requireUser } from "../lib/access";
import { ROLES, type Role } from "../lib/auth";
import type { Membership } from "../lib/authenticator";
import { ForbiddenError, NotFoundError } from "../lib/errors";
import { keyOf } from "../lib/cache-keys";
import { CacheCleanerMixin, StoreMixin } from "../lib/mixins";
import { auditOf } from "./audit/context";
import { allows } from "./teams/rules";
import { TEAM_SORTS, TeamStore, type TeamSort } from "./teams/store";
import "../lib/schema-types";

/** How long a membership answer may be served from the cache; changes clean it at once. */
const MEMBERSHIP_TTL_SECONDS = 30;

const teamId = { type: "string", min: 1, max: 100 } as const;
const userId = { type: "string", min: 1, max: 200 } as const;
const role = { type: "enum", values: ROLES } as const;
const teamName = { type: "string", trim: true, min: 1, max: 200 } as const;
const limit = (max: number, dflt: number) => ({ type: "number", integer: true, min: 1, max, convert: true, default: dflt }) as const;
const cursor = { type: "string", max: 1000, optional: true } as const;

type Methods = {
  cleanCache(id?: string): Promise<void>;
  cachedRead<T>(key: string, ttlSeconds: number, load: () => Promise<T>): Promise<T>;
};
type Vars = { store: TeamStore };
type This = Methods & Vars;

/** Cache key of one membership; the team id comes first so a change cleans `cleanPattern("teams", teamId)`. */
function membershipKey(team: string, user: string): string {
  return keyOf("teams.resolveMembership", team, user);
}

const TeamsService: ServiceSchema<ServiceSettingSchema, Methods, Vars> = {
  name: "teams",
  settings: { rest: "/" },
  mixins: [StoreMixin((db) => new TeamStore(db)), CacheCleanerMixin("teams")],

  hooks: {
    before: {
      /** Team-scoped actions: the caller must be a member of `params.id` with the access the action needs. */
      async "*"(this: This, ctx: Context<{ id?: string }>) {
        const need = ctx.action?.teamAccess;
        if (!need) return;
        const user = requireUser(ctx);
        const id = String(ctx.params.id);
        const memberRole = await this.store.roleOf(id, user.id);
        if (!memberRole) throw new NotFoundError("team", id);
        if (!allows(memberRole, need)) {
          const what = need === "owner" ? "Only an owner of this team may do this" : `The role "${memberRole}" may not ${need} this team`;
          throw new ForbiddenError(what, { role: memberRole, needed: need });
        }
      },
    },
  },

  actions: {
    // Any signed-in user may create a team and see their own; what happens inside a team depends on the
    // caller's role there (teamAccess), so the token's role does not limit these actions.
    create: {
      rest: "POST /teams",
      permission: "read",
      params: { $$strict: true, name: teamName },
      openapi: { summary: "Create a team; the caller becomes its owner", tags: ["teams"], status: 201 },
      async handler(this: This, ctx: Context<{ name: string }>) {
        const user = requireUser(ctx);
        const team = await this.store.create(user.id, ctx.params.name, auditOf(ctx));
        ctx.emit("teams.team.created", { team, by: user.id });
        Object.assign(ctx.meta, { $statusCode: 201, $location: `/api/teams/${team.id}` });
        return team;
      },
    },

    list: {
      rest: "GET /teams",
      permission: "read",
      params: {
        $$strict: true,
        sort: { type: "enum", values: TEAM_SORTS, default: "createdAt" },
        order: { type: "enum", values: ["asc", "desc"], default: "desc" },
        limit: limit(100, 20),
        cursor,
      },
      openapi: { summary: "List the teams the caller is a member of, with the caller's role in each", tags: ["teams"] },
      handler(this: This, ctx: Context<{ sort: TeamSort; order: "asc" | "desc"; limit: number; cursor?: string }>) {
        const { sort, order, limit: size, cursor: after } = ctx.params;
        return this.store.listForUser(requireUser(ctx).id, { sort, order, limit: size, cursor: after });
      },
    },

    get: {
      rest: "GET /teams/:id",
      permission: "read",
      teamAccess: "read",
      params: { $$strict: true, id: teamId },
      openapi: { summary: "Get a team the caller is a member of (with the caller's role and the member count)", tags: ["teams"] },
      async handler(this: This, ctx: Context<{ id: string }>) {
        const team = await this.store.getForMember(ctx.params.id, requireUser(ctx).id);
        if (!team) throw new NotFoundError("team", ctx.params.id);
        return team;
      },
    },

    update: {
      rest: ["PUT /teams/:id", "PATCH /teams/:id"],
      permission: "read",
      teamAccess: "manage",
      params: { $$strict: true, id: teamId, name: teamName },
      openapi: { summary: "Rename a team (owners and admins of the team)", tags: ["teams"] },
      async handler(this: This, ctx: Context<{ id: string; name: string }>) {
        const user = requireUser(ctx);
        const team = await this.store.rename(ctx.params.id, user.id, ctx.params.name, auditOf(ctx));
        if (!team) throw new NotFoundError("team", ctx.params.id);
        ctx.emit("teams.team.renamed", { team, by: user.id });
        return team;
      },
    },

    remove: {
      rest: "DELETE /teams/:id",
      permission: "read",
      teamAccess: "owner",
      params: { $$strict: true, id: teamId },
      openapi: {
        summary: "Delete a team and all its memberships (owners of the team only)",
        description: "Rows created in the team stay with the members who created them; nobody can use the team's tokens any more.",
        tags: ["teams"],
      },
      async handler(this: This, ctx: Context<{ id: string }>) {
        const user = requireUser(ctx);
        const team = await this.store.remove(ctx.params.id, user.id, auditOf(ctx));
        if (!team) throw new NotFoundError("team", ctx.params.id);
        await this.cleanCache(team.id);
        ctx.emit("teams.team.deleted", { team, by: user.id });
        return { id: team.id, deleted: true };
      },
    },

    members: {
      rest: "GET /teams/:id/members",
      permission: "read",
      teamAccess: "read",
      params: {
        $$strict: true,
        id: teamId,
        role: { type: "array", items: role, convert: true, unique: true, optional: true },
        limit: limit(200, 50),
        cursor,
      },
      openapi: { summary: "List a team's members and their roles, longest-standing first", tags: ["teams"] },
      handler(this: This, ctx: Context<{ id: string; role?: Role[]; limit: number; cursor?: string }>) {
        const { id, role: roles, limit: size, cursor: after } = ctx.params;
        return this.store.members(id, { role: roles }, { limit: size, cursor: after });
      },
    },

    addMember: {
      rest: "POST /teams/:id/members",
      permission: "read",
      teamAccess: "manage",
      params: { $$strict: true, id: teamId, userId, role },
      openapi: {
        summary: "Add a member with a role (owners and admins; only an owner may add an owner)",
        description: "409 when the user is already a member: change their role with PUT instead.",
        tags: ["teams"],
        status: 201,
      },
      async handler(this: This, ctx: Context<{ id: string; userId: string; role: Role }>) {
        const user = requireUser(ctx);
        const member = await this.store.addMember(ctx.params.id, user.id, ctx.params.userId, ctx.params.role, auditOf(ctx));
        await this.cleanCache(member.teamId);
        ctx.emit("teams.member.added", { member, by: user.id });
        Object.assign(ctx.meta, { $statusCode: 201, $location: `/api/teams/${member.teamId}/members/${encodeURIComponent(member.userId)}` });
        return member;
      },
    },

    updateMember: {
      rest: ["PUT /teams/:id/members/:userId", "PATCH /teams/:id/members/:userId"],
      permission: "read",
      teamAccess: "manage",
      params: { $$strict: true, id: teamId, userId, role },
      openapi: {
        summary: "Change a member's role (owners and admins; only an owner may grant, change or take the owner role)",
        description: "409 when it would leave the team without an owner.",
        tags: ["teams"],
      },
      async handler(this: This, ctx: Context<{ id: string; userId: string; role: Role }>) {
        const user = requireUser(ctx);
        const { before, member } = await this.store.changeRole(ctx.params.id, user.id, ctx.params.userId, ctx.params.role, auditOf(ctx));
        await this.cleanCache(member.teamId);
        if (before !== member.role) ctx.emit("teams.member.changed", { member, previousRole: before, by: user.id });
        return member;
      },
    },

    removeMember: {
      rest: "DELETE /teams/:id/members/:userId",
      permission: "read",
      teamAccess: "manage",
      params: { $$strict: true, id: teamId, userId },
      openapi: {
        summary: "Remove a member (owners and admins; only an owner may remove an owner)",
        description: "The member's next request with a token for this team is refused. 409 for the team's last owner.",
        tags: ["teams"],
      },
      async handler(this: This, ctx: Context<{ id: string; userId: string }>) {
        const user = requireUser(ctx);
        const member = await this.store.removeMember(ctx.params.id, user.id, ctx.params.userId, auditOf(ctx));
        await this.cleanCache(member.teamId);
        ctx.emit("teams.member.removed", { member, by: user.id });
        return { teamId: member.teamId, userId: member.userId, removed: true };
      },
    },

    leave: {
      rest: "POST /teams/:id/leave",
      permission: "read",
      teamAccess: "read",
      params: { $$strict: true, id: teamId },
      openapi: { summary: "Leave a team (the last owner cannot: hand ownership over or delete the team)", tags: ["teams"] },
      async handler(this: This, ctx: Context<{ id: string }>) {
        const user = requireUser(ctx);
        const member = await this.store.leave(ctx.params.id, user.id, auditOf(ctx));
        await this.cleanCache(member.teamId);
        ctx.emit("teams.member.removed", { member, by: user.id });
        return { teamId: member.teamId, userId: member.userId, removed: true };
      },
    },

    /**
     * Internal, for the gateways' authentication (lib/authenticator.ts): the user's role in a team, or
     * null. Cached for a short time on every node; each membership change cleans the team's entries.
     */
    resolveMembership: {
      rest: null,
      visibility: "public",
      permission: false,
      params: { $$strict: true, teamId: { type: "string", min: 1, max: 200 }, userId: { type: "string", min: 1, max: 1000 } },
      handler(this: This, ctx: Context<{ teamId: string; userId: string }>): Promise<Membership> {
        const { teamId: team, userId: user } = ctx.params;
        return this.cachedRead(membershipKey(team, user), MEMBERSHIP_TTL_SECONDS, async () => ({
          teamId: team,
          userId: user,
          role: (await this.store.roleOf(team, user)) ?? null,
        }));
      },
    },
  },
};

export default TeamsService;
