/**
 * The publishing plugin contract. A plugin adapts the platform-neutral campaign content to one platform's
 * post payload and talks to that platform. The publisher (services/publisher/) owns retries, rate limits,
 * credentials and idempotency; a plugin owns only what differs between platforms.
 *
 * Versioning: `apiVersion` is the major version of this contract the plugin was written against. The
 * loader refuses plugins whose version it does not support (see SUPPORTED_API_VERSIONS).
 */

/** The contract version this SDK describes; bump on any breaking change to the interfaces below. */
export const PLUGIN_API_VERSION = 1;
/** Contract versions the publisher can still load. */
export const SUPPORTED_API_VERSIONS: readonly number[] = [1];

/** Platform-neutral content: the seed templates' shape plus optional publishing hints. */
export interface BaseContent {
  title?: string;
  description?: string;
  cta?: string;
  /** Price in US dollars (PPV on OnlyFans; mentioned in text elsewhere). */
  price?: number;
  hashtags?: string[];
  link?: string;
  nsfw?: boolean;
  /** Reddit: target subreddit (without `r/`). */
  subreddit?: string;
  /** Reddit: flair id of the subreddit. */
  flairId?: string;
  /** TikTok: privacy level (PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS, FOLLOWER_OF_CREATOR, SELF_ONLY). */
  privacyLevel?: string;
}

export type MediaType = "image" | "video";

export interface PlatformLimits {
  /** Longest caption/body text, in characters. */
  captionLength: number;
  /** Longest title, in characters; 0 when the platform has no title. */
  titleLength: number;
  /** Most hashtags in one post. */
  hashtags: number;
  /** Media items per post: min (0 = text posts allowed) and max (carousel size). */
  media: { min: number; max: number; types: readonly MediaType[]; maxBytes: number };
  /** Whether links in text are clickable ("clickable"), shown but dead ("text"), or a post kind ("post"). */
  links: "clickable" | "text" | "post";
  nsfw: boolean;
  /** Requests per minute per account, and the burst the platform tolerates. */
  rate: { perMinute: number; burst: number };
  /** Concurrent HTTP requests a plugin instance makes. */
  concurrency: number;
}

/** A reason content cannot be published on a platform (a 422 field problem). */
export interface ContentProblem {
  field: string;
  message: string;
  type: string;
}

export interface AdaptOptions {
  mediaUrls: readonly string[];
}

/** The result of adapting content: the platform's payload (null when impossible), why, and what changed. */
export interface Adapted<P> {
  payload: P | null;
  problems: ContentProblem[];
  /** Human-readable notes on what adaptation changed (truncated, hashtags moved, markup stripped). */
  changes: string[];
}

/** Secrets of one account on one platform (tokens, ids). Never logged, never returned by an API. */
export type Credentials = Readonly<Record<string, string>>;

export interface PublishContext {
  /** Unique per (campaign, platform, variant); plugins pass it on where the platform supports it. */
  idempotencyKey: string;
  /** When the first attempt started: `findExisting` only considers posts made after it. */
  since: Date;
}

export interface PublishedPost {
  externalId: string;
  url?: string;
}

export type PostState = "published" | "processing" | "failed" | "not_found";

export interface PostStatus {
  state: PostState;
  url?: string;
  reason?: string;
}

export interface PostMetrics {
  views?: number;
  likes?: number;
  comments?: number;
  shares?: number;
}

export interface FanMessage {
  text: string;
  /** Locked (PPV) message price in US dollars. */
  price?: number;
  mediaUrls?: readonly string[];
}

export interface SentMessage {
  externalId: string;
}

/** Options every plugin is constructed with; the publisher fills them from configuration. */
export interface PluginOptions {
  baseUrl: string;
  /** Timeout of one HTTP request. */
  timeoutMs: number;
  /** Pause between status polls of asynchronous platforms (Instagram containers, TikTok publishes). */
  pollIntervalMs: number;
  /** Most status polls before the outcome counts as unknown. */
  maxPolls: number;
}

export interface PublishingPlugin<P = unknown> {
  readonly id: string;
  readonly displayName: string;
  readonly apiVersion: number;
  readonly limits: PlatformLimits;
  /** Credential fields `PUT /api/credentials/:platform` must contain. */
  readonly credentialFields: readonly string[];
  /** Problems that make the content impossible on this platform (empty when it can be adapted). */
  validate(content: BaseContent, options: AdaptOptions): ContentProblem[];
  adapt(content: BaseContent, options: AdaptOptions): Adapted<P>;
  publish(post: P, credentials: Credentials, ctx: PublishContext): Promise<PublishedPost>;
  status(externalId: string, credentials: Credentials): Promise<PostStatus>;
  /**
   * The post this payload produced if it went live after `ctx.since`, else null. The publisher calls it
   * before retrying any attempt whose outcome is unknown, so a timeout never becomes a duplicate post.
   */
  findExisting(post: P, credentials: Credentials, ctx: PublishContext): Promise<PublishedPost | null>;
  metrics?(externalId: string, credentials: Credentials): Promise<PostMetrics>;
  sendMessage?(fanId: string, message: FanMessage, credentials: Credentials, ctx: { idempotencyKey: string }): Promise<SentMessage>;
}

/** What a plugin module exports: a class taking PluginOptions (preferred) or a ready instance. */
export type PluginClass = new (options: PluginOptions) => PublishingPlugin;
