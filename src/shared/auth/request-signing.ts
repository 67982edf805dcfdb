// Signed device requests. Every authenticated call carries
//   Authorization: Session <session_id>
//   X-Timestamp:   unix time in whole seconds (decimal)
//   X-Nonce:       base64url of 16 random bytes
//   X-Signature:   base64url(HMAC-SHA256(server_hmac_key, canonical string))
// The canonical string is documented byte for byte in docs/protocol.md; change both together.
// Browser-safe (@noble only): the phone page, desktops and tests all sign through this file.

import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { toBase64Url, toHex, utf8 } from '../encoding.js';

/** SHA-256 and HMAC-SHA256; @noble's by default, node:crypto's where available (NODE_SHA256, node-noise.ts). */
export interface Sha256Functions {
  hash(data: Uint8Array): Uint8Array;
  hmac(key: Uint8Array, data: Uint8Array): Uint8Array;
}
export const NOBLE_SHA256: Sha256Functions = { hash: (d) => sha256(d), hmac: (k, d) => hmac(sha256, k, d) };

export const SIGNATURE_SCHEME = 'SALITA-HMAC-SHA256-V1';
export const NONCE_BYTES = 16;

export interface SignedParts {
  sessionId: string;
  method: string;
  /** Path plus query exactly as sent, e.g. `/api/node/heartbeat?x=1`. */
  pathWithQuery: string;
  body: Uint8Array;
  /**
   * Hex SHA-256 of a body too large to hold (a file upload's chunk), sent as X-Content-SHA256: signed in the
   * body's place; the server checks it against the bytes as they stream by (docs/protocol.md).
   */
  bodySha256Hex?: string;
  timestamp: string;
  nonce: string;
}

/** The header that carries a streamed body's SHA-256 (hex), signed instead of the body itself. */
export const CONTENT_SHA256_HEADER = 'x-content-sha256';

export function canonicalString(p: SignedParts, fns: Sha256Functions = NOBLE_SHA256): string {
  return [
    SIGNATURE_SCHEME,
    p.sessionId,
    p.method.toUpperCase(),
    p.pathWithQuery,
    p.bodySha256Hex ?? toHex(fns.hash(p.body)),
    p.timestamp,
    p.nonce,
  ].join('\n');
}

export function signParts(serverHmacKey: Uint8Array, p: SignedParts, fns: Sha256Functions = NOBLE_SHA256): string {
  return toBase64Url(fns.hmac(serverHmacKey, utf8.encode(canonicalString(p, fns))));
}

/**
 * The key both sides sign with, derived from the device secret. The node stores only this (the
 * server_hmac_key), never the device secret; the device re-derives it on demand.
 */
export function deriveServerHmacKey(deviceSecret: Uint8Array): Uint8Array {
  return hkdf(sha256, deviceSecret, utf8.encode('salita/v1/server-hmac-key/salt'), utf8.encode('salita/v1/server-hmac-key'), 32);
}

export interface SignedHeaders {
  authorization: string;
  'x-timestamp': string;
  'x-nonce': string;
  'x-signature': string;
}

export function signRequest(opts: {
  sessionId: string;
  serverHmacKey: Uint8Array;
  method: string;
  pathWithQuery: string;
  body?: Uint8Array;
  /** Sign this digest (hex SHA-256) in place of `body` (sent as X-Content-SHA256 by the caller). */
  bodySha256Hex?: string;
  now?: number;
  nonce?: string;
  sha256?: Sha256Functions;
}): SignedHeaders {
  const timestamp = String(Math.floor((opts.now ?? Date.now()) / 1000));
  const nonce = opts.nonce ?? toBase64Url(randomBytes(NONCE_BYTES));
  const signature = signParts(
    opts.serverHmacKey,
    {
      sessionId: opts.sessionId,
      method: opts.method,
      pathWithQuery: opts.pathWithQuery,
      body: opts.body ?? new Uint8Array(0),
      ...(opts.bodySha256Hex !== undefined ? { bodySha256Hex: opts.bodySha256Hex } : {}),
      timestamp,
      nonce,
    },
    opts.sha256,
  );
  return { authorization: `Session ${opts.sessionId}`, 'x-timestamp': timestamp, 'x-nonce': nonce, 'x-signature': signature };
}
