/**
 * The minimal plugin from docs/plugins.md: posts a status to a Mastodon server. Folders starting with `_`
 * are not loaded by default; the conformance suite loads this one explicitly to prove the example passes.
 * Mastodon honours `Idempotency-Key` on `POST /api/v1/statuses`, which makes retries safe.
 */
import {
  HttpPlugin,
  composeCaption,
  normalizeHashtags,
  paragraphs,
  stripMarkup,
  type AdaptOptions,
  type Adapted,
  type BaseContent,
  type Credentials,
  type PlatformLimits,
  type PostStatus,
  type PublishContext,
  type PublishedPost,
} from "../sdk";

export interface MastodonPost {
  status: string;
  sensitive: boolean;
}

export default class MastodonPlugin extends HttpPlugin<MastodonPost> {
  readonly id = "mastodon";
  readonly displayName = "Mastodon";
  readonly credentialFields = ["accessToken", "accountId"] as const;
  readonly limits: PlatformLimits = {
    captionLength: 500,
    titleLength: 0,
    hashtags: 10,
    media: { min: 0, max: 0, types: [], maxBytes: 0 },
    links: "clickable",
    nsfw: true,
    rate: { perMinute: 30, burst: 5 },
    concurrency: 2,
  };

  adapt(content: BaseContent, _options: AdaptOptions): Adapted<MastodonPost> {
    const problems = this.mediaProblems(_options.mediaUrls);
    const body = paragraphs(content.title, content.description && stripMarkup(content.description), content.cta, content.link);
    const caption = composeCaption({ body, hashtags: normalizeHashtags(content.hashtags), maxLength: this.limits.captionLength, maxHashtags: this.limits.hashtags });
    if (!caption.text) problems.push({ field: "content", type: "empty", message: "Nothing to post" });
    const changes = caption.truncated ? ["status truncated to 500 characters"] : [];
    return { payload: problems.length ? null : { status: caption.text, sensitive: content.nsfw === true }, problems, changes };
  }

  async publish(post: MastodonPost, credentials: Credentials, ctx: PublishContext): Promise<PublishedPost> {
    const res = await this.http<{ id: string; url: string }>(
      { method: "POST", path: "/api/v1/statuses", json: post, headers: { "idempotency-key": ctx.idempotencyKey }, creates: true },
      credentials,
    );
    return { externalId: res.id, url: res.url };
  }

  async status(externalId: string, credentials: Credentials): Promise<PostStatus> {
    const res = await this.http<{ url: string }>({ method: "GET", path: `/api/v1/statuses/${externalId}` }, credentials);
    return { state: "published", url: res.url };
  }

  /** The account's statuses, newest first, 40 a page; `max_id` asks for those older than the last one seen. */
  async findExisting(post: MastodonPost, credentials: Credentials, ctx: PublishContext): Promise<PublishedPost | null> {
    type Status = { id: string; url: string; content: string; created_at: string };
    const match = await this.findInListing<Status>(
      async (maxId) => {
        const page = await this.http<Status[]>({ method: "GET", path: `/api/v1/accounts/${credentials.accountId}/statuses`, query: { limit: 40, max_id: maxId } }, credentials);
        return { items: page, next: page.length === 40 ? page[page.length - 1].id : undefined };
      },
      (s) => Date.parse(s.created_at),
      ctx.since.getTime() - 60_000,
      (s) => stripMarkup(s.content) === post.status,
    );
    return match ? { externalId: match.id, url: match.url } : null;
  }
}
