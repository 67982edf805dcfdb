CREATE TABLE `blob_recipients` (
	`blob_id` text NOT NULL,
	`device_id` text NOT NULL,
	`route` text NOT NULL,
	`node_id` text,
	`state` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`blob_id`, `device_id`)
);
--> statement-breakpoint
CREATE INDEX `blob_recipients_route` ON `blob_recipients` (`route`,`state`);--> statement-breakpoint
CREATE TABLE `blobs` (
	`id` text PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`from_device` text NOT NULL,
	`origin` text NOT NULL,
	`origin_node` text,
	`ciphertext_sha256` text,
	`created_at` integer NOT NULL,
	`completed_at` integer
);
