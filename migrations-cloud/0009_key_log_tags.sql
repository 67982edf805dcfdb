ALTER TABLE `key_log` ADD `tag` text;--> statement-breakpoint
ALTER TABLE `key_log` ADD `content_hash` text;