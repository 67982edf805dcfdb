CREATE TABLE `relay_presence` (
	`node` text PRIMARY KEY NOT NULL,
	`instance` text NOT NULL,
	`generation` integer NOT NULL,
	`connected_at` text NOT NULL
);
