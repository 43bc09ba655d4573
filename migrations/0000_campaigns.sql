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
CREATE INDEX "campaigns_owner_created_idx" ON "campaigns" USING btree ("owner_id","created_at","id");--> statement-breakpoint
CREATE INDEX "campaigns_team_idx" ON "campaigns" USING btree ("team_id");--> statement-breakpoint
CREATE INDEX "campaigns_status_idx" ON "campaigns" USING btree ("status");--> statement-breakpoint
CREATE INDEX "campaigns_scheduled_for_idx" ON "campaigns" USING btree ("scheduled_for");