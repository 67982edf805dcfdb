// Contract of routes/peer-link-routes.ts. Public at the HTTP level: the Noise handshake on the socket
// authenticates both desktops.
import { type ContractOperation, mergeErrors } from '../../../../server/http/openapi-contract.js';
import { PEER_LINK_PATH, PeerLinkQuery } from '../../../../shared/wire/peer-link.js';
import { RATE_LIMITED, WEBSOCKET_HANDSHAKE } from './common-errors.js';

export const peerLinkOperations: ContractOperation[] = [
  {
    operationId: 'peerLink',
    method: 'get',
    path: PEER_LINK_PATH,
    security: 'public',
    websocket: true,
    query: PeerLinkQuery,
    summary: 'WebSocket: the peer link a paired desktop dials.',
    success: { status: 101, description: 'Switching to WebSocket.' },
    errors: mergeErrors(RATE_LIMITED, WEBSOCKET_HANDSHAKE, { 400: ['invalid_request'], 401: ['session_unknown'] }),
  },
];
