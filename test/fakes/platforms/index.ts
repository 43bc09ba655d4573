/** The four fake platforms together, and the environment that points the publisher at them. */
import { FakeInstagram } from "./instagram";
import { FakeOnlyFans } from "./onlyfans";
import { FakeReddit } from "./reddit";
import { FakeTikTok } from "./tiktok";

export { FakeInstagram, FakeOnlyFans, FakeReddit, FakeTikTok };
export * from "./server";

export interface FakePlatforms {
  instagram: FakeInstagram;
  tiktok: FakeTikTok;
  reddit: FakeReddit;
  onlyfans: FakeOnlyFans;
  /** Env keys that point the publisher's plugins at the fakes. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startFakePlatforms(): Promise<FakePlatforms> {
  const fakes = {
    instagram: await new FakeInstagram().start(),
    tiktok: await new FakeTikTok().start(),
    reddit: await new FakeReddit().start(),
    onlyfans: await new FakeOnlyFans().start(),
  };
  return {
    ...fakes,
    env: {
      INSTAGRAM_BASE_URL: fakes.instagram.url,
      TIKTOK_BASE_URL: fakes.tiktok.url,
      REDDIT_BASE_URL: fakes.reddit.url,
      ONLYFANS_GATEWAY_URL: fakes.onlyfans.url,
    },
    async close() {
      await Promise.all(Object.values(fakes).map((f) => f.close()));
    },
  };
}
