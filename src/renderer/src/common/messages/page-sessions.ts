// This page's forward-secret sessions: DeviceSessions on the browser's IndexedDB (it works over plain http),
// under the same X25519 key the device is known by. A browser that refuses IndexedDB (some private modes)
// gets them in memory: messages go and come while the page is open; after a reload what was sealed on the
// lost sessions cannot be opened, and the next message from either side starts new ones.
import { DeviceSessions } from '../../../../shared/device-keys/device-sessions.js';
import { IndexedDbSessionStore } from '../../../../shared/device-keys/indexeddb-session-store.js';
import { MemorySessionStore, type SessionStore } from '../../../../shared/device-keys/session-store.js';
import type { X25519KeyPair } from '../../../../shared/ratchet/pqxdh.js';

export async function openPageSessions(deviceId: string, keys: X25519KeyPair): Promise<DeviceSessions> {
  let store: SessionStore;
  try {
    store = await IndexedDbSessionStore.open(deviceId);
  } catch (err) {
    console.warn('IndexedDB is not available: sessions are kept in memory only', err);
    store = new MemorySessionStore();
  }
  return new DeviceSessions({ deviceId, identity: { publicKey: keys.publicKey, privateKey: keys.privateKey }, store });
}
