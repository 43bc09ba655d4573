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

interface PublisherAnswer {
  attempts?: Array<{ platform: Platform; id?: string; status?: string; error?: string | null }>;
}

export const brokerPublishingPort: PublishingPort = {
  async publish(ctx, campaign, owner) {
    const answer = await ctx.call<PublisherAnswer | PublisherAnswer["attempts"], Record<string, unknown>>(
      "publisher.publish",
      { campaignId: campaign.id, platforms: campaign.platforms, content: campaign.content, mediaUrls: campaign.mediaUrls },
      { meta: { user: owner } },
    );
    const attempts = Array.isArray(answer) ? answer : (answer?.attempts ?? []);
    return campaign.platforms.map((platform) => {
      const attempt = attempts.find((a) => a.platform === platform);
      if (!attempt) return { platform, status: "failed", error: "the publisher returned no attempt for this platform" };
      const status = attempt.status === "failed" || attempt.status === "dead" ? "failed" : attempt.status === "published" ? "published" : "queued";
      return { platform, status, attemptId: attempt.id, error: attempt.error ?? undefined };
    });
  },
};
