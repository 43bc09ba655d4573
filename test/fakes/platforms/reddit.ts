/** Fake Reddit OAuth API: /api/submit (200 with json.errors on refusal), /user/:name/submitted, /api/info. */
import { FakeServer, fakeId } from "./server";

export interface FakeRedditPost {
  id: string;
  name: string;
  sr: string;
  kind: string;
  title: string;
  text?: string;
  url?: string;
  over18: boolean;
  flairId?: string;
  author: string;
  createdUtc: number;
}

export class FakeReddit extends FakeServer {
  readonly posts: FakeRedditPost[] = [];
  /** Subreddits that exist; others answer SUBREDDIT_NOEXIST. */
  readonly subreddits = new Set(["creators", "fitness", "pics", "OnlyFansPromotion"]);
  /** token → username, so /api/submit knows the author. */
  readonly users = new Map<string, string>();

  constructor() {
    super(
      [
        {
          method: "POST",
          pattern: /^\/api\/submit$/,
          creates: true,
          handle: (req) => {
            const b = req.body;
            const errors: [string, string, string][] = [];
            if (!this.subreddits.has(b.sr)) errors.push(["SUBREDDIT_NOEXIST", "that subreddit doesn't exist", "sr"]);
            if (!b.title) errors.push(["NO_TEXT", "we need something here", "title"]);
            if (Array.from(String(b.title ?? "")).length > 300) errors.push(["TOO_LONG", "this is too long (max: 300)", "title"]);
            if (b.kind === "link" && !b.url) errors.push(["NO_URL", "a url is required", "url"]);
            if (errors.length) return { body: { json: { errors } } };
            const id = fakeId().slice(-7);
            const post: FakeRedditPost = {
              id,
              name: `t3_${id}`,
              sr: b.sr,
              kind: b.kind,
              title: b.title,
              text: b.text,
              url: b.url,
              over18: b.nsfw === "true",
              flairId: b.flair_id,
              author: this.users.get(req.token ?? "") ?? "creator",
              createdUtc: Date.now() / 1000,
            };
            this.posts.push(post);
            return { body: { json: { errors: [], data: { url: `https://www.reddit.com/r/${b.sr}/comments/${id}/`, drafts_count: 0, id, name: post.name } } } };
          },
        },
        {
          method: "GET",
          pattern: /^\/user\/([^/]+)\/submitted$/,
          // Newest first, `limit` (default 25, at most 100) per page; `after` is the fullname the previous page ended on.
          handle: (req) => {
            const mine = this.posts.filter((p) => p.author === req.params[0]).reverse();
            const after = req.query.get("after");
            const start = after ? mine.findIndex((p) => p.name === after) + 1 : 0;
            if (after && start === 0) return { body: listing([]) };
            const limit = Math.min(100, Math.max(1, Number(req.query.get("limit") ?? 25)));
            const page = mine.slice(start, start + limit);
            return { body: listing(page, start + limit < mine.length ? page.at(-1)!.name : null) };
          },
        },
        {
          method: "GET",
          pattern: /^\/api\/info$/,
          handle: (req) => ({ body: listing(this.posts.filter((p) => p.name === req.query.get("id"))) }),
        },
      ],
      {
        serverError: () => ({ status: 503, body: "<html><body><h1>503 Service Unavailable</h1>upstream connect error</body></html>" }),
        rateLimited: (s) => ({ status: 429, body: { message: "Too Many Requests", error: 429 }, headers: { "retry-after": String(s), "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(s) } }),
        authExpired: () => ({ status: 401, body: { message: "Unauthorized", error: 401 } }),
      },
    );
  }
}

function listing(posts: FakeRedditPost[], after: string | null = null) {
  return {
    kind: "Listing",
    data: {
      after,
      before: null,
      children: posts.map((p) => ({
        kind: "t3",
        data: { id: p.id, name: p.name, title: p.title, subreddit: p.sr, created_utc: p.createdUtc, permalink: `/r/${p.sr}/comments/${p.id}/`, url: p.url, over_18: p.over18, removed_by_category: null },
      })),
    },
  };
}
