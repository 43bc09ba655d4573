/** Fake OnlyFans gateway speaking the documented shape (docs/plugins.md): posts and messages with Idempotency-Key. */
import { FakeServer, fakeId, type FakeResponse } from "./server";

export interface FakeOnlyFansPost {
  id: string;
  accountId: string;
  text: string;
  price?: number;
  media: { url: string; type: string }[];
  idempotencyKey?: string;
  createdAt: string;
}

export interface FakeOnlyFansMessage {
  id: string;
  accountId: string;
  fanId: string;
  text: string;
  price?: number;
  idempotencyKey?: string;
}

const gatewayError = (status: number, code: string, message: string, details?: unknown): FakeResponse => ({ status, body: { error: { code, message, ...(details ? { details } : {}) } } });

export class FakeOnlyFans extends FakeServer {
  readonly posts: FakeOnlyFansPost[] = [];
  readonly messages: FakeOnlyFansMessage[] = [];

  constructor() {
    super(
      [
        {
          method: "POST",
          pattern: /^\/v1\/posts$/,
          creates: true,
          handle: (req) => {
            const key = header(req.headers["idempotency-key"]);
            const existing = key && this.posts.find((p) => p.idempotencyKey === key);
            if (existing) return { status: 200, body: view(existing) };
            const b = req.body;
            if (b.price !== undefined && (b.price < 3 || b.price > 200)) return gatewayError(422, "invalid_content", "price out of range", [{ field: "price", message: "must be 3–200" }]);
            const post: FakeOnlyFansPost = { id: fakeId(), accountId: b.accountId, text: b.text, price: b.price, media: b.media ?? [], idempotencyKey: key, createdAt: new Date().toISOString() };
            this.posts.push(post);
            return { status: 201, body: view(post) };
          },
        },
        {
          method: "GET",
          pattern: /^\/v1\/posts$/,
          handle: (req) => ({
            body: { data: this.posts.filter((p) => p.accountId === req.query.get("accountId") && (!req.query.get("idempotencyKey") || p.idempotencyKey === req.query.get("idempotencyKey"))).map(view) },
          }),
        },
        {
          method: "GET",
          pattern: /^\/v1\/posts\/([^/]+)$/,
          handle: (req) => {
            const post = this.posts.find((p) => p.id === req.params[0]);
            return post ? { body: view(post) } : gatewayError(404, "not_found", "no such post");
          },
        },
        {
          method: "GET",
          pattern: /^\/v1\/posts\/([^/]+)\/stats$/,
          handle: (req) => (this.posts.some((p) => p.id === req.params[0]) ? { body: { views: 120, likes: 14, comments: 3, tips: 2 } } : gatewayError(404, "not_found", "no such post")),
        },
        {
          method: "POST",
          pattern: /^\/v1\/messages$/,
          creates: true,
          handle: (req) => {
            const key = header(req.headers["idempotency-key"]);
            const existing = key && this.messages.find((m) => m.idempotencyKey === key);
            if (existing) return { status: 200, body: { id: existing.id } };
            const m: FakeOnlyFansMessage = { id: fakeId(), accountId: req.body.accountId, fanId: req.body.fanId, text: req.body.text, price: req.body.price, idempotencyKey: key };
            this.messages.push(m);
            return { status: 201, body: { id: m.id } };
          },
        },
      ],
      {
        serverError: () => gatewayError(502, "upstream_unavailable", "OnlyFans did not answer"),
        rateLimited: (s) => ({ ...gatewayError(429, "rate_limited", "slow down"), headers: { "retry-after": String(s) } }),
        authExpired: () => gatewayError(401, "session_expired", "the account session expired: log in again"),
      },
    );
  }
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function view(p: FakeOnlyFansPost) {
  return { id: p.id, url: `https://onlyfans.com/${p.id}/creator`, state: "published", idempotencyKey: p.idempotencyKey, createdAt: p.createdAt, text: p.text, price: p.price };
}
