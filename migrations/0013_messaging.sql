CREATE TABLE `channels` (
	`project_id` text NOT NULL,
	`channel` text NOT NULL,
	`public` text,
	`secret` text NOT NULL,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`project_id`, `channel`)
);
--> statement-breakpoint
CREATE TABLE `message_deliveries` (
	`token` text NOT NULL,
	`installation_id` text NOT NULL,
	`state` text NOT NULL,
	`error` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`recorded` integer DEFAULT 0 NOT NULL,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`token`, `installation_id`)
);
--> statement-breakpoint
CREATE TABLE `message_pieces` (
	`token` text NOT NULL,
	`piece` integer NOT NULL,
	`done` integer DEFAULT 0 NOT NULL,
	`unreachable` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`token`, `piece`)
);
--> statement-breakpoint
CREATE TABLE `messages` (
	`token` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`group_id` text NOT NULL,
	`idempotency_key` text,
	`payload` text NOT NULL,
	`recipients` integer NOT NULL,
	`pieces` integer NOT NULL,
	`created_at` text NOT NULL,
	`expires_at` text NOT NULL,
	`completed_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `messages_idempotency_idx` ON `messages` (`project_id`,`idempotency_key`);