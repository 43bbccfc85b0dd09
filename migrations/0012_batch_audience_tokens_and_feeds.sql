CREATE TABLE `audience_feed_runs` (
	`run_id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`name` text NOT NULL,
	`file` text NOT NULL,
	`lines` integer DEFAULT 0 NOT NULL,
	`ids` integer DEFAULT 0 NOT NULL,
	`rejected` integer DEFAULT 0 NOT NULL,
	`status` text NOT NULL,
	`reason` text,
	`started_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audience_feed_runs_by_feed` ON `audience_feed_runs` (`project_id`,`name`,`run_id`);--> statement-breakpoint
CREATE TABLE `audience_feeds` (
	`project_id` text NOT NULL,
	`name` text NOT NULL,
	`header` integer NOT NULL,
	`delimiter` text NOT NULL,
	`column` text NOT NULL,
	`type` text NOT NULL,
	`mode` text NOT NULL,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`project_id`, `name`)
);
--> statement-breakpoint
CREATE TABLE `audience_tokens` (
	`token` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`audience` text NOT NULL,
	`kind` text NOT NULL,
	`state` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audience_tokens_by_audience` ON `audience_tokens` (`project_id`,`audience`,`token`);