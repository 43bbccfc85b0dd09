DROP INDEX `profile_attributes_text_idx`;--> statement-breakpoint
DROP INDEX `profile_attributes_num_idx`;--> statement-breakpoint
CREATE INDEX `profile_attributes_text_idx` ON `profile_attributes` (`project_id`,`name`,`value_text`,`profile_id`);--> statement-breakpoint
CREATE INDEX `profile_attributes_num_idx` ON `profile_attributes` (`project_id`,`name`,`value_num`,`profile_id`);--> statement-breakpoint
CREATE INDEX `profiles_state_idx` ON `profiles` (`project_id`,`state`,`profile_id`);