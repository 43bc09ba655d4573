/** Every query on the campaigns tables. Callers pass the acting user; rows outside their reach do not exist. */
import crypto from "node:crypto";
import { and, arrayContains, asc, desc, eq, gte, ilike, inArray, lte, type SQL } from "drizzle-orm";
import { ownership, visibleTo } from "../../lib/access";
import type { AuthUser } from "../../lib/auth";
import type { Db } from "../../lib/db";
import { afterCursor, decodeCursor, likePattern, toPage, type Page, type PageRequest } from "../../lib/pagination";
import { campaigns, type CampaignRow, type CampaignStatus, type CampaignType, type NewCampaignRow, type Platform } from "./schema";

export type Campaign = CampaignRow;

export type CampaignInput = Pick<NewCampaignRow, "name" | "type"> &
  Partial<
    Pick<
      NewCampaignRow,
      | "description"
      | "platforms"
      | "segmentIds"
      | "content"
      | "mediaUrls"
      | "scheduledFor"
      | "budget"
      | "goals"
      | "isABTest"
      | "templateId"
    >
  >;

export type CampaignPatch = Partial<CampaignInput>;

export const CAMPAIGN_SORTS = ["createdAt", "updatedAt", "name", "spent"] as const;
export type CampaignSort = (typeof CAMPAIGN_SORTS)[number];

export interface CampaignFilters {
  status?: CampaignStatus[];
  type?: CampaignType[];
  platform?: Platform;
  q?: string;
  createdFrom?: Date;
  createdTo?: Date;
}

const SORT_COLUMNS = {
  createdAt: campaigns.createdAt,
  updatedAt: campaigns.updatedAt,
  name: campaigns.name,
  spent: campaigns.spent,
} as const;

export class CampaignStore {
  constructor(private readonly db: Db) {}

  async create(user: AuthUser, input: CampaignInput): Promise<Campaign> {
    // Timestamps come from JS (millisecond precision) so they round-trip exactly through cursors.
    const now = new Date();
    const [row] = await this.db
      .insert(campaigns)
      .values({ ...input, id: crypto.randomUUID(), ...ownership(user), status: "draft", createdAt: now, updatedAt: now })
      .returning();
    return row;
  }

  async get(user: AuthUser, id: string): Promise<Campaign | undefined> {
    const [row] = await this.db.select().from(campaigns).where(and(eq(campaigns.id, id), visibleTo(user, campaigns)));
    return row;
  }

  async update(user: AuthUser, id: string, patch: CampaignPatch): Promise<Campaign | undefined> {
    const [row] = await this.db
      .update(campaigns)
      .set({ ...patch, updatedAt: new Date() })
      .where(and(eq(campaigns.id, id), visibleTo(user, campaigns)))
      .returning();
    return row;
  }

  async remove(user: AuthUser, id: string): Promise<Campaign | undefined> {
    const [row] = await this.db
      .delete(campaigns)
      .where(and(eq(campaigns.id, id), visibleTo(user, campaigns)))
      .returning();
    return row;
  }

  async list(user: AuthUser, filters: CampaignFilters, page: PageRequest<CampaignSort>): Promise<Page<Campaign>> {
    const col = SORT_COLUMNS[page.sort];
    const where: (SQL | undefined)[] = [visibleTo(user, campaigns)];
    if (filters.status?.length) where.push(inArray(campaigns.status, filters.status));
    if (filters.type?.length) where.push(inArray(campaigns.type, filters.type));
    if (filters.platform) where.push(arrayContains(campaigns.platforms, [filters.platform]));
    if (filters.q) where.push(ilike(campaigns.name, likePattern(filters.q)));
    if (filters.createdFrom) where.push(gte(campaigns.createdAt, filters.createdFrom));
    if (filters.createdTo) where.push(lte(campaigns.createdAt, filters.createdTo));
    if (page.cursor) {
      const c = decodeCursor(page.cursor, page.sort, page.order);
      const value = col === campaigns.createdAt || col === campaigns.updatedAt ? new Date(c.v) : c.v;
      where.push(afterCursor(col, campaigns.id, page.order, value, c.id));
    }
    const direction = page.order === "asc" ? asc : desc;
    const rows = await this.db
      .select()
      .from(campaigns)
      .where(and(...where))
      .orderBy(direction(col), direction(campaigns.id))
      .limit(page.limit + 1);
    return toPage(rows, page, (row) => {
      const v = row[page.sort];
      return v instanceof Date ? v.toISOString() : (v as string | number);
    });
  }
}
