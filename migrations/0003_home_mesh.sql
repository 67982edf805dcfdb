CREATE TABLE `home_devices` (
	`device_id` text PRIMARY KEY NOT NULL,
	`node_id` text NOT NULL,
	`public_key` text NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `home_devices_node` ON `home_devices` (`node_id`);--> statement-breakpoint
CREATE TABLE `peer_unpair_notices` (
	`node_id` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`secret` text NOT NULL,
	`public_key` text NOT NULL,
	`port` integer,
	`addresses` text DEFAULT '[]' NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `sent_recipients` (
	`envelope_id` text NOT NULL,
	`device_id` text NOT NULL,
	`destination` text NOT NULL,
	`status` text DEFAULT 'queued' NOT NULL,
	`route` text,
	`error` text,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`envelope_id`, `device_id`)
);
--> statement-breakpoint
CREATE INDEX `sent_recipients_destination` ON `sent_recipients` (`destination`,`status`);--> statement-breakpoint
DROP INDEX `outbox_envelope_id_unique`;--> statement-breakpoint
ALTER TABLE `outbox` ADD `destination` text DEFAULT 'cloud' NOT NULL;--> statement-breakpoint
ALTER TABLE `outbox` ADD `kind` text DEFAULT 'envelope' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `outbox_envelope_destination` ON `outbox` (`envelope_id`,`destination`,`kind`);--> statement-breakpoint
CREATE INDEX `outbox_destination_seq` ON `outbox` (`destination`,`seq`);--> statement-breakpoint
ALTER TABLE `inbox` ADD `from_device` text;--> statement-breakpoint
ALTER TABLE `inbox` ADD `origin` text;--> statement-breakpoint
ALTER TABLE `mesh_nodes` ADD `ended_by_peer_at` text;--> statement-breakpoint
ALTER TABLE `sent_messages` ADD `route` text;--> statement-breakpoint
-- Before this migration every envelope went by the cloud: one recipient row per `to` device, with the status
-- the message had, and the inbox rows came from the cloud.
INSERT INTO `sent_recipients` (`envelope_id`, `device_id`, `destination`, `status`, `route`, `updated_at`)
  SELECT s.`envelope_id`, j.value, 'cloud', s.`status`, CASE WHEN s.`status` IN ('sent', 'delivered') THEN 'cloud' END, s.`updated_at`
  FROM `sent_messages` s, json_each(s.`to`) j;--> statement-breakpoint
UPDATE `sent_messages` SET `route` = 'cloud' WHERE `status` IN ('sent', 'delivered');--> statement-breakpoint
UPDATE `inbox` SET `origin` = 'cloud', `from_device` = CASE WHEN `body` <> '' THEN json_extract(`body`, '$.from_device') END WHERE `origin` IS NULL;
