/**
 * Every service this backend has, by name; `SERVICES` picks a subset for a process. Each schema is typed
 * with its own settings/methods, hence the casts to the common type.
 */
import type { ServiceSchema } from "moleculer";
import ABTestsService from "./abtests.service";
import AnalyticsService from "./analytics.service";
import AuditService from "./audit.service";
import ApiService from "./api.service";
import AutomationService from "./automation.service";
import CampaignsService from "./campaigns.service";
import GrpcService from "./grpc.service";
import MetricsService from "./metrics.service";
import PublisherService from "./publisher.service";
import SegmentationService from "./segmentation.service";
import TeamsService from "./teams.service";

export const SERVICE_SCHEMAS: Record<string, ServiceSchema> = {
  campaigns: CampaignsService as unknown as ServiceSchema,
  abtests: ABTestsService as unknown as ServiceSchema,
  analytics: AnalyticsService as unknown as ServiceSchema,
  publisher: PublisherService as unknown as ServiceSchema,
  segmentation: SegmentationService as unknown as ServiceSchema,
  automation: AutomationService as unknown as ServiceSchema,
  teams: TeamsService as unknown as ServiceSchema,
  audit: AuditService as unknown as ServiceSchema,
  api: ApiService,
  grpc: GrpcService,
  metrics: MetricsService,
};

export const SERVICE_NAMES = Object.keys(SERVICE_SCHEMAS);
