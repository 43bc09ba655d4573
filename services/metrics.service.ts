/**
 * Metrics: derives the design's business metrics from domain events on the bus and publishes them to
 * Prometheus (always, through the broker's registry → `/metrics`) and to CloudWatch (when
 * `CLOUDWATCH_NAMESPACE` is set). It owns no tables and calls no one's store; handlers only count and queue,
 * so a slow or failing CloudWatch never slows an action. Events are balanced across instances, so
 * running several metrics nodes never counts an event twice.
 */
import type { Context, ServiceSchema } from "moleculer";
import { loadMetricsConfig } from "../lib/config";
import { isServiceAvailable } from "../lib/service-registry";
import type { Observation } from "./metrics/definitions";
import { OBSERVED_EVENTS, observationsFor } from "./metrics/events";
import { SINK_DROPPED, observePrometheus, registerPrometheusMetrics } from "./metrics/prometheus";
import { CloudWatchSink, cloudWatchSender } from "./metrics/sink";

interface CompletedCampaign {
  id: string;
  ownerId: string;
  teamId?: string | null;
  type?: string;
}

type Vars = { sink?: CloudWatchSink; droppedReported: number };
type Methods = {
  record(observations: Observation[]): void;
  recordROI(ctx: Context, campaign: CompletedCampaign): Promise<void>;
};

const MetricsService: ServiceSchema & { methods: Methods } = {
  name: "metrics",

  events: {
    ...Object.fromEntries(
      OBSERVED_EVENTS.map((event) => [
        event,
        function (this: Methods, ctx: Context) {
          this.record(observationsFor(event, ctx.params));
        },
      ]),
    ),
    // Completion also yields the campaign's ROI, which only analytics can tell.
    "campaigns.campaign.completed"(this: Methods, ctx: Context<{ campaign: CompletedCampaign }>) {
      this.record(observationsFor("campaigns.campaign.completed", ctx.params));
      if (ctx.params?.campaign?.id) return this.recordROI(ctx, ctx.params.campaign);
    },
  },

  methods: {
    record(this: Vars & ServiceSchema & { broker: Context["broker"] }, observations: Observation[]) {
      if (!observations.length) return;
      observePrometheus(this.broker, observations);
      if (!this.sink) return;
      this.sink.record(observations);
      const { dropped, rejected } = this.sink.getStats();
      if (dropped + rejected > this.droppedReported) {
        this.broker.metrics.increment(SINK_DROPPED, undefined, dropped + rejected - this.droppedReported);
        this.droppedReported = dropped + rejected;
      }
    },

    /** Asks analytics as the campaign's owner; without analytics (or revenue data) there is no ROI to record. */
    async recordROI(this: Methods & { broker: Context["broker"]; logger: Context["broker"]["logger"] }, ctx: Context, campaign: CompletedCampaign) {
      if (!isServiceAvailable(this.broker, "analytics")) return;
      try {
        const meta = { user: { id: campaign.ownerId, teamId: campaign.teamId ?? null, role: "owner" } };
        const answer = await ctx.call<{ roi: number | null }, { id: string }>("analytics.getCampaignROI", { id: campaign.id }, { meta });
        if (typeof answer?.roi !== "number" || !Number.isFinite(answer.roi)) return;
        this.record([{ metric: "CampaignROI", value: answer.roi, service: "analytics", details: { CampaignType: campaign.type } }]);
      } catch (err) {
        this.logger.warn(`ROI of campaign ${campaign.id} not recorded: ${(err as Error).message}`);
      }
    },
  },

  created() {
    registerPrometheusMetrics(this.broker);
    this.droppedReported = 0;
    const config = loadMetricsConfig();
    if (!config.namespace) return;
    const { send } = cloudWatchSender(config);
    this.sink = new CloudWatchSink({ namespace: config.namespace, send, flushMs: config.flushMs, queueLimit: config.queueLimit, logger: this.logger });
    this.logger.info(`Publishing metrics to CloudWatch namespace "${config.namespace}" every ${config.flushMs} ms${config.endpoint ? ` via ${config.endpoint}` : ""}`);
  },

  started() {
    this.sink?.start();
  },

  async stopped() {
    await this.sink?.stop();
  },
};

export default MetricsService;
