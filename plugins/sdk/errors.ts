/**
 * Typed plugin errors. The publisher's retry policy decides by `kind`, never by message text:
 * retryable → back off and retry; rate_limited → retry no sooner than `retryAfterMs`;
 * auth_expired → stop and ask the creator to reconnect; content_rejected → stop (422 reasons);
 * unknown_outcome → the request may have gone live: look it up with `findExisting` before any retry.
 */
import type { ContentProblem } from "./contract";

export type PluginErrorKind = "retryable" | "rate_limited" | "auth_expired" | "content_rejected" | "unknown_outcome";

export abstract class PluginError extends Error {
  abstract readonly kind: PluginErrorKind;
  constructor(
    message: string,
    /** HTTP status from the platform, when there was a response. */
    readonly status?: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class RetryableError extends PluginError {
  readonly kind = "retryable" as const;
}

export class RateLimitedError extends PluginError {
  readonly kind = "rate_limited" as const;
  constructor(
    message: string,
    /** How long the platform asked us to wait; undefined when it did not say. */
    readonly retryAfterMs: number | undefined,
    status = 429,
  ) {
    super(message, status);
  }
}

export class AuthExpiredError extends PluginError {
  readonly kind = "auth_expired" as const;
}

export class ContentRejectedError extends PluginError {
  readonly kind = "content_rejected" as const;
  constructor(
    message: string,
    readonly problems: ContentProblem[] = [],
    status?: number,
  ) {
    super(message, status);
  }
}

export class UnknownOutcomeError extends PluginError {
  readonly kind = "unknown_outcome" as const;
}

export function isPluginError(err: unknown): err is PluginError {
  return err instanceof PluginError || typeof (err as { kind?: unknown })?.kind === "string";
}

/** Parses a Retry-After header (delta-seconds or HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
