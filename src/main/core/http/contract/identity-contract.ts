// Contract of routes/identity-routes.ts (public, mounted at /api).
import { type ContractOperation, fromEndpoint } from '../../../../server/http/openapi-contract.js';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';

export const identityOperations: ContractOperation[] = [
  fromEndpoint(NODE_ENDPOINTS.nodeIdentity, {
    operationId: 'nodeIdentity',
    security: 'public',
    summary: 'Who this node is.',
    success: { status: 200, description: "The node's identity." },
    errors: {},
  }),
  fromEndpoint(NODE_ENDPOINTS.nodeAddresses, {
    operationId: 'nodeAddresses',
    security: 'public',
    summary: 'Every advertised base URL this node may be paired under.',
    success: { status: 200, description: 'The URLs.' },
    errors: {},
  }),
];
