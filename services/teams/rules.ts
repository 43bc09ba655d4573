/**
 * Who may do what inside a team: pure rules over the caller's role in the team named by the request (not
 * the role of the token's team), shared by the service's access hook and the store's transactions.
 */
import { can } from "../../lib/access";
import type { Role } from "../../lib/auth";

/**
 * What a team-scoped action needs in the team it names: a permission of the role table (lib/access.ts)
 * or "owner" for what only owners may do (delete the team).
 */
export type TeamAccess = "read" | "manage" | "owner";

declare module "moleculer" {
  interface ActionSchema {
    /** Team-scoped action: the caller must be a member of the team in `params.id` with this access. */
    teamAccess?: TeamAccess;
  }
}

export function allows(role: Role, need: TeamAccess): boolean {
  return need === "owner" ? role === "owner" : can({ id: "", teamId: null, role }, need);
}

export interface Refusal {
  status: 403 | 409;
  message: string;
}

/**
 * Adding (`current` undefined), changing (`next` a role) or removing (`next` undefined) a member by an
 * actor with `actorRole`. `owners` counts the team's owners before the change. Permission problems (403)
 * come before state problems (409), so an admin learns it may not touch owners, not how many there are.
 */
export function memberChangeRefusal(change: { actorRole: Role; current?: Role; next?: Role; owners: number }): Refusal | undefined {
  const { actorRole, current, next, owners } = change;
  if (!allows(actorRole, "manage")) return { status: 403, message: `The role "${actorRole}" may not manage this team's members` };
  if (next === "owner" && current !== "owner" && actorRole !== "owner") {
    return { status: 403, message: "Only an owner can make someone an owner" };
  }
  if (current === "owner" && next !== "owner" && actorRole !== "owner") {
    return { status: 403, message: "Only an owner can change or remove an owner" };
  }
  if (current === "owner" && next !== "owner" && owners <= 1) {
    return { status: 409, message: "A team must keep at least one owner: make another member owner first" };
  }
  return undefined;
}

/** A member leaving by themselves: anyone may, except the last owner. */
export function leaveRefusal(role: Role, owners: number): Refusal | undefined {
  if (role === "owner" && owners <= 1) {
    return { status: 409, message: "The last owner cannot leave: make another member owner first, or delete the team" };
  }
  return undefined;
}
