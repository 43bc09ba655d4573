/** The REST side of the per-user request budget (lib/rate-limit.ts): moleculer-web's X-Rate-Limit-* headers and the 429. */
import type { ServerResponse } from "node:http";
import type { RateLimiter } from "../../lib/rate-limit";

/**
 * Charges one request to `key`. Every answer carries X-Rate-Limit-Limit, -Remaining and -Reset (the end of
 * the window, ms since the epoch, as moleculer-web sends it); beyond the budget this throws the 429 that
 * the gateway's onError turns into the JSON error with Retry-After.
 */
export async function chargeRequest(limiter: RateLimiter, key: string, res: ServerResponse): Promise<void> {
  const verdict = await limiter.charge(key);
  if (!res.headersSent) {
    res.setHeader("X-Rate-Limit-Limit", verdict.limit);
    res.setHeader("X-Rate-Limit-Remaining", verdict.remaining);
    res.setHeader("X-Rate-Limit-Reset", verdict.resetAt);
  }
  if (!verdict.allowed) throw limiter.refusal(verdict);
}
