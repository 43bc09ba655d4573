/**
 * The gRPC route table: every RPC the gateway serves and the action it calls. Requests and responses
 * convert generically from the message descriptors (./codec.ts); hooks exist only where a proto and an
 * action differ in shape.
 *
 * To add an RPC: declare it in a .proto under proto/marketing/v1/ and add one row below. To add a service:
 * also list its .proto in PROTO_FILES. The gateway refuses to start when an RPC of a routed service has no
 * row or a row names no RPC, so the two cannot drift apart.
 */
import { campaignWatch, clearFields, entriesAs, eventIngest, listAs } from "./hooks";
import { isWatchRoute, type RouteTable } from "./types";

/** The .proto files served, relative to proto/. */
export const PROTO_FILES = ["marketing/v1/campaigns.proto", "marketing/v1/publisher.proto", "marketing/v1/analytics.proto", "marketing/v1/abtests.proto", "marketing/v1/segments.proto", "marketing/v1/automations.proto", "marketing/v1/teams.proto", "marketing/v1/audit.proto"] as const;

/**
 * proto-loader field name → action key, for the few names an action spells otherwise than the camelCase
 * of the proto name (`is_ab_test` → `isAbTest`, the action says `isABTest`). Applies to every message.
 */
export const FIELD_ALIASES: Readonly<Record<string, string>> = { isAbTest: "isABTest" };

