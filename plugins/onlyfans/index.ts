/**
 * OnlyFans has no public official API. This plugin talks to a configurable HTTP gateway (the kind agencies
 * run) whose request/response shape is documented in docs/plugins.md: `POST /v1/posts`, `GET /v1/posts`,
 * `GET /v1/posts/:id`, `POST /v1/messages`, each write honouring an `Idempotency-Key` header.
 * Credentials: `apiKey` (the gateway's key) and `accountId` (the creator's account at the gateway).
 */
import {
  AuthExpiredError,
  ContentRejectedError,
  HttpPlugin,
  RateLimitedError,
  RetryableError,
  composeCaption,
  ctaLine,
  mediaTypeOf,
  normalizeHashtags,
  paragraphs,
  parseRetryAfter,
  stripMarkup,
  type AdaptOptions,
  type Adapted,
  type BaseContent,
  type ContentProblem,
  type Credentials,
  type FanMessage,
  type PlatformLimits,
  type PluginError,
  type PostMetrics,
  type PostStatus,
  type PublishContext,
  type PublishedPost,
  type SentMessage,
} from "../sdk";

/** The gateway's PPV bounds, in US dollars (OnlyFans' own minimum is $3). */
export const PPV_MIN = 3;
export const PPV_MAX = 200;

export interface OnlyFansPost {
  text: string;
  /** PPV price in dollars; absent for a free post. */
  price?: number;
  media: { url: string; type: "image" | "video" }[];
}

interface GatewayPost {
  id: string;
  url?: string;
  state: "published" | "processing" | "failed";
  idempotencyKey?: string;
  reason?: string;
}

interface GatewayError {
  error?: { code: string; message?: string; details?: { field: string; message: string }[] };
}

export default class OnlyFansPlugin extends HttpPlugin<OnlyFansPost> {
  readonly id = "onlyfans";
  readonly displayName = "OnlyFans";
  readonly credentialFields = ["apiKey", "accountId"] as const;
  readonly limits: PlatformLimits = {
    captionLength: 1000,
    titleLength: 0,
    hashtags: 20,
    media: { min: 0, max: 20, types: ["image", "video"], maxBytes: 5 * 1024 * 1024 * 1024 },
    links: "clickable",
    nsfw: true,
    rate: { perMinute: 30, burst: 10 },
    concurrency: 4,
  };

  adapt(content: BaseContent, { mediaUrls }: AdaptOptions): Adapted<OnlyFansPost> {
    const problems: ContentProblem[] = [...this.mediaProblems(mediaUrls), ...priceProblems("content.price", content.price)];
    const changes: string[] = [];
    if (content.price !== undefined && !mediaUrls.length) {
      problems.push({ field: "mediaUrls", type: "mediaRequired", message: "A PPV post needs media to lock behind the price" });
    }
    if (problems.length) return { payload: null, problems, changes };
    const description = content.description ? stripMarkup(content.description) : undefined;
    if (description !== content.description) changes.push("markup stripped from the description");
    // The price is the post's PPV price, so the CTA line carries only the CTA text.
    const body = paragraphs(content.title, description, ctaLine(content.cta, undefined), content.link);
    const caption = composeCaption({ body, hashtags: normalizeHashtags(content.hashtags), maxLength: this.limits.captionLength, maxHashtags: this.limits.hashtags });
    if (caption.truncated) changes.push(`text truncated to ${this.limits.captionLength} characters`);
    if (caption.overflow.length) changes.push(`${caption.overflow.length} hashtag(s) dropped (over the limit)`);
    if (!caption.text && !mediaUrls.length) return { payload: null, problems: [{ field: "content", type: "empty", message: "Nothing to post" }], changes };
    const post: OnlyFansPost = { text: caption.text, media: mediaUrls.map((url) => ({ url, type: mediaTypeOf(url)! })) };
    if (content.price !== undefined) post.price = content.price;
    return { payload: post, problems, changes };
  }

  protected authHeaders(credentials: Credentials): Record<string, string> {
    return { authorization: `Bearer ${credentials.apiKey}` };
  }

  async publish(post: OnlyFansPost, credentials: Credentials, ctx: PublishContext): Promise<PublishedPost> {
    const created = await this.http<GatewayPost>(
      { method: "POST", path: "/v1/posts", json: { accountId: credentials.accountId, ...post }, headers: { "idempotency-key": ctx.idempotencyKey }, creates: true },
      credentials,
    );
    return { externalId: created.id, url: created.url };
  }

  async status(externalId: string, credentials: Credentials): Promise<PostStatus> {
    try {
      const post = await this.http<GatewayPost>({ method: "GET", path: `/v1/posts/${encodeURIComponent(externalId)}` }, credentials);
      return { state: post.state, url: post.url, reason: post.reason };
    } catch (err) {
      if ((err as PluginError).status === 404) return { state: "not_found" };
      throw err;
    }
  }

  /** The gateway indexes posts by idempotency key, so the lookup is exact. */
  async findExisting(_post: OnlyFansPost, credentials: Credentials, ctx: PublishContext): Promise<PublishedPost | null> {
    const { data } = await this.http<{ data: GatewayPost[] }>(
      { method: "GET", path: "/v1/posts", query: { accountId: credentials.accountId, idempotencyKey: ctx.idempotencyKey } },
      credentials,
    );
    return data[0] ? { externalId: data[0].id, url: data[0].url } : null;
  }

  async metrics(externalId: string, credentials: Credentials): Promise<PostMetrics> {
    return this.http<PostMetrics>({ method: "GET", path: `/v1/posts/${encodeURIComponent(externalId)}/stats` }, credentials);
  }

  async sendMessage(fanId: string, message: FanMessage, credentials: Credentials, ctx: { idempotencyKey: string }): Promise<SentMessage> {
    const problems = priceProblems("message.price", message.price);
    if (problems.length) throw new ContentRejectedError("The message price is out of range", problems);
    const sent = await this.http<{ id: string }>(
      {
        method: "POST",
        path: "/v1/messages",
        json: { accountId: credentials.accountId, fanId, text: stripMarkup(message.text), price: message.price, media: message.mediaUrls ?? [] },
        headers: { "idempotency-key": ctx.idempotencyKey },
        creates: true,
      },
      credentials,
    );
    return { externalId: sent.id };
  }

  protected platformError(status: number, body: unknown, headers: Headers): PluginError | undefined {
    const error = (body as GatewayError)?.error;
    if (!error?.code) return undefined;
    const message = `OnlyFans gateway ${error.code}: ${error.message ?? ""}`;
    if (error.code === "rate_limited") return new RateLimitedError(message, parseRetryAfter(headers.get("retry-after")), status);
    if (error.code === "unauthorized" || error.code === "session_expired") return new AuthExpiredError(message, status);
    if (error.code === "invalid_content") {
      return new ContentRejectedError(message, (error.details ?? []).map((d) => ({ field: d.field, message: d.message, type: "platform" })), status);
    }
    if (status >= 500) return new RetryableError(message, status);
    return undefined;
  }
}

function priceProblems(field: string, price: number | undefined): ContentProblem[] {
  if (price === undefined) return [];
  if (!Number.isFinite(price) || price < PPV_MIN || price > PPV_MAX) {
    return [{ field, type: "priceRange", message: `OnlyFans prices are between $${PPV_MIN} and $${PPV_MAX}` }];
  }
  return [];
}
