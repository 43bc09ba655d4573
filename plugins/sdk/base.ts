/**
 * The base every HTTP plugin extends. It owns what is the same on every platform — HTTP with timeouts,
 * error classification, per-platform concurrency, status polling and media checks — so a plugin file holds
 * only its limits, payload shape and endpoints.
 */
import type {
  AdaptOptions,
  Adapted,
  BaseContent,
  ContentProblem,
  Credentials,
  PlatformLimits,
  PluginOptions,
  PostStatus,
  PublishContext,
  PublishedPost,
  PublishingPlugin,
} from "./contract";
import { PLUGIN_API_VERSION } from "./contract";
import {
  AuthExpiredError,
  ContentRejectedError,
  PluginError,
  RateLimitedError,
  RetryableError,
  UnknownOutcomeError,
  parseRetryAfter,
} from "./errors";
import { mediaTypeOf } from "./text";

export interface HttpRequest {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** JSON body. */
  json?: unknown;
  /** application/x-www-form-urlencoded body (Reddit, Graph API). */
  form?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  /**
   * True when repeating the request could create something twice (a post, a message). A timeout or a
   * dropped connection after sending such a request is an unknown outcome, not a plain retryable error.
   */
  creates?: boolean;
}

/** Counting semaphore: at most `limit` requests of one plugin instance are in flight. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Most listing pages one `findExisting` reads before its answer counts as inconclusive. */
export const MAX_LOOKUP_PAGES = 20;

/** One page of a newest-first listing, and the cursor of the next page (absent on the last). */
export interface ListingPage<T> {
  items: T[];
  next?: string;
}

/** Connection errors that prove the request never reached the platform: safe to retry as is. */
const NOT_SENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT", "EHOSTUNREACH"]);

export abstract class HttpPlugin<P> implements PublishingPlugin<P> {
  abstract readonly id: string;
  abstract readonly displayName: string;
  readonly apiVersion: number = PLUGIN_API_VERSION;
  abstract readonly limits: PlatformLimits;
  abstract readonly credentialFields: readonly string[];
  private semaphore?: Semaphore;

  constructor(protected readonly options: PluginOptions) {}

  abstract adapt(content: BaseContent, options: AdaptOptions): Adapted<P>;
  abstract publish(post: P, credentials: Credentials, ctx: PublishContext): Promise<PublishedPost>;
  abstract status(externalId: string, credentials: Credentials): Promise<PostStatus>;
  abstract findExisting(post: P, credentials: Credentials, ctx: PublishContext): Promise<PublishedPost | null>;

  /** Adaptation decides what is impossible, so validation is its problem list. */
  validate(content: BaseContent, options: AdaptOptions): ContentProblem[] {
    return this.adapt(content, options).problems;
  }

  /** Authorization headers for a request; override for platforms that do not use a bearer token. */
  protected authHeaders(credentials: Credentials): Record<string, string> {
    return { authorization: `Bearer ${credentials.accessToken}` };
  }

  /**
   * A platform-specific reading of an error response (error codes in the body); return undefined to use
   * the HTTP-status classification.
   */
  protected platformError(_status: number, _body: unknown, _headers: Headers): PluginError | undefined {
    return undefined;
  }

  /** Calls the platform and returns the parsed JSON body, or throws a classified PluginError. */
  protected async http<T>(req: HttpRequest, credentials?: Credentials): Promise<T> {
    this.semaphore ??= new Semaphore(Math.max(1, this.limits.concurrency));
    return this.semaphore.run(() => this.send<T>(req, credentials));
  }

  private async send<T>(req: HttpRequest, credentials?: Credentials): Promise<T> {
    const url = new URL(req.path.replace(/^\//, ""), this.options.baseUrl.endsWith("/") ? this.options.baseUrl : `${this.options.baseUrl}/`);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: "application/json", ...(credentials ? this.authHeaders(credentials) : {}), ...req.headers };
    let body: string | undefined;
    if (req.json !== undefined) {
      headers["content-type"] = "application/json; charset=UTF-8";
      body = JSON.stringify(req.json);
    } else if (req.form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(Object.entries(req.form).flatMap(([k, v]): [string, string][] => (v === undefined ? [] : [[k, String(v)]]))).toString();
    }
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { method: req.method, headers, body, signal: AbortSignal.timeout(this.options.timeoutMs) });
      text = await res.text();
    } catch (err) {
      throw this.networkError(err, req);
    }
    const parsed = parseJson(text);
    if (res.ok) return parsed as T;
    throw this.platformError(res.status, parsed, res.headers) ?? this.statusError(res.status, parsed, res.headers);
  }

