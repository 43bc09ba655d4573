/**
 * How the campaigns service asks for a campaign to be published: the publisher service's
 * `publisher.publish` action over the broker. Kept behind this port so launch logic does not know the
 * publisher's wire shape.
 */
import type { Context } from "moleculer";
import type { AuthUser } from "../../lib/auth";
import type { Campaign } from "./store";
import type { Platform } from "./schema";

export interface PublishOutcome {
  platform: Platform;
  /** queued: a durable publish attempt exists; failed: the publisher refused it; pending_retry: the publisher was unreachable and the campaigns service will ask again. */
  status: "queued" | "published" | "failed" | "pending_retry";
  attemptId?: string;
  error?: string;
}

export interface PublishingPort {
  publish(ctx: Context, campaign: Campaign, owner: AuthUser): Promise<PublishOutcome[]>;
}

/** The part of `publisher.publish`'s answer this port reads. */
interface PublisherAnswer {
  publications: Array<{ platform: Platform; id: string; state: string; errors?: Array<{ message?: string }> }>;
}

/** Publisher attempt states → launch outcome. */
function outcomeOf(state: string): PublishOutcome["status"] {
  if (state === "published") return "published";
  if (state === "failed" || state === "dead") return "failed";
  return "queued";
}

/**
 * Errors propagate: a 422 (content a platform cannot take, platform not connected) stops the launch;
 * a retryable error (no publisher node, timeout) is the caller's to turn into `pending_retry`.
 */
export const brokerPublishingPort: PublishingPort = {
  async publish(ctx, campaign, owner) {
    const answer = await ctx.call<PublisherAnswer, Record<string, unknown>>(
      "publisher.publish",
      { campaignId: campaign.id, platforms: campaign.platforms, content: campaign.content, mediaUrls: campaign.mediaUrls },
      { meta: { user: owner } },
    );
    return campaign.platforms.map((platform): PublishOutcome => {
      const attempt = answer.publications.find((a) => a.platform === platform);
      if (!attempt) return { platform, status: "failed", error: "the publisher returned no attempt for this platform" };
      const error = attempt.errors?.at(-1)?.message;
      return { platform, status: outcomeOf(attempt.state), attemptId: attempt.id, ...(error ? { error } : {}) };
    });
  },
};
