/**
 * Audit: reads the audit trail. The records are written by every other service's store inside the
 * transaction of the change they describe (services/audit/store.ts `recordAudit`), so this service only
 * answers `GET /api/audit`: the records of rows the caller may see, newest first.
 */
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { requireUser } from "../lib/access";
import { UnprocessableError } from "../lib/errors";
import { StoreMixin } from "../lib/mixins";
import { AuditStore } from "./audit/store";
import "../lib/schema-types";

const text = (max: number) => ({ type: "string", trim: true, min: 1, max, optional: true }) as const;

interface ListParams {
  target?: string;
  targetType?: string;
  action?: string;
  actor?: string;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string;
}

const AuditService: ServiceSchema<ServiceSettingSchema, Record<string, never>, { store: AuditStore }> = {
  name: "audit",
  settings: { rest: "/" },
  mixins: [StoreMixin((db) => new AuditStore(db))],

  actions: {
    list: {
      rest: "GET /audit",
      // Any role that reads the rows may read who changed them; the records of rows the caller cannot see
      // are not there for them (an empty page, as for a target that never changed).
      permission: "read",
      params: {
        $$strict: true,
        target: text(200),
        targetType: text(100),
        action: text(200),
        actor: text(200),
        from: { type: "date", convert: true, optional: true },
        to: { type: "date", convert: true, optional: true },
        limit: { type: "number", integer: true, min: 1, max: 100, convert: true, default: 50 },
        cursor: { type: "string", max: 1000, optional: true },
      },
      openapi: {
        summary: "Audit records of the rows you may see (who, action, target, changed fields, request id), newest first, cursor-paginated",
        description:
          "Filters: `target` (the changed row's id), `targetType` (campaign, ab_test, fan, segment, credentials, automation, message_template, campaign_template, publication, team), `action` (e.g. campaigns.update), `actor` (a user id or `system`), `from`/`to` (time, inclusive). `changes` maps each changed field to `{from, to}`; secrets show as \"[redacted]\".",
        tags: ["audit"],
      },
      async handler(ctx: Context<ListParams>) {
        const { target, targetType, action, actor, from, to, limit, cursor } = ctx.params;
        if (from && to && from > to) {
          throw new UnprocessableError("`from` is after `to`", [{ field: "from", message: "must not be after `to`", type: "dateMax" }]);
        }
        return this.store.list(requireUser(ctx), { targetId: target, targetType, action, actorId: actor, from, to }, { limit, cursor });
      },
    },
  },
};

export default AuditService;
