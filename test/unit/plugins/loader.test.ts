/** The loader: a bad plugin is refused with a message naming it and the problem, and the others still load. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadPlugins, PluginRegistry } from "../../../services/publisher/registry";

const SDK = path.resolve(__dirname, "../../../plugins/sdk");
const options = () => ({ baseUrl: "http://127.0.0.1:9", timeoutMs: 1000, pollIntervalMs: 1, maxPolls: 1 });

/** A plugin module source: the docs' example shape with one thing changed. */
function pluginSource(id: string, extra = ""): string {
  return `
const { HttpPlugin } = require(${JSON.stringify(SDK)});
class P extends HttpPlugin {
  constructor(o) { super(o); this.id = ${JSON.stringify(id)}; this.displayName = "P ${id}"; this.credentialFields = ["token"];
    this.limits = { captionLength: 100, titleLength: 0, hashtags: 5, media: { min: 0, max: 1, types: ["image"], maxBytes: 1 }, links: "text", nsfw: false, rate: { perMinute: 10, burst: 1 }, concurrency: 1 };
    ${extra} }
  adapt(c) { return { payload: { text: c.title ?? "" }, problems: [], changes: [] }; }
  async publish() { return { externalId: "1" }; }
  async status() { return { state: "published" }; }
  async findExisting() { return null; }
}
module.exports = { default: P };`;
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "plugins-"));
  const write = (name: string, source: string) => {
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, name, "index.js"), source);
  };
  write("good", pluginSource("good"));
  write("future", pluginSource("future", "this.apiVersion = 2;"));
  write("nopublish", pluginSource("nopublish", "this.publish = undefined;"));
  write("broken", "throw new Error('syntax is fine but it explodes at load');");
  write("thrower", `module.exports = class { constructor() { throw new Error("needs a license key"); } };`);
  write("zz-dupe", pluginSource("good"));
  write("_skipped", pluginSource("skipped"));
  fs.writeFileSync(path.join(dir, "pkg-plugin.js"), pluginSource("from-npm"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it("loads the good plugins and refuses each bad one, naming it and its problem", () => {
  const { registry, refused } = loadPlugins({ dir, packages: [path.join(dir, "pkg-plugin.js"), "publisher-plugin-that-does-not-exist"], options });
  expect(registry.ids().sort()).toEqual(["from-npm", "good"]);
  const bySource = Object.fromEntries(refused.map((r) => [r.source, r.message]));
  expect(Object.keys(bySource).sort()).toEqual(
    ["plugins/broken", "plugins/zz-dupe", "plugins/future", "plugins/nopublish", "plugins/thrower", "publisher-plugin-that-does-not-exist"].sort(),
  );
  expect(bySource["plugins/future"]).toBe('publishing plugin "future" (plugins/future) refused: apiVersion 2 is not supported (supported: 1)');
  expect(bySource["plugins/nopublish"]).toMatch(/"nopublish" \(plugins\/nopublish\) refused: publish\(\) is missing/);
  expect(bySource["plugins/broken"]).toMatch(/"plugins\/broken" refused: it could not be loaded: syntax is fine but it explodes at load/);
  expect(bySource["plugins/thrower"]).toMatch(/constructor threw: needs a license key/);
  expect(bySource["plugins/zz-dupe"]).toMatch(/id "good" is already taken/);
  expect(bySource["publisher-plugin-that-does-not-exist"]).toMatch(/could not be loaded: Cannot (find|resolve) module/);
});

it("skips disabled plugin ids", () => {
  const { registry } = loadPlugins({ dir, disabled: ["good"], options });
  expect(registry.ids()).toEqual([]);
});

it("resolves registered plugins by id, like Moleculer's families", () => {
  const registry = new PluginRegistry();
  const { registry: loaded } = loadPlugins({ dir, options });
  registry.register(loaded.resolve("good")!);
  expect(registry.resolve("good")?.displayName).toBe("P good");
  expect(registry.resolve("nope")).toBeUndefined();
  expect(() => registry.register(loaded.resolve("good")!)).toThrow(/already registered/);
});
