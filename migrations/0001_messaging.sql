CREATE TABLE `inbox` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`envelope_id` text NOT NULL,
	`to_device` text NOT NULL,
	`body` text NOT NULL,
	`received_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `inbox_envelope_device` ON `inbox` (`envelope_id`,`to_device`);--> statement-breakpoint
CREATE INDEX `inbox_device_seq` ON `inbox` (`to_device`,`seq`);--> statement-breakpoint
CREATE TABLE `outbox` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`envelope_id` text NOT NULL,
	`from_device` text NOT NULL,
	`body` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `outbox_envelope_id_unique` ON `outbox` (`envelope_id`);--> statement-breakpoint
CREATE TABLE `sent_messages` (
	`envelope_id` text PRIMARY KEY NOT NULL,
	`from_device` text NOT NULL,
	`to` text NOT NULL,
	`body_hash` text NOT NULL,
	`status` text DEFAULT 'queued' NOT NULL,
	`error` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `sent_messages_from` ON `sent_messages` (`from_device`,`created_at`);--> statement-breakpoint
CREATE INDEX `sent_messages_updated` ON `sent_messages` (`updated_at`);--> statement-breakpoint
CREATE TABLE `ui_device` (
	`device_id` text PRIMARY KEY NOT NULL,
	`public_key` text NOT NULL,
	`updated_at` text NOT NULL
);
