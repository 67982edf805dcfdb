CREATE TABLE `account_contacts` (
	`account_id` text NOT NULL,
	`contact_id` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`account_id`, `contact_id`)
);
--> statement-breakpoint
CREATE TABLE `contact_invites` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`node` text NOT NULL,
	`created_at` text NOT NULL,
	`expires_at` text NOT NULL,
	`used_at` text,
	`used_by` text
);
--> statement-breakpoint
CREATE INDEX `contact_invites_account` ON `contact_invites` (`account_id`);--> statement-breakpoint
CREATE INDEX `contact_invites_expires` ON `contact_invites` (`expires_at`);