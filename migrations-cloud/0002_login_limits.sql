CREATE TABLE `login_failures` (
	`scope` text NOT NULL,
	`key` text NOT NULL,
	`failures` integer NOT NULL,
	`window_started_at` text NOT NULL,
	`locked_until` text,
	`lockouts` integer DEFAULT 0 NOT NULL,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`scope`, `key`)
);
--> statement-breakpoint
CREATE INDEX `login_failures_updated` ON `login_failures` (`updated_at`);--> statement-breakpoint
CREATE INDEX `noise_sessions_expires` ON `noise_sessions` (`expires_at`);--> statement-breakpoint
CREATE INDEX `otp_challenges_device` ON `otp_challenges` (`device_id`);--> statement-breakpoint
CREATE INDEX `otp_challenges_expires` ON `otp_challenges` (`expires_at`);