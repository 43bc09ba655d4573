/**
 * Every query on the teams tables. A team is visible only to its members; membership changes run in a
 * transaction that first locks the team's row, so two concurrent changes cannot both remove "the other"
 * owner and leave the team with none.
 */
import crypto from "node:crypto";
import { and, asc, count, desc, eq, inArray, sql, type SQL } from "drizzle-orm";
import type { Role } from "../../lib/auth";
import type { Db } from "../../lib/db";
import { ConflictError, ForbiddenError, NotFoundError } from "../../lib/errors";
import { afterCursor, decodeCursor, encodeCursor, toPage, type Page, type PageRequest } from "../../lib/pagination";
import type { AuditContext } from "../audit/context";
import { diff, recordAudit, targetOf, type Changes } from "../audit/store";
import { leaveRefusal, memberChangeRefusal, type Refusal } from "./rules";
import { teamMembers, teams, type TeamMemberRow, type TeamRow } from "./schema";

export type Team = TeamRow;
/** A team as one of its members sees it: with the member's own role. */
export type MyTeam = Team & { role: Role };
export type Member = TeamMemberRow;

export const TEAM_SORTS = ["createdAt", "name"] as const;
export type TeamSort = (typeof TEAM_SORTS)[number];

const SORT_COLUMNS = { createdAt: teams.createdAt, name: teams.name } as const;

/** Roles that may rename a team (the "manage" permission). */
const MANAGERS: Role[] = ["owner", "admin"];

function refuse(refusal: Refusal | undefined): void {
  if (!refusal) return;
  throw refusal.status === 403 ? new ForbiddenError(refusal.message) : new ConflictError(refusal.message, undefined, "LAST_OWNER");
}

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/**
 * Audit entry of a change to a team: readable by its owner and by members acting in the team. Membership
 * changes are `{"members.<userId>": {from: role | null, to: role | null}}` on the team.
 */
const teamEntry = (team: { id: string; ownerId: string }, changes: Changes) => targetOf({ ownerId: team.ownerId, teamId: team.id }, "team", team.id, changes);
const memberChange = (userId: string, from: Role | null, to: Role | null): Changes => ({ [`members.${userId}`]: { from, to } });

/** What a membership change sees inside its transaction. */
interface Locked {
  tx: Tx;
  team: { id: string; ownerId: string };
  actorRole: Role;
  owners: number;
  roleOf(userId: string): Promise<Role | undefined>;
}

export class TeamStore {
  constructor(private readonly db: Db) {}

  /** A new team with its creator as the first owner. */
  async create(userId: string, name: string, audit: AuditContext): Promise<MyTeam> {
    const now = new Date();
    return this.db.transaction(async (tx) => {
      const [team] = await tx.insert(teams).values({ id: crypto.randomUUID(), name, ownerId: userId, createdAt: now, updatedAt: now }).returning();
      await tx.insert(teamMembers).values({ teamId: team.id, userId, role: "owner", addedBy: userId, createdAt: now, updatedAt: now });
      await recordAudit(tx, audit, teamEntry(team, { ...diff(undefined, team), ...memberChange(userId, null, "owner") }));
      return { ...team, role: "owner" as const };
    });
  }

