/** gRPC deadlines → broker call timeouts, so no work outlives the client's patience. */
import type { Deadline } from "@grpc/grpc-js";

/** Milliseconds left before `deadline` (Infinity when the client set none); zero or less: expired. */
export function remainingMs(deadline: Deadline, now = Date.now()): number {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? Math.floor(at - now) : Infinity;
}

/**
 * The `timeout` for broker.call: what is left of the deadline, but never more than the server's request
 * timeout (`cap`; 0 means the server sets none).
 */
export function callTimeout(remaining: number, cap: number): number {
  if (remaining === Infinity) return cap;
  return cap > 0 ? Math.min(remaining, cap) : remaining;
}
