/**
 * The conformance suite every publishing plugin must pass: run over every plugin the loader finds in
 * plugins/*, plus the docs' example plugin. It checks the contract offline (no network): shape, limits,
 * pure and deterministic adaptation, payloads that fit the declared limits and survive JSON storage.
 */
import path from "node:path";
import type { BaseContent, PluginOptions, PublishingPlugin } from "../../../plugins/sdk";
import { SUPPORTED_API_VERSIONS } from "../../../plugins/sdk";
import { PLUGINS_DIR, contractProblems, instantiate, loadPlugins } from "../../../services/publisher/registry";

const options = (): PluginOptions => ({ baseUrl: "http://127.0.0.1:9", timeoutMs: 1000, pollIntervalMs: 1, maxPolls: 1 });
const loaded = loadPlugins({ options });
const example = instantiate("plugins/_example", path.join(PLUGINS_DIR, "_example"), options);
if (!("plugin" in example)) throw new Error(example.message);
const plugins: [string, PublishingPlugin][] = [...loaded.registry.list(), example.plugin].map((p) => [p.id, p]);

const IMAGE = "https://cdn.example.com/a.jpg";
const VIDEO = "https://cdn.example.com/clip.mp4";

/** A media set the plugin accepts, or none when it takes no media. */
function mediaFor(p: PublishingPlugin): string[] {
  if (p.limits.media.max === 0) return [];
  return [p.limits.media.types.includes("video") && !p.limits.media.types.includes("image") ? VIDEO : IMAGE];
}

const rich: BaseContent = {
  title: "Summer drop",
  description: "New **set** is out. <b>Limited</b> time!",
  cta: "Unlock now",
  price: 9.99,
  hashtags: ["summer", "#fitness", "gym"],
  subreddit: "creators",
};

const huge: BaseContent = {
  title: "word ".repeat(200).trim(),
  description: "lorem ipsum dolor sit amet ".repeat(2000),
  cta: "Tap the link",
  hashtags: Array.from({ length: 60 }, (_, i) => `tag${i}`),
  subreddit: "creators",
};

/** Every string inside a payload, with its path. */
function strings(value: unknown, at = "payload"): [string, string][] {
  if (typeof value === "string") return [[at, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${at}[${i}]`));
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => strings(v, `${at}.${k}`));
  return [];
}

it("finds the four platform plugins and refuses none", () => {
  expect(loaded.registry.ids().sort()).toEqual(["instagram", "onlyfans", "reddit", "tiktok"]);
  expect(loaded.refused).toEqual([]);
});

describe.each(plugins)("plugin %s", (_id, plugin) => {
  it("meets the contract", () => {
    expect(contractProblems(plugin)).toEqual([]);
    expect(SUPPORTED_API_VERSIONS).toContain(plugin.apiVersion);
    expect(plugin.limits.media.min).toBeLessThanOrEqual(plugin.limits.media.max);
    expect(plugin.credentialFields.length).toBeGreaterThan(0);
  });

  it("adapts typical content to a payload without problems", () => {
    const adapted = plugin.adapt(rich, { mediaUrls: mediaFor(plugin) });
    expect(adapted.problems).toEqual([]);
    expect(adapted.payload).not.toBeNull();
  });

  it("is deterministic and agrees with validate()", () => {
    const a = plugin.adapt(rich, { mediaUrls: mediaFor(plugin) });
    const b = plugin.adapt(rich, { mediaUrls: mediaFor(plugin) });
    expect(b).toEqual(a);
    expect(plugin.validate(rich, { mediaUrls: mediaFor(plugin) })).toEqual(a.problems);
  });

  it("keeps oversized content within its limits, saying what changed", () => {
    const adapted = plugin.adapt(huge, { mediaUrls: mediaFor(plugin) });
    expect(adapted.problems).toEqual([]);
    expect(adapted.changes.length).toBeGreaterThan(0);
    for (const [at, text] of strings(adapted.payload)) {
      if (/^https?:/.test(text)) continue;
      expect({ at, length: Array.from(text).length <= plugin.limits.captionLength }).toEqual({ at, length: true });
      const tags = text.match(/#[\p{L}\p{N}_]+/gu) ?? [];
      if (!at.includes("first_comment")) expect(tags.length).toBeLessThanOrEqual(Math.max(plugin.limits.hashtags, 0));
    }
  });

  it("stores its payload as JSON without loss", () => {
    const { payload } = plugin.adapt(rich, { mediaUrls: mediaFor(plugin) });
    expect(JSON.parse(JSON.stringify(payload))).toEqual(payload);
  });

  it("answers impossible content with field problems instead of throwing", () => {
    const tooMany = Array.from({ length: plugin.limits.media.max + 1 }, (_, i) => `https://cdn.example.com/${i}.jpg`);
    const adapted = plugin.adapt({}, { mediaUrls: tooMany });
    expect(adapted.payload).toBeNull();
    expect(adapted.problems.length).toBeGreaterThan(0);
    for (const p of adapted.problems) expect(p).toEqual({ field: expect.any(String), message: expect.any(String), type: expect.any(String) });
  });
});
