CREATE TABLE `export_files` (
	`project_id` text NOT NULL,
	`app_id` text NOT NULL,
	`kind` text NOT NULL,
	`date` text NOT NULL,
	`rows` integer NOT NULL,
	`bytes` integer NOT NULL,
	`sha256` text NOT NULL,
	`job` text NOT NULL,
	`written_at` text NOT NULL,
	PRIMARY KEY(`project_id`, `app_id`, `kind`, `date`)
);
--> statement-breakpoint
CREATE INDEX `export_files_date_idx` ON `export_files` (`project_id`,`date`);--> statement-breakpoint
CREATE TABLE `export_hours` (
	`job` text NOT NULL,
	`app_id` text NOT NULL,
	`hour` integer NOT NULL,
	PRIMARY KEY(`job`, `app_id`, `hour`)
);
--> statement-breakpoint
ALTER TABLE `requests` ADD `result` text;--> statement-breakpoint
CREATE INDEX `installations_app_seen_idx` ON `installations` (`project_id`,`app_id`,`last_seen_at`,`installation_id`);