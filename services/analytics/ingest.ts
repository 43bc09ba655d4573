/**
 * Turning validated tracking input into stored events, and stored events into the domain events other
 * services count from. Only rows the INSERT actually created produce domain events, so a retried batch
 * never counts twice.
 */
import crypto from "node:crypto";
import type { FanHasher } from "./fan-hash";
import type { EventType } from "./schema";
import type { CampaignFacts, InsertedEvent, NewEvent } from "./store";

/** One event as clients send it (REST body, gRPC message, or the trackX actions). */
export interface TrackInput {
  type: EventType;
  campaignId: string;
  platform: string;
  fanId?: string;
  variantId?: string;
  value?: number;
  cost?: number;
  currency?: string;
  eventId?: string;
  occurredAt?: Date;
}

export function toNewEvent(input: TrackInput, campaign: CampaignFacts, hashFan: FanHasher, now: Date): NewEvent {
  return {
    ownerId: campaign.ownerId,
    teamId: campaign.teamId,
    // A generated id still makes the row unique; only client ids make retries idempotent.
    eventId: input.eventId ?? crypto.randomUUID(),
    campaignId: campaign.id,
    type: input.type,
    platform: input.platform,
    variantId: input.variantId ?? null,
    fanHash: input.fanId ? hashFan(campaign.ownerId, input.fanId) : null,
    // Only conversions carry revenue; a value sent on an impression would inflate revenue otherwise.
    value: input.type === "conversion" ? (input.value ?? 0) : 0,
    cost: input.cost ?? 0,
    currency: input.currency ?? "USD",
    occurredAt: input.occurredAt ?? now,
  };
}

export interface DomainEvent {
  name: string;
  payload: Record<string, unknown>;
}

/**
 * `analytics.conversion.recorded` per new conversion and `analytics.spend.recorded` per new event with a
 * cost (the campaigns service keeps budget and A/B counters from them), and one
 * `analytics.variant.counted` per (campaign, variant) of the batch with the exposure counts an A/B test
 * needs — aggregated, so an impression flood is not an event flood.
 */
export function domainEventsFor(inserted: InsertedEvent[]): DomainEvent[] {
  const out: DomainEvent[] = [];
  const variants = new Map<string, { ownerId: string; campaignId: string; variantId: string; impressions: number; clicks: number; conversions: number; revenue: number; eventIds: string[] }>();
  const impressionsByPlatform = new Map<string, number>();
  for (const e of inserted) {
    if (e.type === "impression") impressionsByPlatform.set(e.platform, (impressionsByPlatform.get(e.platform) ?? 0) + 1);
    const base = { ownerId: e.ownerId, teamId: e.teamId, campaignId: e.campaignId, variantId: e.variantId, platform: e.platform, currency: e.currency, eventId: e.eventId, occurredAt: e.occurredAt };
    if (e.type === "conversion") out.push({ name: "analytics.conversion.recorded", payload: { ...base, value: e.value } });
    if (e.cost > 0) out.push({ name: "analytics.spend.recorded", payload: { ...base, value: e.cost } });
    if (e.variantId) {
      const key = `${e.campaignId}\u0000${e.variantId}`;
      const v = variants.get(key) ?? { ownerId: e.ownerId, campaignId: e.campaignId, variantId: e.variantId, impressions: 0, clicks: 0, conversions: 0, revenue: 0, eventIds: [] };
      // The ids let a consumer (A/B counters) apply a batch once however often it is delivered.
      v.eventIds.push(e.eventId);
      if (e.type === "impression") v.impressions++;
      else if (e.type === "click") v.clicks++;
      else {
        v.conversions++;
        v.revenue += e.value;
      }
      variants.set(key, v);
    }
  }
  for (const v of variants.values()) out.push({ name: "analytics.variant.counted", payload: v });
  // Impression volume per platform: the denominator of the conversion-rate metric and alarm.
  for (const [platform, impressions] of impressionsByPlatform) out.push({ name: "analytics.impressions.counted", payload: { platform, impressions } });
  return out;
}
