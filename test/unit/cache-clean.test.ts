/**
 * Cleaning patterns on both cachers: a write cleans the entries of what it changed and nothing else. The
 * memory cacher reads a pattern as a regular expression, so the bare `|` of `campaigns.*:<id>|**` was an "or"
 * and every write cleaned every service's entries; the Redis cacher reads it as a glob.
 */
import crypto from "node:crypto";
import { ServiceBroker } from "moleculer";
import { cleanPattern, keyOf } from "../../lib/cache-keys";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

describe.each([
  ["memory cacher", { type: "Memory" }],
  ["Redis cacher", { type: "Redis", options: { prefix: `clean-${crypto.randomBytes(4).toString("hex")}`, redis: { url: REDIS_URL } } }],
])("%s", (_name, cacher) => {
  const broker = new ServiceBroker({ logger: false, cacher: cacher as never });
  const entries = {
    campaignA: keyOf("campaigns.get", "camp-a", "u1", null, "owner"),
    campaignAOther: keyOf("campaigns.get", "camp-a", "u2", "team-1", "editor"),
    campaignB: keyOf("campaigns.get", "camp-b", "u1", null, "owner"),
    list: keyOf("campaigns.list", "u1", { status: "draft" }),
    analyticsA: keyOf("analytics.getCampaignMetrics", "camp-a", "u1", null, "owner"),
    analyticsTeam1: keyOf("analytics.getDashboard", "u2", "team-1", "editor"),
    analyticsTeam2: keyOf("analytics.getDashboard", "u3", "team-2", "editor"),
    odd: keyOf("segments.get", "a.b(c)+[d]{e}^$", "u1"),
    piped: keyOf("segments.get", "x|y", "u1"),
    pipedNeighbour: keyOf("segments.get", "x", "y|u1"),
  };
  type Entry = keyof typeof entries;

  afterAll(() => broker.cacher!.close());

  async function cleaned(pattern: string): Promise<Entry[]> {
    await broker.cacher!.clean("**");
    for (const [name, key] of Object.entries(entries)) await broker.cacher!.set(key, { name });
    await broker.cacher!.clean(pattern);
    const gone: Entry[] = [];
    for (const [name, key] of Object.entries(entries)) if ((await broker.cacher!.get(key)) == null) gone.push(name as Entry);
    return gone;
  }

  it("cleans one campaign's entries, every user's, and nothing else", async () => {
    expect(await cleaned(cleanPattern("campaigns", "camp-a"))).toEqual(["campaignA", "campaignAOther"]);
  });

  it("takes ids with regular-expression and glob characters literally", async () => {
    expect(await cleaned(cleanPattern("segments", "a.b(c)+[d]{e}^$"))).toEqual(["odd"]);
    expect(await cleaned(cleanPattern("segments", "x|y"))).toEqual(["piped"]);
  });

  it("matches any one part with `*`", async () => {
    expect(await cleaned(cleanPattern("analytics", "*", "team-1"))).toEqual(["analyticsTeam1"]);
  });

  it("still cleans a whole service with `<service>.**`", async () => {
    expect(await cleaned("campaigns.**")).toEqual(["campaignA", "campaignAOther", "campaignB", "list"]);
  });
});
