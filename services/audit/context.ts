/**
 * Who is changing what, handed to a store's mutating method so it can write the audit record inside the
 * transaction of the change (services/audit/store.ts `recordAudit`). Built once per action from the
 * Moleculer context; jobs and bus handlers, which have no caller, act as `system`.
 */
import type { Context } from "moleculer";
import type { AuthUser } from "../../lib/auth";

/** The actor id of changes no user asked for: scheduled launches, the budget guard, job refreshes. */
export const SYSTEM_ACTOR = "system";

export interface AuditContext {
  /** The user's id, or `system`. */
  actorId: string;
  /** The user's role (in their team); null for `system`. */
  actorRole: string | null;
  /** The action, e.g. `campaigns.update`. */
  action: string;
  /** The request's id (REST `X-Request-ID` when given): ties the rows of one request together. */
  requestId: string | null;
}

interface AuditMeta {
  user?: AuthUser;
  /** Set by jobs and bus handlers that call actions on an owner's behalf (see `systemMeta`). */
  actor?: typeof SYSTEM_ACTOR;
}

/**
 * The audit context of an action call: `ctx.meta.user`, `ctx.action.name`, `ctx.requestID`. A call made
 * by a job (meta from `systemMeta`) is recorded as `system` even though it runs with the owner's rights.
 * `action` names the change where the context has no action (a job's own context).
 */
export function auditOf(ctx: Context, action?: string): AuditContext {
  const meta = ctx.meta as AuditMeta;
  const name = action ?? ctx.action?.name ?? "unknown";
  // Clients choose REST request ids (`X-Request-ID`): keep what identifies a request, not a whole header.
  const requestId = ctx.requestID ? String(ctx.requestID).slice(0, 200) : null;
  if (meta.actor === SYSTEM_ACTOR || !meta.user) return { actorId: SYSTEM_ACTOR, actorRole: null, action: name, requestId };
  return { actorId: meta.user.id, actorRole: meta.user.role, action: name, requestId };
}

/** The audit context of a change a job or bus event makes by itself. */
export function systemAudit(action: string, requestId: string | null = null): AuditContext {
  return { actorId: SYSTEM_ACTOR, actorRole: null, action, requestId };
}

/**
 * Meta for a job's call of an action on an owner's behalf: the owner's rights (`user`), recorded as
 * `system`. Only for root calls (jobs, bus handlers): Moleculer merges a sub-call's meta back into its
 * caller's, so inside a user's request this would relabel the rest of the request.
 */
export function systemMeta(owner: AuthUser): { user: AuthUser; actor: typeof SYSTEM_ACTOR } {
  return { user: owner, actor: SYSTEM_ACTOR };
}
