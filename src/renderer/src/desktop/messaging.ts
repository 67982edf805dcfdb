// The desktop UI as a messaging device of its own (device id `<node_id>.ui`): its X25519 key pair is made once
// and stays in this page's localStorage; the node learns only the public key (PUT /api/admin/messages/device).
// Messages go through the admin API with the admin token; pushes arrive on the admin event socket.
import { MessagingClient, type MessagingTransport } from '../../../shared/client/messaging-client.js';
import { toBase64Url } from '../../../shared/encoding.js';
import { Conversations } from '../common/conversation.js';
import { h } from '../common/dom.js';
import { newKeyPair, parseKeyPair, type StoredKeyPair } from '../common/key-pair.js';
import { MessagesView } from '../common/messages-view.js';
import { type AdminApi, ApiFailure } from './api.js';

const KEY_PAIR_KEY = 'salita.desktop.ui-device.v1';
/**
 * State pushes bring most directory changes; this catches the rest (devices of other homes, which the node
 * learns from the cloud's directory without a push). Loopback and cheap.
 */
const DIRECTORY_POLL_MS = 10_000;

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

/** The admin API as a MessagingTransport: an HTTP error comes back as a status + body, not as a throw. */
function adminTransport(api: () => AdminApi): MessagingTransport {
  return {
    async request<T>(method: string, pathWithQuery: string, body?: unknown) {
      try {
        return { status: 200, body: await api().call<T>(method, pathWithQuery, body) };
      } catch (err) {
        if (err instanceof ApiFailure && err.status > 0)
          return { status: err.status, body: (err.body ?? { error: err.code, message: err.message }) as T };
        throw err;
      }
    },
  };
}

/**
 * Registers this page's key with the node and builds the Messages section in `root`. Resolves to the view
 * (hand it the admin pushes), or undefined when the node has no messaging API (then the section says so).
 */
export async function startDesktopMessaging(api: () => AdminApi, root: HTMLElement): Promise<MessagesView | undefined> {
  const keys = loadOrCreateKeyPair();
  let deviceId: string;
  try {
    deviceId = (await api().call<{ device_id: string }>('PUT', '/api/admin/messages/device', { public_key: toBase64Url(keys.publicKey) }))
      .device_id;
  } catch (err) {
    const text =
      err instanceof ApiFailure && err.status === 404
        ? 'This node cannot carry messages yet.'
        : `Messages are not available: ${err instanceof Error ? err.message : String(err)}`;
    root.replaceChildren(h('h2', {}, 'Messages'), h('p', { class: 'hint', 'data-testid': 'messages-unavailable' }, text));
    root.dataset.unavailable = 'true';
    return undefined;
  }
  const client = new MessagingClient(adminTransport(api), { device_id: deviceId, ...keys }, '/api/admin/messages');
  const view = new MessagesView({
    client,
    conversations: new Conversations(`salita.desktop.messages.v1.${deviceId}`),
    root,
    place: 'desktop',
  });
  root.dataset.deviceId = deviceId;
  await view.refreshAll();
  view.keepDirectoryFresh(DIRECTORY_POLL_MS);
  return view;
}
