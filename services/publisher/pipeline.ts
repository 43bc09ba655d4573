/**
 * The publishing pipeline: adapt content per platform, record one PublishAttempt per (campaign, platform,
 * variant), and run each as a durable Agenda job that retries with backoff, respects the shared rate
 * limits, and never posts twice: a try whose outcome is unknown is looked up with `findExisting` before
 * anything is sent again, including after the last try.
 */
import type { Agenda } from "agenda";
import type { Logger } from "moleculer";
import { isPluginError, type Adapted, type BaseContent, type ContentProblem, type Credentials, type PublishingPlugin } from "../../plugins/sdk";
import type { AuthUser } from "../../lib/auth";
import { systemAudit, type AuditContext } from "../audit/context";
import type { PublisherConfig } from "../../lib/config";
import { UnprocessableError } from "../../lib/errors";
import { retryDelay } from "./backoff";
import type { CredentialCipher } from "./credentials-crypto";
import type { PluginRegistry } from "./registry";
import type { AttemptError } from "./schema";
import { idempotencyKeyOf, type PublishAttempt, type PublisherStore } from "./store";

export const ATTEMPT_JOB = "publisher.attempt";
export const SWEEP_JOB = "publisher.sweep";
/** The audit action of an attempt's outcome (the job's doing, actor `system`) and of a key-rotation re-seal. */
const ATTEMPT_AUDIT = systemAudit(ATTEMPT_JOB);
const RESEAL_AUDIT = systemAudit("publisher.resealCredentials");

export interface PublishRequest {
  campaignId: string;
  platforms: string[];
  content: BaseContent;
  mediaUrls: string[];
  variantId?: string;
}

export interface Preview {
  payload: unknown;
  problems: ContentProblem[];
  changes: string[];
}

export interface PipelineDeps {
  store: PublisherStore;
  registry: PluginRegistry;
  cipher: CredentialCipher;
  config: PublisherConfig;
  agenda: () => Agenda;
  emit: (event: string, payload: unknown) => unknown;
  logger: Logger;
}

/** Unknown outcomes may still be looked up this many runs past the last try before giving up. */
const EXTRA_LOOKUPS = 2;

export class PublishPipeline {
  constructor(private readonly deps: PipelineDeps) {}

  /** Each platform's adapted payload and problems (a platform without a loaded plugin is a problem). */
  preview(content: BaseContent, mediaUrls: string[], platforms: string[]): Record<string, Preview> {
    const out: Record<string, Preview> = {};
    for (const platform of platforms) {
      const plugin = this.deps.registry.resolve(platform);
      if (!plugin) {
        out[platform] = { payload: null, problems: [{ field: "platforms", type: "unknownPlatform", message: `No publishing plugin is loaded for "${platform}"` }], changes: [] };
        continue;
      }
      const adapted: Adapted<unknown> = plugin.adapt(content, { mediaUrls });
      out[platform] = { payload: adapted.payload, problems: adapted.problems, changes: adapted.changes };
    }
    return out;
  }

  /**
   * Records the attempts and schedules their jobs. Refuses the whole request (422, nothing recorded) when
   * any platform cannot take the content or has no credentials, so a campaign never half-launches.
   */
  async enqueue(user: AuthUser, req: PublishRequest, audit: AuditContext): Promise<{ attempt: PublishAttempt; created: boolean }[]> {
    const previews = this.preview(req.content, req.mediaUrls, req.platforms);
    const problems: ContentProblem[] = [];
    for (const [platform, p] of Object.entries(previews)) {
      problems.push(...p.problems.map((pr) => ({ ...pr, field: `${platform}.${pr.field}` })));
      if (!p.problems.length && !(await this.deps.store.sealedCredentials(user.id, platform))) {
        problems.push({ field: `${platform}.credentials`, type: "credentialsMissing", message: `Connect ${platform} first (PUT /api/credentials/${platform})` });
      }
    }
    if (problems.length) throw new UnprocessableError("The content cannot be published on every requested platform", problems);

    const rows = await this.deps.store.createAttempts(
      user,
      req.platforms.map((platform) => ({
        campaignId: req.campaignId,
        platform,
        variantId: req.variantId ?? null,
        idempotencyKey: idempotencyKeyOf(req.campaignId, platform, req.variantId),
        payload: previews[platform].payload,
        changes: previews[platform].changes,
        maxAttempts: this.deps.config.maxAttempts,
      })),
      audit,
    );
    for (const { attempt, created } of rows) if (created) await this.schedule(attempt.id, new Date());
    return rows;
  }

  async schedule(attemptId: string, when: Date): Promise<void> {
    await this.deps.agenda().schedule(when, ATTEMPT_JOB, { attemptId });
  }

  /** Job body for one attempt. Safe to run twice or concurrently: only the claim's winner proceeds. */
  async run(attemptId: string): Promise<void> {
    const { store, registry, config } = this.deps;
    const row = await store.getAttempt(attemptId);
    if (!row || !["pending", "retrying", "running"].includes(row.state)) return;
    const claimed = await store.claim(attemptId, config.leaseMs);
    if (!claimed) return; // not due yet (a later job exists) or another worker has it

    const plugin = registry.resolve(claimed.platform);
    if (!plugin) return void (await this.fail(claimed, "failed", { kind: "plugin_missing", message: `No plugin is loaded for ${claimed.platform}` }));

    const rate = config.rateLimits[plugin.id] ?? plugin.limits.rate;
    const waitMs = await store.takeToken(`${plugin.id}:${claimed.ownerId}`, rate.perMinute, rate.burst);
    if (waitMs > 0) {
      const until = new Date(Date.now() + waitMs);
      await store.defer(claimed.id, until);
      return this.schedule(claimed.id, until);
    }

    const credentials = await this.credentialsFor(claimed.ownerId, claimed.platform);
    if (!credentials) {
      return void (await this.fail(claimed, "failed", { kind: "auth_expired", message: `No ${claimed.platform} credentials are stored for the owner` }));
    }
    await this.attempt(claimed, plugin, credentials);
  }

