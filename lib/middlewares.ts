/**
 * The broker's action middlewares in the order this project needs, Moleculer's own included.
 *
 * Moleculer registers its internal middlewares after the user's (ServiceBroker `registerMiddlewares`,
 * `INTERNAL_MIDDLEWARES`), and a middleware registered later wraps the earlier ones, so a call passes
 * Cacher → Bulkhead → Validator → ActionHook → user middlewares (access) → handler. A cached answer
 * therefore skipped validation and the access check: once `GET /api/templates?niche=fitness` was cached,
 * `?niche=fitness&bogus=1` got that answer instead of a 422, and a value the validator would refuse
 * shared the key of the good one it resembles (keys are built from the raw params).
 *
 * Here the Cacher is the innermost layer (… → Validator → ActionHook → DataErrors → Access → Cacher →
 * handler): a cached answer is only ever given to a call that passed validation, the before-hooks (the
 * teams service's membership check) and the access check, exactly as a fresh call would, and the key is
 * built from the validated (converted, defaulted) params. Everything else keeps Moleculer's relative order.
 */
import type { BrokerOptions, Middleware } from "moleculer";
import { AccessMiddleware } from "./access";
import { DataErrorMiddleware } from "./data-errors";

/**
 * Moleculer 0.15's internal middlewares by name, innermost first, Cacher left out (placed below).
 * test/unit/middlewares.test.ts fails when a Moleculer upgrade changes its list.
 */
export const MOLECULER_MIDDLEWARES = [
  "ActionHook",
  "Validator",
  "Bulkhead",
  "ContextTracker",
  "CircuitBreaker",
  "Timeout",
  "Retry",
  "Fallback",
  "ErrorHandler",
  "Tracing",
  "Metrics",
  "Debounce",
  "Throttle",
] as const;

/** Broker options: every middleware, innermost first, with Moleculer's automatic registration off. */
export function middlewareOptions(): Pick<BrokerOptions, "middlewares" | "internalMiddlewares"> {
  const [hooks, ...outer] = MOLECULER_MIDDLEWARES;
  return {
    internalMiddlewares: false,
    middlewares: ["Cacher", AccessMiddleware, DataErrorMiddleware, hooks, ...outer] as Array<Middleware | string>,
  };
}
