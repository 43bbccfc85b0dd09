CREATE TABLE `webhook_outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`items` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
ALTER TABLE `privacy_requests` ADD `archive_deleted_at` text;--> statement-breakpoint
ALTER TABLE `projects` ADD `export_retention_days` integer DEFAULT 30 NOT NULL;