CREATE TABLE `device_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`node_id` text NOT NULL,
	`hmac_key` text NOT NULL,
	`state` text DEFAULT 'active' NOT NULL,
	`created_at` text NOT NULL,
	`expires_at` integer NOT NULL,
	`last_used_at` text,
	`revoked_at` text
);
--> statement-breakpoint
CREATE INDEX `device_sessions_node` ON `device_sessions` (`node_id`);--> statement-breakpoint
CREATE TABLE `mesh_nodes` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`hostname` text,
	`port` integer,
	`status` text DEFAULT 'offline' NOT NULL,
	`kind` text DEFAULT 'desktop' NOT NULL,
	`capabilities` text DEFAULT '[]' NOT NULL,
	`last_seen` text,
	`created_at` text NOT NULL,
	`metadata` text DEFAULT '{}' NOT NULL,
	`is_current` integer DEFAULT false NOT NULL,
	`public_key` text,
	`paired_at` text,
	`addresses` text DEFAULT '[]' NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `mesh_nodes_one_current` ON `mesh_nodes` (`is_current`) WHERE is_current = 1;--> statement-breakpoint
CREATE TABLE `pairing_codes` (
	`code` text PRIMARY KEY NOT NULL,
	`linking_code` text NOT NULL,
	`pin` text NOT NULL,
	`status` text DEFAULT 'active' NOT NULL,
	`failed_attempts` integer DEFAULT 0 NOT NULL,
	`created_at` text NOT NULL,
	`expires_at` integer NOT NULL,
	`used_by` text,
	`used_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `pairing_codes_linking_code_unique` ON `pairing_codes` (`linking_code`);--> statement-breakpoint
CREATE TABLE `peer_links` (
	`node_id` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`device_secret` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `used_nonces` (
	`session_id` text NOT NULL,
	`nonce` text NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`session_id`, `nonce`)
);
--> statement-breakpoint
CREATE INDEX `used_nonces_expiry` ON `used_nonces` (`expires_at`);