ALTER TABLE `projects` ADD `signing_secret` text;--> statement-breakpoint
ALTER TABLE `projects` ADD `signing_secret_rotated_at` text;