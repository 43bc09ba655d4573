/**
 * Who may see and change what — the one place ownership and roles are decided.
 * A row belongs to its owner (`owner_id`) and, when created inside a team, to that team (`team_id`).
 * Rows of other owners are invisible: stores filter with `visibleTo`, so a foreign id is a plain 404.
 * Roles limit what a team member may do with visible rows; actions declare the permission they need
 * (`permission` on the action schema) and the access middleware checks it before the handler runs.
 */
import { and, eq, or, sql, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import type { Context, Middleware } from "moleculer";
import type { AuthUser, Role } from "./auth";
import { ForbiddenError, UnauthorizedError } from "./errors";

/** What an action does; roles grant a set of these. */
export type Permission = "read" | "write" | "analytics" | "manage";

const GRANTS: Record<Role, readonly Permission[]> = {
  owner: ["read", "write", "analytics", "manage"],
  admin: ["read", "write", "analytics", "manage"],
  editor: ["read", "write", "analytics"],
  analyst: ["read", "analytics"],
  viewer: ["read"],
};

export function can(user: AuthUser, permission: Permission): boolean {
  return GRANTS[user.role]?.includes(permission) ?? false;
}

export interface OwnedColumns {
  ownerId: PgColumn;
  teamId: PgColumn;
}

/** SQL condition: rows this user may see. */
export function visibleTo(user: AuthUser, cols: OwnedColumns): SQL {
  const own = eq(cols.ownerId, user.id);
  if (!user.teamId) return own;
  return or(own, and(sql`${cols.teamId} IS NOT NULL`, eq(cols.teamId, user.teamId)))!;
}

/** Ownership stamped on a new row. */
export function ownership(user: AuthUser): { ownerId: string; teamId: string | null } {
  return { ownerId: user.id, teamId: user.teamId };
}

export function requireUser(ctx: Context): AuthUser {
  const user = (ctx.meta as { user?: AuthUser }).user;
  if (!user) throw new UnauthorizedError();
  return user;
}

/** Schema properties the access middleware reads from an action. */
export interface AccessOptions {
  /** Needed permission; `false` for public actions (health, docs). Defaults to "read". */
  permission?: Permission | false;
}

/**
 * Broker middleware: every action that is reachable from outside needs an authenticated user with the
 * permission the action declares. Internal ($-prefixed) services and `permission: false` are exempt.
 */
export const AccessMiddleware: Middleware = {
  name: "Access",
  localAction(handler: (ctx: Context) => unknown, action: { name: string; permission?: Permission | false; service?: { name: string } }) {
    if (action.permission === false || action.name.startsWith("$")) return handler;
    const needed = action.permission ?? "read";
    return function checkAccess(ctx: Context) {
      const user = requireUser(ctx);
      if (!can(user, needed)) {
        throw new ForbiddenError(`The role "${user.role}" may not ${needed} here`, { role: user.role, needed });
      }
      return handler(ctx);
    };
  },
} as unknown as Middleware;
