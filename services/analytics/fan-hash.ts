/**
 * Fans appear in analytics only as keyed hashes (HMAC-SHA256), so the analytics tables never hold a raw
 * fan id, and the same fan id always maps to the same hash — which is how a GDPR erase finds its events.
 * The key is ANALYTICS_FAN_KEY when set; otherwise it is derived from the JWT secret (itself generated
 * into the data folder in embedded mode), so every node of one deployment hashes alike without extra setup.
 */
import crypto from "node:crypto";

export type FanHasher = (ownerId: string, fanId: string) => string;

export function fanHashKey(explicitKey: string | undefined, jwtSecret: string): Buffer {
  if (explicitKey) return Buffer.from(explicitKey, "utf8");
  return crypto.createHmac("sha256", jwtSecret).update("analytics-fan-key/v1").digest();
}

/** The owner is part of the message: one fan id under two creators is two unrelated people. */
export function createFanHasher(key: Buffer): FanHasher {
  return (ownerId, fanId) => crypto.createHmac("sha256", key).update(ownerId).update("\u0000").update(fanId).digest("base64url");
}
