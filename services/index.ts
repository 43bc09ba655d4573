/** Every service this backend has, by name; `SERVICES` picks a subset for a process. */
import type { ServiceSchema } from "moleculer";
import ApiService from "./api.service";
import CampaignsService from "./campaigns.service";
import GrpcService from "./grpc.service";

export const SERVICE_SCHEMAS: Record<string, ServiceSchema> = {
  campaigns: CampaignsService as ServiceSchema,
  api: ApiService,
  grpc: GrpcService,
};

export const SERVICE_NAMES = Object.keys(SERVICE_SCHEMAS);
