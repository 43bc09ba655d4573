/**
 * TikTok via the Content Posting API (direct post): `POST /v2/post/publish/video/init/` (or
 * `/content/init/` for photo posts) with PULL_FROM_URL, then `POST /v2/post/publish/status/fetch/` until
 * PUBLISH_COMPLETE. Credentials: `accessToken` (user token with video.publish scope).
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
  truncateWords,
  type AdaptOptions,
  type Adapted,
  type BaseContent,
  type ContentProblem,
  type HttpRequest,
  type Credentials,
  type PlatformLimits,
  type PluginError,
  type PostStatus,
  type PublishContext,
  type PublishedPost,
} from "../sdk";

export const PRIVACY_LEVELS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"] as const;
/** Photo posts have a short title and a separate description. */
const PHOTO_TITLE_LENGTH = 90;
/** TikTok allows 4000; we keep to the declared captionLength so limits mean one thing across post kinds. */
const PHOTO_DESCRIPTION_LENGTH = 2200;
const CLOCK_SKEW_MS = 60_000;

export interface TikTokPost {
  media_type: "VIDEO" | "PHOTO";
  post_info: {
    title: string;
    description?: string;
    privacy_level: string;
    disable_comment: boolean;
    brand_content_toggle: boolean;
  };
  source_info: { source: "PULL_FROM_URL"; video_url?: string; photo_images?: string[]; photo_cover_index?: number };
}

interface TikTokEnvelope<T> {
  data?: T;
  error?: { code: string; message?: string; log_id?: string };
}

export default class TikTokPlugin extends HttpPlugin<TikTokPost> {
  readonly id = "tiktok";
  readonly displayName = "TikTok";
  readonly credentialFields = ["accessToken"] as const;
  readonly limits: PlatformLimits = {
    captionLength: 2200,
    titleLength: PHOTO_TITLE_LENGTH,
    hashtags: 30,
    media: { min: 1, max: 35, types: ["image", "video"], maxBytes: 4 * 1024 * 1024 * 1024 },
    links: "text",
    nsfw: false,
    // The init endpoint allows 6 requests per minute per user token.
    rate: { perMinute: 6, burst: 6 },
    concurrency: 4,
  };

  adapt(content: BaseContent, { mediaUrls }: AdaptOptions): Adapted<TikTokPost> {
    const problems: ContentProblem[] = this.mediaProblems(mediaUrls);
    const changes: string[] = [];
    const videos = mediaUrls.filter((u) => mediaTypeOf(u) === "video").length;
    if (videos > 1 || (videos === 1 && mediaUrls.length > 1)) {
      problems.push({ field: "mediaUrls", type: "mediaMix", message: "TikTok posts are one video or up to 35 photos, not a mix" });
    }
    if (content.nsfw) problems.push({ field: "content.nsfw", type: "nsfw", message: "TikTok does not allow NSFW content" });
    const privacy = content.privacyLevel ?? "PUBLIC_TO_EVERYONE";
    if (!(PRIVACY_LEVELS as readonly string[]).includes(privacy)) {
      problems.push({ field: "content.privacyLevel", type: "enumValue", message: `privacyLevel must be one of ${PRIVACY_LEVELS.join(", ")}` });
    }
    if (problems.length) return { payload: null, problems, changes };

    const description = content.description ? stripMarkup(content.description) : undefined;
    if (description !== content.description) changes.push("markup stripped from the description");
    if (content.link) changes.push("link replaced by 'Link in bio' (captions have no clickable links)");
    const hashtags = normalizeHashtags(content.hashtags);
    const base = { privacy_level: privacy, disable_comment: false, brand_content_toggle: false };

    if (videos === 1) {
      const body = paragraphs(content.title, description, ctaLine(content.cta, content.price), content.link && "Link in bio");
      const caption = composeCaption({ body, hashtags, maxLength: this.limits.captionLength, maxHashtags: this.limits.hashtags });
      if (caption.truncated) changes.push(`title truncated to ${this.limits.captionLength} characters`);
      if (caption.overflow.length) changes.push(`${caption.overflow.length} hashtag(s) dropped (over the limit)`);
      return {
        payload: { media_type: "VIDEO", post_info: { ...base, title: caption.text }, source_info: { source: "PULL_FROM_URL", video_url: mediaUrls[0] } },
        problems,
        changes,
      };
    }
    const title = truncateWords(stripMarkup(content.title ?? description ?? ""), PHOTO_TITLE_LENGTH);
    if (content.title && title !== content.title) changes.push(`title truncated to ${PHOTO_TITLE_LENGTH} characters`);
    const body = paragraphs(description, ctaLine(content.cta, content.price), content.link && "Link in bio");
    const caption = composeCaption({ body, hashtags, maxLength: PHOTO_DESCRIPTION_LENGTH, maxHashtags: this.limits.hashtags });
    if (caption.truncated) changes.push(`description truncated to ${PHOTO_DESCRIPTION_LENGTH} characters`);
    if (caption.overflow.length) changes.push(`${caption.overflow.length} hashtag(s) dropped (over the limit)`);
    return {
      payload: {
        media_type: "PHOTO",
        post_info: { ...base, title, description: caption.text },
        source_info: { source: "PULL_FROM_URL", photo_images: [...mediaUrls], photo_cover_index: 0 },
      },
      problems,
      changes,
    };
  }

