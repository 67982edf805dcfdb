// The frames a paired device hears on its event WebSocket. Apart from relay.ts because they carry the node as a
// device sees it (schemas.ts DesktopNode), and schemas.ts already leans on relay.ts.
import { z } from 'zod';
import type { InboxPush, MessageStatusPush } from './relay.js';
import { DesktopNode } from './schemas.js';

// ---- the device WebSocket (WS /api/device/events; node -> device, one JSON object per text frame) -----------
//
//   hello              {type:'hello', node_id, desktop_node}   First frame: the device's own id and the node as it
//                                                             is now (so a device back after a while catches up).
//   node               {type:'node', desktop_node}             The node was renamed.
//   directory_changed  {type:'directory_changed'}              What GET /api/messages/directory answers changed
//                                                             (a device paired, unpaired or renamed, a home
//                                                             desktop's devices or name, a route): ask again.
//   envelope, message_status                                   InboxPush, MessageStatusPush (relay.ts).

export const DeviceHelloFrame = z.object({ type: z.literal('hello'), node_id: z.string(), desktop_node: DesktopNode });
export type DeviceHelloFrame = z.infer<typeof DeviceHelloFrame>;
export const DeviceNodeFrame = z.object({ type: z.literal('node'), desktop_node: DesktopNode });
export type DeviceNodeFrame = z.infer<typeof DeviceNodeFrame>;
export const DirectoryChangedFrame = z.object({ type: z.literal('directory_changed') });
export type DirectoryChangedFrame = z.infer<typeof DirectoryChangedFrame>;
/** The frames that say how the node itself is now (its name above all). */
export const DeviceDesktopFrame = z.discriminatedUnion('type', [DeviceHelloFrame, DeviceNodeFrame]);
export type DeviceDesktopFrame = z.infer<typeof DeviceDesktopFrame>;
/** Every frame the node sends on a device socket. */
export type DeviceEventFrame = DeviceHelloFrame | DeviceNodeFrame | DirectoryChangedFrame | InboxPush | MessageStatusPush;
