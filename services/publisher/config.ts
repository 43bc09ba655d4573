/**
 * Publisher settings, read from the environment with defaults that work embedded. Kept here until they
 * move into lib/config.ts (the one config module); the names below are the env keys to add there.
 */
export interface PublisherConfig {
  /** Extra plugins: npm package names (comma-separated `PUBLISHER_PLUGINS`), loaded after `plugins/*`. */
  plugins: string[];
  /** Plugin ids to skip (`PUBLISHER_DISABLED_PLUGINS`). */
  disabledPlugins: string[];
  /**
   * Credential encryption keys, newest first: `CREDENTIALS_KEYS="k2:<base64 32 bytes>,k1:<...>"`, or one key
   * in `CREDENTIALS_KEY`. New writes use the first; older ones still decrypt. Unset → a key generated into
   * the data folder (embedded mode only).
   */
  credentialKeys: { id: string; key: Buffer }[];
  /** Attempts per publish before it is dead-lettered (`PUBLISH_MAX_ATTEMPTS`). */
  maxAttempts: number;
  /** First retry delay and cap of the exponential backoff (`PUBLISH_BACKOFF_BASE_MS`, `PUBLISH_BACKOFF_CAP_MS`). */
  backoffBaseMs: number;
  backoffCapMs: number;
  /** Per-request timeout towards a platform (`PUBLISH_HTTP_TIMEOUT_MS`). */
  httpTimeoutMs: number;
  /** Status polling of asynchronous platforms (`PUBLISH_POLL_INTERVAL_MS`, `PUBLISH_MAX_POLLS`). */
  pollIntervalMs: number;
  maxPolls: number;
  /** How long a running attempt holds its row before another worker may take it over (`PUBLISH_LEASE_MS`). */
  leaseMs: number;
  /** Base URL per plugin id (`<ID>_BASE_URL`, e.g. `INSTAGRAM_BASE_URL`, `ONLYFANS_GATEWAY_URL`). */
  baseUrls: Record<string, string>;
  /** Rate overrides per plugin id: `PUBLISHER_RATE_LIMITS="instagram=3/5,reddit=60/10"` (per minute / burst). */
  rateLimits: Record<string, { perMinute: number; burst: number }>;
}

export const DEFAULT_BASE_URLS: Record<string, string> = {
  instagram: "https://graph.facebook.com/v21.0",
  tiktok: "https://open.tiktokapis.com",
  reddit: "https://oauth.reddit.com",
  // No official API exists: the gateway must be configured (see docs/plugins.md).
  onlyfans: "http://onlyfans-gateway.invalid",
};

function list(value: string | undefined): string[] {
  return (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return n;
}

/** `id:base64` pairs; a bare base64 value gets the id "default". Each key must decode to 32 bytes. */
export function parseCredentialKeys(value: string | undefined): { id: string; key: Buffer }[] {
  return list(value).map((entry) => {
    const sep = entry.indexOf(":");
    const id = sep > 0 ? entry.slice(0, sep) : "default";
    const key = Buffer.from(sep > 0 ? entry.slice(sep + 1) : entry, "base64");
    if (key.length !== 32) throw new Error(`credential key "${id}" must be 32 bytes of base64 (AES-256), got ${key.length} bytes`);
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new Error(`credential key id "${id}" must be 1–32 letters, digits, _ or -`);
    return { id, key };
  });
}

function rateLimits(value: string | undefined): PublisherConfig["rateLimits"] {
  const out: PublisherConfig["rateLimits"] = {};
  for (const entry of list(value)) {
    const m = /^([a-z0-9-]+)=(\d+)\/(\d+)$/.exec(entry);
    if (!m) throw new Error(`PUBLISHER_RATE_LIMITS entry "${entry}" must look like "instagram=3/5" (per minute / burst)`);
    out[m[1]] = { perMinute: Number(m[2]), burst: Number(m[3]) };
  }
  return out;
}

function baseUrls(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    const m = /^([A-Z0-9_]+)_BASE_URL$/.exec(name);
    if (m && value) out[m[1].toLowerCase().replace(/_/g, "-")] = value;
  }
  if (env.ONLYFANS_GATEWAY_URL) out.onlyfans = env.ONLYFANS_GATEWAY_URL;
  return { ...DEFAULT_BASE_URLS, ...out };
}

export function loadPublisherConfig(env: NodeJS.ProcessEnv = process.env): PublisherConfig {
  return {
    plugins: list(env.PUBLISHER_PLUGINS),
    disabledPlugins: list(env.PUBLISHER_DISABLED_PLUGINS),
    credentialKeys: parseCredentialKeys(env.CREDENTIALS_KEYS ?? env.CREDENTIALS_KEY),
    maxAttempts: int(env, "PUBLISH_MAX_ATTEMPTS", 5, 1),
    backoffBaseMs: int(env, "PUBLISH_BACKOFF_BASE_MS", 2_000, 1),
    backoffCapMs: int(env, "PUBLISH_BACKOFF_CAP_MS", 15 * 60_000, 1),
    httpTimeoutMs: int(env, "PUBLISH_HTTP_TIMEOUT_MS", 15_000, 1),
    pollIntervalMs: int(env, "PUBLISH_POLL_INTERVAL_MS", 2_000),
    maxPolls: int(env, "PUBLISH_MAX_POLLS", 30, 1),
    leaseMs: int(env, "PUBLISH_LEASE_MS", 5 * 60_000, 1),
    baseUrls: baseUrls(env),
    rateLimits: rateLimits(env.PUBLISHER_RATE_LIMITS),
  };
}
