// Contract of routes/device-routes.ts: what a paired device calls, every request signed (mounted at /api).
import { type ContractOperation, mergeErrors, named } from '../../../../server/http/openapi-contract.js';
import { AnnounceResponse, HeartbeatResponse, OkResponse, SessionResponse } from '../../../../shared/wire/http-answers.js';
import { AnnounceRequest, HeartbeatRequest } from '../../../../shared/wire/schemas.js';
import { READS_BODY, SIGNED, SIGNED_GET, WEBSOCKET_HANDSHAKE } from './common-errors.js';

export const deviceOperations: ContractOperation[] = [
  {
    operationId: 'announce',
    method: 'post',
    path: '/api/mesh/announce',
    security: 'device',
    summary: 'The device states who it is now.',
    body: named('AnnounceRequest', AnnounceRequest),
    success: { status: 200, description: 'Its view on this node.', schema: named('AnnounceResponse', AnnounceResponse) },
    errors: mergeErrors(SIGNED, READS_BODY, { 401: ['session_revoked'], 403: ['node_mismatch'] }),
  },
  {
    operationId: 'heartbeat',
    method: 'post',
    path: '/api/node/heartbeat',
    security: 'device',
    summary: 'The device is alive, at these addresses.',
    body: named('HeartbeatRequest', HeartbeatRequest),
    success: { status: 200, description: 'Heard.', schema: named('HeartbeatResponse', HeartbeatResponse) },
    errors: mergeErrors(SIGNED, READS_BODY, { 401: ['session_revoked'] }),
  },
  {
    operationId: 'session',
    method: 'get',
    path: '/api/session',
    security: 'device',
    summary: 'Check the session.',
    success: { status: 200, description: 'The session.', schema: named('SessionResponse', SessionResponse) },
    errors: SIGNED_GET,
  },
  {
    operationId: 'sessionLogout',
    method: 'post',
    path: '/api/session/logout',
    security: 'device',
    summary: 'End this session (the device stays paired).',
    success: { status: 200, description: 'Ended.', schema: named('OkResponse', OkResponse) },
    errors: SIGNED,
  },
  {
    operationId: 'deviceEvents',
    method: 'get',
    path: '/api/device/events',
    security: 'device',
    websocket: true,
    summary: 'WebSocket: pushes to the device (the signature may ride in the query string).',
    success: { status: 101, description: 'Switching to WebSocket.' },
    errors: mergeErrors(SIGNED_GET, WEBSOCKET_HANDSHAKE),
  },
];
