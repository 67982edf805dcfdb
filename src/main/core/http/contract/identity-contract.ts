// Contract of routes/identity-routes.ts (public, mounted at /api).
import { type ContractOperation, named } from '../../../../server/http/openapi-contract.js';
import { NodeAddressesResponse, NodeIdentityResponse } from '../../../../shared/wire/schemas.js';

export const identityOperations: ContractOperation[] = [
  {
    operationId: 'nodeIdentity',
    method: 'get',
    path: '/api/node/identity',
    security: 'public',
    summary: 'Who this node is.',
    success: { status: 200, description: "The node's identity.", schema: named('NodeIdentityResponse', NodeIdentityResponse) },
    errors: {},
  },
  {
    operationId: 'nodeAddresses',
    method: 'get',
    path: '/api/node/addresses',
    security: 'public',
    summary: 'Every advertised base URL this node may be paired under.',
    success: { status: 200, description: 'The URLs.', schema: named('NodeAddressesResponse', NodeAddressesResponse) },
    errors: {},
  },
];