  private async attempt(row: PublishAttempt, plugin: PublishingPlugin, credentials: Credentials): Promise<void> {
    const ctx = { idempotencyKey: row.idempotencyKey, since: row.firstAttemptAt ?? row.createdAt };
    let lookedUp = false;
    try {
      if (row.outcomeUnknown) {
        const existing = await plugin.findExisting(row.payload, credentials, ctx);
        lookedUp = true;
        if (existing) return void (await this.succeed(row, existing.externalId, existing.url, true));
        // Verified absent after the last try: nothing went live, so it may be dead-lettered honestly.
        if (row.attempts > row.maxAttempts) {
          return void (await this.fail(row, "dead_letter", { kind: "unknown_outcome", message: "Tries spent; the lookup found no post" }));
        }
      }
      const published = await plugin.publish(row.payload, credentials, ctx);
      await this.succeed(row, published.externalId, published.url, false);
    } catch (err) {
      await this.handleError(row, err, row.outcomeUnknown && !lookedUp);
    }
  }

  private async handleError(row: PublishAttempt, err: unknown, stillUnknown: boolean): Promise<void> {
    // Anything that is not a classified plugin error may have happened after sending: treat it as unknown.
    const kind = isPluginError(err) ? err.kind : "unknown_outcome";
    const message = err instanceof Error ? err.message : String(err);
    const error: AttemptError = { attempt: row.attempts, at: new Date().toISOString(), kind, message };
    if (kind === "content_rejected" || kind === "auth_expired") {
      if (!stillUnknown) return void (await this.fail(row, "failed", error));
    }
    const unknown = kind === "unknown_outcome" || stillUnknown;
    const lookupsLeft = row.attempts < row.maxAttempts + EXTRA_LOOKUPS;
    if (row.attempts >= row.maxAttempts && !(unknown && lookupsLeft)) {
      return void (await this.fail(row, "dead_letter", { ...error, message: unknown ? `${message} (the post may be live: verify on ${row.platform})` : message }));
    }
    const retryAfterMs = isPluginError(err) && "retryAfterMs" in err ? (err as { retryAfterMs?: number }).retryAfterMs : undefined;
    const delay = retryDelay(Math.min(row.attempts, 30), { baseMs: this.deps.config.backoffBaseMs, capMs: this.deps.config.backoffCapMs }, retryAfterMs);
    const next = new Date(Date.now() + delay);
    await this.deps.store.markRetry(row.id, next, { ...error, retryInMs: delay }, unknown);
    await this.schedule(row.id, next);
  }

  private async succeed(row: PublishAttempt, externalId: string, url: string | undefined, recovered: boolean): Promise<void> {
    const done = await this.deps.store.markPublished(row.id, externalId, url, ATTEMPT_AUDIT);
    if (done) this.deps.emit("publisher.publish.succeeded", { attempt: publicAttempt(done), recovered });
  }

  private async fail(row: PublishAttempt, state: "failed" | "dead_letter", error: Omit<AttemptError, "attempt" | "at"> & Partial<AttemptError>): Promise<void> {
    const full: AttemptError = { attempt: row.attempts, at: new Date().toISOString(), ...error };
    const done = await this.deps.store.markFinal(row.id, state, full, ATTEMPT_AUDIT);
    if (!done) return;
    this.deps.logger.warn(`publish ${row.id} (${row.platform}, campaign ${row.campaignId}) ${state}: ${full.kind}`);
    this.deps.emit("publisher.publish.failed", { attempt: publicAttempt(done), reason: full.kind, message: full.message });
  }

  /** Opens the owner's credentials; re-seals them with the newest key after a rotation. */
  async credentialsFor(ownerId: string, platform: string): Promise<Credentials | undefined> {
    const sealed = await this.deps.store.sealedCredentials(ownerId, platform);
    if (!sealed) return undefined;
    const secrets = this.deps.cipher.open(sealed, ownerId, platform);
    if (sealed.keyId !== this.deps.cipher.currentKeyId) {
      await this.deps.store.resealCredentials(ownerId, platform, sealed, this.deps.cipher.seal(secrets, ownerId, platform), RESEAL_AUDIT);
    }
    return secrets;
  }

  /** Re-schedules attempts whose job was lost or whose runner died (lease expired). */
  async sweep(graceMs: number): Promise<number> {
    const ids = await this.deps.store.strandedAttemptIds(graceMs);
    for (const id of ids) await this.schedule(id, new Date());
    return ids.length;
  }
}

/** An attempt as the API shows it. */
export function publicAttempt(a: PublishAttempt) {
  return {
    id: a.id,
    campaignId: a.campaignId,
    platform: a.platform,
    variantId: a.variantId,
    state: a.state,
    attempts: a.attempts,
    maxAttempts: a.maxAttempts,
    externalId: a.externalId,
    url: a.url,
    outcomeUnknown: a.outcomeUnknown,
    nextAttemptAt: a.state === "retrying" || a.state === "pending" ? a.nextAttemptAt : null,
    publishedAt: a.publishedAt,
    errors: a.errors,
    changes: a.changes,
    payload: a.payload,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  };
}
