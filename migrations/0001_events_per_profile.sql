DROP INDEX `events_project_event_idx`;--> statement-breakpoint
CREATE UNIQUE INDEX `events_profile_event_idx` ON `events` (`project_id`,`profile_id`,`event_id`);