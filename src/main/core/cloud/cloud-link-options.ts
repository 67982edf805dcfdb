// The cloud link's tuning, shared by its parts (session, relay transport, directory). Tests and node.ts pass a
// partial set; the rest comes from DEFAULT_CLOUD_LINK_OPTIONS.
import { EXTERNAL_POLL_MS } from '../../../shared/wire/external-login.js';
import { type BackoffOptions, DEFAULT_BACKOFF } from './backoff.js';

export interface CloudLinkOptions {
  backoff: BackoffOptions;
  /** Most envelopes sent and not yet accepted/rejected. */
  window: number;
  /** How often the key directory is fetched again while connected (the cloud does not push changes). */
  directoryRefreshMs: number;
  /** Shortest gap between two fetches asked for on demand (requestDirectoryRefresh, unknown_recipient). */
  minDirectoryRefreshMs: number;
  pingIntervalMs: number;
  helloTimeoutMs: number;
  /** Gives up on a Noise handshake that takes longer. */
  handshakeTimeoutMs: number;
  /** After a failed token refresh (cloud unreachable, say), the next try. */
  tokenRefreshRetryMs: number;
  /**
   * Delays of our own retries while connected: publishing keys after a failed PUT, the resend of an envelope
   * the cloud refused as sender_not_published, and the directory fetch after a failed one.
   */
  retryBackoff: BackoffOptions;
  /** An envelope refused as sender_not_published this many times more (each after a publish) fails for good. */
  maxNotPublishedResends: number;
  /** How often a browser sign-in is polled where its socket cannot be used (EXTERNAL_POLL_MS). */
  externalPollMs: number;
  /** Tests: hear the browser sign-in by polling only (no socket). */
  externalNoSocket: boolean;
}

export const DEFAULT_CLOUD_LINK_OPTIONS: CloudLinkOptions = {
  backoff: DEFAULT_BACKOFF,
  window: 256,
  directoryRefreshMs: 10_000,
  minDirectoryRefreshMs: 1_000,
  pingIntervalMs: 30_000,
  helloTimeoutMs: 15_000,
  handshakeTimeoutMs: 15_000,
  tokenRefreshRetryMs: 5 * 60_000,
  retryBackoff: { baseMs: 1_000, capMs: 5 * 60_000, jitterFloor: 0.5 },
  maxNotPublishedResends: 5,
  externalPollMs: EXTERNAL_POLL_MS,
  externalNoSocket: false,
};
