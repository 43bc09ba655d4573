/**
 * Reddit via `POST /api/submit` on oauth.reddit.com: a link post when there is a link (or one media URL),
 * otherwise a self post in Markdown. Reddit answers 200 with `json.errors` for most refusals, so those
 * are read here. Credentials: `accessToken` and `username` (to look up the account's own submissions).
 */
import {
  AuthExpiredError,
  ContentRejectedError,
  HttpPlugin,
  RateLimitedError,
  ctaLine,
  normalizeHashtags,
  paragraphs,
  stripHtml,
  stripMarkup,
  truncateWords,
  type AdaptOptions,
  type Adapted,
  type BaseContent,
  type ContentProblem,
  type Credentials,
  type PlatformLimits,
  type PostStatus,
  type PublishContext,
  type PublishedPost,
} from "../sdk";

const SELF_TEXT_LENGTH = 40_000;
const CLOCK_SKEW_MS = 60_000;
const SUBREDDIT = /^[A-Za-z0-9][A-Za-z0-9_]{1,20}$/;

export interface RedditPost {
  sr: string;
  kind: "self" | "link";
  title: string;
  text?: string;
  url?: string;
  nsfw: boolean;
  flair_id?: string;
}

type RedditErrorTuple = [code: string, message: string, field?: string];

interface Thing {
  kind: string;
  data: { id: string; name: string; title: string; subreddit: string; created_utc: number; permalink: string; removed_by_category?: string | null };
}

export default class RedditPlugin extends HttpPlugin<RedditPost> {
  readonly id = "reddit";
  readonly displayName = "Reddit";
  readonly credentialFields = ["accessToken", "username"] as const;
  readonly limits: PlatformLimits = {
    captionLength: SELF_TEXT_LENGTH,
    titleLength: 300,
    hashtags: 0,
    media: { min: 0, max: 1, types: ["image", "video"], maxBytes: 20 * 1024 * 1024 },
    links: "post",
    nsfw: true,
    // OAuth clients get 100 queries per minute per account.
    rate: { perMinute: 60, burst: 10 },
    concurrency: 2,
  };

