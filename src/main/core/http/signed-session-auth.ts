// Verifies signed device requests (docs/protocol.md, "Signed requests"). Checks, in this order:
// session known and active -> timestamp inside the window -> HMAC over the exact request -> nonce unused.
// The signature is checked before the nonce is recorded, so unsigned junk cannot burn a device's nonces.

import { timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { NODE_SHA256 } from '../../../server/crypto/node-noise.js';
import { CONTENT_SHA256_HEADER, signParts } from '../../../shared/auth/request-signing.js';
// Browsers cannot set headers on a WebSocket, so upgrades may carry the same four values as query parameters.
import { WS_AUTH_PARAMS } from '../../../shared/client/device-client.js';
import { fromBase64Url } from '../../../shared/encoding.js';
import type { NonceRepository } from '../db/nonce-repository.js';
import type { SessionRepository, SessionRow } from '../db/session-repository.js';
import { ApiError } from './api-error.js';

export type SessionEnv = { Variables: { session: SessionRow } };

const EMPTY = new Uint8Array(0);
const UTF8 = new TextDecoder();

interface PresentedAuth {
  sessionId: string;
  timestamp: string;
  nonce: string;
  signature: string;
  /** What was signed: the path and query as sent, minus the auth parameters themselves. */
  pathWithQuery: string;
}

function presented(c: Context): PresentedAuth | undefined {
  const url = new URL(c.req.url);
  const auth = c.req.header('authorization');
  if (auth?.startsWith('Session ')) {
    return {
      sessionId: auth.slice(8).trim(),
      timestamp: c.req.header('x-timestamp') ?? '',
      nonce: c.req.header('x-nonce') ?? '',
      signature: c.req.header('x-signature') ?? '',
      pathWithQuery: url.pathname + url.search,
    };
  }
  const sessionId = url.searchParams.get(WS_AUTH_PARAMS.session);
  if (!sessionId) return undefined;
  const p: PresentedAuth = {
    sessionId,
    timestamp: url.searchParams.get(WS_AUTH_PARAMS.timestamp) ?? '',
    nonce: url.searchParams.get(WS_AUTH_PARAMS.nonce) ?? '',
    signature: url.searchParams.get(WS_AUTH_PARAMS.signature) ?? '',
    pathWithQuery: '',
  };
  for (const name of Object.values(WS_AUTH_PARAMS)) url.searchParams.delete(name);
  p.pathWithQuery = url.pathname + url.search;
  return p;
}

function signaturesEqual(expected: string, given: string): boolean {
  if (!/^[A-Za-z0-9_-]{43}$/.test(given)) return false;
  return timingSafeEqual(fromBase64Url(expected), fromBase64Url(given));
}

export interface SignedSessionDeps {
  sessions: SessionRepository;
  nonces: NonceRepository;
  windowMs: number;
  /**
   * 'declared': the body is not read here (a file chunk streams to disk); the signature covers the digest the
   * client declares in X-Content-SHA256 (an absent header stands for an empty body), and the route checks the
   * streamed bytes against `c.var.declaredSha256`. Default 'read': the whole body is read and hashed.
   */
  body?: 'read' | 'declared';
}

export type DeclaredDigestEnv = { Variables: { session: SessionRow; declaredSha256: string | undefined } };

const EMPTY_SHA256_HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function requireSignedSession(deps: SignedSessionDeps): MiddlewareHandler<SessionEnv> {
  return async (c, next) => {
    const p = presented(c);
    if (!p) throw new ApiError(401, 'session_unknown', 'No session: pair this device first.');
    const found = deps.sessions.lookup(p.sessionId);
    if (!found.ok) {
      if (found.reason === 'pairing_unconfirmed') {
        throw new ApiError(403, 'pairing_unconfirmed', 'This pairing waits for the person at the node to confirm the short code.');
      }
      if (found.reason === 'session_unreadable') {
        // session_revoked, a code every client drops its session on (not a 500 it would retry forever).
        throw new ApiError(
          401,
          'session_revoked',
          'This node can no longer verify this session (its storage key changed). Pair this device again.',
        );
      }
      throw new ApiError(
        401,
        found.reason,
        found.reason === 'session_revoked'
          ? 'This device was unpaired or its session ended. Pair it again.'
          : 'Unknown session: pair this device again.',
      );
    }
    const now = Date.now();
    if (!/^\d{1,12}$/.test(p.timestamp)) throw new ApiError(401, 'signature_invalid', 'X-Timestamp must be unix seconds.');
    const ts = Number(p.timestamp) * 1000;
    if (Math.abs(now - ts) > deps.windowMs) {
      throw new ApiError(
        401,
        'timestamp_skew',
        `X-Timestamp is ${Math.round((ts - now) / 1000)} s off this node's clock; the limit is ±${deps.windowMs / 1000} s. Check the device's clock.`,
      );
    }
    if (!/^[A-Za-z0-9_-]{22}$/.test(p.nonce)) throw new ApiError(401, 'signature_invalid', 'X-Nonce must be base64url of 16 bytes.');
    // A GET or HEAD has no body (the Request the server builds for one never carries it), so reading it would only
    // build that Request object. For the others, the bytes read here are decoded once and left in hono's body
    // cache as text, so the route's readBody() does not wrap them in a new Response to decode them again.
    const method = c.req.method;
    let body: Uint8Array = EMPTY;
    let declared: string | undefined;
    if (deps.body === 'declared') {
      declared = c.req.header(CONTENT_SHA256_HEADER)?.toLowerCase();
      if (declared !== undefined && !/^[0-9a-f]{64}$/.test(declared))
        throw new ApiError(401, 'signature_invalid', 'X-Content-SHA256 must be the hex SHA-256 of the body.');
    } else if (method === 'GET' || method === 'HEAD') {
      body = EMPTY;
    } else {
      body = new Uint8Array(await c.req.arrayBuffer());
      // (hono keeps a promise per body kind there, whatever its type says)
      (c.req.bodyCache as Record<string, unknown>).text ??= Promise.resolve(UTF8.decode(body));
    }
    // The shared signer's canonical string, hashed with node:crypto (several times faster than the browser's
    // pure-JS HMAC, on every request).
    const expected = signParts(
      found.hmacKey,
      {
        sessionId: p.sessionId,
        method,
        pathWithQuery: p.pathWithQuery,
        body,
        ...(deps.body === 'declared' ? { bodySha256Hex: declared ?? EMPTY_SHA256_HEX } : {}),
        timestamp: p.timestamp,
        nonce: p.nonce,
      },
      NODE_SHA256,
    );
    if (!signaturesEqual(expected, p.signature)) throw new ApiError(401, 'signature_invalid', 'The request signature does not match.');
    // Keep the nonce until the timestamp itself falls out of the window; after that the skew check refuses it.
    if (!(await deps.nonces.claimBatched(p.sessionId, p.nonce, ts + deps.windowMs + 1000))) {
      throw new ApiError(401, 'nonce_reused', 'This request was already seen (replayed nonce).');
    }
    deps.sessions.touch(p.sessionId);
    c.set('session', found.session);
    if (deps.body === 'declared') (c as unknown as Context<DeclaredDigestEnv>).set('declaredSha256', declared);
    await next();
  };
}
