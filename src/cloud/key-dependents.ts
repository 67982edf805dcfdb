// What depends on the cloud's static key (cloud.key): every node that ever logged in pinned it, and its tokens
// were granted under it. A new key while they exist would let the old tokens go on working while every node
// sees a different key, so a missing cloud.key with such data stops the start; `--reset-secrets` is the
// explicit way out, and revokes every token.
import type Database from 'better-sqlite3';

export interface CloudKeyDependents {
  /** Tokens neither revoked nor expired. */
  liveTokens: number;
  /** Distinct device ids that ever got a token: they pinned the key. */
  nodes: number;
  /** Published devices in the key directory. */
  directoryDevices: number;
}

export interface CloudSecretsResetReport {
  tokensRevoked: number;
  /** Nodes that pinned the old key: they will report cloud_key_changed until their owner accepts the new one. */
  nodes: number;
}

export function cloudKeyDependents(sqlite: Database.Database, now = Date.now()): CloudKeyDependents {
  const iso = new Date(now).toISOString();
  const one = (sql: string, ...args: unknown[]) => (sqlite.prepare(sql).get(...args) as { n: number }).n;
  return {
    liveTokens: one('SELECT count(*) AS n FROM auth_tokens WHERE revoked_at IS NULL AND expires_at > ?', iso),
    nodes: one('SELECT count(DISTINCT device_id) AS n FROM auth_tokens'),
    directoryDevices: one('SELECT count(*) AS n FROM directory_devices'),
  };
}

export const dependsOnKey = (d: CloudKeyDependents) => d.liveTokens > 0 || d.nodes > 0 || d.directoryDevices > 0;

/** Revokes every token and uses up every open handshake made under the old key. */
export function resetCloudSecrets(sqlite: Database.Database, now = Date.now()): CloudSecretsResetReport {
  const iso = new Date(now).toISOString();
  const nodes = cloudKeyDependents(sqlite, now).nodes;
  const tokensRevoked = sqlite.transaction(() => {
    sqlite.prepare('UPDATE noise_sessions SET used_at = ? WHERE used_at IS NULL').run(iso);
    return sqlite.prepare('UPDATE auth_tokens SET revoked_at = ? WHERE revoked_at IS NULL').run(iso).changes;
  })();
  return { tokensRevoked, nodes };
}
