// Contract of routes/admin-routes.ts (admin token + loopback, mounted at /api).
import { z } from 'zod';
import { type ContractOperation, mergeErrors, named } from '../../../../server/http/openapi-contract.js';
import { OkResponse, PairingConfirmResponse, PairRemoteResponse } from '../../../../shared/wire/http-answers.js';
import {
  AdminState,
  DiagnosticsResponse,
  NodeIdentityResponse,
  NodeSettings,
  PairRemoteRequest,
  RenameRequest,
  SettingsUpdateRequest,
} from '../../../../shared/wire/schemas.js';
import { ADMIN_AUTH, BODY_LIMIT, READS_BODY, WEBSOCKET_HANDSHAKE } from './common-errors.js';
import { PAIR_VERIFY_ERRORS } from './pairing-contract.js';

const ok = { status: 200, description: 'Done.', schema: named('OkResponse', OkResponse) };
const IdParam = z.object({ id: z.string() });

export const adminOperations: ContractOperation[] = [
  {
    operationId: 'adminState',
    method: 'get',
    path: '/api/admin/state',
    security: 'admin',
    summary: 'Everything the desktop UI renders.',
    success: { status: 200, description: 'The state.', schema: named('AdminState', AdminState) },
    errors: ADMIN_AUTH,
  },
  {
    operationId: 'adminSettings',
    method: 'get',
    path: '/api/admin/settings',
    security: 'admin',
    summary: 'The node settings.',
    success: { status: 200, description: 'The settings.', schema: named('NodeSettings', NodeSettings) },
    errors: ADMIN_AUTH,
  },
  {
    operationId: 'updateAdminSettings',
    method: 'put',
    path: '/api/admin/settings',
    security: 'admin',
    summary: 'Change some settings; the others keep their values.',
    body: named('SettingsUpdateRequest', SettingsUpdateRequest),
    success: { status: 200, description: 'The settings now.', schema: named('NodeSettings', NodeSettings) },
    errors: mergeErrors(ADMIN_AUTH, READS_BODY),
  },
  {
    operationId: 'dismissNotice',
    method: 'post',
    path: '/api/admin/notices/:id/dismiss',
    security: 'admin',
    summary: 'Dismiss a notice (idempotent).',
    params: IdParam,
    success: ok,
    errors: mergeErrors(ADMIN_AUTH, BODY_LIMIT),
  },
  {
    operationId: 'nodeDiagnostics',
    method: 'get',
    path: '/api/node/diagnostics',
    security: 'admin',
    summary: 'What the Network panel shows.',
    success: { status: 200, description: 'The diagnostics.', schema: named('DiagnosticsResponse', DiagnosticsResponse) },
    errors: ADMIN_AUTH,
  },
  {
    operationId: 'renameNode',
    method: 'patch',
    path: '/api/node/identity',
    security: 'admin',
    summary: 'Rename this node.',
    body: named('RenameRequest', RenameRequest),
    success: { status: 200, description: 'The identity now.', schema: named('NodeIdentityResponse', NodeIdentityResponse) },
    errors: mergeErrors(ADMIN_AUTH, READS_BODY),
  },
  {
    operationId: 'unpairNode',
    method: 'delete',
    path: '/api/mesh/nodes/:node_id',
    security: 'admin',
    summary: 'Unpair a device or desktop.',
    params: z.object({ node_id: z.string() }),
    success: ok,
    errors: mergeErrors(ADMIN_AUTH, BODY_LIMIT, { 404: ['not_found'] }),
  },
  {
    operationId: 'pairRemote',
    method: 'post',
    path: '/api/admin/pair-remote',
    security: 'admin',
    summary: 'Pair with another desktop from what its screen shows.',
    body: named('PairRemoteRequest', PairRemoteRequest),
    success: {
      status: 200,
      description: 'Paired, or waiting for both people to compare codes.',
      schema: named('PairRemoteResponse', PairRemoteResponse),
    },
    // The other desktop's refusals are passed through with its status; reaching it, or its answer, may fail here.
    errors: mergeErrors(ADMIN_AUTH, READS_BODY, PAIR_VERIFY_ERRORS, {
      409: ['fingerprint_mismatch'],
      502: ['peer_unreachable', 'peer_rejected', 'handshake_failed'],
    }),
  },
  {
    operationId: 'confirmPairing',
    method: 'post',
    path: '/api/admin/pairings/:id/confirm',
    security: 'admin',
    summary: 'The person compared the short codes: complete the pairing.',
    params: IdParam,
    success: { status: 200, description: 'Paired.', schema: named('PairingConfirmResponse', PairingConfirmResponse) },
    errors: mergeErrors(ADMIN_AUTH, BODY_LIMIT, { 404: ['pairing_not_pending'] }),
  },
  {
    operationId: 'rejectPairing',
    method: 'post',
    path: '/api/admin/pairings/:id/reject',
    security: 'admin',
    summary: 'The short codes differ: drop the pairing.',
    params: IdParam,
    success: ok,
    errors: mergeErrors(ADMIN_AUTH, BODY_LIMIT, { 404: ['pairing_not_pending'] }),
  },
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
