CREATE TABLE `campaign_opens` (
	`token` text NOT NULL,
	`opener` text NOT NULL,
	PRIMARY KEY(`token`, `opener`)
);
--> statement-breakpoint
CREATE TABLE `campaign_pages` (
	`token` text NOT NULL,
	`page` integer NOT NULL,
	`targeted` integer NOT NULL,
	PRIMARY KEY(`token`, `page`)
);
--> statement-breakpoint
CREATE TABLE `campaigns` (
	`token` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`name` text NOT NULL,
	`state` text NOT NULL,
	`push_time` text NOT NULL,
	`push_at` text,
	`targeting` text NOT NULL,
	`content` text NOT NULL,
	`send_rate` integer,
	`app_ids` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`started_at` text
);
--> statement-breakpoint
CREATE INDEX `campaigns_project_idx` ON `campaigns` (`project_id`,`token`);--> statement-breakpoint
CREATE INDEX `campaigns_due_idx` ON `campaigns` (`state`,`push_at`);