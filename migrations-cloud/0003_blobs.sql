CREATE TABLE `cloud_blob_deliveries` (
	`sha256` text NOT NULL,
	`to_node` text NOT NULL,
	`from_node` text NOT NULL,
	`ref` text NOT NULL,
	`from_device` text NOT NULL,
	`devices` text NOT NULL,
	`created_at` text NOT NULL,
	`received_at` text,
	PRIMARY KEY(`sha256`, `to_node`, `from_node`, `ref`)
);
--> statement-breakpoint
CREATE INDEX `cloud_blob_deliveries_to` ON `cloud_blob_deliveries` (`to_node`,`received_at`);--> statement-breakpoint
CREATE TABLE `cloud_blob_uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`node` text NOT NULL,
	`sha256` text NOT NULL,
	`size` integer NOT NULL,
	`recipients` text NOT NULL,
	`ref` text NOT NULL,
	`from_device` text NOT NULL,
	`created_at` text NOT NULL,
	`completed_at` text
);
--> statement-breakpoint
CREATE INDEX `cloud_blob_uploads_node` ON `cloud_blob_uploads` (`node`);--> statement-breakpoint
CREATE INDEX `cloud_blob_uploads_created` ON `cloud_blob_uploads` (`created_at`);--> statement-breakpoint
CREATE TABLE `cloud_blobs` (
	`sha256` text PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`uploader` text NOT NULL,
	`completed_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `cloud_blobs_uploader` ON `cloud_blobs` (`uploader`);--> statement-breakpoint
CREATE INDEX `cloud_blobs_completed` ON `cloud_blobs` (`completed_at`);