  async publish(post: TikTokPost, credentials: Credentials, _ctx: PublishContext): Promise<PublishedPost> {
    const path = post.media_type === "VIDEO" ? "/v2/post/publish/video/init/" : "/v2/post/publish/content/init/";
    const json = post.media_type === "VIDEO" ? { post_info: post.post_info, source_info: post.source_info } : { ...post, post_mode: "DIRECT_POST" };
    const init = await this.call<{ publish_id: string }>({ method: "POST", path, json, creates: true }, credentials);
    // The post exists once init answered: polling only finds its public id, so give up quietly if slow.
    const done = await this.poll(async () => {
      const s = await this.fetchStatus(init.publish_id, credentials).catch(() => undefined);
      if (s?.status === "FAILED") throw new ContentRejectedError(`TikTok could not publish: ${s.fail_reason ?? "unknown reason"}`);
      return s?.status === "PUBLISH_COMPLETE" ? s : undefined;
    });
    const postId = done?.publicaly_available_post_id?.[0];
    return { externalId: postId ? String(postId) : init.publish_id, url: postId ? `https://www.tiktok.com/video/${postId}` : undefined };
  }

  async status(externalId: string, credentials: Credentials): Promise<PostStatus> {
    const s = await this.fetchStatus(externalId, credentials);
    if (s.status === "PUBLISH_COMPLETE") return { state: "published" };
    if (s.status === "FAILED") return { state: "failed", reason: s.fail_reason };
    return { state: "processing" };
  }

  /** The account's videos, newest first, 20 a page; `cursor` (ms) asks for those created before it. */
  async findExisting(post: TikTokPost, credentials: Credentials, ctx: PublishContext): Promise<PublishedPost | null> {
    type Video = { id: string; title?: string; create_time: number; share_url?: string };
    const match = await this.findInListing<Video>(
      async (cursor) => {
        const list = await this.call<{ videos: Video[]; cursor?: number; has_more?: boolean }>(
          { method: "POST", path: "/v2/video/list/", query: { fields: "id,title,create_time,share_url" }, json: { max_count: 20, cursor: cursor === undefined ? undefined : Number(cursor) } },
          credentials,
        );
        return { items: list.videos ?? [], next: list.has_more && list.cursor ? String(list.cursor) : undefined };
      },
      (v) => v.create_time * 1000,
      ctx.since.getTime() - CLOCK_SKEW_MS,
      (v) => v.title === post.post_info.title,
    );
    return match ? { externalId: match.id, url: match.share_url } : null;
  }

  protected platformError(status: number, body: unknown, headers: Headers): PluginError | undefined {
    const error = (body as TikTokEnvelope<unknown>)?.error;
    if (!error?.code || error.code === "ok") return undefined;
    const message = `TikTok error ${error.code}: ${error.message ?? ""}`;
    if (error.code === "access_token_invalid" || error.code === "scope_not_authorized") return new AuthExpiredError(message, status);
    if (error.code === "rate_limit_exceeded") return new RateLimitedError(message, parseRetryAfter(headers.get("retry-after")), status);
    if (error.code === "spam_risk_too_many_posts" || error.code === "spam_risk_user_banned_from_posting") {
      return new ContentRejectedError(message, [], status);
    }
    if (status >= 500 || error.code === "internal_error") return new RetryableError(message, status);
    return new ContentRejectedError(message, [], status);
  }

  private async fetchStatus(publishId: string, credentials: Credentials) {
    return this.call<{ status: string; fail_reason?: string; publicaly_available_post_id?: (string | number)[] }>(
      { method: "POST", path: "/v2/post/publish/status/fetch/", json: { publish_id: publishId } },
      credentials,
    );
  }

  /** TikTok wraps every answer in `{data, error}`; a 200 may still carry an error code. */
  private async call<T>(req: HttpRequest, credentials: Credentials): Promise<T> {
    const res = await this.http<TikTokEnvelope<T>>(req, credentials);
    const err = this.platformError(200, res, new Headers());
    if (err) throw err;
    return res.data as T;
  }
}
