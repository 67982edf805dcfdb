// Contract of routes/pairing-routes.ts (mounted at /auth/pair).

import { z } from 'zod';
import { type ContractOperation, type ErrorCodes, fromEndpoint, mergeErrors, named } from '../../../../server/http/openapi-contract.js';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';
import { PairRequestHandshake } from '../../../../shared/wire/pair-request.js';
import { PAIRING_CODE_MAX_LENGTH, PairVerifyRequest, PairVerifyResponse } from '../../../../shared/wire/schemas.js';
import { ADMIN_AUTH, RATE_LIMITED, READS_BODY } from './common-errors.js';

/** What /auth/pair/verify refuses with (pair-remote relays these from the other desktop, with their statuses). */
export const PAIR_VERIFY_ERRORS: ErrorCodes = mergeErrors(READS_BODY, RATE_LIMITED, {
  400: ['handshake_failed'],
  401: ['pin_mismatch'],
  404: ['code_unknown'],
  409: ['code_used'],
  410: ['code_expired'],
  423: ['code_locked'],
});

/** What /auth/pair/request refuses with (pair-requests relays these from the other desktop). */
export const PAIR_REQUEST_ERRORS: ErrorCodes = mergeErrors(READS_BODY, RATE_LIMITED, { 400: ['handshake_failed'] });

export const pairingOperations: ContractOperation[] = [
  fromEndpoint(NODE_ENDPOINTS.pairStart, {
    operationId: 'pairStart',
    security: 'admin',
    summary: 'Issue a pairing code, PIN, linking code and QR (desktop UI only).',
    success: { status: 200, description: 'The new pairing code.' },
    errors: mergeErrors(ADMIN_AUTH, RATE_LIMITED, READS_BODY),
  }),
  {
    operationId: 'pairVerify',
    method: 'post',
    path: '/auth/pair/verify',
    security: 'public',
    summary: 'Run the pairing Noise handshake (first message in, second out).',
    body: named('PairVerifyRequest', PairVerifyRequest),
    success: { status: 200, description: "The handshake's second message.", schema: named('PairVerifyResponse', PairVerifyResponse) },
    errors: PAIR_VERIFY_ERRORS,
  },
  {
    operationId: 'pairRequestHandshake',
    method: 'post',
    path: '/auth/pair/request',
    security: 'public',
    summary: "Another desktop asks to pair: the pair-request Noise handshake (no PIN); the session waits for this node's person.",
    body: named('PairRequestHandshake', PairRequestHandshake),
    success: { status: 200, description: "The handshake's second message.", schema: named('PairVerifyResponse', PairVerifyResponse) },
    errors: PAIR_REQUEST_ERRORS,
  },
  fromEndpoint(NODE_ENDPOINTS.pairCodeState, {
    operationId: 'pairCodeState',
    security: 'public',
    summary: "A pairing code's state and the desktop that issued it (no attempt spent, nothing secret).",
    params: z.object({ code: z.string().max(PAIRING_CODE_MAX_LENGTH) }),
    success: {
      status: 200,
      description: 'The state of the code (unknown codes included).',
    },
    errors: mergeErrors(RATE_LIMITED, { 400: ['invalid_request'] }),
  }),
];
