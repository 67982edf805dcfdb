// The key schedule around the pairing handshake (docs/protocol.md, "Key schedule"). Browser-safe.
//
//   prologue      = "salita/v1/pair\n" || code_ref                      (binds the handshake to this code)
//   psk           = HKDF-SHA256(ikm = PIN, salt = "salita/v1/pair-psk", info = code_ref, 32)
//   device_secret = HKDF-SHA256(ikm = handshake secret, salt = h,
//                               info = "salita/v1/device-secret\n" || initiator node_id || "\n" || responder node_id, 32)
//   server_hmac_key = HKDF-SHA256(ikm = device_secret, ...)              (see request-signing.ts)
//   sas           = uint32be(HKDF-SHA256(ikm = h, salt = "salita/v1/sas", info = "", 4)) mod 10^6, 6 digits
// code_ref is the long code when the device has it (QR/URL), else the normalized linking code.
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from '../encoding.js';

export const PAIRING_PROTOCOL = 'Noise_IKpsk1_25519_ChaChaPoly_SHA256';

/**
 * A pair request (desktop A asks desktop B; B's person accepts) has no code and no PIN: code_ref and the psk input
 * are these fixed strings, so its handshakes can never be mistaken for a code's (no issued code contains "/").
 * The psk then authenticates nothing: B's person accepting after comparing the SAS does (docs/protocol.md).
 */
export const PAIR_REQUEST_CODE_REF = 'salita/v1/pair-request';
export const PAIR_REQUEST_PSK_INPUT = 'salita/v1/pair-request-psk';

export function pairingPrologue(codeRef: string): Uint8Array {
  return utf8.encode(`salita/v1/pair\n${codeRef}`);
}

export function pairingPsk(pin: string, codeRef: string): Uint8Array {
  return hkdf(sha256, utf8.encode(pin), utf8.encode('salita/v1/pair-psk'), utf8.encode(codeRef), 32);
}

export function deriveDeviceSecret(
  handshakeSecret: Uint8Array,
  handshakeHash: Uint8Array,
  initiatorNodeId: string,
  responderNodeId: string,
): Uint8Array {
  return hkdf(sha256, handshakeSecret, handshakeHash, utf8.encode(`salita/v1/device-secret\n${initiatorNodeId}\n${responderNodeId}`), 32);
}

/** The short code both screens show for a desktop pairing that was not anchored by a scanned fingerprint. */
export function shortAuthString(handshakeHash: Uint8Array): string {
  const b = hkdf(sha256, handshakeHash, utf8.encode('salita/v1/sas'), new Uint8Array(0), 4);
  const n = ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
  return String(n % 1_000_000).padStart(6, '0');
}

/**
 * Linking codes are typed by people: accept lower case, spaces and a missing dash. Any other character is kept,
 * so a mistyped code stays wrong (code_unknown) instead of being silently "repaired" into another code.
 */
export function normalizeLinkingCode(text: string): string {
  const raw = text.toUpperCase().replace(/[\s-]/g, '');
  if (!/^[A-Z2-7]{8}$/.test(raw)) return text.toUpperCase();
  return `${raw.slice(0, 4)}-${raw.slice(4)}`;
}
