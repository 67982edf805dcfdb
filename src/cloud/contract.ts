// The reference cloud's whole HTTP contract: every route of src/cloud/app.ts, and the OpenAPI 3.1 document
// built from it (served at GET /api/openapi.json). The schemas come from src/shared/wire (cloud.ts, relay.ts),
// the same ones app.ts validates with and the node's cloud client parses with.
import { z } from 'zod';
import {
  type ContractOperation,
  contractDocument,
  type ErrorCodes,
  fromEndpoint,
  mergeErrors,
  named,
  OPENAPI_PATH,
  openApiOperation,
} from '../server/http/openapi-contract.js';
import { CLOUD_ENDPOINTS } from '../shared/wire/cloud-endpoints.js';

export { OPENAPI_PATH };

/** The cloud-wide body limit and a body the client broke off both answer 400 invalid_request. */
const BODY: ErrorCodes = { 400: ['invalid_request'] };
/** The cloud-wide rate limit of the login steps. */
const ADMITTED: ErrorCodes = { 429: ['too_many_attempts'] };
/** `Authorization: Noise <token>` (AuthService.authenticate). */
const TOKEN: ErrorCodes = { 401: ['token_missing', 'token_invalid', 'token_revoked', 'token_expired', 'noise_handshake'] };
/** The Noise-session proof of a verify or refresh (AuthService.checkNoise). */
const NOISE_PROOF: ErrorCodes = {
  400: ['invalid_request'],
  401: ['noise_handshake', 'device_mismatch', 'noise_signature_invalid', 'noise_key_unproven'],
};
const WEBSOCKET_HANDSHAKE: ErrorCodes = { 400: ['invalid_request'], 426: ['invalid_request'] };

export const cloudOperations: readonly ContractOperation[] = [
  fromEndpoint(CLOUD_ENDPOINTS.health, {
    operationId: 'health',
    security: 'public',
    summary: "Alive, with the cloud's static key.",
    success: { status: 200, description: 'Alive.' },
    errors: {},
  }),
  {
    operationId: 'metrics',
    method: 'get',
    path: '/metrics',
    security: 'public',
    summary: 'Prometheus metrics.',
    success: { status: 200, description: 'Prometheus text format.', contentType: 'text/plain', schema: named('MetricsText', z.string()) },
    errors: {},
  },
  openApiOperation('cloudOpenApi'),
  {
    operationId: 'noiseHandshake',
    method: 'get',
    path: '/v1/noise',
    security: 'public',
    websocket: true,
    summary: "WebSocket: a Noise handshake (NX or IK, `?pattern=`) that proves the node's key for a login.",
    success: { status: 101, description: 'Switching to WebSocket.' },
    errors: mergeErrors(ADMITTED, WEBSOCKET_HANDSHAKE),
  },
  fromEndpoint(CLOUD_ENDPOINTS.authChallenge, {
    operationId: 'authChallenge',
    security: 'public',
    summary: 'Ask for a one-time code for a device key.',
    success: { status: 200, description: 'The challenge.' },
    errors: mergeErrors(ADMITTED, BODY),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.authVerify, {
    operationId: 'authVerify',
    security: 'public',
    summary: 'Trade the one-time code (and the Noise proof) for a token.',
    success: { status: 200, description: 'The token.' },
    errors: mergeErrors(ADMITTED, BODY, NOISE_PROOF, {
      401: ['otp_expired', 'otp_invalid'],
      404: ['challenge_not_found'],
      409: ['otp_used'],
      429: ['otp_attempts_exceeded'],
    }),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.authRefresh, {
    operationId: 'authRefresh',
    security: 'cloud',
    summary: 'A fresh token for a node proving its key again with IK.',
    success: { status: 200, description: 'The new token.' },
    errors: mergeErrors(TOKEN, BODY, NOISE_PROOF),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.authLogout, {
    operationId: 'authLogout',
    security: 'cloud',
    summary: 'Revoke this token.',
    success: { status: 200, description: 'Revoked.' },
    errors: mergeErrors(TOKEN, BODY),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.me, {
    operationId: 'me',
    security: 'cloud',
    summary: 'Who this token is.',
    success: { status: 200, description: 'The principal.' },
    errors: TOKEN,
  }),
  fromEndpoint(CLOUD_ENDPOINTS.publishKeys, {
    operationId: 'publishKeys',
    security: 'cloud',
    summary: "Replace the calling node's devices (one page of them) in the key directory.",
    success: { status: 200, description: 'Published; refused devices listed.' },
    errors: mergeErrors(TOKEN, BODY),
  }),
  fromEndpoint(CLOUD_ENDPOINTS.keyDirectory, {
    operationId: 'keyDirectory',
    security: 'cloud',
    summary: 'The whole key directory.',
    success: { status: 200, description: 'The directory.' },
    errors: TOKEN,
  }),
  {
    operationId: 'relay',
    method: 'get',
    path: '/v1/relay',
    security: 'cloud',
    websocket: true,
    summary: 'WebSocket: the relay (envelopes in and out).',
    success: { status: 101, description: 'Switching to WebSocket.' },
    errors: mergeErrors(TOKEN, WEBSOCKET_HANDSHAKE),
  },
];

/** Routes of the cloud app that are not in the document, each with why (none today). */
export const CLOUD_UNDOCUMENTED_ROUTES: Readonly<Record<string, string>> = {};

export function cloudOpenApiDocument(): Record<string, unknown> {
  return contractDocument({
    title: 'Salita reference cloud',
    version: '1.0.0',
    description:
      "The HTTP API of the reference cloud (docs/cloud.md). Every error answer is JSON `{error, message}`; each operation lists its codes by status in `x-error-codes` (and as the enum of its error bodies' `error`).",
    securitySchemes: { cloud: { description: '`Authorization: Noise <token>`: the token from /api/auth/verify or /api/auth/refresh.' } },
    operations: cloudOperations,
    unroutedErrors: { 400: ['invalid_request'], 404: ['not_found'] },
  });
}
