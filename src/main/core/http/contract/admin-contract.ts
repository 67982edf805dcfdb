// Contract of routes/admin-routes.ts (admin token + loopback, mounted at /api).
import { z } from 'zod';
import { type ContractOperation, fromEndpoint, mergeErrors, named } from '../../../../server/http/openapi-contract.js';
import { OkResponse } from '../../../../shared/wire/http-answers.js';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';
import { ADMIN_AUTH, BODY_LIMIT, READS_BODY, WEBSOCKET_HANDSHAKE } from './common-errors.js';
import { PAIR_REQUEST_ERRORS, PAIR_VERIFY_ERRORS } from './pairing-contract.js';

const _ok = { status: 200, description: 'Done.', schema: named('OkResponse', OkResponse) };
const IdParam = z.object({ id: z.string() });

export const adminOperations: ContractOperation[] = [
  fromEndpoint(NODE_ENDPOINTS.adminState, {
    operationId: 'adminState',
    security: 'admin',
    summary: 'Everything the desktop UI renders.',
    success: { status: 200, description: 'The state.' },
    errors: ADMIN_AUTH,
  }),
  fromEndpoint(NODE_ENDPOINTS.adminSettings, {
    operationId: 'adminSettings',
    security: 'admin',
    summary: 'The node settings.',
    success: { status: 200, description: 'The settings.' },
    errors: ADMIN_AUTH,
  }),
  fromEndpoint(NODE_ENDPOINTS.updateAdminSettings, {
    operationId: 'updateAdminSettings',
    security: 'admin',
    summary: 'Change some settings; the others keep their values.',
    success: { status: 200, description: 'The settings now.' },
    errors: mergeErrors(ADMIN_AUTH, READS_BODY),
  }),
  fromEndpoint(NODE_ENDPOINTS.dismissNotice, {
    operationId: 'dismissNotice',
    security: 'admin',
    summary: 'Dismiss a notice (idempotent).',
    params: IdParam,
    success: { status: 200, description: 'Done.' },
    errors: mergeErrors(ADMIN_AUTH, BODY_LIMIT),
  }),
  fromEndpoint(NODE_ENDPOINTS.nodeDiagnostics, {
    operationId: 'nodeDiagnostics',
    security: 'admin',
    summary: 'What the Network panel shows.',
    success: { status: 200, description: 'The diagnostics.' },
    errors: ADMIN_AUTH,
  }),
  fromEndpoint(NODE_ENDPOINTS.renameNode, {
    operationId: 'renameNode',
    security: 'admin',
    summary: 'Rename this node.',
    success: { status: 200, description: 'The identity now.' },
    errors: mergeErrors(ADMIN_AUTH, READS_BODY),
  }),
  fromEndpoint(NODE_ENDPOINTS.unpairNode, {
    operationId: 'unpairNode',
    security: 'admin',
    summary: 'Unpair a device or desktop.',
    params: z.object({ node_id: z.string() }),
    success: { status: 200, description: 'Done.' },
    errors: mergeErrors(ADMIN_AUTH, BODY_LIMIT, { 404: ['not_found'] }),
  }),
  fromEndpoint(NODE_ENDPOINTS.pairRemote, {
    operationId: 'pairRemote',
    security: 'admin',
    summary: 'Pair with another desktop from what its screen shows.',
    success: {
      status: 200,
      description: 'Paired, or waiting for both people to compare codes.',
    },
    // The other desktop's refusals are passed through with its status; reaching it, or its answer, may fail here.
    errors: mergeErrors(ADMIN_AUTH, READS_BODY, PAIR_VERIFY_ERRORS, {
      409: ['fingerprint_mismatch'],
      502: ['peer_unreachable', 'peer_rejected', 'handshake_failed'],
    }),
  }),
  fromEndpoint(NODE_ENDPOINTS.pairRequest, {
    operationId: 'pairRequest',
    security: 'admin',
    summary: 'Ask another desktop to pair (its person accepts); answers at once with the pending entry and its short code.',
    success: { status: 200, description: 'The request was delivered: waiting for the other desktop to accept.' },
    // An older desktop without the route answers 404 not_found, passed through like its other refusals.
    errors: mergeErrors(ADMIN_AUTH, READS_BODY, PAIR_REQUEST_ERRORS, {
      404: ['not_found'],
      409: ['fingerprint_mismatch'],
      502: ['peer_unreachable', 'peer_rejected', 'handshake_failed'],
    }),
  }),
  fromEndpoint(NODE_ENDPOINTS.confirmPairing, {
    operationId: 'confirmPairing',
    security: 'admin',
    summary: 'The person compared the short codes (or accepted a pair request): complete the pairing.',
    params: IdParam,
    success: { status: 200, description: 'Paired.' },
    errors: mergeErrors(ADMIN_AUTH, BODY_LIMIT, { 404: ['pairing_not_pending'] }),
  }),
  fromEndpoint(NODE_ENDPOINTS.rejectPairing, {
    operationId: 'rejectPairing',
    security: 'admin',
    summary: 'The short codes differ, or the person declined a pair request (or dismissed their own): drop it.',
    params: IdParam,
    success: { status: 200, description: 'Done.' },
    errors: mergeErrors(ADMIN_AUTH, BODY_LIMIT, { 404: ['pairing_not_pending'] }),
  }),
  {
    operationId: 'adminEvents',
    method: 'get',
    path: '/api/admin/events',
    security: 'admin',
    websocket: true,
    summary: 'WebSocket: the admin state and events, pushed (admin token also as the second subprotocol).',
    success: { status: 101, description: 'Switching to WebSocket.' },
    errors: mergeErrors(ADMIN_AUTH, WEBSOCKET_HANDSHAKE),
  },
];
