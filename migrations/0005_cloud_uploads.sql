CREATE TABLE `blob_cloud_uploads` (
	`blob_id` text PRIMARY KEY NOT NULL,
	`upload_url` text NOT NULL,
	`updated_at` integer NOT NULL
);