  adapt(content: BaseContent, { mediaUrls }: AdaptOptions): Adapted<RedditPost> {
    const problems: ContentProblem[] = this.mediaProblems(mediaUrls);
    const changes: string[] = [];
    const sr = content.subreddit?.trim().replace(/^\/?r\//i, "");
    if (!sr) problems.push({ field: "content.subreddit", type: "required", message: "Reddit needs a subreddit to post in" });
    else if (!SUBREDDIT.test(sr)) problems.push({ field: "content.subreddit", type: "subreddit", message: `"${sr}" is not a subreddit name` });
    const rawTitle = stripMarkup(content.title?.trim() || content.description?.split("\n")[0]?.trim() || "");
    if (!rawTitle) problems.push({ field: "content.title", type: "required", message: "Reddit posts need a title" });
    if (content.link && mediaUrls.length) {
      problems.push({ field: "mediaUrls", type: "linkAndMedia", message: "A Reddit post is a link or a media post, not both" });
    }
    if (problems.length) return { payload: null, problems, changes };

    const title = truncateWords(rawTitle, this.limits.titleLength);
    if (title !== rawTitle) changes.push(`title truncated to ${this.limits.titleLength} characters`);
    if (content.hashtags?.length) changes.push(`${normalizeHashtags(content.hashtags).length} hashtag(s) dropped (Reddit has none)`);
    const post: RedditPost = { sr: sr!, kind: "self", title, nsfw: content.nsfw === true };
    if (content.flairId) post.flair_id = content.flairId;
    const url = content.link ?? mediaUrls[0];
    if (url) {
      // A link post has no body: the description cannot go with it.
      post.kind = "link";
      post.url = url;
      if (content.description || content.cta) changes.push("description and CTA left out (link posts have no text)");
      return { payload: post, problems, changes };
    }
    const description = content.description ? stripHtml(content.description) : undefined;
    if (description !== content.description) changes.push("HTML stripped from the description (Reddit renders Markdown)");
    const text = paragraphs(description, ctaLine(content.cta, content.price));
    post.text = truncateWords(text, SELF_TEXT_LENGTH);
    if (post.text !== text) changes.push(`text truncated to ${SELF_TEXT_LENGTH} characters`);
    return { payload: post, problems, changes };
  }

  protected authHeaders(credentials: Credentials): Record<string, string> {
    // Reddit throttles requests without a descriptive User-Agent.
    return { authorization: `Bearer ${credentials.accessToken}`, "user-agent": `creator-marketing/0.1 (by /u/${credentials.username})` };
  }

  async publish(post: RedditPost, credentials: Credentials, _ctx: PublishContext): Promise<PublishedPost> {
    const res = await this.http<{ json: { errors: RedditErrorTuple[]; data?: { id: string; name: string; url: string } } }>(
      {
        method: "POST",
        path: "/api/submit",
        form: { api_type: "json", sr: post.sr, kind: post.kind, title: post.title, text: post.text, url: post.url, nsfw: post.nsfw, flair_id: post.flair_id, resubmit: true, sendreplies: true },
        creates: true,
      },
      credentials,
    );
    if (res.json.errors.length) throw this.submitError(res.json.errors);
    const data = res.json.data!;
    return { externalId: data.name, url: data.url };
  }

  async status(externalId: string, credentials: Credentials): Promise<PostStatus> {
    const res = await this.http<{ data: { children: Thing[] } }>({ method: "GET", path: "/api/info", query: { id: externalId } }, credentials);
    const thing = res.data.children[0];
    if (!thing) return { state: "not_found" };
    if (thing.data.removed_by_category) return { state: "failed", reason: `removed (${thing.data.removed_by_category})` };
    return { state: "published", url: `https://www.reddit.com${thing.data.permalink}` };
  }

  /** The account's submissions, newest first, 100 a page (Reddit's most), paged with `after`. */
  async findExisting(post: RedditPost, credentials: Credentials, ctx: PublishContext): Promise<PublishedPost | null> {
    const match = await this.findInListing<Thing>(
      async (after) => {
        const res = await this.http<{ data: { children: Thing[]; after?: string | null } }>(
          { method: "GET", path: `/user/${encodeURIComponent(credentials.username)}/submitted`, query: { sort: "new", limit: 100, after } },
          credentials,
        );
        return { items: res.data.children, next: res.data.after ?? undefined };
      },
      (t) => t.data.created_utc * 1000,
      ctx.since.getTime() - CLOCK_SKEW_MS,
      (t) => t.data.title === post.title && t.data.subreddit.toLowerCase() === post.sr.toLowerCase(),
    );
    return match ? { externalId: match.data.name, url: `https://www.reddit.com${match.data.permalink}` } : null;
  }

  /** Reddit's 200-with-errors answers: RATELIMIT says how long to wait in words. */
  private submitError(errors: RedditErrorTuple[]) {
    const [code, message] = errors[0];
    if (code === "RATELIMIT") return new RateLimitedError(`Reddit: ${message}`, waitFromText(message));
    if (code === "USER_REQUIRED" || code === "INVALID_OAUTH") return new AuthExpiredError(`Reddit: ${message}`);
    return new ContentRejectedError(
      `Reddit refused the post: ${message}`,
      errors.map(([c, m, field]) => ({ field: field ? `reddit.${field}` : "content", message: m, type: c })),
    );
  }
}

/** "try again in 5 minutes." / "in 30 seconds" → milliseconds. */
export function waitFromText(text: string): number | undefined {
  const m = /(\d+)\s*(second|minute|hour)/i.exec(text);
  if (!m) return undefined;
  const unit = { second: 1_000, minute: 60_000, hour: 3_600_000 }[m[2].toLowerCase() as "second" | "minute" | "hour"];
  return Number(m[1]) * unit;
}
