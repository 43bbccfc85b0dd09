CREATE TABLE `erasure_steps` (
	`request_id` text NOT NULL,
	`step` text NOT NULL,
	`detail` text NOT NULL,
	`at` text NOT NULL,
	PRIMARY KEY(`request_id`, `step`)
);
--> statement-breakpoint
CREATE TABLE `privacy_requests` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`type` text NOT NULL,
	`identifier_type` text NOT NULL,
	`identifier_value` text NOT NULL,
	`callback_url` text,
	`status` text NOT NULL,
	`error` text,
	`archive_key` text,
	`receipt` text,
	`created_at` text NOT NULL,
	`completed_at` text,
	`callback_state` text,
	`callback_attempts` integer DEFAULT 0 NOT NULL,
	`callback_error` text
);
--> statement-breakpoint
CREATE INDEX `privacy_requests_project_idx` ON `privacy_requests` (`project_id`,`created_at`);--> statement-breakpoint
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