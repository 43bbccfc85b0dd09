CREATE TABLE `profile_attribute_items` (
	`project_id` text NOT NULL,
	`profile_id` text NOT NULL,
	`name` text NOT NULL,
	`item` text NOT NULL,
	`version` integer NOT NULL,
	PRIMARY KEY(`project_id`, `profile_id`, `name`, `item`)
);
--> statement-breakpoint
CREATE INDEX `profile_attribute_items_item_idx` ON `profile_attribute_items` (`project_id`,`name`,`item`,`profile_id`);
--> statement-breakpoint
-- Arrays projected before this table existed: one row per item, at the attribute's version.
INSERT OR IGNORE INTO `profile_attribute_items` (`project_id`, `profile_id`, `name`, `item`, `version`)
SELECT a.`project_id`, a.`profile_id`, a.`name`, j.`value`, a.`version`
FROM `profile_attributes` a, json_each(a.`value_json`) j
WHERE a.`value_json` IS NOT NULL AND j.`type` = 'text';
