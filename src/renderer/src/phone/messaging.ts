// The phone's Messages section after pairing: the phone is a messaging device with its pairing key pair
// (device id = its node_id), talks to its desktop with signed requests (DeviceClient), and hears about new
// messages and status changes on the device WebSocket (/api/device/events). While that socket is down the
// Messages section says the desktop is offline. The same socket says how the desktop is now (its first `hello`
// frame, a `node` frame on a rename): those go to onDesktop, so the page's heading follows a rename.
import type { DeviceClient } from '../../../shared/client/device-client.js';
import { MessagingClient } from '../../../shared/client/messaging-client.js';
import { DeviceDesktopFrame } from '../../../shared/wire/device-events.js';
import type { DesktopNode } from '../../../shared/wire/schemas.js';
import { Conversations } from '../common/conversation.js';
import { type FileEndpoint, FileTransfers } from '../common/files/file-transfers.js';
import { MessagingSession } from '../common/messages/messaging-session.js';
import { mountMessages } from '../common/messages/mount-messages.js';
import { openPageSessions } from '../common/messages/page-sessions.js';
import { keepUnreadInTitle } from '../common/messages/unread-title.js';
import { TrustBook } from '../common/trust/trust-book.js';
import { loadOrCreateIdentity, messagesStorageKey } from './storage.js';

const RETRY_MAX_MS = 30_000;
/** How often the directory is asked for again while the page is visible (MessagingSession.keepDirectoryFresh). */
const DIRECTORY_POLL_MS = 10_000;

export interface PhoneMessaging {
  stop(): void;
}

/** The phone's files go to and come from its desktop with signed requests, as every other request of the phone. */
function phoneFiles(device: DeviceClient): FileEndpoint {
  return {
    baseUrl: location.origin,
    path: '/api/files',
    auth: { headers: (method, path, digest) => device.signedHeaders(method, path, digest) },
    received: (blobId) => device.request('POST', `/api/files/${encodeURIComponent(blobId)}/received`),
  };
}

export function startPhoneMessaging(device: DeviceClient, root: HTMLElement, onDesktop: (desktop: DesktopNode) => void): PhoneMessaging {
  const me = loadOrCreateIdentity();
  const keys = { privateKey: me.privateKey, publicKey: me.publicKey };
  const client = new MessagingClient(device, { device_id: me.nodeId, ...keys }, '/api/messages', openPageSessions(me.nodeId, keys));
  const view = new MessagingSession(
    client,
    new Conversations(messagesStorageKey(me.nodeId)),
    new FileTransfers(phoneFiles(device)),
    new TrustBook(`salita.phone.trust.v1.${me.nodeId}`),
  );
  let unread = 0;
  const title = keepUnreadInTitle(() => unread);
  const unmount = mountMessages(root, {
    session: view,
    place: 'phone',
    onUnreadTotal: (n) => {
      unread = n;
      title.update();
    },
  });
  root.hidden = false;
  void view.refreshAll();
  const stopPolling = view.keepDirectoryFresh(DIRECTORY_POLL_MS, () => device.hasSession);

  let ws: WebSocket | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  let stopped = false;
  const listen = () => {
    if (stopped || !device.hasSession) return;
    // A fresh signed URL each time: the signature carries a timestamp and a single-use nonce.
    const socket = new WebSocket(device.webSocketUrl('/api/device/events'));
    ws = socket;
    socket.onopen = () => {
      view.setLinkUp(true);
      // Anything pushed while the socket was down is caught up by asking again.
      if (failures > 0) void view.refreshAll();
      failures = 0;
    };
    socket.onmessage = (m) => {
      let frame: unknown;
      try {
        frame = JSON.parse(String(m.data));
      } catch {
        return; // not JSON: ignored
      }
      // `hello` after every (re)connect carries the desktop as it is now: a rename while the phone was away too.
      const desktop = DeviceDesktopFrame.safeParse(frame);
      if (desktop.success) onDesktop(desktop.data.desktop_node);
      else view.onPush(frame as Parameters<MessagingSession['onPush']>[0]);
    };
    socket.onclose = () => {
      if (ws !== socket || stopped) return;
      view.setLinkUp(false);
      failures++;
      timer = setTimeout(listen, Math.min(RETRY_MAX_MS, 500 * 2 ** Math.min(failures, 6)));
    };
  };
  listen();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      stopPolling();
      ws?.close();
      unmount();
      title.stop();
    },
  };
}
