/**
 * Instagram via the Graph API content publishing flow: create a media container (one per carousel item
 * plus the carousel), poll the container's `status_code` until FINISHED, then `media_publish` it.
 * Containers are harmless if created twice; only `media_publish` creates a post, so only it is `creates`.
 * Credentials: `accessToken` (long-lived user token) and `igUserId` (the Instagram business account id).
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
  stripMarkup,
  type AdaptOptions,
  type Adapted,
  type BaseContent,
  type ContentProblem,
  type Credentials,
  type PlatformLimits,
  type PluginError,
  type PostStatus,
  type PublishContext,
  type PublishedPost,
} from "../sdk";

type ContainerItem = { image_url: string } | { video_url: string; media_type: "VIDEO" };

export interface InstagramPost {
  media_type: "IMAGE" | "REELS" | "CAROUSEL";
  caption: string;
  image_url?: string;
  video_url?: string;
  /** Carousel items, each becoming a child container. */
  children?: ContainerItem[];
  /** Hashtags over the caption limit, posted as the first comment (the usual creator practice). */
  first_comment?: string;
}

interface GraphError {
  error?: { message?: string; type?: string; code?: number; error_subcode?: number; is_transient?: boolean };
}

/** Graph API error codes for throttling (application, user, page and custom rate limits). */
const THROTTLE_CODES = new Set([4, 17, 32, 613, 80001, 80002]);
/** How far before the first attempt a listed post may be timestamped and still be ours (clock skew). */
const CLOCK_SKEW_MS = 60_000;

export default class InstagramPlugin extends HttpPlugin<InstagramPost> {
  readonly id = "instagram";
  readonly displayName = "Instagram";
  readonly credentialFields = ["accessToken", "igUserId"] as const;
  readonly limits: PlatformLimits = {
    captionLength: 2200,
    titleLength: 0,
    hashtags: 30,
    media: { min: 1, max: 10, types: ["image", "video"], maxBytes: 100 * 1024 * 1024 },
    links: "text",
    nsfw: false,
    // Content publishing allows 50 posts per 24 h per account; calls are limited to 200 per hour.
    rate: { perMinute: 3, burst: 5 },
    concurrency: 4,
  };

  adapt(content: BaseContent, { mediaUrls }: AdaptOptions): Adapted<InstagramPost> {
    const problems: ContentProblem[] = this.mediaProblems(mediaUrls);
    const changes: string[] = [];
    if (content.nsfw) problems.push({ field: "content.nsfw", type: "nsfw", message: "Instagram does not allow NSFW content" });
    const description = content.description ? stripMarkup(content.description) : undefined;
    if (description !== content.description) changes.push("markup stripped from the description");
    // Links in captions are not clickable on Instagram: point to the bio instead.
    const linkNote = content.link ? "Link in bio" : undefined;
    if (linkNote) changes.push("link replaced by 'Link in bio' (captions have no clickable links)");
    const body = paragraphs(content.title, description, ctaLine(content.cta, content.price), linkNote);
    const caption = composeCaption({ body, hashtags: normalizeHashtags(content.hashtags), maxLength: this.limits.captionLength, maxHashtags: this.limits.hashtags });
    if (caption.truncated) changes.push(`caption truncated to ${this.limits.captionLength} characters`);
    if (caption.overflow.length) changes.push(`${caption.overflow.length} hashtag(s) moved to the first comment`);
    if (!caption.text && !mediaUrls.length) problems.push({ field: "content", type: "empty", message: "Nothing to post" });
    if (problems.length) return { payload: null, problems, changes };

    const post: InstagramPost = { media_type: "IMAGE", caption: caption.text };
    if (caption.overflow.length) post.first_comment = caption.overflow.join(" ");
    if (mediaUrls.length > 1) {
      post.media_type = "CAROUSEL";
      post.children = mediaUrls.map((url) => (mediaTypeOf(url) === "video" ? { video_url: url, media_type: "VIDEO" as const } : { image_url: url }));
    } else if (mediaTypeOf(mediaUrls[0]) === "video") {
      post.media_type = "REELS";
      post.video_url = mediaUrls[0];
    } else {
      post.image_url = mediaUrls[0];
    }
    return { payload: post, problems, changes };
  }

