CREATE TABLE `account_nodes` (
	`node` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`name` text,
	`joined_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `account_nodes_account` ON `account_nodes` (`account_id`);--> statement-breakpoint
CREATE TABLE `accounts` (
	`id` text PRIMARY KEY NOT NULL,
	`email` text,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `accounts_email_unique` ON `accounts` (`email`);--> statement-breakpoint
ALTER TABLE `otp_challenges` ADD `email` text;--> statement-breakpoint
ALTER TABLE `otp_challenges` ADD `source` text;--> statement-breakpoint
ALTER TABLE `otp_challenges` ADD `name` text;--> statement-breakpoint
CREATE INDEX `otp_challenges_email` ON `otp_challenges` (`email`,`created_at`);--> statement-breakpoint
CREATE INDEX `otp_challenges_source` ON `otp_challenges` (`source`,`created_at`);--> statement-breakpoint
-- A cloud that had nodes before accounts keeps them working: they form the legacy household, and the device-id
-- login that made them stays allowed until the operator turns it off (docs/cloud.md "Accounts").
INSERT INTO `accounts` (`id`, `email`, `created_at`)
  SELECT 'legacy', NULL, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
  WHERE EXISTS (SELECT 1 FROM `auth_tokens`) OR EXISTS (SELECT 1 FROM `directory_devices`);--> statement-breakpoint
INSERT INTO `account_nodes` (`node`, `account_id`, `name`, `joined_at`)
  SELECT DISTINCT `node`, 'legacy', NULL, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM (
    SELECT `device_id` AS `node` FROM `auth_tokens` UNION SELECT `node` FROM `directory_devices`
  ) WHERE EXISTS (SELECT 1 FROM `accounts` WHERE `id` = 'legacy');--> statement-breakpoint
INSERT INTO `feature_flags` (`name`, `enabled`, `updated_at`)
  SELECT 'legacy_device_login', 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
  WHERE EXISTS (SELECT 1 FROM `accounts` WHERE `id` = 'legacy')
  ON CONFLICT (`name`) DO NOTHING;
