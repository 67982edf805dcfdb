// Tells every open device socket when something a paired device shows changed, so its page follows without a
// reload: the node's own name (a `node` frame with the node as it is now) and the messaging directory (a
// `directory_changed` frame: the device asks again). The feed says "something changed" for many reasons (a
// pending pairing, a notice, a cloud status); the directory is compared with the last one pushed so that only a
// change the devices can see wakes them all up.

import type { DeviceNodeFrame, DirectoryChangedFrame } from '../../../shared/wire/device-events.js';
import type { DesktopNode } from '../../../shared/wire/schemas.js';
import type { ChangeFeed } from '../events/change-feed.js';
import type { DeviceSockets } from './device-sockets.js';

export interface DeviceChangePushesDeps {
  feed: Pick<ChangeFeed, 'subscribe'>;
  sockets: Pick<DeviceSockets, 'sendToAll' | 'count'>;
  /** The node as a device sees it (the session answer's desktop_node). */
  desktopNode(): DesktopNode;
  /** What every device's directory answer holds, as one comparable string. */
  directoryKey(): string;
  onRenamed(fn: (name: string) => void): () => void;
}

/** Starts the pushes; returns the function that stops them. */
export function pushChangesToDevices(d: DeviceChangePushesDeps): () => void {
  let lastKey: string | undefined;
  const offRename = d.onRenamed(() => {
    d.sockets.sendToAll({ type: 'node', desktop_node: d.desktopNode() } satisfies DeviceNodeFrame);
  });
  const offFeed = d.feed.subscribe((e) => {
    if (e.type !== 'changed') return;
    // Nobody listening: nothing to compare against later either (a device that connects asks for the directory).
    if (d.sockets.count() === 0) {
      lastKey = undefined;
      return;
    }
    const key = d.directoryKey();
    if (key === lastKey) return;
    // The first look after a quiet spell has nothing to compare with and says it too: one refresh too many is harmless.
    lastKey = key;
    d.sockets.sendToAll({ type: 'directory_changed' } satisfies DirectoryChangedFrame);
  });
  return () => {
    offRename();
    offFeed();
  };
}
