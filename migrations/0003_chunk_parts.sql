CREATE TABLE `chunk_parts` (
	`request_id` text NOT NULL,
	`chunk` integer NOT NULL,
	`part` integer NOT NULL,
	`items` text NOT NULL,
	PRIMARY KEY(`request_id`, `chunk`, `part`)
);
