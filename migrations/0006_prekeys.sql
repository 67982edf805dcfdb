CREATE TABLE `prekey_ids_taken` (
	`device_id` text NOT NULL,
	`kind` text NOT NULL,
	`id` integer NOT NULL,
	`public_sha256` text NOT NULL,
	`taken_at` integer NOT NULL,
	PRIMARY KEY(`device_id`, `kind`, `id`)
);
--> statement-breakpoint
CREATE TABLE `prekey_kem_last_resort` (
	`device_id` text PRIMARY KEY NOT NULL,
	`id` integer NOT NULL,
	`public` text NOT NULL,
	`signature` text NOT NULL,
	`published_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `prekey_kem_one_time` (
	`device_id` text NOT NULL,
	`id` integer NOT NULL,
	`public` text NOT NULL,
	`signature` text NOT NULL,
	`state` text DEFAULT 'home' NOT NULL,
	PRIMARY KEY(`device_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `prekey_kem_one_time_state` ON `prekey_kem_one_time` (`device_id`,`state`,`id`);--> statement-breakpoint
CREATE TABLE `prekey_one_time` (
	`device_id` text NOT NULL,
	`id` integer NOT NULL,
	`public` text NOT NULL,
	`state` text DEFAULT 'home' NOT NULL,
	PRIMARY KEY(`device_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `prekey_one_time_state` ON `prekey_one_time` (`device_id`,`state`,`id`);--> statement-breakpoint
CREATE TABLE `prekey_signed` (
	`device_id` text NOT NULL,
	`id` integer NOT NULL,
	`public` text NOT NULL,
	`signature` text NOT NULL,
	`published_at` integer NOT NULL,
	`retired_at` integer,
	PRIMARY KEY(`device_id`, `id`)
);
