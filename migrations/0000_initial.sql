CREATE TABLE "ab_test_processed_events" (
	"event_id" text PRIMARY KEY NOT NULL,
	"variant_id" text NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ab_test_variants" (
	"id" text PRIMARY KEY NOT NULL,
	"test_id" text NOT NULL,
	"owner_id" text NOT NULL,
	"team_id" text,
	"name" text NOT NULL,
	"is_control" boolean DEFAULT false NOT NULL,
	"content" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"position" integer NOT NULL,
	"weight" double precision NOT NULL,
	"initial_weight" double precision NOT NULL,
	"impressions" bigint DEFAULT 0 NOT NULL,
	"clicks" bigint DEFAULT 0 NOT NULL,
	"conversions" bigint DEFAULT 0 NOT NULL,
	"revenue" double precision DEFAULT 0 NOT NULL,
	"revenue_squares" double precision DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ab_tests" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"team_id" text,
	"campaign_id" text NOT NULL,
	"name" text NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"metric" text DEFAULT 'conversion_rate' NOT NULL,
	"mode" text DEFAULT 'fixed' NOT NULL,
	"min_sample_size" integer DEFAULT 100 NOT NULL,
	"confidence_level" double precision DEFAULT 0.95 NOT NULL,
	"auto_apply" boolean DEFAULT false NOT NULL,
	"winner_id" text,
	"significance" double precision,
	"srm_mismatch" boolean DEFAULT false NOT NULL,
	"last_analyzed_at" timestamp with time zone,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "analytics_campaigns" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"team_id" text,
	"name" text NOT NULL,
	"type" text NOT NULL,
	"template_id" text,
	"budget" double precision,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "analytics_events" (
	"owner_id" text NOT NULL,
	"event_id" text NOT NULL,
	"team_id" text,
	"campaign_id" text NOT NULL,
	"type" text NOT NULL,
	"platform" text NOT NULL,
	"variant_id" text,
	"fan_hash" text,
	"value" double precision DEFAULT 0 NOT NULL,
	"cost" double precision DEFAULT 0 NOT NULL,
	"currency" text DEFAULT 'USD' NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "analytics_events_pk" PRIMARY KEY("owner_id","event_id")
);
--> statement-breakpoint
CREATE TABLE "campaign_metrics" (
	"campaign_id" text NOT NULL,
	"platform" text NOT NULL,
	"hour" timestamp with time zone NOT NULL,
	"owner_id" text NOT NULL,
	"team_id" text,
	"impressions" integer DEFAULT 0 NOT NULL,
	"reach" integer DEFAULT 0 NOT NULL,
	"clicks" integer DEFAULT 0 NOT NULL,
	"conversions" integer DEFAULT 0 NOT NULL,
	"revenue" double precision DEFAULT 0 NOT NULL,
	"spent" double precision DEFAULT 0 NOT NULL,
	"ctr" double precision,
	"conversion_rate" double precision,
	"roi" double precision,
	"cpa" double precision,
	"recorded_at" timestamp with time zone NOT NULL,
	CONSTRAINT "campaign_metrics_pk" PRIMARY KEY("campaign_id","platform","hour")
);
--> statement-breakpoint
CREATE TABLE "analytics_rollup_state" (
	"id" text PRIMARY KEY NOT NULL,
	"cutoff" timestamp with time zone NOT NULL,
	"closed_before" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "campaign_spend_events" (
	"campaign_id" text NOT NULL,
	"event_id" text NOT NULL,
	"amount" double precision NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "campaign_spend_events_campaign_id_event_id_pk" PRIMARY KEY("campaign_id","event_id")
);
--> statement-breakpoint
CREATE TABLE "campaign_templates" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text,
	"team_id" text,
	"name" text NOT NULL,
	"description" text,
	"niche" text NOT NULL,
	"type" text NOT NULL,
	"content" jsonb NOT NULL,
	"default_settings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"usage_count" integer DEFAULT 0 NOT NULL,
	"avg_performance" double precision,
	"performance_samples" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "campaigns" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"team_id" text,
	"name" text NOT NULL,
	"description" text,
	"type" text NOT NULL,
	"status" text DEFAULT 'draft' NOT NULL,
	"platforms" text[] DEFAULT '{}'::text[] NOT NULL,
	"segment_ids" text[] DEFAULT '{}'::text[] NOT NULL,
	"content" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"media_urls" text[] DEFAULT '{}'::text[] NOT NULL,
	"scheduled_for" timestamp with time zone,
	"started_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"paused_at" timestamp with time zone,
	"cancelled_at" timestamp with time zone,
	"status_reason" text,
	"budget" double precision,
	"spent" double precision DEFAULT 0 NOT NULL,
	"goals" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"is_ab_test" boolean DEFAULT false NOT NULL,
	"ab_test_id" text,
	"template_id" text,
	"is_template" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "campaign_launch_windows" (
	"owner_id" text NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"launches" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "campaign_launch_windows_owner_id_window_start_pk" PRIMARY KEY("owner_id","window_start")
);
--> statement-breakpoint
CREATE TABLE "platform_credentials" (
	"owner_id" text NOT NULL,
	"team_id" text,
	"platform" text NOT NULL,
	"key_id" text NOT NULL,
	"iv" text NOT NULL,
	"ciphertext" text NOT NULL,
	"tag" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "platform_credentials_owner_id_platform_pk" PRIMARY KEY("owner_id","platform")
);
--> statement-breakpoint
CREATE TABLE "publish_attempts" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"team_id" text,
	"campaign_id" text NOT NULL,
	"platform" text NOT NULL,
	"variant_id" text,
	"idempotency_key" text NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer NOT NULL,
	"payload" jsonb NOT NULL,
	"changes" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"outcome_unknown" boolean DEFAULT false NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"lease_until" timestamp with time zone,
	"first_attempt_at" timestamp with time zone,
	"external_id" text,
	"url" text,
	"errors" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"published_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "publish_attempts_idempotency_key_unique" UNIQUE("idempotency_key")
);
--> statement-breakpoint
CREATE TABLE "publisher_rate_buckets" (
	"key" text PRIMARY KEY NOT NULL,
	"tokens" double precision NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "publisher_messages" (
	"owner_id" text NOT NULL,
	"team_id" text,
	"idempotency_key" text NOT NULL,
	"platform" text NOT NULL,
	"fan_id" text NOT NULL,
	"external_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "publisher_messages_owner_id_idempotency_key_pk" PRIMARY KEY("owner_id","idempotency_key")
);
--> statement-breakpoint
CREATE TABLE "fans" (
	"owner_id" text NOT NULL,
	"id" text NOT NULL,
	"team_id" text,
	"platform" text,
	"platform_ids" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"display_name" text,
	"subscription_status" text DEFAULT 'none' NOT NULL,
	"subscribed_at" timestamp with time zone,
	"last_active_at" timestamp with time zone,
	"lifetime_value" double precision DEFAULT 0 NOT NULL,
	"spending_level" text DEFAULT 'low' NOT NULL,
	"engagement" double precision DEFAULT 0 NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"timezone" text,
	"consent" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "fans_pk" PRIMARY KEY("owner_id","id")
);
--> statement-breakpoint
CREATE TABLE "segment_members" (
	"segment_id" text NOT NULL,
	"owner_id" text NOT NULL,
	"fan_id" text NOT NULL,
	"added_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "segment_members_pk" PRIMARY KEY("segment_id","owner_id","fan_id")
);
--> statement-breakpoint
CREATE TABLE "segments" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"team_id" text,
	"name" text NOT NULL,
	"description" text,
	"type" text NOT NULL,
	"criteria" jsonb,
	"member_count" integer DEFAULT 0 NOT NULL,
	"last_refreshed_at" timestamp with time zone,
	"avg_engagement" double precision,
	"avg_revenue" double precision,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "ab_test_variants" ADD CONSTRAINT "ab_test_variants_test_id_ab_tests_id_fk" FOREIGN KEY ("test_id") REFERENCES "public"."ab_tests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "segment_members" ADD CONSTRAINT "segment_members_segment_fk" FOREIGN KEY ("segment_id") REFERENCES "public"."segments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "segment_members" ADD CONSTRAINT "segment_members_fan_fk" FOREIGN KEY ("owner_id","fan_id") REFERENCES "public"."fans"("owner_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ab_test_variants_test_idx" ON "ab_test_variants" USING btree ("test_id","position");--> statement-breakpoint
CREATE UNIQUE INDEX "ab_test_variants_test_name_uq" ON "ab_test_variants" USING btree ("test_id","name");--> statement-breakpoint
CREATE INDEX "ab_tests_owner_idx" ON "ab_tests" USING btree ("owner_id");--> statement-breakpoint
CREATE INDEX "ab_tests_team_idx" ON "ab_tests" USING btree ("team_id");--> statement-breakpoint
CREATE INDEX "ab_tests_campaign_idx" ON "ab_tests" USING btree ("campaign_id");--> statement-breakpoint
CREATE UNIQUE INDEX "ab_tests_one_running_per_campaign" ON "ab_tests" USING btree ("campaign_id") WHERE status = 'running';--> statement-breakpoint
CREATE INDEX "analytics_campaigns_owner_idx" ON "analytics_campaigns" USING btree ("owner_id");--> statement-breakpoint
CREATE INDEX "analytics_campaigns_team_idx" ON "analytics_campaigns" USING btree ("team_id");--> statement-breakpoint
CREATE INDEX "analytics_events_campaign_occurred_idx" ON "analytics_events" USING btree ("campaign_id","occurred_at");--> statement-breakpoint
CREATE INDEX "analytics_events_received_idx" ON "analytics_events" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "analytics_events_fan_idx" ON "analytics_events" USING btree ("owner_id","fan_hash","campaign_id","occurred_at");--> statement-breakpoint
CREATE INDEX "campaign_metrics_owner_hour_idx" ON "campaign_metrics" USING btree ("owner_id","hour");--> statement-breakpoint
CREATE INDEX "campaign_metrics_team_idx" ON "campaign_metrics" USING btree ("team_id");--> statement-breakpoint
CREATE INDEX "campaign_templates_niche_type_idx" ON "campaign_templates" USING btree ("niche","type");--> statement-breakpoint
CREATE INDEX "campaign_templates_owner_idx" ON "campaign_templates" USING btree ("owner_id");--> statement-breakpoint
CREATE INDEX "campaigns_owner_created_idx" ON "campaigns" USING btree ("owner_id","created_at","id");--> statement-breakpoint
CREATE INDEX "campaigns_team_idx" ON "campaigns" USING btree ("team_id");--> statement-breakpoint
CREATE INDEX "campaigns_status_idx" ON "campaigns" USING btree ("status");--> statement-breakpoint
CREATE INDEX "campaigns_scheduled_for_idx" ON "campaigns" USING btree ("scheduled_for");--> statement-breakpoint
CREATE INDEX "publish_attempts_campaign_idx" ON "publish_attempts" USING btree ("campaign_id","platform");--> statement-breakpoint
CREATE INDEX "publish_attempts_owner_idx" ON "publish_attempts" USING btree ("owner_id");--> statement-breakpoint
CREATE INDEX "publish_attempts_due_idx" ON "publish_attempts" USING btree ("state","next_attempt_at");--> statement-breakpoint
CREATE INDEX "fans_team_idx" ON "fans" USING btree ("team_id");--> statement-breakpoint
CREATE INDEX "fans_owner_spending_active_idx" ON "fans" USING btree ("owner_id","spending_level","last_active_at");--> statement-breakpoint
CREATE INDEX "fans_owner_status_idx" ON "fans" USING btree ("owner_id","subscription_status");--> statement-breakpoint
CREATE INDEX "fans_owner_active_idx" ON "fans" USING btree ("owner_id","last_active_at");--> statement-breakpoint
CREATE INDEX "fans_owner_engagement_idx" ON "fans" USING btree ("owner_id","engagement");--> statement-breakpoint
CREATE INDEX "fans_owner_ltv_idx" ON "fans" USING btree ("owner_id","lifetime_value");--> statement-breakpoint
CREATE INDEX "fans_tags_idx" ON "fans" USING gin ("tags");--> statement-breakpoint
CREATE INDEX "fans_attributes_idx" ON "fans" USING gin ("attributes" jsonb_path_ops);--> statement-breakpoint
CREATE INDEX "segment_members_fan_idx" ON "segment_members" USING btree ("owner_id","fan_id");--> statement-breakpoint
CREATE INDEX "segments_owner_created_idx" ON "segments" USING btree ("owner_id","created_at","id");--> statement-breakpoint
CREATE INDEX "segments_team_idx" ON "segments" USING btree ("team_id");--> statement-breakpoint
CREATE INDEX "segments_type_idx" ON "segments" USING btree ("type");