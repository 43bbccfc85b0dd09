ALTER TABLE `messages` ADD `pieces_done` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- A message in flight when this runs carries on from the pieces already finished.
UPDATE `messages` SET `pieces_done` = (SELECT count(*) FROM `message_pieces` WHERE `message_pieces`.`token` = `messages`.`token`);
