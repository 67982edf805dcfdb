CREATE TABLE `directory_devices` (
	`device_id` text PRIMARY KEY NOT NULL,
	`node` text NOT NULL,
	`public_key` text NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `directory_devices_node` ON `directory_devices` (`node`);--> statement-breakpoint
CREATE TABLE `relay_delivered` (
	`id` text PRIMARY KEY NOT NULL,
	`body_sha256` text NOT NULL,
	`delivered_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `relay_delivered_at` ON `relay_delivered` (`delivered_at`);--> statement-breakpoint
CREATE TABLE `relay_envelopes` (
	`id` text PRIMARY KEY NOT NULL,
	`from_node` text NOT NULL,
	`body` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `relay_queue` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`to_node` text NOT NULL,
	`kind` text NOT NULL,
	`envelope_id` text NOT NULL,
	`device_ids` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `relay_queue_kind_envelope_node` ON `relay_queue` (`kind`,`envelope_id`,`to_node`);--> statement-breakpoint
CREATE INDEX `relay_queue_node_seq` ON `relay_queue` (`to_node`,`seq`);