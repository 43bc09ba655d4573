/**
 * Verified tokens, kept until they expire so a request does not pay an HMAC verification each time.
 * Bounded: the oldest entries go first when it is full.
 */
import type { AuthUser } from "./auth";

export class TokenCache {
  private readonly entries = new Map<string, { user: AuthUser; expiresAt: number }>();

  constructor(private readonly maxEntries = 10_000, private readonly maxAgeMs = 5 * 60_000) {}

  get(token: string): AuthUser | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.user;
  }

  set(token: string, user: AuthUser): void {
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, { user, expiresAt: Math.min(Date.now() + this.maxAgeMs, tokenExpiry(token)) });
  }
}

/** `exp` of an already verified token, in ms. */
function tokenExpiry(token: string): number {
  try {
    const payload = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
    return typeof payload.exp === "number" ? payload.exp * 1000 : 0;
  } catch {
    return 0;
  }
}
