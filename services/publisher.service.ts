/**
 * Publisher: the plugin registry, per-platform previews, publish attempts run as durable jobs, platform
 * credentials (write-only) and direct messages. Domain logic lives in services/publisher/.
 */
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import type { Job } from "agenda";
import { requireUser } from "../lib/access";
import { auditOf } from "./audit/context";
import { loadPublisherConfig, type PublisherConfig } from "../lib/config";
import { isServiceAvailable } from "../lib/service-registry";
import { NotFoundError, ServiceUnavailableError, TooManyRequestsError, UnprocessableError, type FieldProblem } from "../lib/errors";
import { JobsMixin, StoreMixin } from "../lib/mixins";
import { runtimeOf } from "../lib/runtime";
import { isPluginError, type BaseContent, type PluginOptions } from "../plugins/sdk";
import { CredentialCipher, embeddedKey } from "./publisher/credentials-crypto";
import { ATTEMPT_JOB, PublishPipeline, SWEEP_JOB, publicAttempt } from "./publisher/pipeline";
import { loadPlugins, type PluginRegistry, type RefusedPlugin } from "./publisher/registry";
import { PublisherStore } from "./publisher/store";
import "../lib/schema-types";

/** How soon an attempt whose job failed (not the platform: the job itself) is tried again. */
const JOB_RETRY_MS = 2_000;

const PLATFORM_ID = { type: "string", pattern: "^[a-z][a-z0-9-]{1,31}$", messages: { stringPattern: "must be a platform id like 'instagram'" } } as const;

/** Platform-neutral content: the seed templates' fields plus publishing hints. Unknown keys are dropped. */
const contentParam = {
  type: "object",
  strict: "remove",
  props: {
    title: { type: "string", max: 1000, optional: true },
    description: { type: "string", max: 50_000, optional: true },
    cta: { type: "string", max: 500, optional: true },
    price: { type: "number", min: 0, max: 100_000, optional: true },
    hashtags: { type: "array", items: { type: "string", min: 1, max: 100 }, max: 100, optional: true },
    link: { type: "url", optional: true },
    nsfw: { type: "boolean", optional: true },
    subreddit: { type: "string", max: 50, optional: true },
    flairId: { type: "string", max: 100, optional: true },
    privacyLevel: { type: "string", max: 50, optional: true },
  },
} as const;

const mediaUrlsParam = { type: "array", items: { type: "url" }, max: 35, default: [] } as const;
const platformsParam = { type: "array", items: PLATFORM_ID, min: 1, max: 20, unique: true } as const;
const idParam = { type: "string", min: 1, max: 100 } as const;

type Methods = {
  pluginOptions(id: string): PluginOptions;
};
type Vars = {
  store: PublisherStore;
  registry: PluginRegistry;
  refused: RefusedPlugin[];
  pipeline: PublishPipeline;
  cipher: CredentialCipher;
  publisherConfig: PublisherConfig;
};

type PublishParams = { campaignId: string; platforms: string[]; content: BaseContent; mediaUrls: string[]; variantId?: string };

