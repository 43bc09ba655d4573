CREATE TABLE "automation_message_templates" (
	"owner_id" text NOT NULL,
	"team_id" text,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"text" text NOT NULL,
	"media_urls" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "automation_message_templates_owner_id_id_pk" PRIMARY KEY("owner_id","id")
);
--> statement-breakpoint
CREATE TABLE "automation_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"automation_id" text NOT NULL,
	"owner_id" text NOT NULL,
	"team_id" text,
	"fan_id" text,
	"status" text NOT NULL,
	"test_mode" boolean DEFAULT false NOT NULL,
	"trigger_data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"context" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"cursor" jsonb,
	"executed_actions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"errors" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"wake_at" timestamp with time zone,
	"lease_until" timestamp with time zone,
	"deadline_at" timestamp with time zone,
	"started_at" timestamp with time zone NOT NULL,
	"completed_at" timestamp with time zone,
	"duration" integer
);
--> statement-breakpoint
CREATE TABLE "automation_sends" (
	"run_id" text NOT NULL,
	"step_path" text NOT NULL,
	"owner_id" text NOT NULL,
	"fan_id" text NOT NULL,
	"sent_at" timestamp with time zone NOT NULL,
	CONSTRAINT "automation_sends_run_id_step_path_pk" PRIMARY KEY("run_id","step_path")
);
--> statement-breakpoint
CREATE TABLE "automations" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_id" text NOT NULL,
	"team_id" text,
	"name" text NOT NULL,
	"description" text,
	"status" text DEFAULT 'paused' NOT NULL,
	"trigger" jsonb NOT NULL,
	"trigger_event" text,
	"conditions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"actions" jsonb NOT NULL,
	"settings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"behavior_segment_id" text,
	"execution_count" integer DEFAULT 0 NOT NULL,
	"success_count" integer DEFAULT 0 NOT NULL,
	"failure_count" integer DEFAULT 0 NOT NULL,
	"last_executed_at" timestamp with time zone,
	"template_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "automation_runs_automation_idx" ON "automation_runs" USING btree ("automation_id","started_at","id");--> statement-breakpoint
CREATE INDEX "automation_runs_fan_idx" ON "automation_runs" USING btree ("automation_id","fan_id");--> statement-breakpoint
CREATE INDEX "automation_runs_due_idx" ON "automation_runs" USING btree ("status","wake_at");--> statement-breakpoint
CREATE INDEX "automation_runs_owner_started_idx" ON "automation_runs" USING btree ("owner_id","started_at");--> statement-breakpoint
CREATE INDEX "automation_sends_fan_idx" ON "automation_sends" USING btree ("owner_id","fan_id","sent_at");--> statement-breakpoint
CREATE INDEX "automations_owner_created_idx" ON "automations" USING btree ("owner_id","created_at","id");--> statement-breakpoint
CREATE INDEX "automations_team_idx" ON "automations" USING btree ("team_id");--> statement-breakpoint
CREATE INDEX "automations_trigger_idx" ON "automations" USING btree ("status","trigger_event");