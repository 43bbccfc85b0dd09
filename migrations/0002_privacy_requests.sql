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
CREATE INDEX `privacy_requests_project_idx` ON `privacy_requests` (`project_id`,`created_at`);