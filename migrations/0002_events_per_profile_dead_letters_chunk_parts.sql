CREATE TABLE `chunk_parts` (
	`request_id` text NOT NULL,
	`chunk` integer NOT NULL,
	`part` integer NOT NULL,
	`items` text NOT NULL,
	PRIMARY KEY(`request_id`, `chunk`, `part`)
);
--> statement-breakpoint
CREATE TABLE `dead_letters` (
	`queue` text NOT NULL,
	`message_id` text NOT NULL,
	`project_id` text,
	`outcome` text NOT NULL,
	`error` text,
	`body` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`queue`, `message_id`)
);
--> statement-breakpoint
CREATE INDEX `dead_letters_time_idx` ON `dead_letters` (`created_at`);--> statement-breakpoint
DROP INDEX `events_project_event_idx`;--> statement-breakpoint
CREATE UNIQUE INDEX `events_profile_event_idx` ON `events` (`project_id`,`profile_id`,`event_id`);