CREATE TABLE `apps` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`name` text NOT NULL,
	`platform` text NOT NULL,
	`sdk_key_hash` text NOT NULL,
	`created_at` text NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `apps_project_idx` ON `apps` (`project_id`);--> statement-breakpoint
CREATE TABLE `audience_members` (
	`project_id` text NOT NULL,
	`audience` text NOT NULL,
	`generation` integer NOT NULL,
	`member` text NOT NULL,
	PRIMARY KEY(`project_id`, `audience`, `generation`, `member`)
);
--> statement-breakpoint
CREATE TABLE `audiences` (
	`project_id` text NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`description` text,
	`size` integer DEFAULT 0 NOT NULL,
	`generation` integer DEFAULT 0 NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`project_id`, `name`)
);
--> statement-breakpoint
CREATE TABLE `events` (
	`project_id` text NOT NULL,
	`event_id` text NOT NULL,
	`profile_id` text NOT NULL,
	`custom_id` text,
	`installation_id` text,
	`app_id` text,
	`name` text NOT NULL,
	`time` text NOT NULL,
	`attributes` text NOT NULL,
	`source` text NOT NULL,
	`received_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `events_project_event_idx` ON `events` (`project_id`,`event_id`);--> statement-breakpoint
CREATE INDEX `events_app_time_idx` ON `events` (`app_id`,`time`);--> statement-breakpoint
CREATE TABLE `installations` (
	`project_id` text NOT NULL,
	`installation_id` text NOT NULL,
	`profile_id` text NOT NULL,
	`custom_id` text,
	`app_id` text,
	`platform` text,
	`push_optin` integer,
	`last_seen_at` text NOT NULL,
	`version` integer NOT NULL,
	PRIMARY KEY(`project_id`, `installation_id`)
);
--> statement-breakpoint
CREATE INDEX `installations_profile_idx` ON `installations` (`project_id`,`profile_id`);--> statement-breakpoint
CREATE INDEX `installations_platform_idx` ON `installations` (`project_id`,`platform`,`profile_id`);--> statement-breakpoint
CREATE INDEX `installations_push_idx` ON `installations` (`project_id`,`push_optin`,`profile_id`);--> statement-breakpoint
CREATE TABLE `profile_attributes` (
	`project_id` text NOT NULL,
	`profile_id` text NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`value_text` text,
	`value_num` real,
	`value_json` text,
	`version` integer NOT NULL,
	PRIMARY KEY(`project_id`, `profile_id`, `name`)
);
--> statement-breakpoint
CREATE INDEX `profile_attributes_text_idx` ON `profile_attributes` (`project_id`,`name`,`value_text`);--> statement-breakpoint
CREATE INDEX `profile_attributes_num_idx` ON `profile_attributes` (`project_id`,`name`,`value_num`);--> statement-breakpoint
CREATE TABLE `profiles` (
	`project_id` text NOT NULL,
	`profile_id` text NOT NULL,
	`custom_id` text,
	`state` text NOT NULL,
	`version` integer NOT NULL,
	`created_at` text NOT NULL,
	`last_activity_at` text NOT NULL,
	PRIMARY KEY(`project_id`, `profile_id`)
);
--> statement-breakpoint
CREATE INDEX `profiles_custom_id_idx` ON `profiles` (`project_id`,`custom_id`);--> statement-breakpoint
CREATE INDEX `profiles_activity_idx` ON `profiles` (`project_id`,`last_activity_at`);--> statement-breakpoint
CREATE TABLE `projects` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`inactivity_days` integer DEFAULT 390 NOT NULL,
	`rest_key_hash` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `request_chunks` (
	`request_id` text NOT NULL,
	`chunk` integer NOT NULL,
	`applied` integer NOT NULL,
	`errors` text NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`completed_at` text NOT NULL,
	PRIMARY KEY(`request_id`, `chunk`)
);
--> statement-breakpoint
CREATE TABLE `requests` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`kind` text NOT NULL,
	`total` integer NOT NULL,
	`chunks` integer NOT NULL,
	`errors` text NOT NULL,
	`failure` text,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `requests_project_idx` ON `requests` (`project_id`,`created_at`);