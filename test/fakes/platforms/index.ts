/** The four fake platforms together, and the environment that points the publisher at them. */
import { FakeInstagram } from "./instagram";
import { FakeOnlyFans } from "./onlyfans";
import { FakeReddit } from "./reddit";
import { FakeTikTok } from "./tiktok";
import { seeded, type Fault, type FakeServer, type FaultOptions } from "./server";

export { FakeInstagram, FakeOnlyFans, FakeReddit, FakeTikTok };
export * from "./server";

export interface FakePlatforms {
  instagram: FakeInstagram;
  tiktok: FakeTikTok;
  reddit: FakeReddit;
  onlyfans: FakeOnlyFans;
  /** Env keys that point the publisher's plugins at the fakes. */
  env: Record<string, string>;
  /**
   * Random faults on every fake's post-creating routes: `options` override the current ones, and each fake
   * gets its own generator seeded from `seed` so a run can be repeated exactly. `{ rate: 0 }` turns them off.
   */
  injectFaults(options: Partial<FaultOptions>, seed?: number): void;
  /** Faults injected so far, summed over the four fakes. */
  faultsInjected(): Record<Fault, number>;
  close(): Promise<void>;
}

export async function startFakePlatforms(): Promise<FakePlatforms> {
  const fakes = {
    instagram: await new FakeInstagram().start(),
    tiktok: await new FakeTikTok().start(),
    reddit: await new FakeReddit().start(),
    onlyfans: await new FakeOnlyFans().start(),
  };
  const all: FakeServer[] = Object.values(fakes);
  return {
    ...fakes,
    injectFaults(options, seed = 1) {
      all.forEach((fake, i) => {
        fake.faults = { ...fake.faults, ...options };
        fake.random = seeded(seed + i);
      });
    },
    faultsInjected() {
      const total = { ...all[0].faultsInjected };
      for (const fake of all.slice(1)) for (const [k, v] of Object.entries(fake.faultsInjected)) total[k as Fault] += v;
      return total;
    },
    env: {
      INSTAGRAM_BASE_URL: fakes.instagram.url,
      TIKTOK_BASE_URL: fakes.tiktok.url,
      REDDIT_BASE_URL: fakes.reddit.url,
      ONLYFANS_GATEWAY_URL: fakes.onlyfans.url,
    },
    async close() {
      await Promise.all(all.map((f) => f.close()));
    },
  };
}
