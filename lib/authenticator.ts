/**
 * The one authentication path of both gateways (REST and gRPC): a bearer token becomes the user every
 * action sees in `ctx.meta.user`.
 *
 * A token naming a team is only a request to act in that team: the role comes from the team's membership
 * (`teams.resolveMembership`, cached briefly by the teams service and cleaned on every membership change),
 * never from the token's `role` claim, and a token for a team the user is not a member of is refused. So a
 * removed member is refused on their next request, and a demoted one acts with the new role at once. A
 * token without a team is the user's personal workspace, as before (role from the token, owner by default).
 */
import type { ServiceBroker } from "moleculer";
import { verifyToken, type AuthUser, type Role } from "./auth";
import { ForbiddenError } from "./errors";
import { TokenCache } from "./token-cache";

/** Longest team id a token may name; ours are UUIDs. Longer claims are refused without a lookup. */
const MAX_TEAM_ID = 200;

/** The answer of `teams.resolveMembership`. */
export interface Membership {
  teamId: string;
  userId: string;
  /** The user's role in the team; null when they are not a member (or the team does not exist). */
  role: Role | null;
}

export class NotATeamMemberError extends ForbiddenError {
  constructor(teamId: string) {
    super(`The token names team ${JSON.stringify(teamId)}, which you are not a member of. Ask one of its owners or admins to add you, or use a token without a team.`, {
      teamId,
      reason: "NOT_A_TEAM_MEMBER",
    });
  }
}

export class Authenticator {
  /** Verified token claims (signature and expiry checked once per token, not per request). */
  private readonly claims = new TokenCache();

  constructor(
    private readonly broker: ServiceBroker,
    private readonly secret: () => string,
  ) {}

  async authenticate(token: string): Promise<AuthUser> {
    let claims = this.claims.get(token);
    if (!claims) {
      claims = await verifyToken(this.secret(), token);
      this.claims.set(token, claims);
    }
    if (!claims.teamId) return claims;
    if (claims.teamId.length > MAX_TEAM_ID) throw new NotATeamMemberError(claims.teamId.slice(0, 40) + "…");
    const membership = await this.broker.call<Membership, { teamId: string; userId: string }>("teams.resolveMembership", {
      teamId: claims.teamId,
      userId: claims.id,
    });
    if (!membership?.role) throw new NotATeamMemberError(claims.teamId);
    return { id: claims.id, teamId: claims.teamId, role: membership.role };
  }
}