  async publish(post: InstagramPost, credentials: Credentials, _ctx: PublishContext): Promise<PublishedPost> {
    const user = credentials.igUserId;
    const containerId = await this.createContainer(post, credentials);
    const ready = await this.poll(async () => {
      const { status_code } = await this.http<{ status_code: string }>({ method: "GET", path: `/${containerId}`, query: { fields: "status_code" } }, credentials);
      if (status_code === "ERROR" || status_code === "EXPIRED") throw new ContentRejectedError(`Instagram could not process the media (container ${status_code})`);
      return status_code === "FINISHED" ? true : undefined;
    });
    if (!ready) throw new RetryableError("Instagram is still processing the media container");
    const { id } = await this.http<{ id: string }>({ method: "POST", path: `/${user}/media_publish`, form: { creation_id: containerId }, creates: true }, credentials);
    const published = await this.withPermalink(id, credentials);
    if (post.first_comment) {
      // Best effort: the post is live either way, and a failed comment must not make it look failed.
      await this.http({ method: "POST", path: `/${id}/comments`, form: { message: post.first_comment } }, credentials).catch(() => undefined);
    }
    return published;
  }

  async status(externalId: string, credentials: Credentials): Promise<PostStatus> {
    try {
      const media = await this.http<{ id: string; permalink?: string }>({ method: "GET", path: `/${externalId}`, query: { fields: "id,permalink" } }, credentials);
      return { state: "published", url: media.permalink };
    } catch (err) {
      if ((err as PluginError).status === 404 || (err as PluginError).status === 400) return { state: "not_found" };
      throw err;
    }
  }

  /** The account's media, newest first, paged with the Graph API's `after` cursor. */
  async findExisting(post: InstagramPost, credentials: Credentials, ctx: PublishContext): Promise<PublishedPost | null> {
    type Media = { id: string; caption?: string; timestamp: string; permalink?: string };
    const match = await this.findInListing<Media>(
      async (after) => {
        const res = await this.http<{ data: Media[]; paging?: { cursors?: { after?: string }; next?: string } }>(
          { method: "GET", path: `/${credentials.igUserId}/media`, query: { fields: "id,caption,timestamp,permalink", limit: 50, after } },
          credentials,
        );
        return { items: res.data, next: res.paging?.next ? res.paging.cursors?.after : undefined };
      },
      (m) => Date.parse(m.timestamp),
      ctx.since.getTime() - CLOCK_SKEW_MS,
      (m) => m.caption === post.caption,
    );
    return match ? { externalId: match.id, url: match.permalink } : null;
  }

  protected platformError(status: number, body: unknown, headers: Headers): PluginError | undefined {
    const error = (body as GraphError)?.error;
    if (!error?.code) return undefined;
    const message = `Instagram error ${error.code}: ${error.message ?? "unknown"}`;
    if (error.code === 190 || (error.type === "OAuthException" && status === 401)) return new AuthExpiredError(message, status);
    if (THROTTLE_CODES.has(error.code)) {
      const retryAfter = headers.get("retry-after");
      return new RateLimitedError(message, retryAfter ? Number(retryAfter) * 1000 : undefined, status);
    }
    if (error.is_transient || error.code === 1 || error.code === 2 || status >= 500) return new RetryableError(message, status);
    return undefined;
  }

  private async createContainer(post: InstagramPost, credentials: Credentials): Promise<string> {
    const user = credentials.igUserId;
    const create = (form: Record<string, string | boolean | undefined>) =>
      this.http<{ id: string }>({ method: "POST", path: `/${user}/media`, form }, credentials).then((r) => r.id);
    if (post.media_type !== "CAROUSEL") {
      return create({ media_type: post.media_type === "REELS" ? "REELS" : undefined, image_url: post.image_url, video_url: post.video_url, caption: post.caption });
    }
    const children: string[] = [];
    for (const item of post.children ?? []) children.push(await create({ ...item, is_carousel_item: true }));
    return create({ media_type: "CAROUSEL", children: children.join(","), caption: post.caption });
  }

  private async withPermalink(id: string, credentials: Credentials): Promise<PublishedPost> {
    // The post is live once media_publish answered; a failed permalink lookup only loses the URL.
    const media = await this.http<{ permalink?: string }>({ method: "GET", path: `/${id}`, query: { fields: "permalink" } }, credentials).catch(() => undefined);
    return { externalId: id, url: media?.permalink };
  }
}
