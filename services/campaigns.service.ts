/** Campaigns: the creator's campaigns (CRUD and listing in this slice). */
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { requireUser } from "../lib/access";
import { NotFoundError } from "../lib/errors";
import { CacheCleanerMixin, StoreMixin } from "../lib/mixins";
import { CAMPAIGN_SORTS, CampaignStore, type Campaign, type CampaignInput, type CampaignSort } from "./campaigns/store";
import { CAMPAIGN_STATUSES, CAMPAIGN_TYPES, PLATFORMS, type CampaignStatus, type CampaignType, type Platform } from "./campaigns/schema";
import "../lib/schema-types";

/** Fields a client may set on a campaign; the same rules serve create (name/type required) and update. */
const campaignFields = {
  name: { type: "string", trim: true, min: 1, max: 200 },
  description: { type: "string", max: 5000, optional: true, nullable: true },
  type: { type: "enum", values: CAMPAIGN_TYPES },
  platforms: { type: "array", items: { type: "enum", values: PLATFORMS }, unique: true, optional: true },
  segmentIds: { type: "array", items: { type: "string", min: 1, max: 100 }, max: 100, unique: true, optional: true },
  content: { type: "object", maxProps: 100, optional: true },
  mediaUrls: { type: "array", items: { type: "url" }, max: 50, optional: true },
  scheduledFor: { type: "date", convert: true, optional: true, nullable: true },
  budget: { type: "number", min: 0, max: 1e12, optional: true, nullable: true },
  goals: { type: "record", key: { type: "string", max: 50 }, value: { type: "number", min: 0 }, optional: true },
  isABTest: { type: "boolean", optional: true },
  templateId: { type: "string", max: 100, optional: true, nullable: true },
} as const;

const optional = <T extends Record<string, object>>(fields: T) =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, { ...v, optional: true }])) as T;

const idParam = { id: { type: "string", min: 1, max: 100 } } as const;

type Params = Record<string, unknown>;
type Methods = { cleanCache(id?: string): Promise<void> };
type Vars = { store: CampaignStore };

const CampaignsService: ServiceSchema<ServiceSettingSchema, Methods, Vars> = {
  name: "campaigns",
  settings: { rest: "/" },
  mixins: [StoreMixin((db) => new CampaignStore(db)), CacheCleanerMixin("campaigns")],

  actions: {
    create: {
      rest: "POST /campaigns",
      permission: "write",
      params: { $$strict: true, ...campaignFields },
      openapi: { summary: "Create a campaign (status draft)", tags: ["campaigns"], status: 201 },
      async handler(ctx: Context<CampaignInput>) {
        const campaign = await this.store.create(requireUser(ctx), ctx.params);
        ctx.emit("campaigns.campaign.created", { campaign });
        Object.assign(ctx.meta, { $statusCode: 201, $location: `/api/campaigns/${campaign.id}` });
        return campaign;
      },
    },

    get: {
      rest: "GET /campaigns/:id",
      params: { $$strict: true, ...idParam },
      cache: { keys: ["id", "#user.id", "#user.teamId", "#user.role"], ttl: 60 },
      openapi: { summary: "Get a campaign", tags: ["campaigns"] },
      async handler(ctx: Context<{ id: string }>) {
        const campaign = await this.store.get(requireUser(ctx), ctx.params.id);
        if (!campaign) throw new NotFoundError("campaign", ctx.params.id);
        return campaign;
      },
    },

    update: {
      rest: ["PUT /campaigns/:id", "PATCH /campaigns/:id"],
      permission: "write",
      params: { $$strict: true, ...idParam, ...optional(campaignFields) },
      openapi: { summary: "Change a campaign's fields (only those given)", tags: ["campaigns"] },
      async handler(ctx: Context<{ id: string } & Partial<CampaignInput>>) {
        const { id, ...patch } = ctx.params;
        const campaign = await this.store.update(requireUser(ctx), id, patch);
        if (!campaign) throw new NotFoundError("campaign", id);
        await this.cleanCache(id);
        ctx.emit("campaigns.campaign.updated", { campaign, changed: Object.keys(patch) });
        return campaign;
      },
    },

    remove: {
      rest: "DELETE /campaigns/:id",
      permission: "write",
      params: { $$strict: true, ...idParam },
      openapi: { summary: "Delete a campaign", tags: ["campaigns"] },
      async handler(ctx: Context<{ id: string }>) {
        const campaign = await this.store.remove(requireUser(ctx), ctx.params.id);
        if (!campaign) throw new NotFoundError("campaign", ctx.params.id);
        await this.cleanCache(campaign.id);
        ctx.emit("campaigns.campaign.deleted", { id: campaign.id, ownerId: campaign.ownerId });
        return { id: campaign.id, deleted: true };
      },
    },

    list: {
      rest: "GET /campaigns",
      params: {
        $$strict: true,
        status: { type: "array", items: { type: "enum", values: CAMPAIGN_STATUSES }, convert: true, optional: true },
        type: { type: "array", items: { type: "enum", values: CAMPAIGN_TYPES }, convert: true, optional: true },
        platform: { type: "enum", values: PLATFORMS, optional: true },
        q: { type: "string", trim: true, min: 1, max: 200, optional: true },
        createdFrom: { type: "date", convert: true, optional: true },
        createdTo: { type: "date", convert: true, optional: true },
        sort: { type: "enum", values: CAMPAIGN_SORTS, default: "createdAt" },
        order: { type: "enum", values: ["asc", "desc"], default: "desc" },
        limit: { type: "number", integer: true, min: 1, max: 100, convert: true, default: 20 },
        cursor: { type: "string", max: 1000, optional: true },
      },
      openapi: { summary: "List campaigns with filters, sorting and cursor pagination", tags: ["campaigns"] },
      async handler(ctx: Context<Params>) {
        const p = ctx.params as {
          status?: CampaignStatus[];
          type?: CampaignType[];
          platform?: Platform;
          q?: string;
          createdFrom?: Date;
          createdTo?: Date;
          sort: CampaignSort;
          order: "asc" | "desc";
          limit: number;
          cursor?: string;
        };
        return this.store.list(
          requireUser(ctx),
          { status: p.status, type: p.type, platform: p.platform, q: p.q, createdFrom: p.createdFrom, createdTo: p.createdTo },
          { sort: p.sort, order: p.order, limit: p.limit, cursor: p.cursor },
        );
      },
    },
  },
};

export type { Campaign };
export default CampaignsService;
