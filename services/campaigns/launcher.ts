/** Launch rules: what makes a campaign launchable, launch throttling, and the launch itself. */
import type { Context } from "moleculer";
import type { AuthUser } from "../../lib/auth";
import { NotFoundError, TooManyRequestsError, UnprocessableError, isRetryable, type FieldProblem } from "../../lib/errors";
import { assertTransition } from "./lifecycle";
import type { PublishOutcome, PublishingPort } from "./publishing-port";
import type { Platform } from "./schema";
import { SYSTEM, type Actor, type Campaign, type CampaignStore } from "./store";

export interface CampaignLaunchResult {
  campaign: Campaign;
  outcomes: PublishOutcome[];
}

const BASE_CONTENT_FIELDS = ["title", "description", "caption", "text"];

/** Content for a platform: `content[platform]` if given, else the base fields shared by all platforms. */
function hasContentFor(content: Record<string, unknown>, platform: Platform): boolean {
  const own = content[platform];
  if (own && typeof own === "object" && Object.keys(own).length) return true;
  return BASE_CONTENT_FIELDS.some((f) => typeof content[f] === "string" && (content[f] as string).trim() !== "");
}

/** Everything that stops a launch, as field problems (422). */
export function launchProblems(campaign: Campaign): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (!campaign.platforms.length) {
    problems.push({ field: "platforms", message: "A campaign needs at least one platform to launch", type: "launch" });
  }
  for (const platform of campaign.platforms) {
    if (!hasContentFor(campaign.content, platform)) {
      problems.push({ field: `content.${platform}`, message: `No content for ${platform}: give content.${platform} or a base title/description`, type: "launch" });
    }
  }
  if (campaign.budget != null && campaign.spent >= campaign.budget) {
    problems.push({ field: "budget", message: `The budget is exhausted (spent ${campaign.spent} of ${campaign.budget})`, type: "launch" });
  }
  return problems;
}

/** The acting identity for calls made on the owner's behalf (jobs, bus events). */
export function ownerOf(campaign: Campaign): AuthUser {
  return { id: campaign.ownerId, teamId: campaign.teamId, role: "owner" };
}

export class Launcher {
  constructor(
    private readonly store: CampaignStore,
    private readonly port: PublishingPort,
    private readonly launchesPerMinute: number,
  ) {}

  /** At most N launches per owner per minute, counted in the database so every node agrees. */
  async throttle(ownerId: string, now = new Date()): Promise<void> {
    const windowStart = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
    const count = await this.store.countLaunch(ownerId, windowStart);
    if (count > this.launchesPerMinute) {
      const retryAfter = Math.max(1, Math.ceil((windowStart.getTime() + 60_000 - now.getTime()) / 1000));
      throw new TooManyRequestsError(`At most ${this.launchesPerMinute} launches per minute; try again in ${retryAfter} s`, retryAfter);
    }
  }

  /**
   * Validates, marks the campaign active (conditional update), then asks the publisher for every
   * platform. Scheduled launches (the job, actor SYSTEM) are not throttled: the user chose their time.
   */
  async launch(ctx: Context, actor: Actor, id: string): Promise<CampaignLaunchResult> {
    const campaign = await this.store.get(actor, id);
    if (!campaign) throw new NotFoundError("campaign", id);
    assertTransition("launch", campaign.status);
    const problems = launchProblems(campaign);
    if (problems.length) throw new UnprocessableError("The campaign cannot be launched yet", problems);
    if (actor !== SYSTEM) await this.throttle(campaign.ownerId);

    const launched = await this.store.transition(actor, id, "launch", { startedAt: new Date(), statusReason: null });
    if (!launched) throw new NotFoundError("campaign", id);
    const outcomes = await this.publish(ctx, launched);
    return { campaign: launched, outcomes };
  }

  /** A publisher that is down does not lose the launch: the caller schedules a retry for `pending_retry`. */
  async publish(ctx: Context, campaign: Campaign): Promise<PublishOutcome[]> {
    try {
      return await this.port.publish(ctx, campaign, ownerOf(campaign));
    } catch (err) {
      // Retryable covers "no publisher node" and timeouts; publishing is idempotent per campaign and platform.
      const unreachable = isRetryable(err);
      return campaign.platforms.map((platform) => ({
        platform,
        status: unreachable ? "pending_retry" : "failed",
        error: (err as Error).message,
      }));
    }
  }
}
