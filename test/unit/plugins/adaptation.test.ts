/** Content adaptation per platform, and the shared text helpers it is built from. */
import InstagramPlugin from "../../../plugins/instagram";
import OnlyFansPlugin from "../../../plugins/onlyfans";
import RedditPlugin, { waitFromText } from "../../../plugins/reddit";
import TikTokPlugin from "../../../plugins/tiktok";
import { composeCaption, parseRetryAfter, stripMarkup, truncateWords, type PluginOptions } from "../../../plugins/sdk";

const opts: PluginOptions = { baseUrl: "http://127.0.0.1:9", timeoutMs: 1000, pollIntervalMs: 1, maxPolls: 1 };
const ig = new InstagramPlugin(opts);
const tt = new TikTokPlugin(opts);
const rd = new RedditPlugin(opts);
const of = new OnlyFansPlugin(opts);
const IMG = "https://cdn.example.com/a.jpg";
const VID = "https://cdn.example.com/b.mp4";

describe("text helpers", () => {
  it("truncates on a word boundary with an ellipsis", () => {
    expect(truncateWords("the quick brown fox jumps", 14)).toBe("the quick…");
    expect(truncateWords("short", 10)).toBe("short");
    expect(truncateWords("abcdefghijkl", 5)).toBe("abcd…");
    expect(Array.from(truncateWords("😀 ".repeat(20), 7)).length).toBeLessThanOrEqual(7);
  });

  it("strips HTML and Markdown but keeps the words and link targets", () => {
    expect(stripMarkup("<p>New <b>set</b></p> **now** [here](https://x.io) `code`")).toBe("New set now here (https://x.io) code");
  });

  it("moves hashtags over the count limit to overflow, counting the ones already in the text", () => {
    const c = composeCaption({ body: "hi #one", hashtags: ["#one", "#two", "#three", "#four"], maxLength: 100, maxHashtags: 3 });
    expect(c.text).toBe("hi #one\n\n#two #three");
    expect(c.overflow).toEqual(["#four"]);
  });

  it("reads Retry-After as seconds or an HTTP date, and Reddit's wait text", () => {
    expect(parseRetryAfter("7")).toBe(7000);
    expect(parseRetryAfter(new Date(Date.now() + 5000).toUTCString())).toBeGreaterThan(3000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(waitFromText("you are doing that too much. try again in 5 minutes.")).toBe(300_000);
  });
});

describe("Instagram", () => {
  it("builds the caption with CTA, price and hashtags, replacing the link by 'Link in bio'", () => {
    const a = ig.adapt({ title: "Drop", description: "New <i>set</i>", cta: "Unlock", price: 9.99, link: "https://x.io", hashtags: ["gym", "#fit"] }, { mediaUrls: [IMG] });
    expect(a.problems).toEqual([]);
    expect(a.payload).toEqual({ media_type: "IMAGE", caption: "Drop\n\nNew set\n\nUnlock · $9.99\n\nLink in bio\n\n#gym #fit", image_url: IMG });
    expect(a.changes).toEqual(expect.arrayContaining([expect.stringMatching(/markup/), expect.stringMatching(/Link in bio/)]));
  });

  it("keeps at most 30 hashtags and moves the rest to the first comment", () => {
    const tags = Array.from({ length: 35 }, (_, i) => `t${i}`);
    const { payload } = ig.adapt({ description: "x", hashtags: tags }, { mediaUrls: [IMG] });
    expect(payload!.caption.match(/#t\d+/g)).toHaveLength(30);
    expect(payload!.first_comment).toBe("#t30 #t31 #t32 #t33 #t34");
  });

  it("truncates a caption over 2200 characters on a word boundary", () => {
    const { payload, changes } = ig.adapt({ description: "word ".repeat(600) }, { mediaUrls: [IMG] });
    expect(Array.from(payload!.caption).length).toBeLessThanOrEqual(2200);
    expect(payload!.caption.endsWith("word…")).toBe(true);
    expect(changes).toContain("caption truncated to 2200 characters");
  });

  it("makes a carousel of several media and a reel of one video", () => {
    expect(ig.adapt({ title: "c" }, { mediaUrls: [IMG, VID] }).payload).toMatchObject({ media_type: "CAROUSEL", children: [{ image_url: IMG }, { video_url: VID, media_type: "VIDEO" }] });
    expect(ig.adapt({ title: "r" }, { mediaUrls: [VID] }).payload).toMatchObject({ media_type: "REELS", video_url: VID });
  });

  it("refuses posts without media, with NSFW, over 10 items or with unknown file types", () => {
    expect(ig.adapt({ title: "x" }, { mediaUrls: [] }).problems.map((p) => p.type)).toEqual(["mediaRequired"]);
    expect(ig.adapt({ title: "x", nsfw: true }, { mediaUrls: [IMG] }).problems.map((p) => p.field)).toEqual(["content.nsfw"]);
    expect(ig.adapt({}, { mediaUrls: Array(11).fill(IMG) }).problems.map((p) => p.type)).toEqual(["mediaCount"]);
    expect(ig.adapt({}, { mediaUrls: ["https://cdn.example.com/doc.pdf"] }).problems.map((p) => p.field)).toEqual(["mediaUrls[0]"]);
  });
});

describe("TikTok", () => {
  it("puts the caption in post_info.title for a video, with the privacy level", () => {
    const { payload } = tt.adapt({ title: "Hi", cta: "Follow", hashtags: ["fyp"], privacyLevel: "SELF_ONLY" }, { mediaUrls: [VID] });
    expect(payload).toEqual({
      media_type: "VIDEO",
      post_info: { title: "Hi\n\nFollow\n\n#fyp", privacy_level: "SELF_ONLY", disable_comment: false, brand_content_toggle: false },
      source_info: { source: "PULL_FROM_URL", video_url: VID },
    });
  });

  it("makes a photo post with a 90-character title and the text as description", () => {
    const { payload } = tt.adapt({ title: "a ".repeat(60), description: "desc" }, { mediaUrls: [IMG, IMG] });
    expect(payload!.media_type).toBe("PHOTO");
    expect(Array.from(payload!.post_info.title).length).toBeLessThanOrEqual(90);
    expect(payload!.post_info.description).toBe("desc");
    expect(payload!.source_info.photo_images).toEqual([IMG, IMG]);
  });

  it("refuses an unknown privacy level, a video mixed with photos and NSFW", () => {
    expect(tt.adapt({ privacyLevel: "FRIENDS" }, { mediaUrls: [VID] }).problems.map((p) => p.field)).toEqual(["content.privacyLevel"]);
    expect(tt.adapt({}, { mediaUrls: [VID, IMG] }).problems.map((p) => p.type)).toEqual(["mediaMix"]);
    expect(tt.adapt({ nsfw: true }, { mediaUrls: [VID] }).problems.map((p) => p.type)).toEqual(["nsfw"]);
  });
});

describe("Reddit", () => {
  it("makes a self post with Markdown kept, HTML stripped, price in the text and hashtags dropped", () => {
    const a = rd.adapt({ title: "Hello", description: "**bold** <br>line", cta: "DM me", price: 5, subreddit: "r/creators", hashtags: ["x"], nsfw: true, flairId: "f1" }, { mediaUrls: [] });
    expect(a.payload).toEqual({ sr: "creators", kind: "self", title: "Hello", text: "**bold** \nline\n\nDM me · $5.00", nsfw: true, flair_id: "f1" });
    expect(a.changes).toEqual(expect.arrayContaining([expect.stringMatching(/hashtag/)]));
  });

  it("makes a link post when there is a link or one media URL", () => {
    expect(rd.adapt({ title: "L", subreddit: "pics", link: "https://x.io/a" }, { mediaUrls: [] }).payload).toMatchObject({ kind: "link", url: "https://x.io/a" });
    expect(rd.adapt({ title: "M", subreddit: "pics" }, { mediaUrls: [IMG] }).payload).toMatchObject({ kind: "link", url: IMG });
  });

  it("truncates titles to 300 characters and takes the first line of the description when there is no title", () => {
    expect(Array.from(rd.adapt({ title: "t ".repeat(200), subreddit: "pics" }, { mediaUrls: [] }).payload!.title).length).toBeLessThanOrEqual(300);
    expect(rd.adapt({ description: "First line\nsecond", subreddit: "pics" }, { mediaUrls: [] }).payload!.title).toBe("First line");
  });

  it("refuses posts without a subreddit or title, and link + media together", () => {
    expect(rd.adapt({ title: "x" }, { mediaUrls: [] }).problems.map((p) => p.field)).toEqual(["content.subreddit"]);
    expect(rd.adapt({ subreddit: "pics" }, { mediaUrls: [] }).problems.map((p) => p.field)).toEqual(["content.title"]);
    expect(rd.adapt({ title: "x", subreddit: "bad name!" }, { mediaUrls: [] }).problems.map((p) => p.type)).toEqual(["subreddit"]);
    expect(rd.adapt({ title: "x", subreddit: "pics", link: "https://x.io" }, { mediaUrls: [IMG] }).problems.map((p) => p.type)).toEqual(["linkAndMedia"]);
  });
});

describe("OnlyFans", () => {
  it("maps the price to a PPV post and keeps the CTA in the text", () => {
    const { payload } = of.adapt({ title: "PPV", cta: "Unlock", price: 12.5, hashtags: ["new"] }, { mediaUrls: [VID] });
    expect(payload).toEqual({ text: "PPV\n\nUnlock\n\n#new", price: 12.5, media: [{ url: VID, type: "video" }] });
  });

  it("allows free text posts and refuses PPV without media or out of the $3–$200 range", () => {
    expect(of.adapt({ description: "hello" }, { mediaUrls: [] }).payload).toEqual({ text: "hello", media: [] });
    expect(of.adapt({ price: 10 }, { mediaUrls: [] }).problems.map((p) => p.type)).toEqual(["mediaRequired"]);
    expect(of.adapt({ price: 1 }, { mediaUrls: [IMG] }).problems.map((p) => p.field)).toEqual(["content.price"]);
    expect(of.adapt({ price: 500 }, { mediaUrls: [IMG] }).problems.map((p) => p.type)).toEqual(["priceRange"]);
  });
});