  private networkError(err: unknown, req: HttpRequest): PluginError {
    const cause = (err as { cause?: { code?: string } }).cause;
    const what = `${this.id}: ${req.method} ${req.path}`;
    if (cause?.code && NOT_SENT_CODES.has(cause.code)) return new RetryableError(`${what} could not connect (${cause.code})`);
    const reason = (err as Error).name === "TimeoutError" ? `timed out after ${this.options.timeoutMs} ms` : `failed (${cause?.code ?? (err as Error).message})`;
    return req.creates ? new UnknownOutcomeError(`${what} ${reason}; it may have been applied`) : new RetryableError(`${what} ${reason}`);
  }

  private statusError(status: number, body: unknown, headers: Headers): PluginError {
    const message = `${this.id} answered ${status}: ${describeBody(body)}`;
    if (status === 429) return new RateLimitedError(message, parseRetryAfter(headers.get("retry-after")));
    if (status === 401) return new AuthExpiredError(message, status);
    if (status === 408 || status >= 500) return new RetryableError(message, status);
    return new ContentRejectedError(message, [], status);
  }

  /** Media checks every platform shares: count, and types guessed from the URL. */
  protected mediaProblems(mediaUrls: readonly string[]): ContentProblem[] {
    const { min, max, types } = this.limits.media;
    const problems: ContentProblem[] = [];
    if (mediaUrls.length < min) {
      problems.push({ field: "mediaUrls", type: "mediaRequired", message: `${this.displayName} needs at least ${min} image or video` });
    }
    if (mediaUrls.length > max) {
      problems.push({ field: "mediaUrls", type: "mediaCount", message: `${this.displayName} accepts at most ${max} media items per post` });
    }
    mediaUrls.forEach((url, i) => {
      const type = safeMediaType(url);
      if (!type || !types.includes(type)) {
        problems.push({ field: `mediaUrls[${i}]`, type: "mediaType", message: `${this.displayName} accepts ${types.join(" and ")} files; ${url} is not one` });
      }
    });
    return problems;
  }

  /**
   * Looks for a post in a newest-first listing of the account, page by page, until `match` finds it, a
   * page reaches posts created before `sinceMs` (no later page can hold it), or the listing ends. Reading
   * only the first page would miss a post once the account made a page's worth of others since, and the
   * publisher would post it again. A listing that still has newer posts after MAX_LOOKUP_PAGES pages is an
   * unknown outcome, never a "not found".
   */
  protected async findInListing<T>(
    page: (cursor: string | undefined) => Promise<ListingPage<T>>,
    createdAtMs: (item: T) => number,
    sinceMs: number,
    match: (item: T) => boolean,
  ): Promise<T | null> {
    let cursor: string | undefined;
    for (let i = 0; i < MAX_LOOKUP_PAGES; i++) {
      const { items, next } = await page(cursor);
      const found = items.find((item) => createdAtMs(item) >= sinceMs && match(item));
      if (found) return found;
      if (!next || !items.length || items.some((item) => createdAtMs(item) < sinceMs)) return null;
      cursor = next;
    }
    throw new UnknownOutcomeError(`${this.id}: the lookup read ${MAX_LOOKUP_PAGES} pages of posts without reaching the first try's time`);
  }

  /** Polls `check` until it returns a value, at most `maxPolls` times; undefined when it never did. */
  protected async poll<T>(check: () => Promise<T | undefined>): Promise<T | undefined> {
    for (let i = 0; i < this.options.maxPolls; i++) {
      const result = await check();
      if (result !== undefined) return result;
      await sleep(this.options.pollIntervalMs);
    }
    return undefined;
  }
}

function safeMediaType(url: string) {
  try {
    return mediaTypeOf(url);
  } catch {
    return undefined;
  }
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A short description of an error body for messages (never the request: it may carry tokens). */
function describeBody(body: unknown): string {
  const text = typeof body === "string" ? body : JSON.stringify(body ?? "");
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
