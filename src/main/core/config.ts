// Where the node keeps its data and how it listens. The Electron shell passes its own userData dir;
// headless reads --data-dir / SALITA_DATA_DIR and falls back to the XDG data home.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MAX_ENVELOPE_JSON_BYTES } from '../../shared/e2ee/schema.js';

export const DEFAULT_PORT = 6969;

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SALITA_DATA_DIR) return env.SALITA_DATA_DIR;
  const xdg = env.XDG_DATA_HOME && env.XDG_DATA_HOME.startsWith('/') ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share');
  return join(xdg, 'salita');
}

export interface NodeTimings {
  /** How long a pairing code stays valid. */
  pairingTtlMs: number;
  /** Wrong PINs allowed before a code is burned. */
  maxPinAttempts: number;
  /** A peer not heard from for this long shows as offline. */
  offlineAfterMs: number;
  /** How often this node heartbeats the desktops it holds a session with. */
  heartbeatIntervalMs: number;
  /** Lifetime of a device session. */
  sessionTtlMs: number;
  /** Signed requests: how far X-Timestamp may be from this node's clock, either way. */
  signatureWindowMs: number;
}

export const DEFAULT_TIMINGS: NodeTimings = {
  pairingTtlMs: 120_000,
  maxPinAttempts: 5,
  offlineAfterMs: 90_000,
  heartbeatIntervalMs: 30_000,
  sessionTtlMs: 30 * 24 * 3600_000,
  signatureWindowMs: 60_000,
};

/** Largest JSON body the node accepts; pairing and announce bodies are a few hundred bytes. */
export const MAX_BODY_BYTES = 64 * 1024;
/** POST /api/messages carries one envelope: its largest JSON form plus the `{"envelope":…}` around it. */
export const MAX_MESSAGE_BODY_BYTES = MAX_ENVELOPE_JSON_BYTES + 1024;
