// Where the node keeps its data and how it listens. The Electron shell passes its own userData dir;
// headless reads --data-dir / SALITA_DATA_DIR and falls back to the per-OS data dir (see defaultDataDir).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import envPaths from 'env-paths';
import { MAX_ENVELOPE_JSON_BYTES } from '../../shared/e2ee/schema.js';

export const DEFAULT_PORT = 6969;

export interface DataDirPlaces {
  /** The OS's data dir for Salita: ~/.local/share/salita (XDG), ~/Library/Application Support/salita, %LOCALAPPDATA%\salita\Data. */
  osDataDir: string;
  /** Where every OS got its data before: $XDG_DATA_HOME/salita or ~/.local/share/salita, even on macOS and Windows. */
  legacyDataDir: string;
  exists(path: string): boolean;
}

/** The places on this machine (env-paths reads the platform on every call, the environment once at load). */
export function dataDirPlaces(env: NodeJS.ProcessEnv = process.env): DataDirPlaces {
  const xdg = env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share');
  // No suffix: the default "-nodejs" would name the dir salita-nodejs.
  return { osDataDir: envPaths('salita', { suffix: '' }).data, legacyDataDir: join(xdg, 'salita'), exists: existsSync };
}

/**
 * The headless node's data dir: SALITA_DATA_DIR, else the OS's data dir. A node that already has data in the
 * old place (~/.local/share/salita on every OS) keeps using it while the OS's dir does not exist yet, so an
 * upgrade never starts a new, empty node beside the old one.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, places: DataDirPlaces = dataDirPlaces(env)): string {
  if (env.SALITA_DATA_DIR) return env.SALITA_DATA_DIR;
  const { osDataDir, legacyDataDir, exists } = places;
  // The XDG spec says to ignore a relative XDG_DATA_HOME; env-paths does not, so fall back to the old rule.
  if (!isAbsolute(osDataDir)) return legacyDataDir;
  if (osDataDir !== legacyDataDir && exists(legacyDataDir) && !exists(osDataDir)) return legacyDataDir;
  return osDataDir;
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
  /** The server pings every device/admin WebSocket this often; one that missed the previous pong is closed. */
  wsPingIntervalMs: number;
  /**
   * How long the peer link to a home desktop may be down before envelopes for its devices go through the cloud
   * instead (when a cloud is connected and knows them). Short blips (a restart, Wi-Fi roaming) stay on the LAN.
   */
  homeFallbackMs: number;
}

export const DEFAULT_TIMINGS: NodeTimings = {
  pairingTtlMs: 120_000,
  maxPinAttempts: 5,
  offlineAfterMs: 90_000,
  heartbeatIntervalMs: 30_000,
  sessionTtlMs: 30 * 24 * 3600_000,
  signatureWindowMs: 60_000,
  wsPingIntervalMs: 30_000,
  homeFallbackMs: 15_000,
};

/** Largest JSON body the node accepts; pairing and announce bodies are a few hundred bytes. */
export const MAX_BODY_BYTES = 64 * 1024;
/** POST /api/messages carries one envelope: its largest JSON form plus the `{"envelope":…}` around it. */
export const MAX_MESSAGE_BODY_BYTES = MAX_ENVELOPE_JSON_BYTES + 1024;

/** Caps on what one caller can make the node hold (sockets, pairing codes, session rows, request rates). */
export interface NodeLimits {
  /** Concurrent device WebSockets per session; a newer one closes the oldest (close code 4429). */
  maxSocketsPerSession: number;
  /** Concurrent admin event sockets; a newer one closes the oldest (close code 4429). */
  maxAdminSockets: number;
  /** POST /auth/pair/start calls per source address per minute (429 beyond). */
  pairStartsPerMinute: number;
  /** POST /auth/pair/verify calls per source address per minute (429 beyond); the per-code PIN limit is separate. */
  pairLookupsPerMinute: number;
  /** POST /auth/pair/request calls per source address per minute (429 beyond): each may put a prompt on screen. */
  pairRequestsPerMinute: number;
  /** GET /api/peer/link upgrades per source address per minute (429 beyond); a paired desktop dials a few. */
  peerLinkUpgradesPerMinute: number;
  /** Unused, unexpired pairing codes at once; a new code expires the oldest. */
  maxLivePairingCodes: number;
  /** How long a used, locked or expired pairing code is kept so a reuse says why (then it is deleted). */
  pairingCodeKeepMs: number;
  /** Hard cap on pairing_codes rows (newest kept). */
  maxPairingCodeRows: number;
  /** How long a revoked or expired session row is kept so its device is told "revoked", not "unknown". */
  revokedSessionKeepMs: number;
  /** Session rows kept per device (node id), newest first; older ones are deleted. */
  maxSessionsPerDevice: number;
  /** Rows of sessions that are not live (revoked, expired, unconfirmed) kept in all; the oldest go first. */
  maxDeadSessionRows: number;
}

export const DEFAULT_LIMITS: NodeLimits = {
  maxSocketsPerSession: 8,
  maxAdminSockets: 16,
  pairStartsPerMinute: 30,
  pairLookupsPerMinute: 60,
  pairRequestsPerMinute: 20,
  peerLinkUpgradesPerMinute: 120,
  maxLivePairingCodes: 8,
  pairingCodeKeepMs: 3600_000,
  maxPairingCodeRows: 200,
  revokedSessionKeepMs: 7 * 24 * 3600_000,
  maxSessionsPerDevice: 4,
  maxDeadSessionRows: 1000,
};
