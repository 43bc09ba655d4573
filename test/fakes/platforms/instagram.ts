/** Fake Instagram Graph API: media containers, status polling, media_publish, media listing, comments. */
import { FakeServer, fakeId, type FakeResponse } from "./server";

export interface FakeInstagramMedia {
  id: string;
  igUserId: string;
  caption: string;
  media_type: string;
  timestamp: string;
  permalink: string;
  comments: string[];
}

interface Container {
  id: string;
  caption?: string;
  media_type: string;
  status: "IN_PROGRESS" | "FINISHED" | "PUBLISHED";
  polls: number;
  children: string[];
}

const graphError = (status: number, code: number, message: string, extra: object = {}): FakeResponse => ({
  status,
  body: { error: { message, type: "OAuthException", code, fbtrace_id: "AbCdEf123", ...extra } },
});

/** Graph API cursors are opaque strings. */
const cursorOf = (id: string) => Buffer.from(`ig:${id}`).toString("base64url");

export class FakeInstagram extends FakeServer {
  readonly posts: FakeInstagramMedia[] = [];
  readonly containers = new Map<string, Container>();
  /** Status polls before a container is FINISHED (video processing takes a while on the real one). */
  pollsUntilFinished = 1;

  constructor() {
    super(
      [
        {
          method: "POST",
          pattern: /^\/(\d+)\/media$/,
          handle: (req) => {
            const b = req.body;
            if (!b.image_url && !b.video_url && b.media_type !== "CAROUSEL") return graphError(400, 100, "(#100) The parameter image_url is required.");
            if (b.caption && Array.from(b.caption as string).length > 2200) return graphError(400, 100, "(#100) The caption is too long.");
            const id = fakeId();
            this.containers.set(id, { id, caption: b.caption, media_type: b.media_type ?? "IMAGE", status: "IN_PROGRESS", polls: 0, children: b.children ? String(b.children).split(",") : [] });
            return { body: { id } };
          },
        },
        {
          method: "POST",
          pattern: /^\/(\d+)\/media_publish$/,
          creates: true,
          handle: (req) => {
            const container = this.containers.get(req.body.creation_id);
            if (!container) return graphError(400, 100, "(#100) Param creation_id is not a valid container id");
            if (container.status === "IN_PROGRESS") return graphError(400, 9007, "Media ID is not available", { error_subcode: 2207027 });
            if (container.status === "PUBLISHED") return graphError(400, 9007, "The media has already been published", { error_subcode: 2207006 });
            container.status = "PUBLISHED";
            const id = fakeId();
            this.posts.push({ id, igUserId: req.params[0], caption: container.caption ?? "", media_type: container.media_type, timestamp: new Date().toISOString().replace(/\.\d+Z$/, "+0000"), permalink: `https://www.instagram.com/p/${id}/`, comments: [] });
            return { body: { id } };
          },
        },
        {
          method: "GET",
          pattern: /^\/(\d+)\/media$/,
          // Newest first, `limit` (default 25, at most 100) per page; `after` is the previous page's cursor,
          // and `paging.next` is there only when another page exists.
          handle: (req) => {
            const mine = this.posts.filter((p) => p.igUserId === req.params[0]).reverse();
            const after = req.query.get("after");
            const start = after ? mine.findIndex((p) => cursorOf(p.id) === after) + 1 : 0;
            const limit = Math.min(100, Math.max(1, Number(req.query.get("limit") ?? 25)));
            const page = after && start === 0 ? [] : mine.slice(start, start + limit);
            const data = page.map(({ id, caption, timestamp, permalink }) => ({ id, caption, timestamp, permalink }));
            if (!page.length) return { body: { data } };
            const paging: Record<string, unknown> = { cursors: { before: cursorOf(page[0].id), after: cursorOf(page.at(-1)!.id) } };
            if (start + limit < mine.length) paging.next = `${this.url}${req.path}?limit=${limit}&after=${cursorOf(page.at(-1)!.id)}`;
            return { body: { data, paging } };
          },
        },
        {
          method: "POST",
          pattern: /^\/(\d+)\/comments$/,
          handle: (req) => {
            const post = this.posts.find((p) => p.id === req.params[0]);
            if (!post) return graphError(400, 100, "Unsupported post request");
            post.comments.push(req.body.message);
            return { body: { id: fakeId() } };
          },
        },
        {
          method: "GET",
          pattern: /^\/(\d+)$/,
          handle: (req) => {
            const container = this.containers.get(req.params[0]);
            if (container) {
              container.polls++;
              if (container.status === "IN_PROGRESS" && container.polls >= this.pollsUntilFinished) container.status = "FINISHED";
              return { body: { status_code: container.status, id: container.id } };
            }
            const post = this.posts.find((p) => p.id === req.params[0]);
            if (!post) return graphError(400, 100, "Unsupported get request. Object with ID does not exist");
            return { body: { id: post.id, permalink: post.permalink } };
          },
        },
      ],
      {
        serverError: () => graphError(500, 2, "An unexpected error has occurred. Please retry your request later.", { is_transient: true }),
        // The Graph API throttles with HTTP 400/403 and code 4 (application request limit).
        rateLimited: (s) => ({ ...graphError(403, 4, "(#4) Application request limit reached", { is_transient: true }), headers: { "retry-after": String(s) } }),
        authExpired: () => graphError(401, 190, "Error validating access token: Session has expired.", { error_subcode: 463 }),
      },
    );
  }
}
