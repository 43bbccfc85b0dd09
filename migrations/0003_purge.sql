CREATE TABLE `purge_jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`as_of` text NOT NULL,
	`dry_run` integer NOT NULL,
	`origin` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `purge_pages` (
	`job_id` text NOT NULL,
	`page` text NOT NULL,
	`done` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`job_id`, `page`)
);
--> statement-breakpoint
CREATE TABLE `purge_results` (
	`job_id` text NOT NULL,
	`project_id` text NOT NULL,
	`profile_id` text NOT NULL,
	`kind` text NOT NULL,
	`outcome` text NOT NULL,
	`detail` text NOT NULL,
	PRIMARY KEY(`job_id`, `profile_id`)
);
--> statement-breakpoint
ALTER TABLE `profiles` ADD `holder_kind` text;--> statement-breakpoint
ALTER TABLE `profiles` ADD `holder_id` text;