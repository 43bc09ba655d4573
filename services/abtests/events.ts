/**
 * The analytics event this service consumes, and how it becomes a counter increment.
 *
 * Contract: `analytics.variant.counted` (emitted by the analytics service once per ingested batch and
 * (campaign, variant), only for events it had not stored before), payload JSON:
 *   { ownerId, campaignId, variantId, impressions, clicks, conversions, revenue, eventIds?, batchId? }
 * - ownerId: the creator the events belong to; a variant of another owner is never touched.
 * - variantId: the A/B test variant the fans saw.
 * - impressions, clicks, conversions: integers ≥ 0; revenue: number ≥ 0 (sum of the conversions' values).
 * - eventIds (the ids of the aggregated events) or batchId: the idempotency key. A redelivered payload with
 *   the same key is counted once. Without either, the payload is counted as it comes (Moleculer events are
 *   not redelivered, and analytics emits only for new events).
 * This event is used rather than the per-event `analytics.conversion.recorded`, which carries only
 * conversions: counting both would count every conversion twice.
 */
import crypto from "node:crypto";
import type { PerformanceDelta } from "./store";

export const VARIANT_COUNTED_EVENT = "analytics.variant.counted";

export class AnalyticsEventError extends Error {}

export interface CountedVariant {
  ownerId: string;
  variantId: string;
  /** Null when the payload carries no idempotency key. */
  dedupeKey: string | null;
  delta: PerformanceDelta;
}

const isId = (v: unknown): v is string => typeof v === "string" && v.length > 0 && v.length <= 200;
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function dedupeKeyOf(p: Record<string, unknown>): string | null {
  if (isId(p.batchId)) return `batch:${p.batchId}`;
  if (Array.isArray(p.eventIds) && p.eventIds.length && p.eventIds.every(isId)) {
    // Order-independent: the same events in another order are the same batch.
    const digest = crypto.createHash("sha256").update([...p.eventIds].sort().join("\n")).digest("hex");
    return `variant:${p.variantId}:events:${digest}`;
  }
  return null;
}

/** The increment a payload asks for; throws AnalyticsEventError when it breaks the contract. */
export function performanceOfEvent(payload: unknown): CountedVariant {
  if (!payload || typeof payload !== "object") throw new AnalyticsEventError("payload is not an object");
  const p = payload as Record<string, unknown>;
  if (!isId(p.ownerId)) throw new AnalyticsEventError("ownerId is missing");
  if (!isId(p.variantId)) throw new AnalyticsEventError("variantId is missing");
  const counts = { impressions: p.impressions ?? 0, clicks: p.clicks ?? 0, conversions: p.conversions ?? 0 };
  for (const [field, value] of Object.entries(counts)) {
    if (!isCount(value)) throw new AnalyticsEventError(`${field} must be an integer ≥ 0`);
  }
  const revenue = p.revenue ?? 0;
  if (typeof revenue !== "number" || !Number.isFinite(revenue) || revenue < 0) throw new AnalyticsEventError("revenue must be a number ≥ 0");
  return {
    ownerId: p.ownerId,
    variantId: p.variantId,
    dedupeKey: dedupeKeyOf(p),
    delta: { ...(counts as Record<keyof typeof counts, number>), revenue },
  };
}