const PublisherService: ServiceSchema<ServiceSettingSchema, Methods, Vars> = {
  name: "publisher",
  settings: { rest: "/" },
  mixins: [
    StoreMixin((db) => new PublisherStore(db)),
    JobsMixin(
      {
        async [ATTEMPT_JOB](job: Job) {
          const { attemptId } = job.attrs.data as { attemptId: string };
          const { pipeline } = this as unknown as Vars;
          try {
            await pipeline.run(attemptId);
          } catch (err) {
            // A failed job is not run again by Agenda: a transient error (database away, pool exhausted) would
            // leave the attempt to the sweep minutes later. Try again soon; the claim keeps it single.
            await pipeline.schedule(attemptId, new Date(Date.now() + JOB_RETRY_MS)).catch(() => undefined);
            throw err;
          }
        },
        async [SWEEP_JOB]() {
          await (this as unknown as Vars).pipeline.sweep(2 * 60_000);
        },
      },
      { concurrency: 20 },
    ),
  ],

  actions: {
    plugins: {
      rest: "GET /plugins",
      params: { $$strict: true },
      openapi: { summary: "Loaded publishing plugins with their limits", tags: ["publisher"] },
      handler() {
        return {
          plugins: this.registry.list().map((p) => ({ id: p.id, displayName: p.displayName, apiVersion: p.apiVersion, limits: p.limits, credentialFields: p.credentialFields, canMessage: typeof p.sendMessage === "function" })),
          refused: this.refused.map((r) => ({ source: r.source, id: r.id, problems: r.problems })),
        };
      },
    },

    preview: {
      rest: "POST /publisher/preview",
      params: { $$strict: true, content: contentParam, mediaUrls: mediaUrlsParam, platforms: platformsParam },
      openapi: { summary: "Each platform's adapted payload and the problems that block it", tags: ["publisher"] },
      handler(ctx: Context<{ content: BaseContent; mediaUrls: string[]; platforms: string[] }>) {
        return this.pipeline.preview(ctx.params.content, ctx.params.mediaUrls, ctx.params.platforms);
      },
    },

    publish: {
      rest: "POST /publisher/publish",
      permission: "write",
      params: { $$strict: true, campaignId: idParam, platforms: platformsParam, content: contentParam, mediaUrls: mediaUrlsParam, variantId: { ...idParam, optional: true } },
      openapi: { summary: "Publish content of a campaign (variant) to platforms; one attempt per platform, run in the background", tags: ["publisher"], status: 202 },
      async handler(ctx: Context<PublishParams>) {
        const rows = await this.pipeline.enqueue(requireUser(ctx), ctx.params, auditOf(ctx));
        Object.assign(ctx.meta, { $statusCode: 202 });
        return { publications: rows.map(({ attempt, created }) => ({ ...publicAttempt(attempt), created })) };
      },
    },

    publishCampaign: {
      rest: "POST /campaigns/:id/publish",
      permission: "write",
      params: { $$strict: true, id: idParam, platforms: { ...platformsParam, min: 0, optional: true }, variantId: { ...idParam, optional: true } },
      openapi: { summary: "Publish a campaign's content to its platforms (or the given ones)", tags: ["publisher"], status: 202 },
      async handler(ctx: Context<{ id: string; platforms?: string[]; variantId?: string }>) {
        const campaign = await ctx.call<{ id: string; platforms: string[]; content: Record<string, unknown>; mediaUrls: string[] }, { id: string }>(
          "campaigns.get",
          { id: ctx.params.id },
          { meta: ctx.meta },
        );
        // Empty (as gRPC sends an absent repeated field) means the campaign's own platforms.
        const platforms = ctx.params.platforms?.length ? ctx.params.platforms : campaign.platforms;
        if (!platforms.length) throw new UnprocessableError("The campaign has no platforms", [{ field: "platforms", message: "Give platforms or set them on the campaign", type: "required" }]);
        const content = pickContent(campaign.content);
        return ctx.call("publisher.publish", { campaignId: campaign.id, platforms, content, mediaUrls: campaign.mediaUrls ?? [], variantId: ctx.params.variantId }, { meta: ctx.meta });
      },
    },

    publications: {
      rest: "GET /campaigns/:id/publications",
      params: { $$strict: true, id: idParam },
      openapi: { summary: "Per-platform publication state, tries and errors of a campaign", tags: ["publisher"] },
      async handler(ctx: Context<{ id: string }>) {
        const rows = await this.store.listForCampaign(requireUser(ctx), ctx.params.id);
        // No rows: either nothing was published yet or the campaign is not the caller's — ask campaigns (404).
        if (!rows.length && isServiceAvailable(this.broker, "campaigns")) await ctx.call("campaigns.get", { id: ctx.params.id }, { meta: ctx.meta });
        return { campaignId: ctx.params.id, publications: rows.map(publicAttempt) };
      },
    },

    credentials: {
      rest: "GET /credentials",
      params: { $$strict: true },
      openapi: { summary: "Platforms the caller has connected (never the secrets)", tags: ["publisher"] },
      async handler(ctx: Context) {
        return { credentials: await this.store.credentialPlatforms(requireUser(ctx)) };
      },
    },

    setCredentials: {
      rest: "PUT /credentials/:platform",
      permission: "manage",
      // Values are checked in the handler so a validation error can never echo a secret back.
      params: { $$strict: true, platform: PLATFORM_ID, credentials: { type: "object", minProps: 1, maxProps: 20 } },
      openapi: { summary: "Store the caller's credentials for a platform (write-only, encrypted at rest)", tags: ["publisher"] },
      async handler(ctx: Context<{ platform: string; credentials: Record<string, unknown> }>) {
        const user = requireUser(ctx);
        const plugin = this.registry.resolve(ctx.params.platform);
        if (!plugin) throw new NotFoundError("plugin", ctx.params.platform);
        const secrets = credentialValues(ctx.params.credentials, plugin.credentialFields);
        await this.store.putCredentials(user, plugin.id, this.cipher.seal(secrets, user.id, plugin.id), Object.keys(secrets).sort(), auditOf(ctx));
        return { platform: plugin.id, fields: Object.keys(secrets).sort(), stored: true };
      },
    },

    removeCredentials: {
      rest: "DELETE /credentials/:platform",
      permission: "manage",
      params: { $$strict: true, platform: PLATFORM_ID },
      openapi: { summary: "Forget the caller's credentials for a platform", tags: ["publisher"] },
      async handler(ctx: Context<{ platform: string }>) {
        const removed = await this.store.deleteCredentials(requireUser(ctx), ctx.params.platform, auditOf(ctx));
        if (!removed) throw new NotFoundError("credentials", ctx.params.platform);
        return { platform: ctx.params.platform, deleted: true };
      },
    },

    sendMessage: {
      rest: "POST /publisher/messages",
      permission: "write",
      params: {
        $$strict: true,
        platform: PLATFORM_ID,
        fanId: idParam,
        idempotencyKey: { type: "string", min: 8, max: 200 },
        message: {
          type: "object",
          strict: true,
          props: {
            text: { type: "string", min: 1, max: 5000 },
            price: { type: "number", min: 0, max: 100_000, optional: true },
            mediaUrls: { type: "array", items: { type: "url" }, max: 20, optional: true },
          },
        },
      },
      openapi: { summary: "Send a direct message to a fan (sent once per idempotency key)", tags: ["publisher"] },
      async handler(ctx: Context<{ platform: string; fanId: string; idempotencyKey: string; message: { text: string; price?: number; mediaUrls?: string[] } }>) {
        const user = requireUser(ctx);
        const { platform, fanId, idempotencyKey, message } = ctx.params;
        const plugin = this.registry.resolve(platform);
        if (!plugin) throw new NotFoundError("plugin", platform);
        if (!plugin.sendMessage) {
          throw new UnprocessableError(`${plugin.displayName} has no direct messages`, [{ field: "platform", message: `${plugin.displayName} cannot send direct messages`, type: "unsupported" }]);
        }
        const claim = await this.store.claimMessage(user, idempotencyKey, platform, fanId);
        if (claim.row.externalId) return { idempotencyKey, externalId: claim.row.externalId, sent: true, duplicate: true };
        const credentials = await this.pipeline.credentialsFor(user.id, platform);
        if (!credentials) throw new UnprocessableError(`Connect ${platform} first`, [{ field: "platform", message: `No ${platform} credentials (PUT /api/credentials/${platform})`, type: "credentialsMissing" }]);
        const sent = await plugin.sendMessage(fanId, message, credentials, { idempotencyKey: `${user.id}:${idempotencyKey}` }).catch((err) => {
          throw toActionError(err);
        });
        await this.store.setMessageSent(user, idempotencyKey, sent.externalId, auditOf(ctx));
        return { idempotencyKey, externalId: sent.externalId, sent: true, duplicate: !claim.created };
      },
    },
  },

  methods: {
    pluginOptions(id: string): PluginOptions {
      const c = this.publisherConfig;
      return { baseUrl: c.baseUrls[id] ?? "http://invalid", timeoutMs: c.httpTimeoutMs, pollIntervalMs: c.pollIntervalMs, maxPolls: c.maxPolls };
    },
  },

  created() {
    this.publisherConfig = loadPublisherConfig();
    const { registry, refused } = loadPlugins({ packages: this.publisherConfig.plugins, disabled: this.publisherConfig.disabledPlugins, options: (id) => this.pluginOptions(id) });
    this.registry = registry;
    this.refused = refused;
    for (const r of refused) this.logger.warn(r.message);
    this.logger.info(`publishing plugins loaded: ${registry.ids().join(", ") || "none"}`);
  },

  async started() {
    const runtime = runtimeOf(this.broker);
    const keys = this.publisherConfig.credentialKeys.length ? this.publisherConfig.credentialKeys : [embeddedKey(runtime.config.dataDir)];
    if (!this.publisherConfig.credentialKeys.length && runtime.config.databaseUrl) {
      this.logger.warn("CREDENTIALS_KEYS is not set: credentials are sealed with a key local to this node's data folder; other nodes cannot open them");
    }
    this.cipher = new CredentialCipher(keys);
    const agenda = await runtime.agenda();
    this.pipeline = new PublishPipeline({
      store: this.store,
      registry: this.registry,
      cipher: this.cipher,
      config: this.publisherConfig,
      agenda: () => agenda,
      emit: (event, payload) => this.broker.emit(event, payload),
      logger: this.logger,
    });
    await agenda.every("1 minute", SWEEP_JOB);
  },
};

