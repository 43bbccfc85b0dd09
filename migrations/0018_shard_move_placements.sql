ALTER TABLE `shard_moves` ADD `from_shards` text;--> statement-breakpoint
ALTER TABLE `shard_moves` ADD `to_shards` text;