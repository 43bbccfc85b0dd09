-- D1 keeps the attributes of active profiles only (src/projection/statements.ts, `searchable`):
-- those of orphaned (and any removed) profiles go, so a segment counts one attribute condition
-- from its index alone.
DELETE FROM `profile_attributes` WHERE (`project_id`, `profile_id`) IN (
  SELECT `project_id`, `profile_id` FROM `profiles` WHERE `state` <> 'active'
);
--> statement-breakpoint
DELETE FROM `profile_attribute_items` WHERE (`project_id`, `profile_id`) IN (
  SELECT `project_id`, `profile_id` FROM `profiles` WHERE `state` <> 'active'
);
