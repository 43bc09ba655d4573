/**
 * `findExisting` on a busy account: the post whose answer was lost may sit pages deep in the account's
 * listing by the time the publisher looks it up. Each plugin must page (the platforms' own cursors, served
 * by the fakes) until it reaches posts older than the first try, and a listing too long to reach that
 * point is an unknown outcome, never "not found" (which would post it again).
 */
import { isPluginError, MAX_LOOKUP_PAGES, type BaseContent, type Credentials, type PluginOptions, type PublishingPlugin } from "../../../plugins/sdk";
import InstagramPlugin from "../../../plugins/instagram";
import RedditPlugin from "../../../plugins/reddit";
import TikTokPlugin from "../../../plugins/tiktok";
import { startFakePlatforms, type FakePlatforms } from "../../fakes/platforms";

let fakes: FakePlatforms;

beforeAll(async () => {
  fakes = await startFakePlatforms();
  fakes.reddit.users.set("rd-busy", "busy");
});

afterAll(() => fakes?.close());

const options = (baseUrl: string): PluginOptions => ({ baseUrl, timeoutMs: 5_000, pollIntervalMs: 1, maxPolls: 5 });

interface Case {
  name: string;
  plugin: () => PublishingPlugin;
  credentials: Credentials;
  /** Path of the listing the lookup reads. */
  listing: RegExp;
  /** Posts it takes to push the first one past the first page. */
  posts: number;
  requests: () => { method: string; path: string }[];
}

const cases: Case[] = [
  { name: "instagram", plugin: () => new InstagramPlugin(options(fakes.instagram.url)), credentials: { accessToken: "ig-busy", igUserId: "17841400000099" }, listing: /^\/17841400000099\/media$/, posts: 60, requests: () => fakes.instagram.requests },
  { name: "tiktok", plugin: () => new TikTokPlugin(options(fakes.tiktok.url)), credentials: { accessToken: "tt-busy" }, listing: /^\/v2\/video\/list\/$/, posts: 45, requests: () => fakes.tiktok.requests },
  { name: "reddit", plugin: () => new RedditPlugin(options(fakes.reddit.url)), credentials: { accessToken: "rd-busy", username: "busy" }, listing: /^\/user\/busy\/submitted$/, posts: 110, requests: () => fakes.reddit.requests },
];

const content = (name: string, i: number): BaseContent => ({ title: `${name} busy post ${i}`, description: "One of many", subreddit: "creators" });
const MEDIA = ["https://cdn.example.com/busy.mp4"];

describe.each(cases)("$name", (c) => {
  const since = new Date(Date.now() - 1000);
  let plugin: PublishingPlugin;
  const payload = (i: number) => plugin.adapt(content(c.name, i), { mediaUrls: MEDIA }).payload!;
  const lookups = () => c.requests().filter((r) => c.listing.test(r.path)).length;

  beforeAll(async () => {
    plugin = c.plugin();
    // Post 0 first, then enough newer posts that it is no longer on the listing's first page.
    for (let i = 0; i < c.posts; i++) await plugin.publish(payload(i), c.credentials, { idempotencyKey: `${c.name}-${i}`, since });
  });

  it("finds a post that newer posts pushed past the first page", async () => {
    const before = lookups();
    const found = await plugin.findExisting(payload(0), c.credentials, { idempotencyKey: `${c.name}-0`, since });
    expect(found?.externalId).toEqual(expect.any(String));
    expect(lookups() - before).toBeGreaterThan(1);
    // The newest post is on the first page: one request.
    const newest = lookups();
    expect(await plugin.findExisting(payload(c.posts - 1), c.credentials, { idempotencyKey: `${c.name}-last`, since })).not.toBeNull();
    expect(lookups() - newest).toBe(1);
  });

  it("answers null for a post that is not there, after reading back to the first try", async () => {
    const before = lookups();
    expect(await plugin.findExisting(payload(10_000), c.credentials, { idempotencyKey: `${c.name}-none`, since })).toBeNull();
    expect(lookups() - before).toBeGreaterThan(1);
  });

  it("stops at posts older than the first try", async () => {
    const before = lookups();
    // A first try made after every post: the first page already holds older posts.
    expect(await plugin.findExisting(payload(0), c.credentials, { idempotencyKey: `${c.name}-later`, since: new Date(Date.now() + 120_000) })).toBeNull();
    expect(lookups() - before).toBe(1);
  });
});

it("calls a listing it cannot read back to the first try an unknown outcome, not a miss", async () => {
  const plugin = new TikTokPlugin(options(fakes.tiktok.url));
  // More of the account's videos since the first try than MAX_LOOKUP_PAGES pages of 20 hold.
  const start = Date.now() - 60_000;
  for (let i = 0; i < MAX_LOOKUP_PAGES * 20 + 5; i++) {
    const createdMs = start + i;
    fakes.tiktok.posts.push({ publishId: `p-${i}`, postId: `9${i}`, title: `filler ${i}`, privacyLevel: "SELF_ONLY", mediaType: "VIDEO", createTime: Math.floor(createdMs / 1000), createdMs, token: "tt-flood", statusFetches: 0 });
  }
  const post = plugin.adapt({ title: "never posted" }, { mediaUrls: MEDIA }).payload!;
  const err = await plugin.findExisting(post, { accessToken: "tt-flood" }, { idempotencyKey: "flood", since: new Date(start - 120_000) }).catch((e) => e);
  expect(isPluginError(err) && err.kind).toBe("unknown_outcome");
});
