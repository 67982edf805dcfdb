// Contract of routes/pairing-routes.ts (mounted at /auth/pair).

import { z } from 'zod';
import { type ContractOperation, type ErrorCodes, mergeErrors, named } from '../../../../server/http/openapi-contract.js';
import {
  PAIRING_CODE_MAX_LENGTH,
  PairCodeStateResponse,
  PairStartRequest,
  PairStartResponse,
  PairVerifyRequest,
  PairVerifyResponse,
} from '../../../../shared/wire/schemas.js';
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

export const pairingOperations: ContractOperation[] = [
  {
    operationId: 'pairStart',
    method: 'post',
    path: '/auth/pair/start',
    security: 'admin',
    summary: 'Issue a pairing code, PIN, linking code and QR (desktop UI only).',
    body: named('PairStartRequest', PairStartRequest),
    success: { status: 200, description: 'The new pairing code.', schema: named('PairStartResponse', PairStartResponse) },
    errors: mergeErrors(ADMIN_AUTH, RATE_LIMITED, READS_BODY),
  },
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
    operationId: 'pairCodeState',
    method: 'get',
    path: '/auth/pair/codes/:code',
    security: 'public',
    summary: "A pairing code's state and the desktop that issued it (no attempt spent, nothing secret).",
    params: z.object({ code: z.string().max(PAIRING_CODE_MAX_LENGTH) }),
    success: {
      status: 200,
      description: 'The state of the code (unknown codes included).',
      schema: named('PairCodeStateResponse', PairCodeStateResponse),
    },
    errors: mergeErrors(RATE_LIMITED, { 400: ['invalid_request'] }),
  },
];
