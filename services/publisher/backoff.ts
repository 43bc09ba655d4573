/** When to try a failed publish again: exponential backoff with full jitter, never sooner than Retry-After. */

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/**
 * Delay before try `attempt + 1` after try `attempt` (1-based) failed: uniform in
 * [0, min(cap, base·2^(attempt−1))] ("full jitter", so many failed publishes do not retry in lockstep),
 * and at least `retryAfterMs` when the platform said how long to wait.
 */
export function retryDelay(attempt: number, policy: BackoffPolicy, retryAfterMs?: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  return Math.max(jittered, retryAfterMs ?? 0);
}
