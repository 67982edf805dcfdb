CREATE TABLE `cloud_prekey_ids_taken` (
	`device_id` text NOT NULL,
	`kind` text NOT NULL,
	`id` integer NOT NULL,
	`public_sha256` text NOT NULL,
	`taken_at` text NOT NULL,
	PRIMARY KEY(`device_id`, `kind`, `id`)
);
--> statement-breakpoint
CREATE TABLE `cloud_prekey_kem_last_resort` (
	`device_id` text PRIMARY KEY NOT NULL,
	`id` integer NOT NULL,
	`public` text NOT NULL,
	`signature` text NOT NULL,
	`published_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `cloud_prekey_kem_one_time` (
	`device_id` text NOT NULL,
	`id` integer NOT NULL,
	`public` text NOT NULL,
	`signature` text NOT NULL,
	PRIMARY KEY(`device_id`, `id`)
);
--> statement-breakpoint
CREATE TABLE `cloud_prekey_one_time` (
	`device_id` text NOT NULL,
	`id` integer NOT NULL,
	`public` text NOT NULL,
	PRIMARY KEY(`device_id`, `id`)
);
--> statement-breakpoint
CREATE TABLE `cloud_prekey_signed` (
	`device_id` text NOT NULL,
	`id` integer NOT NULL,
	`public` text NOT NULL,
	`signature` text NOT NULL,
	`published_at` text NOT NULL,
	`retired_at` text,
	PRIMARY KEY(`device_id`, `id`)
);
