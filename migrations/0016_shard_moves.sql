CREATE TABLE `shard_moves` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`from_shard` text NOT NULL,
	`to_shard` text NOT NULL,
	`phase` text NOT NULL,
	`cursor` text,
	`status` text NOT NULL,
	`error` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `shard_moves_project_idx` ON `shard_moves` (`project_id`,`status`);