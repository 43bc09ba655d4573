/**
 * The seeded template library (the design's niche templates plus fashion, general and the win-back offer
 * automation uses) and placeholder filling. Pure: no I/O.
 */
import { UnprocessableError, type FieldProblem } from "../../lib/errors";
import type { CampaignType, TemplateNiche, TemplateSettings } from "./schema";

export interface SystemTemplate {
  id: string;
  name: string;
  description: string;
  niche: TemplateNiche;
  type: CampaignType;
  content: { title: string; description: string; cta: string; price: number } & Record<string, unknown>;
  defaultSettings: TemplateSettings;
}

export const SYSTEM_TEMPLATES: readonly SystemTemplate[] = [
  {
    id: "fitness-30-day-workout-challenge",
    name: "30-Day Workout Challenge",
    description: "A paid 30-day program with daily routines and coaching.",
    niche: "fitness",
    type: "ppv",
    content: {
      title: "Transform Your Body in 30 Days! 💪",
      description: "Join my exclusive 30-day workout challenge with daily routines, meal plans, and personal coaching.",
      cta: "Start Your Transformation",
      price: 49.99,
    },
    defaultSettings: { goals: { conversions: 50, revenue: 2500 }, estimatedROI: 3.2 },
  },
  {
    id: "fitness-meal-plan-bundle",
    name: "Meal Plan Bundle",
    description: "A weekly meal-plan subscription with recipes.",
    niche: "fitness",
    type: "subscription",
    content: {
      title: "Weekly Meal Plans + Recipes 🥗",
      description: "Get personalized meal plans every week with macro tracking and shopping lists.",
      cta: "Subscribe Now",
      price: 29.99,
    },
    defaultSettings: { goals: { conversions: 100, revenue: 3000 }, estimatedROI: 2.8 },
  },
  {
    id: "gaming-exclusive-stream-access",
    name: "Exclusive Stream Access",
    description: "VIP access to private streams.",
    niche: "gaming",
    type: "subscription",
    content: {
      title: "VIP Stream Access 🎮",
      description: "Get exclusive access to private streams, behind-the-scenes content, and gaming sessions.",
      cta: "Join VIP",
      price: 19.99,
    },
    defaultSettings: { goals: { conversions: 200, revenue: 4000 }, estimatedROI: 4.5 },
  },
  {
    id: "gaming-game-tutorial-series",
    name: "Game Tutorial Series",
    description: "Pay-per-view pro tips for one game; fill in the game's name.",
    niche: "gaming",
    type: "ppv",
    content: {
      title: "Master [Game Name] - Pro Tips 🏆",
      description: "Learn advanced strategies and techniques from a pro player.",
      cta: "Get Tutorial",
      price: 14.99,
    },
    defaultSettings: { goals: { conversions: 150, revenue: 2250 }, estimatedROI: 3.8 },
  },
  {
    id: "adult-vip-subscription-tier",
    name: "VIP Subscription Tier",
    description: "A premium subscription tier with exclusive content.",
    niche: "adult",
    type: "subscription",
    content: {
      title: "VIP Access - Exclusive Content 💎",
      description: "Get access to exclusive content, custom requests, and priority messaging.",
      cta: "Upgrade to VIP",
      price: 49.99,
    },
    defaultSettings: { goals: { conversions: 100, revenue: 5000 }, estimatedROI: 5.2 },
  },
  {
    id: "adult-custom-content-offer",
    name: "Custom Content Offer",
    description: "Personalized pay-per-view content on request.",
    niche: "adult",
    type: "ppv",
    content: {
      title: "Custom Content Just for You ✨",
      description: "Request personalized content tailored to your preferences.",
      cta: "Request Custom",
      price: 99.99,
    },
    defaultSettings: { goals: { conversions: 50, revenue: 5000 }, estimatedROI: 6.8 },
  },
  {
    id: "fashion-lookbook-drop",
    name: "Seasonal Lookbook Drop",
    description: "A pay-per-view lookbook for a season; fill in the season.",
    niche: "fashion",
    type: "ppv",
    content: {
      title: "My {{season}} Lookbook 👗",
      description: "Every outfit of the season with links, sizing notes and styling tips.",
      cta: "See the Lookbook",
      price: 12.99,
    },
    defaultSettings: { goals: { conversions: 120, revenue: 1560 }, estimatedROI: 3.1 },
  },
  {
    id: "fashion-styling-club",
    name: "Personal Styling Club",
    description: "A monthly styling subscription.",
    niche: "fashion",
    type: "subscription",
    content: {
      title: "Your Monthly Styling Club 🛍️",
      description: "Monthly outfit plans, try-on hauls and answers to your styling questions.",
      cta: "Join the Club",
      price: 24.99,
    },
    defaultSettings: { goals: { conversions: 80, revenue: 2000 }, estimatedROI: 2.9 },
  },
  {
    id: "general-limited-time-promo",
    name: "Limited-Time Promotion",
    description: "A time-boxed discount to convert followers into subscribers.",
    niche: "general",
    type: "promotion",
    content: {
      title: "{{discountPercent}}% Off This Week Only ⏳",
      description: "Subscribe now and get everything at a lower price for a limited time.",
      cta: "Claim the Offer",
      price: 9.99,
    },
    defaultSettings: { goals: { conversions: 150, revenue: 1500 }, estimatedROI: 2.5 },
  },
  {
    id: "general-engagement-qa",
    name: "Ask Me Anything Week",
    description: "An engagement campaign that invites questions.",
    niche: "general",
    type: "engagement",
    content: {
      title: "Ask Me Anything 💬",
      description: "Send me your questions this week; I'll answer the best ones in a special post.",
      cta: "Ask a Question",
      price: 0,
    },
    defaultSettings: { goals: { engagement: 1000 }, estimatedROI: 1.5 },
  },
  {
    // Used by the "Win Back Inactive Fans" automation (create_campaign with a discount).
    id: "win_back_offer",
    name: "Win-Back Offer",
    description: "A discounted comeback offer for fans who went quiet.",
    niche: "general",
    type: "retention",
    content: {
      title: "We Miss You — {{discountPercent}}% Off to Come Back",
      description: "Here's a special discount to welcome you back to my exclusive content.",
      cta: "Come Back",
      price: 19.99,
    },
    defaultSettings: { goals: { conversions: 50, revenue: 750 }, estimatedROI: 2.2 },
  },
];

