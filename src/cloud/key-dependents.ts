// What depends on the cloud's static key (cloud.key): every node that ever logged in pinned it, and its tokens
// were granted under it. A new key while they exist would let the old tokens go on working while every node
// sees a different key, so a missing cloud.key with such data stops the start; `--reset-secrets` is the
// explicit way out, and revokes every token.
import type { CloudSql } from './db/sql.js';

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

export async function cloudKeyDependents(sql: CloudSql, now = Date.now()): Promise<CloudKeyDependents> {
  const iso = new Date(now).toISOString();
  const one = async (text: string, ...args: string[]) => (await sql.get<{ n: number }>(text, args))!.n;
  return {
    liveTokens: await one('SELECT count(*) AS n FROM auth_tokens WHERE revoked_at IS NULL AND expires_at > ?', iso),
    nodes: await one('SELECT count(DISTINCT device_id) AS n FROM auth_tokens'),
    directoryDevices: await one('SELECT count(*) AS n FROM directory_devices'),
  };
}

export const dependsOnKey = (d: CloudKeyDependents) => d.liveTokens > 0 || d.nodes > 0 || d.directoryDevices > 0;

/** Revokes every token and uses up every open handshake made under the old key. */
export async function resetCloudSecrets(sql: CloudSql, now = Date.now()): Promise<CloudSecretsResetReport> {
  const iso = new Date(now).toISOString();
  const nodes = (await cloudKeyDependents(sql, now)).nodes;
  const tokensRevoked = await sql.tx(async (tx) => {
    await tx.run('UPDATE noise_sessions SET used_at = ? WHERE used_at IS NULL', [iso]);
    return (await tx.run('UPDATE auth_tokens SET revoked_at = ? WHERE revoked_at IS NULL', [iso])).changes;
  });
  return { tokensRevoked, nodes };
}
