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
CREATE INDEX `dead_letters_time_idx` ON `dead_letters` (`created_at`);