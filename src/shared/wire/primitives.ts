// The smallest pieces of the wire contract, used by both the node's API (schemas.ts) and the relay contract
// (relay.ts): kept apart so neither of those has to import the other.
import { z } from 'zod';

export const DisplayName = z.string().trim().min(1).max(64);
/** base64url of a raw 32-byte X25519 public key (43 chars, no padding). */
export const PublicKeyB64 = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'public_key: base64url of 32 bytes');
