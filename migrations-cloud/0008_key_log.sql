CREATE TABLE `key_log` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`device_id` text NOT NULL,
	`leaf` text NOT NULL,
	`leaf_hash` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `key_log_device` ON `key_log` (`device_id`,`seq`);