/** The publishable fields of a campaign's free-form content. */
function pickContent(content: Record<string, unknown> | undefined): BaseContent {
  const keys = Object.keys(contentParam.props) as (keyof BaseContent)[];
  return Object.fromEntries(keys.filter((k) => content?.[k] !== undefined && content?.[k] !== null).map((k) => [k, content![k]])) as BaseContent;
}

/** Checks credential values without ever putting a value into an error. */
function credentialValues(input: Record<string, unknown>, required: readonly string[]): Record<string, string> {
  const problems: FieldProblem[] = [];
  for (const field of required) if (typeof input[field] !== "string" || input[field] === "") problems.push({ field: `credentials.${field}`, message: "is required (a non-empty string)", type: "required" });
  for (const [field, value] of Object.entries(input)) {
    if (!/^[A-Za-z][A-Za-z0-9_]{0,49}$/.test(field)) problems.push({ field: "credentials", message: "field names are letters, digits and _", type: "fieldName" });
    else if (typeof value !== "string" || value.length > 8192) problems.push({ field: `credentials.${field}`, message: "must be a string of at most 8192 characters", type: "string" });
  }
  if (problems.length) throw new UnprocessableError("The credentials are incomplete or malformed", problems);
  return input as Record<string, string>;
}

/** A plugin failure during a synchronous action, as the caller should see it. */
function toActionError(err: unknown): Error {
  if (!isPluginError(err)) return err as Error;
  switch (err.kind) {
    case "content_rejected": {
      const problems = (err as { problems?: FieldProblem[] }).problems ?? [];
      return new UnprocessableError(err.message, problems.length ? problems : [{ field: "message", message: err.message, type: "rejected" }]);
    }
    case "auth_expired":
      return new UnprocessableError(err.message, [{ field: "platform", message: "The platform refused the stored credentials: reconnect", type: "authExpired" }]);
    case "rate_limited":
      return new TooManyRequestsError(err.message, Math.ceil(((err as { retryAfterMs?: number }).retryAfterMs ?? 60_000) / 1000));
    default:
      // Retryable or unknown: the caller retries with the same idempotency key, which the gateway dedupes.
      return new ServiceUnavailableError(err.message, { kind: err.kind });
  }
}

export default PublisherService;
