CREATE TABLE `external_identities` (
	`issuer` text NOT NULL,
	`subject` text NOT NULL,
	`account_id` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`issuer`, `subject`)
);
--> statement-breakpoint
CREATE TABLE `external_login_sessions` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`browser_id` text NOT NULL,
	`method` text NOT NULL,
	`status` text NOT NULL,
	`device_id` text NOT NULL,
	`node_name` text,
	`noise_session_id` text,
	`account_id` text,
	`webauthn_options` text,
	`oidc_state` text,
	`oidc_nonce` text,
	`oidc_verifier` text,
	`error` text,
	`created_at` text NOT NULL,
	`expires_at` text NOT NULL,
	`completed_at` text,
	`consumed_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `external_login_sessions_browser` ON `external_login_sessions` (`browser_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `external_login_sessions_state` ON `external_login_sessions` (`oidc_state`);--> statement-breakpoint
CREATE INDEX `external_login_sessions_expires` ON `external_login_sessions` (`status`,`expires_at`);--> statement-breakpoint
CREATE TABLE `passkey_credentials` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`public_key` text NOT NULL,
	`counter` integer NOT NULL,
	`transports` text,
	`created_at` text NOT NULL,
	`last_used_at` text
);
--> statement-breakpoint
CREATE INDEX `passkey_credentials_account` ON `passkey_credentials` (`account_id`);