CREATE TABLE `device_replacements` (
	`old_id` text PRIMARY KEY NOT NULL,
	`new_id` text NOT NULL,
	`reason` text NOT NULL,
	`replaced_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `device_replacements_new_id` ON `device_replacements` (`new_id`);