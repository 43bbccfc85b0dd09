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