/**
 * Full platform fault storm (`npm run test:reliability`): 125 campaigns launched over REST × 4 platforms =
 * 500 publishes, ~35% of post-creating requests failing with 5xx, 429 + Retry-After or "accepted, then
 * no answer". All 500 must end published, each post exactly once on the fakes. One creator owns every
 * campaign, so each platform account is busy and a lost post's lookup must page back through newer posts.
 * See docs/reliability.md.
 */
import { defineFaultStorm } from "./fault-storm/storm";

jest.setTimeout(600_000);

defineFaultStorm({ campaigns: 125, owners: 1, faultRate: 0.35, mix: ["5xx", "429", "accept-timeout"], seed: 6, launchConcurrency: 8, settleMs: 300_000 });
