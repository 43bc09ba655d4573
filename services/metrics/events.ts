/**
 * Domain event → observations. Pure functions over the payloads the services emit (see each service's
 * `ctx.emit`); a payload missing the fields a metric needs yields nothing rather than a wrong number.
 */
import type { Observation } from "./definitions";

interface CampaignFacts {
  id?: string;
  type?: string;
  status?: string;
  platforms?: string[];
}

type Payload = Record<string, any>;
type Mapper = (p: Payload) => Observation[];

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

function campaignOf(p: Payload): CampaignFacts {
  return (p && typeof p.campaign === "object" && p.campaign) || {};
}

function statusChange(status: string): Observation {
  return { metric: "CampaignStatusChanges", value: 1, service: "campaigns", details: { Status: status } };
}

/** A launch outcome per platform (campaigns/publishing-port.ts `PublishOutcome`). */
function launchOutcomes(p: Payload): Observation[] {
  const outcomes: Array<{ platform?: string; status?: string }> = Array.isArray(p.outcomes) ? p.outcomes : [];
  return outcomes.flatMap((o) => {
    const details = { Platform: str(o.platform) };
    const out: Observation[] = [{ metric: "PublishesRequested", value: 1, service: "campaigns", details }];
    // "failed" here is the publisher refusing at launch; failures of queued attempts arrive as publisher.publish.failed.
    if (o.status === "failed") out.push({ metric: "PublishesFailed", value: 1, service: "campaigns", details });
    return out;
  });
}

/** Automation run events, payload `{ workflowId, ownerId, status, durationMs }` (see docs/operations.md). */
function automationRun(succeeded: boolean): Mapper {
  return (p) => {
    const status = succeeded ? "completed" : "failed";
    const out: Observation[] = [
      { metric: "AutomationsExecuted", value: 1, service: "automation", details: { Status: status } },
      { metric: "AutomationSuccessRate", value: succeeded ? 100 : 0, service: "automation" },
    ];
    if (!succeeded) out.push({ metric: "AutomationFailures", value: 1, service: "automation" });
    const duration = num(p.durationMs);
    if (duration !== undefined && duration >= 0) out.push({ metric: "AutomationExecutionTime", value: duration, service: "automation" });
    return out;
  };
}

export const EVENT_MAPPERS: Record<string, Mapper> = {
  "campaigns.campaign.created": (p) => [
    { metric: "CampaignsCreated", value: 1, service: "campaigns", details: { CampaignType: str(campaignOf(p).type) } },
    statusChange("draft"),
  ],
  "campaigns.campaign.scheduled": (p) => [statusChange("scheduled")],
  "campaigns.campaign.launched": (p) => [
    { metric: "CampaignsLaunched", value: 1, service: "campaigns", details: { CampaignType: str(campaignOf(p).type) } },
    statusChange("active"),
    ...launchOutcomes(p),
  ],
  "campaigns.campaign.paused": (p) => [statusChange("paused")],
  "campaigns.campaign.resumed": (p) => [statusChange("active")],
  "campaigns.campaign.completed": (p) => [statusChange("completed")],
  "campaigns.campaign.cancelled": (p) => [statusChange("cancelled")],
  "campaigns.budget.overspend": (p) => [{ metric: "BudgetOverspends", value: 1, service: "campaigns", details: { CampaignType: str(campaignOf(p).type) } }],
  "analytics.conversion.recorded": (p) => {
    const details = { Platform: str(p.platform) };
    const campaignId = str(p.campaignId);
    const out: Observation[] = [{ metric: "CampaignConversions", value: 1, service: "analytics", details, campaignId }];
    const value = num(p.value);
    if (value !== undefined && value > 0) out.push({ metric: "CampaignRevenue", value, service: "analytics", details, campaignId });
    return out;
  },
  /**
   * Impressions per ingested batch, payload `{ platform, impressions }` (one per platform). Analytics does not
   * emit this yet; until it does the conversion-rate alarm has no denominator and stays INSUFFICIENT_DATA.
   */
  "analytics.impressions.counted": (p) => {
    const n = num(p.impressions);
    return n && n > 0 ? [{ metric: "CampaignImpressions", value: n, service: "analytics", details: { Platform: str(p.platform) } }] : [];
  },
  "campaigns.abtest.created": (p) => [{ metric: "ABTestsCreated", value: 1, service: "abtests", details: { Mode: str(p.mode) } }],
  "campaigns.abtest.completed": (p) => {
    const out: Observation[] = [{ metric: "ABTestsCompleted", value: 1, service: "abtests" }];
    const significance = num(p.significance);
    if (significance !== undefined && significance >= 0 && significance <= 1) {
      out.push({ metric: "WinnerDeterminationAccuracy", value: significance * 100, service: "abtests" });
    }
    return out;
  },
  "publisher.publish.succeeded": (p) => [{ metric: "PublishesSucceeded", value: 1, service: "publisher", details: { Platform: str(p.attempt?.platform) } }],
  "publisher.publish.failed": (p) => [{ metric: "PublishesFailed", value: 1, service: "publisher", details: { Platform: str(p.attempt?.platform) } }],
  "automation.run.completed": automationRun(true),
  "automation.run.failed": automationRun(false),
};

export const OBSERVED_EVENTS = Object.keys(EVENT_MAPPERS);

export function observationsFor(event: string, payload: unknown): Observation[] {
  const mapper: Mapper | undefined = EVENT_MAPPERS[event];
  if (!mapper || !payload || typeof payload !== "object") return [];
  return mapper(payload as Payload);
}
