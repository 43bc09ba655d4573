/** Launch rules: what makes a campaign launchable, launch throttling, and the launch itself. */
import type { Context } from "moleculer";
import type { AuthUser } from "../../lib/auth";
import { NotFoundError, TooManyRequestsError, UnprocessableError, isRetryable, type FieldProblem } from "../../lib/errors";
import type { AuditContext } from "../audit/context";
import { assertTransition } from "./lifecycle";
import type { PublishOutcome, PublishingPort } from "./publishing-port";
import { SYSTEM, type Actor, type Campaign, type CampaignStore } from "./store";

export interface CampaignLaunchResult {
  campaign: Campaign;
  outcomes: PublishOutcome[];
}

/** The base content every platform's plugin adapts from (the template shape). */
const BASE_CONTENT_FIELDS = ["title", "description"];

function hasBaseContent(content: Record<string, unknown>): boolean {
  return BASE_CONTENT_FIELDS.some((f) => typeof content[f] === "string" && (content[f] as string).trim() !== "");
}

/**
 * What stops a launch before the publisher is asked, as field problems (422). Whether each platform
 * can take the content (length, media, price rules) is the publisher's answer.
 */
export function launchProblems(campaign: Campaign): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (!campaign.platforms.length) {
    problems.push({ field: "platforms", message: "A campaign needs at least one platform to launch", type: "launch" });
  }
  if (campaign.platforms.length && !hasBaseContent(campaign.content)) {
    problems.push({ field: "content", message: "Give the content a title or description; each platform's post is adapted from it", type: "launch" });
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
   * Validates, asks the publisher for every platform (its 422 — content a platform cannot take, a platform
   * not connected — stops the launch with nothing changed), then marks the campaign active with a
   * conditional update. Publish attempts are idempotent per (campaign, platform), so a launch retried after
   * a lost answer never posts twice. Scheduled launches (actor SYSTEM) are not throttled: the user chose
   * their time.
   */
  async launch(ctx: Context, actor: Actor, id: string, audit: AuditContext): Promise<CampaignLaunchResult> {
    const campaign = await this.store.get(actor, id);
    if (!campaign) throw new NotFoundError("campaign", id);
    assertTransition("launch", campaign.status);
    const problems = launchProblems(campaign);
    if (problems.length) throw new UnprocessableError("The campaign cannot be launched yet", problems);
    if (actor !== SYSTEM) await this.throttle(campaign.ownerId);

    const outcomes = await this.publish(ctx, campaign);
    const launched = await this.store.transition(actor, id, "launch", { startedAt: new Date(), statusReason: null }, audit);
    if (!launched) throw new NotFoundError("campaign", id);
    return { campaign: launched, outcomes };
  }

  /**
   * A publisher that is down or slow does not lose the launch: those platforms come back `pending_retry`
   * and the caller schedules a retry. Any other error (the publisher's 422) propagates.
   */
  async publish(ctx: Context, campaign: Campaign): Promise<PublishOutcome[]> {
    try {
      return await this.port.publish(ctx, campaign, ownerOf(campaign));
    } catch (err) {
      if (!isRetryable(err)) throw err;
      return campaign.platforms.map((platform) => ({ platform, status: "pending_retry", error: (err as Error).message }));
    }
  }
}