/** `[Game Name]` or `{{gameName}}`. */
const PLACEHOLDER = /\[([A-Za-z][A-Za-z0-9 ]{0,40})\]|\{\{\s*([A-Za-z][A-Za-z0-9_]{0,40})\s*\}\}/g;

/** "Game Name" → "gameName"; a customization may use either spelling. */
function camel(label: string): string {
  const words = label.trim().split(/\s+/);
  return words.map((w, i) => (i === 0 ? w[0].toLowerCase() + w.slice(1) : w[0].toUpperCase() + w.slice(1))).join("");
}

export function placeholdersIn(content: unknown): string[] {
  const found = new Set<string>();
  walkStrings(content, (s) => {
    for (const m of s.matchAll(PLACEHOLDER)) found.add(camel(m[1] ?? m[2]));
  });
  return [...found];
}

function walkStrings(value: unknown, visit: (s: string) => void): void {
  if (typeof value === "string") visit(value);
  else if (Array.isArray(value)) value.forEach((v) => walkStrings(v, visit));
  else if (value && typeof value === "object") Object.values(value).forEach((v) => walkStrings(v, visit));
}

function mapStrings(value: unknown, fn: (s: string) => string): unknown {
  if (typeof value === "string") return fn(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, fn));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, fn)]));
  }
  return value;
}

/**
 * Fills every placeholder from `variables` (keys in either spelling). A `discount` (0–0.9) lowers the
 * price and provides `discountPercent`. Missing variables → 422 naming each one.
 */
export function fillTemplate(
  content: Record<string, unknown>,
  variables: Record<string, string | number> = {},
  discount?: number,
): Record<string, unknown> {
  const values = new Map<string, string>();
  for (const [k, v] of Object.entries(variables)) values.set(camel(k), String(v));
  if (discount !== undefined && !values.has("discountPercent")) values.set("discountPercent", String(Math.round(discount * 100)));

  const missing = placeholdersIn(content).filter((name) => !values.has(name));
  if (missing.length) {
    const problems: FieldProblem[] = missing.map((name) => ({
      field: `customization.variables.${name}`,
      message: `The template needs a value for the placeholder "${name}"`,
      type: "placeholder",
    }));
    throw new UnprocessableError(`Missing template placeholders: ${missing.join(", ")}`, problems);
  }
  const filled = mapStrings(content, (s) => s.replace(PLACEHOLDER, (_m, a, b) => values.get(camel(a ?? b))!)) as Record<string, unknown>;
  if (discount !== undefined && typeof filled.price === "number") {
    filled.originalPrice = filled.price;
    filled.price = Math.round(filled.price * (1 - discount) * 100) / 100;
    filled.discount = discount;
  }
  return filled;
}