  /** The user's role in the team; undefined when they are not a member (or the team does not exist). */
  async roleOf(teamId: string, userId: string, db: Db | Tx = this.db): Promise<Role | undefined> {
    const [row] = await db
      .select({ role: teamMembers.role })
      .from(teamMembers)
      .where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.userId, userId)));
    return row?.role;
  }

  /** The team with the caller's role and its member count; undefined when the caller is not a member. */
  async getForMember(teamId: string, userId: string): Promise<(MyTeam & { memberCount: number }) | undefined> {
    const [row] = await this.db
      .select({ team: teams, role: teamMembers.role })
      .from(teams)
      .innerJoin(teamMembers, and(eq(teamMembers.teamId, teams.id), eq(teamMembers.userId, userId)))
      .where(eq(teams.id, teamId));
    if (!row) return undefined;
    const [{ n }] = await this.db.select({ n: count() }).from(teamMembers).where(eq(teamMembers.teamId, teamId));
    return { ...row.team, role: row.role, memberCount: Number(n) };
  }

  /** Teams the user is a member of, with their role in each. */
  async listForUser(userId: string, page: PageRequest<TeamSort>): Promise<Page<MyTeam>> {
    const col = SORT_COLUMNS[page.sort];
    const where: SQL[] = [eq(teamMembers.userId, userId)];
    if (page.cursor) {
      const c = decodeCursor(page.cursor, page.sort, page.order);
      where.push(afterCursor(col, teams.id, page.order, page.sort === "createdAt" ? new Date(c.v) : c.v, c.id));
    }
    const direction = page.order === "asc" ? asc : desc;
    const rows = await this.db
      .select({ team: teams, role: teamMembers.role })
      .from(teamMembers)
      .innerJoin(teams, eq(teams.id, teamMembers.teamId))
      .where(and(...where))
      .orderBy(direction(col), direction(teams.id))
      .limit(page.limit + 1);
    const items = rows.map((r) => ({ ...r.team, role: r.role }));
    return toPage(items, page, (t) => (page.sort === "createdAt" ? t.createdAt.toISOString() : t.name));
  }

  /** Renames the team if `actorId` (still) manages it. */
  async rename(teamId: string, actorId: string, name: string, audit: AuditContext): Promise<Team | undefined> {
    return this.db.transaction(async (tx) => {
      const [before] = await tx.select().from(teams).where(and(eq(teams.id, teamId), this.memberWith(actorId, MANAGERS))).for("update");
      if (!before) return undefined;
      const [row] = await tx.update(teams).set({ name, updatedAt: new Date() }).where(eq(teams.id, teamId)).returning();
      await recordAudit(tx, audit, teamEntry(row, diff(before, row)));
      return row;
    });
  }

  /** Deletes the team (memberships cascade) if `actorId` is (still) one of its owners. */
  async remove(teamId: string, actorId: string, audit: AuditContext): Promise<Team | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.delete(teams).where(and(eq(teams.id, teamId), this.memberWith(actorId, ["owner"]))).returning();
      if (row) await recordAudit(tx, audit, teamEntry(row, diff(row, undefined)));
      return row;
    });
  }

  /** A team's members, longest-standing first. */
  async members(teamId: string, filter: { role?: Role[] }, page: { limit: number; cursor?: string }): Promise<Page<Member>> {
    const where: SQL[] = [eq(teamMembers.teamId, teamId)];
    if (filter.role?.length) where.push(inArray(teamMembers.role, filter.role));
    if (page.cursor) {
      const c = decodeCursor(page.cursor, "createdAt", "asc");
      where.push(afterCursor(teamMembers.createdAt, teamMembers.userId, "asc", new Date(c.v), c.id));
    }
    const rows = await this.db
      .select()
      .from(teamMembers)
      .where(and(...where))
      .orderBy(asc(teamMembers.createdAt), asc(teamMembers.userId))
      .limit(page.limit + 1);
    const items = rows.slice(0, page.limit);
    const last = items[items.length - 1];
    return {
      items,
      nextCursor: rows.length > page.limit ? encodeCursor({ s: "createdAt", o: "asc", v: last.createdAt.toISOString(), id: last.userId }) : null,
    };
  }

  async addMember(teamId: string, actorId: string, userId: string, role: Role, audit: AuditContext): Promise<Member> {
    return this.locked(teamId, actorId, async ({ tx, team, actorRole, owners, roleOf }) => {
      refuse(memberChangeRefusal({ actorRole, next: role, owners }));
      const existing = await roleOf(userId);
      if (existing) throw new ConflictError(`${JSON.stringify(userId)} is already a member of this team`, { userId, role: existing }, "MEMBER_EXISTS");
      const now = new Date();
      const [row] = await tx.insert(teamMembers).values({ teamId, userId, role, addedBy: actorId, createdAt: now, updatedAt: now }).returning();
      await recordAudit(tx, audit, teamEntry(team, memberChange(userId, null, role)));
      return row;
    });
  }

  /** Changes a member's role; returns the member before and after. */
  async changeRole(teamId: string, actorId: string, userId: string, role: Role, audit: AuditContext): Promise<{ before: Role; member: Member }> {
    return this.locked(teamId, actorId, async ({ tx, team, actorRole, owners, roleOf }) => {
      const current = await roleOf(userId);
      if (!current) throw new NotFoundError("team member", userId);
      refuse(memberChangeRefusal({ actorRole, current, next: role, owners }));
      const [row] = await tx
        .update(teamMembers)
        .set({ role, updatedAt: new Date() })
        .where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.userId, userId)))
        .returning();
      await recordAudit(tx, audit, teamEntry(team, current === role ? {} : memberChange(userId, current, role)));
      return { before: current, member: row };
    });
  }

  async removeMember(teamId: string, actorId: string, userId: string, audit: AuditContext): Promise<Member> {
    return this.locked(teamId, actorId, async ({ tx, team, actorRole, owners, roleOf }) => {
      const current = await roleOf(userId);
      if (!current) throw new NotFoundError("team member", userId);
      refuse(memberChangeRefusal({ actorRole, current, owners }));
      const [row] = await tx.delete(teamMembers).where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.userId, userId))).returning();
      await recordAudit(tx, audit, teamEntry(team, memberChange(userId, current, null)));
      return row;
    });
  }

  /** The caller leaves the team. */
  async leave(teamId: string, userId: string, audit: AuditContext): Promise<Member> {
    return this.locked(teamId, userId, async ({ tx, team, actorRole, owners }) => {
      refuse(leaveRefusal(actorRole, owners));
      const [row] = await tx.delete(teamMembers).where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.userId, userId))).returning();
      await recordAudit(tx, audit, teamEntry(team, memberChange(userId, actorRole, null)));
      return row;
    });
  }

  /** `EXISTS` condition: `userId` is a member of the row's team with one of `roles`. */
  private memberWith(userId: string, roles: Role[]): SQL {
    return sql`EXISTS (SELECT 1 FROM ${teamMembers} WHERE ${teamMembers.teamId} = ${teams.id} AND ${teamMembers.userId} = ${userId} AND ${inArray(teamMembers.role, roles)})`;
  }

  /**
   * Runs a membership change with the team's row locked (changes of one team take turns) and the actor's
   * role read inside the lock: a member demoted a moment ago cannot act with the role they had.
   */
  private locked<T>(teamId: string, actorId: string, change: (state: Locked) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      const [team] = await tx.select({ id: teams.id, ownerId: teams.ownerId }).from(teams).where(eq(teams.id, teamId)).for("update");
      const actorRole = team ? await this.roleOf(teamId, actorId, tx) : undefined;
      if (!actorRole) throw new NotFoundError("team", teamId);
      const [{ n }] = await tx
        .select({ n: count() })
        .from(teamMembers)
        .where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.role, "owner")));
      return change({ tx, team, actorRole, owners: Number(n), roleOf: (userId) => this.roleOf(teamId, userId, tx) });
    });
  }
}
