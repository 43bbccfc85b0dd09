CREATE TABLE `projected_checks` (
	`check_id` text PRIMARY KEY NOT NULL,
	`created_at` text NOT NULL
);
