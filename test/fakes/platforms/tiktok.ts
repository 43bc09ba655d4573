/** Fake TikTok Content Posting API: direct post init (video/photo), status fetch, video list. */
import { FakeServer, fakeId, type FakeResponse } from "./server";

export interface FakeTikTokPost {
  publishId: string;
  postId: string;
  title: string;
  privacyLevel: string;
  mediaType: "VIDEO" | "PHOTO";
  createTime: number;
  /** Creation time in ms, strictly increasing: the list cursor pages by it. */
  createdMs: number;
  token: string;
  statusFetches: number;
}

const logId = () => `20261101${fakeId()}`;
const ok = (data: unknown): FakeResponse => ({ body: { data, error: { code: "ok", message: "", log_id: logId() } } });
const fail = (status: number, code: string, message: string): FakeResponse => ({ status, body: { data: {}, error: { code, message, log_id: logId() } } });
const PRIVACY = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"];

export class FakeTikTok extends FakeServer {
  readonly posts: FakeTikTokPost[] = [];

  constructor() {
    const init = (mediaType: "VIDEO" | "PHOTO") => (req: { body: Record<string, any>; token?: string }): FakeResponse => {
      const info = req.body.post_info ?? {};
      if (!PRIVACY.includes(info.privacy_level)) return fail(400, "invalid_params", "privacy_level is invalid");
      if (Array.from(String(info.title ?? "")).length > (mediaType === "VIDEO" ? 2200 : 90)) return fail(400, "invalid_params", "title is too long");
      const src = req.body.source_info ?? {};
      if (src.source !== "PULL_FROM_URL" || (mediaType === "VIDEO" ? !src.video_url : !src.photo_images?.length)) return fail(400, "invalid_params", "source_info is invalid");
      const createdMs = Math.max(Date.now(), (this.posts.at(-1)?.createdMs ?? 0) + 1);
      const post = { publishId: `v_pub_url~v2-1.${fakeId()}`, postId: fakeId(), title: info.title ?? "", privacyLevel: info.privacy_level, mediaType, createTime: Math.floor(createdMs / 1000), createdMs, token: req.token ?? "", statusFetches: 0 };
      this.posts.push(post);
      return ok({ publish_id: post.publishId });
    };
    super(
      [
        { method: "POST", pattern: /^\/v2\/post\/publish\/video\/init\/$/, creates: true, handle: init("VIDEO") },
        { method: "POST", pattern: /^\/v2\/post\/publish\/content\/init\/$/, creates: true, handle: init("PHOTO") },
        {
          method: "POST",
          pattern: /^\/v2\/post\/publish\/status\/fetch\/$/,
          handle: (req) => {
            const post = this.posts.find((p) => p.publishId === req.body.publish_id || p.postId === req.body.publish_id);
            if (!post) return fail(400, "invalid_publish_id", "publish_id does not exist");
            post.statusFetches++;
            if (post.statusFetches < 2) return ok({ status: "PROCESSING_DOWNLOAD", uploaded_bytes: 0 });
            return ok({ status: "PUBLISH_COMPLETE", publicaly_available_post_id: [Number(post.postId)], uploaded_bytes: 1024 });
          },
        },
        {
          method: "POST",
          pattern: /^\/v2\/video\/list\/$/,
          // Newest first, `max_count` (1–20) per page; `cursor` (ms) asks for videos created before it.
          handle: (req) => {
            const max = Math.min(20, Math.max(1, Number(req.body.max_count ?? 10)));
            const cursor = req.body.cursor === undefined ? Infinity : Number(req.body.cursor);
            const older = this.posts.filter((p) => p.token === req.token && p.createdMs < cursor).reverse();
            const page = older.slice(0, max);
            const videos = page.map((p) => ({ id: p.postId, title: p.title, create_time: p.createTime, share_url: `https://www.tiktok.com/@creator/video/${p.postId}` }));
            return ok({ videos, cursor: page.at(-1)?.createdMs ?? 0, has_more: older.length > max });
          },
        },
      ],
      {
        serverError: () => fail(500, "internal_error", "Something went wrong. Please try again later."),
        rateLimited: (s) => ({ ...fail(429, "rate_limit_exceeded", "API rate limit was exceeded"), headers: { "retry-after": String(s) } }),
        authExpired: () => fail(401, "access_token_invalid", "The access token is invalid or not found in the request."),
      },
    );
  }
}
