/** The per-route hooks of the route table: only where a proto and an action truly differ in shape. */
import { Errors } from "moleculer";
import { UnprocessableError, type FieldProblem } from "../../lib/errors";
import type { Field } from "./codec";
import type { IngestSpec, Params, ParamsHook, WatchSpec } from "./types";

/**
 * Update requests' `clear_fields`. proto3 cannot tell an empty list from "not given", and an optional
 * field can be absent but not null, so the fields to reset are named instead (by proto name). Each gets
 * its kind's empty value and the action's own validation decides whether that is allowed (resetting a
 * required `name` to null is INVALID_ARGUMENT there).
 */
export function clearFields(listKey = "clearFields"): ParamsHook {
  return (params, { codec, requestType }) => {
    const { [listKey]: listed, ...rest } = params;
    const fields = codec.fields(requestType);
    const problems: FieldProblem[] = [];
    ((listed ?? []) as string[]).forEach((name, i) => {
      const field = fields.find((f) => f.protoName === name && f.key !== listKey);
      const at = `${listKey}[${i}]`;
      if (!field) problems.push({ field: at, type: "clearField", message: `The field '${name}' does not exist or cannot be cleared.` });
      else if (field.key in rest) problems.push({ field: at, type: "clearField", message: `The field '${name}' is both set and cleared.` });
      else rest[field.key] = emptyValue(field);
    });
    if (problems.length) throw new UnprocessableError("Parameters validation error!", problems);
    return rest;
  };
}

function emptyValue(field: Field): unknown {
  if (field.repeated || field.typeName === "google.protobuf.ListValue") return [];
  if (field.mapValue || field.typeName === "google.protobuf.Struct") return {};
  return null;
}

const CAMPAIGN = "marketing.v1.Campaign";

/** Events whose payload carries the whole campaign after a change of its fields or its status. */
const CAMPAIGN_CHANGES = ["updated", "scheduled", "launched", "paused", "resumed", "completed", "cancelled"].map((v) => `campaigns.campaign.${v}`);

/** WatchCampaign: the campaign's edits and status changes, until `campaigns.campaign.deleted`. */
export const campaignWatch: WatchSpec = {
  events: [...CAMPAIGN_CHANGES, "campaigns.campaign.deleted"],
  first: (campaign) => ({ current: campaign }),
  next({ name, payload }, params, { codec }) {
    if (name === "campaigns.campaign.deleted") {
      const { id } = payload as { id: string };
      return id === params.id ? { message: { deleted: { id } }, last: true } : undefined;
    }
    // Status changes name no fields; they changed `status` (and its timestamps).
    const { campaign, changed = ["status"] } = payload as { campaign: { id: string }; changed?: string[] };
    if (campaign.id !== params.id) return undefined;
    // Clients know the proto's field names (segment_ids), not the action's (segmentIds).
    const protoNames = changed.map((key) => codec.protoFieldName(CAMPAIGN, key) ?? key);
    return { message: { updated: { campaign, changed: protoNames } } };
  },
};

/** Wraps an action's bare list into the response message's repeated field. */
export function listAs(field: string): (result: unknown) => Params {
  return (result) => ({ [field]: result });
}

/**
 * Wraps an action's object keyed by name (`{instagram: {...}, reddit: {...}}`) into the response's repeated
 * field, each item carrying its key as `keyName`: a list keeps the order asked and names the key in the
 * proto, where a map of messages would not.
 */
export function entriesAs(field: string, keyName: string): (result: unknown) => Params {
  return (result) => ({ [field]: Object.entries(result as Params).map(([key, value]) => ({ [keyName]: key, ...(value as Params) })) });
}

interface IngestCounts {
  accepted: number;
  new: number;
  duplicates: number;
}

/**
 * IngestEvents: streamed events go to `analytics.trackBatch` 500 at a time (half its limit, so a batch is
 * one modest INSERT) and the counts add up. trackBatch answers an unknown campaign with 422 (the rest of
 * a batch is fine); a stream names one campaign's event the caller cannot see NOT_FOUND, as Track does.
 */
export const eventIngest: IngestSpec<IngestCounts> = {
  batchSize: 500,
  field: "events",
  empty: { accepted: 0, new: 0, duplicates: 0 },
  merge: (a, b) => ({ accepted: a.accepted + b.accepted, new: a.new + b.new, duplicates: a.duplicates + b.duplicates }),
  error: unknownCampaignAsNotFound,
};

function unknownCampaignAsNotFound(err: unknown): unknown {
  const problems = err instanceof Errors.MoleculerError && err.code === 422 && Array.isArray(err.data) ? (err.data as FieldProblem[]) : [];
  if (!problems.length || problems.some((p) => p.type !== "notFound")) return err;
  const first = problems[0];
  return new Errors.MoleculerClientError(`${first.message} (${problems.map((p) => p.field).join(", ")})`, 404, "NOT_FOUND", { entity: "campaign", fields: problems.map((p) => p.field) });
}
