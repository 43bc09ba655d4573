/**
 * The platform fault storm, small: 25 campaigns launched over REST × 4 platforms = 100 publishes on the real
 * runner while ~35% of post-creating requests fail (5xx, 429 + Retry-After, accepted then no answer), all
 * for one creator (25 posts per platform account: more than TikTok's 20-video listing page).
 * The full 500-publish run is test/reliability/fault-storm.rel.ts.
 */
import { defineFaultStorm } from "../reliability/fault-storm/storm";

jest.setTimeout(120_000);

defineFaultStorm({ campaigns: 25, owners: 1, faultRate: 0.35, mix: ["5xx", "429", "accept-timeout"], seed: 6, launchConcurrency: 8, settleMs: 90_000 });
