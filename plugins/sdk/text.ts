/** Text adaptation shared by plugins: pure functions, no I/O. */

export const ELLIPSIS = "…";

/** Removes HTML tags and Markdown emphasis/code/link syntax, keeping the readable text. */
export function stripMarkup(text: string): string {
  return text
    .replace(/<br\s*\/?>/gi, "\n")
    .replace(/<\/?[a-z][^>]*>/gi, "")
    .replace(/\[([^\]]+)\]\(([^)]+)\)/g, "$1 ($2)")
    .replace(/(\*\*|__)(.+?)\1/g, "$2")
    .replace(/(\*|_)(\S(?:.*?\S)?)\1/g, "$2")
    .replace(/`([^`]+)`/g, "$1")
    .replace(/^#{1,6}\s+/gm, "")
    .replace(/&nbsp;/g, " ")
    .replace(/&amp;/g, "&")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">");
}

/** Removes HTML only (for platforms that render Markdown, like Reddit). */
export function stripHtml(text: string): string {
  return text.replace(/<br\s*\/?>/gi, "\n").replace(/<\/?[a-z][^>]*>/gi, "");
}

/**
 * Shortens `text` to at most `max` characters, cutting at the last word boundary and ending with an
 * ellipsis. A single word longer than the limit is cut inside the word (there is no boundary to use).
 * Counts code points, so an emoji is never split in half.
 */
export function truncateWords(text: string, max: number): string {
  const chars = Array.from(text.trim());
  if (chars.length <= max) return chars.join("");
  if (max <= 1) return ELLIPSIS.slice(0, max);
  const head = chars.slice(0, max - 1).join("");
  const boundary = head.search(/\s\S*$/);
  const cut = boundary > 0 && !/\s/.test(chars[max - 1]) ? head.slice(0, boundary) : head;
  return cut.replace(/[\s.,;:!?-]+$/u, "") + ELLIPSIS;
}

export function length(text: string): number {
  return Array.from(text).length;
}

/** `#tag` form of each hashtag, de-duplicated case-insensitively, order kept; empty ones dropped. */
export function normalizeHashtags(tags: readonly string[] | undefined): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of tags ?? []) {
    const tag = raw.trim().replace(/^#+/, "").replace(/[^\p{L}\p{N}_]/gu, "");
    if (!tag || seen.has(tag.toLowerCase())) continue;
    seen.add(tag.toLowerCase());
    out.push(`#${tag}`);
  }
  return out;
}

/** Hashtags written inside the text itself. */
export function hashtagsIn(text: string): string[] {
  return text.match(/(?<![\p{L}\p{N}_])#[\p{L}\p{N}_]+/gu) ?? [];
}

export interface CaptionParts {
  body: string;
  hashtags: readonly string[];
  maxLength: number;
  maxHashtags: number;
}

export interface Caption {
  text: string;
  /** Hashtags that did not fit (over the count limit or the length limit). */
  overflow: string[];
  truncated: boolean;
}

/**
 * Body + a hashtag line, within both limits. Hashtags already in the body count against the limit;
 * the body is truncated on a word boundary only if it alone does not fit, and hashtags that do not fit
 * move to `overflow` instead of being cut.
 */
export function composeCaption({ body, hashtags, maxLength, maxHashtags }: CaptionParts): Caption {
  const inBody = new Set(hashtagsIn(body).map((t) => t.toLowerCase()));
  const extra = hashtags.filter((t) => !inBody.has(t.toLowerCase()));
  let text = body.trim();
  let truncated = false;
  if (length(text) > maxLength) {
    text = truncateWords(text, maxLength);
    truncated = true;
  }
  let room = Math.max(0, maxHashtags - hashtagsIn(text).length);
  const kept: string[] = [];
  const overflow: string[] = [];
  for (const tag of extra) {
    const line = [...kept, tag].join(" ");
    const candidate = text ? `${text}\n\n${line}` : line;
    if (room > 0 && length(candidate) <= maxLength) {
      kept.push(tag);
      room--;
    } else {
      overflow.push(tag);
    }
  }
  if (kept.length) text = text ? `${text}\n\n${kept.join(" ")}` : kept.join(" ");
  return { text, overflow, truncated };
}

/** "$9.99" — the one way prices appear in text. */
export function formatPrice(price: number): string {
  return `$${price.toFixed(2)}`;
}

/** Joins the non-empty parts with blank lines. */
export function paragraphs(...parts: (string | undefined | null | false)[]): string {
  return parts.filter((p): p is string => typeof p === "string" && p.trim() !== "").map((p) => p.trim()).join("\n\n");
}

/** Media kind guessed from a URL's extension; undefined when it is neither a known image nor video. */
export function mediaTypeOf(url: string): "image" | "video" | undefined {
  const ext = /\.([a-z0-9]+)(?:$|[?#])/i.exec(new URL(url).pathname)?.[1]?.toLowerCase();
  if (!ext) return undefined;
  if (["jpg", "jpeg", "png", "webp", "gif", "heic"].includes(ext)) return "image";
  if (["mp4", "mov", "m4v", "webm"].includes(ext)) return "video";
  return undefined;
}

/** The call-to-action line: "Unlock now · $9.99" (either part may be absent). */
export function ctaLine(cta: string | undefined, price: number | undefined): string | undefined {
  const parts = [cta?.trim(), price !== undefined ? formatPrice(price) : undefined].filter(Boolean);
  return parts.length ? parts.join(" · ") : undefined;
}
