// What the cloud and its clients must agree on for the Noise + OTP login (docs/cloud.md): the handshake's name
// and prologue, the JSON payloads, and noise_signature. Shared so the cloud (src/cloud) and the node's cloud
// link (src/main/core/cloud) cannot drift apart.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { toBase64Url } from '../encoding.js';

export type CloudNoisePattern = 'NX' | 'IK';
export const CLOUD_NOISE_PROLOGUE = new TextEncoder().encode('salita-cloud/v1');
export const cloudNoiseProtocol = (p: CloudNoisePattern) => `Noise_${p}_25519_ChaChaPoly_SHA256`;

/** The JSON in the NX message-1 payload (IK sends `{}`: Noise itself carries and proves the key). */
export interface NoiseHello {
  client_static_key?: string;
}
/** The JSON in the last handshake payload. */
export interface NoiseSessionPayload {
  session_id: string;
  session_token: string;
  expires_at: string;
  pattern: CloudNoisePattern;
}

/** noise_signature = base64url(HMAC-SHA256(key = session_token bytes, data = handshake hash bytes)). */
export function noiseSignature(sessionToken: Uint8Array, handshakeHash: Uint8Array): string {
  return toBase64Url(hmac(sha256, sessionToken, handshakeHash));
}
