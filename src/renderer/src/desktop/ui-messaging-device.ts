// The desktop UI as a messaging device of its own (device id `<node_id>.ui`): its X25519 key pair is made once
// and stays in this page's localStorage; the node learns only the public key (PUT /api/admin/messages/device).
// Messages then go through the admin API with the admin token; pushes arrive on the admin event socket.
import { ApiFailure } from '../../../shared/client/api-client.js';
import { MessagingClient, type MessagingTransport } from '../../../shared/client/messaging-client.js';
import { toBase64Url } from '../../../shared/encoding.js';
import { NODE_ENDPOINTS } from '../../../shared/wire/node-endpoints.js';
import { newKeyPair, parseKeyPair, type StoredKeyPair } from '../common/key-pair.js';
import { openPageSessions } from '../common/messages/page-sessions.js';
import type { Desktop } from './desktop-store.js';

const KEY_PAIR_KEY = 'salita.desktop.ui-device.v1';
export const UI_MESSAGES_BASE = '/api/admin/messages';

function loadOrCreateKeyPair() {
  let stored: Partial<StoredKeyPair> | undefined;
  try {
    stored = JSON.parse(localStorage.getItem(KEY_PAIR_KEY) ?? 'null') ?? undefined;
  } catch {
    stored = undefined;
  }
  const pair = parseKeyPair(stored);
  if (pair) return pair;
  const fresh = newKeyPair();
  localStorage.setItem(KEY_PAIR_KEY, JSON.stringify(fresh.stored));
  return fresh;
}

/**
 * The admin messaging routes (the device API's bodies under /api/admin/messages) as a MessagingTransport: an
 * HTTP error comes back as status + body; no answer at all throws fetch's TypeError (what "the node cannot be
 * reached" looks like to the session).
 */
function adminTransport(desktop: Desktop): MessagingTransport {
  return {
    async request<T>(method: string, pathWithQuery: string, body?: unknown) {
      const res = await fetch(pathWithQuery, {
        method,
        headers: {
          authorization: `Admin ${desktop.currentToken}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        cache: 'no-store',
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: res.status, body: json as T };
    },
  };
}

export type UiDevice = { ok: true; deviceId: string; client: MessagingClient } | { ok: false; text: string };

/** Registers this page's key with the node; says in words why not when the node has no messaging API. */
export async function registerUiDevice(desktop: Desktop): Promise<UiDevice> {
  const keys = loadOrCreateKeyPair();
  try {
    const { device_id } = await desktop.client.call(NODE_ENDPOINTS.uiMessagingDevice, {
      body: { public_key: toBase64Url(keys.publicKey) },
    });
    return {
      ok: true,
      deviceId: device_id,
      client: new MessagingClient(adminTransport(desktop), { device_id, ...keys }, UI_MESSAGES_BASE, openPageSessions(device_id, keys)),
    };
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 404) return { ok: false, text: 'This node cannot carry messages yet.' };
    return { ok: false, text: `Messages are not available: ${err instanceof Error ? err.message : String(err)}` };
  }
}
