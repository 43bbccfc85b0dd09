CREATE TABLE `directory_epoch` (
	`id` integer PRIMARY KEY NOT NULL,
	`epoch` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `project_shards` (
	`project_id` text NOT NULL,
	`position` integer NOT NULL,
	`shard` text NOT NULL,
	PRIMARY KEY(`project_id`, `position`)
);
--> statement-breakpoint
CREATE INDEX `project_shards_shard_idx` ON `project_shards` (`shard`);--> statement-breakpoint
INSERT INTO `directory_epoch` (`id`, `epoch`) VALUES (0, 0);
--> statement-breakpoint
-- Projects made before shards: their projection rows are in DB, which PROJECTION_0 names too.
INSERT INTO `project_shards` (`project_id`, `position`, `shard`) SELECT `id`, 0, 'PROJECTION_0' FROM `projects`;