export const ROUTES: RouteTable = {
  "marketing.v1.CampaignService/CreateCampaign": { action: "campaigns.create" },
  "marketing.v1.CampaignService/GetCampaign": { action: "campaigns.get" },
  "marketing.v1.CampaignService/UpdateCampaign": { action: "campaigns.update", params: clearFields() },
  "marketing.v1.CampaignService/DeleteCampaign": { action: "campaigns.remove" },
  "marketing.v1.CampaignService/ListCampaigns": { action: "campaigns.list" },
  "marketing.v1.CampaignService/WatchCampaign": { action: "campaigns.get", watch: campaignWatch },
  "marketing.v1.CampaignService/ScheduleCampaign": { action: "campaigns.schedule" },
  "marketing.v1.CampaignService/LaunchCampaign": { action: "campaigns.launch" },
  "marketing.v1.CampaignService/PauseCampaign": { action: "campaigns.pause" },
  "marketing.v1.CampaignService/ResumeCampaign": { action: "campaigns.resume" },
  "marketing.v1.CampaignService/CompleteCampaign": { action: "campaigns.complete" },
  "marketing.v1.CampaignService/CancelCampaign": { action: "campaigns.cancel" },
  "marketing.v1.CampaignService/DuplicateCampaign": { action: "campaigns.duplicate" },
  "marketing.v1.CampaignService/RecordSpend": { action: "campaigns.recordSpend" },
  "marketing.v1.CampaignService/ListTemplates": { action: "campaigns.listTemplates", result: listAs("templates") },
  "marketing.v1.CampaignService/CreateCampaignFromTemplate": { action: "campaigns.createFromTemplate" },
  "marketing.v1.CampaignService/SaveAsTemplate": { action: "campaigns.saveAsTemplate" },
  "marketing.v1.PublisherService/ListPlugins": { action: "publisher.plugins" },
  "marketing.v1.PublisherService/Publish": { action: "publisher.publish" },
  "marketing.v1.PublisherService/PublishCampaign": { action: "publisher.publishCampaign" },
  "marketing.v1.PublisherService/ListPublications": { action: "publisher.publications" },
  "marketing.v1.PublisherService/SendMessage": { action: "publisher.sendMessage" },
  "marketing.v1.PublisherService/Preview": { action: "publisher.preview", result: entriesAs("previews", "platform") },
  "marketing.v1.PublisherService/ListCredentials": { action: "publisher.credentials" },
  "marketing.v1.PublisherService/SetCredentials": { action: "publisher.setCredentials" },
  "marketing.v1.PublisherService/DeleteCredentials": { action: "publisher.removeCredentials" },
  "marketing.v1.AnalyticsService/Track": { action: "analytics.track" },
  "marketing.v1.AnalyticsService/TrackBatch": { action: "analytics.trackBatch" },
  "marketing.v1.AnalyticsService/IngestEvents": { action: "analytics.trackBatch", ingest: eventIngest },
  "marketing.v1.AnalyticsService/GetCampaignMetrics": { action: "analytics.getCampaignMetrics" },
  "marketing.v1.AnalyticsService/GetCampaignROI": { action: "analytics.getCampaignROI" },
  "marketing.v1.AnalyticsService/GetConversionFunnel": { action: "analytics.getConversionFunnel" },
  "marketing.v1.AnalyticsService/ComparePlatforms": { action: "analytics.comparePlatforms" },
  // JSON only: the CSV and PDF renderings are REST downloads.
  "marketing.v1.AnalyticsService/GetCampaignReport": { action: "analytics.generateReport" },
  "marketing.v1.AnalyticsService/CompareCampaigns": { action: "analytics.compareCampaigns" },
  "marketing.v1.AnalyticsService/GetPerformanceTrends": { action: "analytics.getPerformanceTrends" },
  "marketing.v1.AnalyticsService/GetTopPerformingCampaigns": { action: "analytics.getTopPerformingCampaigns" },
  "marketing.v1.AnalyticsService/IdentifyPatterns": { action: "analytics.identifyPatterns" },
  "marketing.v1.AnalyticsService/GetRecommendations": { action: "analytics.getRecommendations" },
  "marketing.v1.ABTestService/CreateABTest": { action: "abtests.create" },
  "marketing.v1.ABTestService/GetABTest": { action: "abtests.get" },
  "marketing.v1.ABTestService/GetABTestResults": { action: "abtests.results" },
  "marketing.v1.ABTestService/DetermineWinner": { action: "abtests.determineWinner" },
  "marketing.v1.ABTestService/ApplyWinner": { action: "abtests.apply" },
  "marketing.v1.ABTestService/TrackVariantPerformance": { action: "abtests.trackPerformance" },
  "marketing.v1.ABTestService/AssignVariant": { action: "abtests.assign" },
  "marketing.v1.ABTestService/RebalanceBandit": { action: "abtests.rebalance" },
  "marketing.v1.FanService/UpsertFan": { action: "segmentation.upsertFan", params: clearFields() },
  "marketing.v1.FanService/UpsertFans": { action: "segmentation.upsertFans" },
  "marketing.v1.FanService/GetFan": { action: "segmentation.getFan" },
  "marketing.v1.FanService/ExportFan": { action: "segmentation.exportFan" },
  "marketing.v1.FanService/EraseFan": { action: "segmentation.eraseFan" },
  "marketing.v1.FanService/RecordActivity": { action: "segmentation.recordActivity" },
  "marketing.v1.SegmentService/CreateSegment": { action: "segmentation.create" },
  "marketing.v1.SegmentService/GetSegment": { action: "segmentation.get" },
  "marketing.v1.SegmentService/UpdateSegment": { action: "segmentation.update", params: clearFields() },
  "marketing.v1.SegmentService/DeleteSegment": { action: "segmentation.remove" },
  "marketing.v1.SegmentService/ListSegments": { action: "segmentation.list" },
  "marketing.v1.SegmentService/CalculateSegmentSize": { action: "segmentation.calculateSegmentSize" },
  "marketing.v1.SegmentService/GetSegmentMembers": { action: "segmentation.getSegmentMembers" },
  "marketing.v1.SegmentService/RefreshSegment": { action: "segmentation.refreshSegment" },
  "marketing.v1.SegmentService/AddFanToSegment": { action: "segmentation.addUserToSegment" },
  "marketing.v1.SegmentService/RemoveFanFromSegment": { action: "segmentation.removeUserFromSegment" },
  "marketing.v1.SegmentService/EvaluateCriteria": { action: "segmentation.evaluateCriteria" },
  "marketing.v1.SegmentService/GetSegmentPerformance": { action: "segmentation.getSegmentPerformance" },
  "marketing.v1.SegmentService/CompareSegments": { action: "segmentation.compareSegments" },
  "marketing.v1.AutomationService/CreateWorkflow": { action: "automation.create" },
  "marketing.v1.AutomationService/GetWorkflow": { action: "automation.get" },
  "marketing.v1.AutomationService/UpdateWorkflow": { action: "automation.update", params: clearFields() },
  "marketing.v1.AutomationService/DeleteWorkflow": { action: "automation.remove" },
  "marketing.v1.AutomationService/ListWorkflows": { action: "automation.list" },
  "marketing.v1.AutomationService/ActivateWorkflow": { action: "automation.activate" },
  "marketing.v1.AutomationService/DeactivateWorkflow": { action: "automation.deactivate" },
  "marketing.v1.AutomationService/ExecuteWorkflow": { action: "automation.execute" },
  "marketing.v1.AutomationService/ListExecutions": { action: "automation.executions" },
  "marketing.v1.AutomationService/GetWorkflowStats": { action: "automation.stats" },
  "marketing.v1.AutomationService/IngestEvent": { action: "automation.ingestEvent" },
  "marketing.v1.AutomationService/ListAutomationTemplates": { action: "automation.workflowTemplates" },
  "marketing.v1.AutomationService/InstallAutomationTemplate": { action: "automation.installTemplate" },
  "marketing.v1.AutomationService/ListMessageTemplates": { action: "automation.messageTemplates" },
  "marketing.v1.AutomationService/SaveMessageTemplate": { action: "automation.saveMessageTemplate" },
  "marketing.v1.AutomationService/RenderMessageTemplate": { action: "automation.renderMessageTemplate" },
  "marketing.v1.TeamService/CreateTeam": { action: "teams.create" },
  "marketing.v1.TeamService/ListTeams": { action: "teams.list" },
  "marketing.v1.TeamService/GetTeam": { action: "teams.get" },
  "marketing.v1.TeamService/RenameTeam": { action: "teams.update" },
  "marketing.v1.TeamService/DeleteTeam": { action: "teams.remove" },
  "marketing.v1.TeamService/ListMembers": { action: "teams.members" },
  "marketing.v1.TeamService/AddMember": { action: "teams.addMember" },
  "marketing.v1.TeamService/ChangeMemberRole": { action: "teams.updateMember" },
  "marketing.v1.TeamService/RemoveMember": { action: "teams.removeMember" },
  "marketing.v1.TeamService/LeaveTeam": { action: "teams.leave" },
  "marketing.v1.AuditService/ListAuditRecords": { action: "audit.list" },
};

/** Every broker event some streaming route follows. */
export function watchedEvents(routes: RouteTable): string[] {
  const names = Object.values(routes).flatMap((route) => (isWatchRoute(route) ? route.watch.events : []));
  return [...new Set(names)];
}
