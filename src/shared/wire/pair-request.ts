// Desktop <-> desktop pairing by request (docs/protocol.md, "Pair requests"): the person on desktop A picks B and
// presses Pair; B's person accepts after comparing the short code both screens show. No PIN, no code to type.
import { z } from 'zod';
import { NoiseMessageB64, PendingPairingView } from './schemas.js';

/** Admin (A's UI) asks its node to send a pair request: a discovered desktop, a typed host:port, or B's pairing link. */
export const PairRequestCreate = z.union([
  z
    .object({
      host: z.string().min(1).max(253),
      port: z.number().int().min(1).max(65535),
      /** From the mDNS record; without it A fetches B's key and B's prompt is the only check. */
      fingerprint: z.string().max(32).optional(),
    })
    .strict(),
  z.object({ url: z.string().url().max(2048) }).strict(),
]);
export type PairRequestCreate = z.infer<typeof PairRequestCreate>;

/** The admin answer: A's new outgoing request (also in pending_pairings, direction 'outgoing', status 'waiting'). */
export const PairRequestCreateResponse = z.object({ ok: z.literal(true), pending: PendingPairingView });
export type PairRequestCreateResponse = z.infer<typeof PairRequestCreateResponse>;

/** The body of B's public POST /auth/pair/request: the first handshake message (A's node_identity inside). */
export const PairRequestHandshake = z.object({ noise: NoiseMessageB64 }).strict();
export type PairRequestHandshake = z.infer<typeof PairRequestHandshake>;
