DROP INDEX `installations_push_idx`;--> statement-breakpoint
CREATE INDEX `installations_push_idx` ON `installations` (`project_id`,`profile_id`) WHERE "installations"."push_optin" = 1;--> statement-breakpoint
DROP INDEX `profiles_custom_id_idx`;--> statement-breakpoint
CREATE INDEX `profiles_custom_id_idx` ON `profiles` (`project_id`,`custom_id`) WHERE "profiles"."custom_id" IS NOT NULL;