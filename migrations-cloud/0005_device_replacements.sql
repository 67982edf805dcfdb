CREATE TABLE `device_id_origins` (
	`device_id` text PRIMARY KEY NOT NULL,
	`node` text NOT NULL,
	`first_published_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `device_replacements` (
	`device_id` text PRIMARY KEY NOT NULL,
	`node` text NOT NULL,
	`replaces` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `device_replacements_node` ON `device_replacements` (`node`);--> statement-breakpoint
-- Devices published before this migration: their node is their origin.
INSERT OR IGNORE INTO `device_id_origins` (`device_id`, `node`, `first_published_at`) SELECT `device_id`, `node`, `updated_at` FROM `directory_devices`;
