// Error answers many node routes share, by what the route runs before its handler: the body limit, the auth
// middleware, a rate limit, the WebSocket handshake guard, readBody. Each route's contract merges the ones it has.
import type { ErrorCodes } from '../../../../server/http/openapi-contract.js';

/** Every method but GET/HEAD passes the body limit (413), whatever the route does with the body. */
export const BODY_LIMIT: ErrorCodes = { 413: ['payload_too_large'] };
/** readBody: not JSON, fails the schema, or (app.ts) a body the client broke off mid-way. */
export const READS_BODY: ErrorCodes = { 400: ['invalid_request'], 413: ['payload_too_large'] };
/** requireAdmin (request-auth.ts): not from this machine, or no/wrong admin token. */
export const ADMIN_AUTH: ErrorCodes = { 401: ['unauthorized'], 403: ['forbidden'] };
/** requireSignedSession (signed-session-auth.ts), GET: the four checks of a signed request. */
export const SIGNED_GET: ErrorCodes = {
  401: ['session_unknown', 'session_revoked', 'signature_invalid', 'timestamp_skew', 'nonce_reused'],
  403: ['pairing_unconfirmed'],
};
/** Signed non-GET requests also read the body to check the signature (a broken-off body is a 400). */
export const SIGNED: ErrorCodes = { ...SIGNED_GET, 400: ['invalid_request'], 413: ['payload_too_large'] };
/** rateLimit (rate-limiter.ts). */
export const RATE_LIMITED: ErrorCodes = { 429: ['rate_limited'] };
/** webSocketHandshakeGuard: not a well-formed handshake (426 for another WebSocket version). */
export const WEBSOCKET_HANDSHAKE: ErrorCodes = { 400: ['invalid_request'], 426: ['invalid_request'] };
/** app.ts notFound: no route for this method and path. */
export const UNROUTED: ErrorCodes = { 404: ['not_found'], 413: ['payload_too_large'] };
