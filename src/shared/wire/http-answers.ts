// Answers and query strings of the node's routes that had no schema of their own (they were plain objects in the
// route handlers). The HTTP contract (src/main/core/http/contract) documents the routes with them.
import { z } from 'zod';
import { MessageStatusView } from './relay.js';
import { DesktopNode, MeshNodeView, PendingPairingView } from './schemas.js';

export const OkResponse = z.object({ ok: z.literal(true) });
export const AnnounceResponse = z.object({ ok: z.literal(true), node: MeshNodeView });
export const HeartbeatResponse = z.object({ ok: z.literal(true), desktop_node: DesktopNode });
export const SessionResponse = z.object({ ok: z.literal(true), node_id: z.string(), expires_at: z.string(), desktop_node: DesktopNode });
export type HeartbeatResponse = z.infer<typeof HeartbeatResponse>;
export type SessionResponse = z.infer<typeof SessionResponse>;
export const PairRemoteResponse = z.union([
  z.object({ ok: z.literal(true), node: MeshNodeView }),
  z.object({ ok: z.literal(true), pending: PendingPairingView }),
]);
/** An incoming pairing confirmed (node_id), or an outgoing one (node_id and the new node's view). */
export const PairingConfirmResponse = z.object({ ok: z.literal(true), node_id: z.string(), node: MeshNodeView.optional() });
export const UiDeviceResponse = z.object({ device_id: z.string() });
export const InboxAckResponse = z.object({ ok: z.literal(true), removed: z.number().int().nonnegative() });
export const OutboxResponse = z.object({ messages: z.array(MessageStatusView) });

/** GET …/messages/inbox: `after` (a seq, default 0) and `limit` (1 to the page maximum), both whole numbers. */
const WholeNumber = z.string().regex(/^\d{1,15}$/, 'a whole number');
export const InboxQuery = z.object({ after: WholeNumber.optional(), limit: WholeNumber.optional() });
