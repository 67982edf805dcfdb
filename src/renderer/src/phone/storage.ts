// What the phone keeps in localStorage: its own X25519 identity (made once) and one session per desktop.
import { v7 as uuidv7 } from 'uuid';
import type { DesktopNode } from '../../../shared/wire/schemas.js';
import { newKeyPair, parseKeyPair, type StoredKeyPair } from '../common/key-pair.js';

const IDENTITY_KEY = 'salita.phone.identity.v1';
const SESSIONS_KEY = 'salita.phone.sessions.v1';
const NAME_KEY = 'salita.phone.name';

export interface PhoneIdentity {
  nodeId: string;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export interface StoredSession {
  session_id: string;
  /** base64url; re-derives the request-signing key (see shared/client/device-client.ts). */
  device_secret: string;
  expires_at: string;
  paired_at: string;
  desktop: DesktopNode;
}

function readJson<T>(key: string): T | undefined {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : undefined;
  } catch {
    return undefined;
  }
}

export function loadOrCreateIdentity(): PhoneIdentity {
  const stored = readJson<{ node_id: string } & StoredKeyPair>(IDENTITY_KEY);
  if (stored && /^phone-[0-9a-f-]{36}$/.test(stored.node_id)) {
    const pair = parseKeyPair(stored);
    if (pair) return { nodeId: stored.node_id, ...pair };
  }
  const { privateKey, publicKey, stored: keys } = newKeyPair();
  const nodeId = `phone-${uuidv7()}`;
  localStorage.setItem(IDENTITY_KEY, JSON.stringify({ node_id: nodeId, ...keys }));
  return { nodeId, privateKey, publicKey };
}

export function loadSessions(): Record<string, StoredSession> {
  return readJson<Record<string, StoredSession>>(SESSIONS_KEY) ?? {};
}

export function saveSession(s: StoredSession): void {
  const all = loadSessions();
  all[s.desktop.node_id] = s;
  localStorage.setItem(SESSIONS_KEY, JSON.stringify(all));
}

export function forgetSession(desktopNodeId: string): void {
  const all = loadSessions();
  delete all[desktopNodeId];
  localStorage.setItem(SESSIONS_KEY, JSON.stringify(all));
}

/** Where this device keeps its conversations (sent texts, opened messages). */
export const messagesStorageKey = (nodeId: string) => `salita.phone.messages.v1.${nodeId}`;

export function loadName(): string | undefined {
  return localStorage.getItem(NAME_KEY) ?? undefined;
}

export function saveName(name: string): void {
  localStorage.setItem(NAME_KEY, name);
}
